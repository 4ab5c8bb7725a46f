// The CUDA kernels against their CPU references (label gpu): logprob forward/backward, token_logprobs (fp32 and bf16)
// and sampling. Each test skips itself, loudly, on a machine without a CUDA device or a build without the kernels.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "kernels/logprob.h"
#include "kernels/sampling.h"
#include "kernels/torch/token_logprobs.h"

namespace crucible::kernels {
namespace {

#define CRUCIBLE_REQUIRE_GPU()                                                                                  \
  if (!cuda_kernels_built()) GTEST_SKIP() << "crucible built without CUDA kernels (CRUCIBLE_CUDA=OFF): GPU test skipped"; \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine: GPU test skipped"

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.cpu().to(torch::kFloat64) - b.cpu().to(torch::kFloat64)).abs().max().item<double>();
}

TEST(KernelsGpu, LogprobForwardBackwardMatchCpu) {
  CRUCIBLE_REQUIRE_GPU();
  torch::manual_seed(1);
  for (const int64_t V : {int64_t{1003}, int64_t{151936}}) {
    const int64_t N = 33;
    auto logits = torch::randn({N, V}) * 4;
    logits.index_put_({2, torch::indexing::Slice(0, 50)}, -INFINITY);
    auto targets = torch::randint(0, V, {N}, torch::kInt64);
    targets[4] = -100;
    auto dlogp = torch::randn({N}), dent = torch::randn({N});
    auto cpu = logprob_rows_forward(logits, targets, 0.7);
    auto g = logits.cuda();
    auto gpu = logprob_rows_forward(g, targets.cuda(), 0.7);
    EXPECT_LE(max_abs_diff(gpu.logp_N, cpu.logp_N), 1e-5) << "V " << V;
    EXPECT_LE(max_abs_diff(gpu.entropy_N, cpu.entropy_N), 1e-5) << "V " << V;
    EXPECT_LE(max_abs_diff(gpu.lse_N, cpu.lse_N), 1e-5) << "V " << V;
    auto dcpu = logprob_rows_backward(logits, targets, 0.7, cpu.lse_N, cpu.entropy_N, dlogp, dent, torch::empty_like(logits));
    auto dgpu = logprob_rows_backward(g, targets.cuda(), 0.7, gpu.lse_N, gpu.entropy_N, dlogp.cuda(), dent.cuda(), g);
    EXPECT_LE(max_abs_diff(dgpu, dcpu), 1e-6) << "V " << V;  // in place on the GPU
  }
}

TEST(KernelsGpu, TokenLogprobsMatchCpu) {
  CRUCIBLE_REQUIRE_GPU();
  torch::manual_seed(2);
  const int64_t N = 300, D = 64, V = 5003;
  auto hidden = torch::randn({N, D}), weight = torch::randn({V, D}) * 0.2;
  auto targets = torch::randint(0, V, {N}, torch::kInt64);
  auto a = torch::randn({N}), b = torch::randn({N});
  auto run = [&](torch::Device dev, torch::Dtype dtype) {
    auto h = hidden.to(dev, dtype).requires_grad_(true), w = weight.to(dev, dtype).requires_grad_(true);
    auto out = token_logprobs(h, w, targets.to(dev), 0.9, 128);
    (out.logp_N * a.to(dev) + out.entropy_N * b.to(dev)).sum().backward();
    return std::vector<torch::Tensor>{out.logp_N, out.entropy_N, h.grad(), w.grad()};
  };
  auto cpu = run(torch::kCPU, torch::kFloat32);
  // fp32 on the GPU: cuBLAS may use TF32 for the matmuls only if asked; torch's default keeps fp32.
  auto gpu = run(torch::kCUDA, torch::kFloat32);
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_LE(max_abs_diff(gpu[i], cpu[i]), 1e-4) << "output " << i;
  // bf16 hidden/weight (as under autocast): the same function, looser by bf16's 8 bits of mantissa.
  auto bf = run(torch::kCUDA, torch::kBFloat16);
  EXPECT_LE(max_abs_diff(bf[0], cpu[0]), 0.1);
  EXPECT_LE(max_abs_diff(bf[1], cpu[1]), 0.1);
  EXPECT_EQ(bf[2].scalar_type(), torch::kBFloat16);
  EXPECT_EQ(bf[3].scalar_type(), torch::kBFloat16);
}

TEST(KernelsGpu, SamplingMatchesCpu) {
  CRUCIBLE_REQUIRE_GPU();
  torch::manual_seed(3);
  const std::vector<SampleParams> settings = {{0.0, 0, 1.0, 0.0},  {1.0, 0, 1.0, 0.0},  {0.6, 0, 0.95, 0.0},
                                              {0.8, 40, 0.9, 0.0}, {1.2, 0, 0.8, 0.05}, {0.9, 50, 1.0, 0.0},
                                              {1.0, 0, 1.0, 0.1},  {0.7, 20, 0.99, 0.1}};
  for (const int64_t V : {int64_t{97}, int64_t{151936}}) {
    const int64_t N = 64;
    auto logits = torch::randn({N, V}) * 3;
    logits.index_put_({0, torch::indexing::Slice(0, 4)}, 9.0f);  // ties at the top
    for (const auto& p : settings) {
      std::vector<SampleParams> params(N, p);
      auto u = torch::rand({N}, torch::kFloat64);
      auto cpu = sample_rows(logits, params, u);
      auto gpu = sample_rows(logits.cuda(), params, u.cuda());
      const int64_t same = gpu.tokens_N.cpu().eq(cpu.tokens_N).sum().item<int64_t>();
      // Sums in another order can move a CDF boundary by ~1e-16: a u that close is a once-in-1e12 event per row.
      EXPECT_EQ(same, N) << "V " << V << " T " << p.temperature << " top_k " << p.top_k << " top_p " << p.top_p
                         << " min_p " << p.min_p;
      EXPECT_LE(max_abs_diff(gpu.sampling_logprob_N, cpu.sampling_logprob_N), 1e-9);
    }
  }
}

}  // namespace
}  // namespace crucible::kernels
