// kernels/logprob.h's CPU reference against float64 torch (log_softmax, gather, entropy and their autograd
// gradients), and token_logprobs (chunked, recomputing) against the naive log_softmax(hidden @ Wᵀ / T) path, values
// and gradients wrt hidden and weight, on sizes chosen to be awkward: V not a multiple of 32, chunks not dividing N,
// T != 1, an ignored target (-100) and masked (-inf) logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "kernels/logprob.h"
#include "kernels/torch/token_logprobs.h"

namespace crucible::kernels {
namespace {

constexpr double kTol = 1e-5;

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// The oracle, float64 autograd: logp of targets (0 where ignored) and entropy of softmax(z / T).
struct Naive {
  torch::Tensor logp, entropy;
};
Naive naive(const torch::Tensor& logits, const torch::Tensor& targets, double T) {
  auto logsm = torch::log_softmax(logits / T, -1);
  auto valid = targets.ge(0);
  auto logp = logsm.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1) * valid.to(logsm.scalar_type());
  auto p = logsm.exp();
  // 0·log 0 = 0 on masked logits, gradient included (a where() would let 0·-inf = NaN into the other branch's grad).
  return {logp, -(p * logsm.masked_fill(p.eq(0), 0)).sum(-1)};
}

TEST(LogprobCpu, ForwardAndBackwardMatchFloat64Torch) {
  torch::manual_seed(1);
  const int64_t N = 37, V = 1003;
  const double T = 0.7;
  auto logits = torch::randn({N, V}) * 4;
  logits.index_put_({5, torch::indexing::Slice(0, 100)}, -INFINITY);  // a masked stretch of a row
  auto targets = torch::randint(100, V, {N}, torch::kInt64);
  targets[3] = -100;  // an ignored position
  auto dlogp = torch::randn({N}), dent = torch::randn({N});

  LogprobRows rows{logits.data_ptr<float>(), N, V, V, targets.data_ptr<int64_t>(), static_cast<float>(T)};
  auto logp = torch::empty({N}), entropy = torch::empty({N}), lse = torch::empty({N});
  logprob_forward_cpu(rows, logp.data_ptr<float>(), entropy.data_ptr<float>(), lse.data_ptr<float>());
  auto dlogits = torch::empty({N, V});
  logprob_backward_cpu(rows, lse.data_ptr<float>(), entropy.data_ptr<float>(), dlogp.data_ptr<float>(),
                       dent.data_ptr<float>(), dlogits.data_ptr<float>(), V);

  auto x64 = logits.to(torch::kFloat64).requires_grad_(true);
  auto ref = naive(x64, targets, T);
  (ref.logp * dlogp.to(torch::kFloat64) + ref.entropy * dent.to(torch::kFloat64)).sum().backward();
  EXPECT_LE(max_abs_diff(logp, ref.logp), kTol);
  EXPECT_LE(max_abs_diff(entropy, ref.entropy), kTol);
  EXPECT_LE(max_abs_diff(lse, torch::logsumexp(x64.detach() / T, -1)), kTol);
  EXPECT_LE(max_abs_diff(dlogits, x64.grad()), kTol);
  EXPECT_EQ(logp[3].item<float>(), 0.0f);
  EXPECT_EQ(dlogits.index({5, torch::indexing::Slice(0, 100)}).abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::isfinite(dlogits).all().item<bool>());

  // In place (dlogits written over the logits), with only the entropy's gradient flowing.
  auto in_place = logits.clone();
  LogprobRows rows2 = rows;
  rows2.logits = in_place.data_ptr<float>();
  logprob_backward_cpu(rows2, lse.data_ptr<float>(), entropy.data_ptr<float>(), nullptr, dent.data_ptr<float>(),
                       in_place.data_ptr<float>(), V);
  auto x64b = logits.to(torch::kFloat64).requires_grad_(true);
  (naive(x64b, targets, T).entropy * dent.to(torch::kFloat64)).sum().backward();
  EXPECT_LE(max_abs_diff(in_place, x64b.grad()), kTol);
}

TEST(LogprobCpu, RowStrideAndPeakedRows) {
  // A strided view (rows of a wider buffer) and rows where one logit dominates (entropy near 0: no cancellation).
  torch::manual_seed(2);
  const int64_t N = 9, V = 65;
  auto buffer = torch::randn({N, V + 7});
  buffer.index_put_({torch::indexing::Slice(), 3}, 60.0);
  auto logits = buffer.narrow(1, 0, V);
  auto targets = torch::randint(0, V, {N}, torch::kInt64);
  auto out = logprob_rows_forward(logits, targets, 1.0);
  auto ref = naive(logits.to(torch::kFloat64), targets, 1.0);
  EXPECT_LE(max_abs_diff(out.logp_N, ref.logp), kTol);
  EXPECT_LE(max_abs_diff(out.entropy_N, ref.entropy), kTol);
  EXPECT_GE(out.entropy_N.min().item<float>(), 0.0f);
}

// token_logprobs against the naive path in float64, values and gradients wrt hidden and weight.
void check_token_logprobs(torch::IntArrayRef lead, int64_t D, int64_t V, double T, int64_t chunk) {
  torch::manual_seed(3);
  auto sizes = lead.vec();
  sizes.push_back(D);
  auto hidden = torch::randn(sizes).requires_grad_(true);
  auto weight = (torch::randn({V, D}) * 0.3).requires_grad_(true);
  auto targets = torch::randint(0, V, lead, torch::kInt64);
  targets.view({-1})[1] = -100;
  auto a = torch::randn(lead), b = torch::randn(lead);

  auto out = token_logprobs(hidden, weight, targets, T, chunk);
  ASSERT_EQ(out.logp_N.sizes(), targets.sizes());
  (out.logp_N * a + out.entropy_N * b).sum().backward();

  auto h64 = hidden.detach().to(torch::kFloat64).requires_grad_(true);
  auto w64 = weight.detach().to(torch::kFloat64).requires_grad_(true);
  auto ref = naive(torch::matmul(h64, w64.t()), targets, T);
  (ref.logp * a.to(torch::kFloat64) + ref.entropy * b.to(torch::kFloat64)).sum().backward();

  EXPECT_LE(max_abs_diff(out.logp_N, ref.logp), kTol);
  EXPECT_LE(max_abs_diff(out.entropy_N, ref.entropy), kTol);
  EXPECT_LE(max_abs_diff(hidden.grad(), h64.grad()), kTol);
  EXPECT_LE(max_abs_diff(weight.grad(), w64.grad()), kTol);
}

TEST(TokenLogprobs, MatchesNaiveLogSoftmaxWithGradients) {
  check_token_logprobs({21}, 33, 101, 0.8, 8);     // chunk does not divide N, V not a multiple of 32, T != 1
  check_token_logprobs({3, 7}, 16, 257, 1.0, 5);   // [B, S] leading dims
  check_token_logprobs({13}, 24, 50, 1.3, 1000);   // one chunk larger than N
}

TEST(TokenLogprobs, OnlyOneOutputUsedAndFrozenWeight) {
  // Entropy alone (the logp gradient arrives as zeros) and a weight that does not require grad (no grad_weight).
  torch::manual_seed(4);
  auto hidden = torch::randn({10, 12}).requires_grad_(true);
  auto weight = torch::randn({40, 12});
  auto targets = torch::randint(0, 40, {10}, torch::kInt64);
  token_logprobs(hidden, weight, targets, 0.9, 3).entropy_N.sum().backward();
  auto h64 = hidden.detach().to(torch::kFloat64).requires_grad_(true);
  naive(torch::matmul(h64, weight.to(torch::kFloat64).t()), targets, 0.9).entropy.sum().backward();
  EXPECT_LE(max_abs_diff(hidden.grad(), h64.grad()), kTol);
  EXPECT_FALSE(weight.grad().defined());
}

TEST(TokenLogprobs, RejectsMismatchedShapes) {
  auto hidden = torch::randn({4, 8}), weight = torch::randn({10, 9});
  auto targets = torch::zeros({4}, torch::kInt64);
  EXPECT_THROW(token_logprobs(hidden, weight, targets), c10::Error);
  EXPECT_THROW(token_logprobs(hidden, torch::randn({10, 8}), torch::zeros({5}, torch::kInt64)), c10::Error);
  EXPECT_THROW(token_logprobs(hidden, torch::randn({10, 8}), targets, 0.0), c10::Error);
}

}  // namespace
}  // namespace crucible::kernels
