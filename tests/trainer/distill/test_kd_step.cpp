// The SFT step with a teacher's top-K (distill sft --kd): accumulate_batch's loss and parameter gradients equal a
// direct float64 formula within 1e-6, packed and unpacked. The reference runs each example alone through the
// model's plain forward (no packing, no segment mask), takes the loss per completion token with loops in double
// ((1 - a) CE + a KL over the teacher's top-K + rest bucket), and its gradient with respect to the logits in closed
// form; backpropagating that through the same forward gives the parameter gradients the step must have. alpha = 0
// is the CE path: the same gradients, and after three AdamW steps on a float32 model the same parameters (the two
// paths compute the same sum by different ops, so 1e-7 is allowed; observed: identical).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/error.h"
#include "tests/support/tiny_model.h"
#include "trainer/optimizer.h"
#include "trainer/sft_step.h"

namespace crucible::trainer {
namespace {

constexpr int64_t kVocab = 40, kK = 3;

model::Transformer make_model(torch::Dtype dtype) {
  torch::manual_seed(7);
  model::Transformer m(testing::tiny_model_config({.vocab = kVocab, .hidden = 32, .intermediate = 48, .layers = 2,
                                                   .heads = 4, .kv_heads = 2, .head_dim = 8, .tied = false}));
  m->to(dtype);
  return m;
}

// Four examples of unequal lengths; the teacher's top-K at each completion token (one position with a single
// alternative, padded with -1; one whose K carry all the mass), logprobs of a random teacher distribution.
std::vector<SftExample> examples() {
  std::vector<SftExample> out;
  torch::manual_seed(3);
  const std::vector<std::pair<int, int>> shapes = {{4, 5}, {6, 3}, {3, 7}, {5, 2}};  // prompt, completion tokens
  for (size_t e = 0; e < shapes.size(); ++e) {
    SftExample ex;
    ex.where = "example " + std::to_string(e);
    const auto [p, c] = shapes[e];
    for (int i = 0; i < p + c; ++i) {
      ex.ids.push_back(static_cast<int32_t>(1 + (static_cast<int>(e) * 11 + i * 7) % (kVocab - 1)));
      ex.learn.push_back(i >= p ? 1 : 0);
    }
    ex.teacher_k = kK;
    ex.teacher_ids.assign(ex.ids.size() * kK, -1);
    ex.teacher_logprobs.assign(ex.ids.size() * kK, 0.0f);
    for (int i = p; i < p + c; ++i) {
      auto lp = torch::log_softmax(torch::randn({kVocab}, torch::kFloat64) * 2.0, 0);
      auto top = lp.topk(kK);
      for (int64_t k = 0; k < kK; ++k) {
        ex.teacher_ids[static_cast<size_t>(i * kK + k)] = static_cast<int32_t>(std::get<1>(top)[k].item<int64_t>());
        ex.teacher_logprobs[static_cast<size_t>(i * kK + k)] = static_cast<float>(std::get<0>(top)[k].item<double>());
      }
    }
    if (e == 1) {  // one alternative only
      ex.teacher_ids[static_cast<size_t>(p * kK + 1)] = ex.teacher_ids[static_cast<size_t>(p * kK + 2)] = -1;
    }
    if (e == 2) {  // all the teacher's mass on its top-K: no rest bucket
      const float lps[kK] = {std::log(0.5f), std::log(0.25f), std::log(0.25f)};
      for (int64_t k = 0; k < kK; ++k) ex.teacher_logprobs[static_cast<size_t>((p + 1) * kK + k)] = lps[k];
    }
    out.push_back(std::move(ex));
  }
  return out;
}

std::vector<torch::Tensor> grads_of(model::Transformer& m) {
  std::vector<torch::Tensor> g;
  for (auto& p : m->parameters()) g.push_back(p.grad().detach().clone());
  m->zero_grad();
  return g;
}

// The reference: per token the loss in double loops and dL/dlogits in closed form,
//   CE = -log p(y),                 dCE/dz_v = p_v - [v = y]
//   KL = sum_k q_k (log q_k - log p_k) + r (log r - log s),  q: the teacher's K probabilities, r = 1 - sum q,
//        p: the student's softmax, s = sum of p outside the K ids;
//        dKL/dz_v = p_v (sum_k q_k + r) - q_v [v in K] - r p_v [v not in K] / s   (0 log 0 = 0: r = 0 drops its terms)
// summed over every completion token of the batch and divided by their count; the logits' gradient is then
// backpropagated through the model's own unpacked forward.
double reference(model::Transformer& m, const std::vector<SftExample>& data, double alpha) {
  int64_t n_targets = 0;
  for (const auto& ex : data) n_targets += ex.targets();
  double total = 0;
  for (const auto& ex : data) {
    const auto T = static_cast<int64_t>(ex.ids.size());
    std::vector<int64_t> ids(ex.ids.begin(), ex.ids.end());
    auto logits = m->forward(torch::tensor(ids, torch::kInt64).view({1, T}))[0];  // [T, V]
    auto z = logits.detach().to(torch::kFloat64).contiguous();
    auto dz = torch::zeros_like(z);
    for (int64_t t = 0; t + 1 < T; ++t) {
      if (!ex.learn[static_cast<size_t>(t + 1)]) continue;
      std::vector<double> p(kVocab);
      double mx = -INFINITY, sum = 0;
      for (int64_t v = 0; v < kVocab; ++v) mx = std::max(mx, z[t][v].item<double>());
      for (int64_t v = 0; v < kVocab; ++v) sum += (p[static_cast<size_t>(v)] = std::exp(z[t][v].item<double>() - mx));
      for (auto& x : p) x /= sum;
      const int64_t y = ex.ids[static_cast<size_t>(t + 1)];
      std::vector<double> q(kVocab, 0.0);
      std::vector<bool> in(kVocab, false);
      double q_sum = 0, kl = 0;
      for (int64_t k = 0; k < kK; ++k) {
        const auto at = static_cast<size_t>((t + 1) * kK + k);
        if (ex.teacher_ids[at] < 0) continue;
        const auto v = static_cast<size_t>(ex.teacher_ids[at]);
        in[v] = true;
        q[v] = std::exp(static_cast<double>(ex.teacher_logprobs[at]));
        q_sum += q[v];
        kl += q[v] * (static_cast<double>(ex.teacher_logprobs[at]) - std::log(p[v]));
      }
      double s = 0;
      for (int64_t v = 0; v < kVocab; ++v)
        if (!in[static_cast<size_t>(v)]) s += p[static_cast<size_t>(v)];
      const double r = std::max(0.0, 1.0 - q_sum);
      if (r > 0) kl += r * (std::log(r) - std::log(s));
      total += ((1 - alpha) * -std::log(p[static_cast<size_t>(y)]) + alpha * kl) / static_cast<double>(n_targets);
      for (int64_t v = 0; v < kVocab; ++v) {
        const auto u = static_cast<size_t>(v);
        const double d_ce = p[u] - (v == y ? 1.0 : 0.0);
        const double d_kl = p[u] * (q_sum + r) - (in[u] ? q[u] : 0.0) - (!in[u] && r > 0 ? r * p[u] / s : 0.0);
        dz[t][v] = ((1 - alpha) * d_ce + alpha * d_kl) / static_cast<double>(n_targets);
      }
    }
    logits.backward(dz.to(logits.scalar_type()));
  }
  return total;
}

TEST(KdStep, LossAndGradientsEqualTheDirectFloat64Formula) {
  auto model = make_model(torch::kFloat64);
  const auto data = examples();
  const std::vector<size_t> batch = {0, 1, 2, 3};
  for (double alpha : {0.3, 1.0}) {
    const double expected = reference(model, data, alpha);
    const auto want = grads_of(model);
    for (bool packing : {false, true}) {
      SftRowOptions rows{16, packing, false, false, alpha};
      auto o = accumulate_batch(model, data, batch, rows);
      if (packing) {
        EXPECT_LT(o.rows, 4);
      }
      EXPECT_NEAR(o.loss, expected, 1e-6) << "alpha " << alpha << " packing " << packing;
      const auto got = grads_of(model);
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, (got[i] - want[i]).abs().max().item<double>());
      EXPECT_LT(worst, 1e-6) << "alpha " << alpha << " packing " << packing;
      std::printf("alpha %.1f packing %d: loss %.12f formula %.12f |diff| %.2e, max |grad diff| %.2e\n", alpha,
                  packing, o.loss, expected, std::abs(o.loss - expected), worst);
    }
  }
}

TEST(KdStep, AlphaZeroTrainsAsTheCrossEntropyPath) {
  auto kd_data = examples();
  auto ce_data = kd_data;
  for (auto& ex : ce_data) {
    ex.teacher_k = 0;
    ex.teacher_ids.clear();
    ex.teacher_logprobs.clear();
  }
  const std::vector<std::vector<size_t>> plan = {{0, 1}, {2, 3}, {1, 2, 3}};
  std::vector<torch::Tensor> params[2];
  double losses[2][3];
  for (int variant = 0; variant < 2; ++variant) {
    auto model = make_model(torch::kFloat32);
    OptimConfig oc;
    oc.lr = 1e-2;
    Optimizer opt(model, oc, 3);
    for (size_t s = 0; s < plan.size(); ++s) {
      losses[variant][s] = accumulate_batch(model, variant ? kd_data : ce_data, plan[s], {16, true, false, false, 0.0}).loss;
      opt.step();
    }
    for (auto& p : model->parameters()) params[variant].push_back(p.detach().clone());
  }
  double worst = 0;
  for (size_t i = 0; i < params[0].size(); ++i)
    worst = std::max(worst, (params[0][i] - params[1][i]).abs().max().item<double>());
  for (int s = 0; s < 3; ++s) EXPECT_NEAR(losses[0][s], losses[1][s], 1e-6) << "step " << s + 1;
  // The CE path's float32 log-softmax is kernels/logprob's (vectorised exp), the KD path's torch's: the two round
  // differently in the last bits (3.9e-7 here at lr 1e-2).
  EXPECT_LE(worst, 1e-6);
  std::printf("alpha 0 vs CE after 3 AdamW steps (float32): max |param diff| %.2e\n", worst);
}

TEST(KdStep, AlphaWithoutTeacherTopKIsRefused) {
  auto model = make_model(torch::kFloat64);
  auto data = examples();
  data[1].teacher_k = 0;
  data[1].teacher_ids.clear();
  data[1].teacher_logprobs.clear();
  try {
    accumulate_batch(model, data, {1}, {16, false, false, false, 0.5});
    ADD_FAILURE() << "alpha > 0 on an example without a teacher";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("example 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crucible::trainer
