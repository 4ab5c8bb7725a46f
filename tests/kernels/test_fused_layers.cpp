// kernels/torch/fused_layers.h (RMSNorm and SwiGLU, one pass each way on the CPU) against the composite torch
// expressions in float64 autograd: outputs and the gradients wrt every input, on shapes chosen to be awkward (a last
// dim that is not a multiple of 8, one row, leading dims), SwiGLU at gates far past exp's range, the composite
// fallbacks (float64, a strided view) and the no-grad path giving the same values; and that the library's
// at::parallel_for calls run on torch's threads.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "kernels/torch/fused_layers.h"
#include "kernels/torch/parallel.h"

namespace crucible::kernels {
namespace {

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  auto a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  return ((a64 - b64).abs().max() / b64.abs().max().clamp_min(1e-30)).item<double>();
}

torch::Tensor rms_reference(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return w * (x * torch::rsqrt(x.pow(2).mean(-1, true) + eps));
}

TEST(FusedLayers, RmsNormMatchesFloat64WithGradients) {
  torch::manual_seed(3);
  for (auto shape : std::vector<std::vector<int64_t>>{{1, 5}, {3, 4, 37}, {2, 130, 64}, {1, 300, 576}}) {
    const int64_t d = shape.back();
    auto x = (torch::randn(shape) * 3).requires_grad_(true);
    auto w = (torch::rand({d}) + 0.5).requires_grad_(true);
    auto dy = torch::randn(shape);
    auto y = rms_norm(x, w, 1e-6);
    y.backward(dy);
    auto x64 = x.detach().to(torch::kFloat64).requires_grad_(true), w64 = w.detach().to(torch::kFloat64).requires_grad_(true);
    auto y64 = rms_reference(x64, w64, 1e-6);
    y64.backward(dy.to(torch::kFloat64));
    EXPECT_LT(rel_diff(y, y64), 1e-6) << d;
    EXPECT_LT(rel_diff(x.grad(), x64.grad()), 1e-5) << d;
    EXPECT_LT(rel_diff(w.grad(), w64.grad()), 1e-5) << d;
    // Without autograd: the same values.
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(rms_norm(x, w, 1e-6), y));
  }
}

TEST(FusedLayers, SwigluMatchesFloat64WithGradientsPastExpsRange) {
  torch::manual_seed(4);
  for (int64_t n : {1, 7, 8, 9, 1000, 100003}) {
    auto g = (torch::randn({n}) * 4).requires_grad_(true);
    auto u = torch::randn({n}).requires_grad_(true);
    if (n >= 8) {  // gates where exp(-g) under- or overflows float
      auto gd = g.detach();
      gd[0] = 120.0f, gd[1] = -120.0f, gd[2] = 88.5f, gd[3] = -88.5f, gd[4] = 0.0f, gd[5] = -87.0f;
    }
    auto dh = torch::randn({n});
    auto h = swiglu(g, u);
    h.backward(dh);
    auto g64 = g.detach().to(torch::kFloat64).requires_grad_(true), u64 = u.detach().to(torch::kFloat64).requires_grad_(true);
    auto h64 = torch::silu(g64) * u64;
    h64.backward(dh.to(torch::kFloat64));
    EXPECT_TRUE(torch::isfinite(h).all().item<bool>());
    EXPECT_TRUE(torch::isfinite(g.grad()).all().item<bool>());
    EXPECT_LT(rel_diff(h, h64), 1e-6) << n;
    EXPECT_LT(rel_diff(g.grad(), g64.grad()), 1e-5) << n;
    EXPECT_LT(rel_diff(u.grad(), u64.grad()), 1e-6) << n;
    // elementwise too, where the values are large enough to compare relatively
    auto big = h64.detach().abs() > 1e-3;
    EXPECT_LT(((h.to(torch::kFloat64) - h64).abs() / h64.abs()).masked_select(big).max().item<double>(), 2e-6) << n;
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(swiglu(g, u), h));
  }
}

TEST(FusedLayers, OtherDtypesAndLayoutsTakeTheCompositePath) {
  torch::manual_seed(5);
  auto x = torch::randn({4, 16}, torch::kFloat64).requires_grad_(true);
  auto w = torch::rand({16}, torch::kFloat64).requires_grad_(true);
  // transformers' LlamaRMSNorm: the normalisation in float32 whatever the input's dtype, then cast back
  auto x32 = x.to(torch::kFloat32);
  auto expected = w * (x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + 1e-5)).to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(rms_norm(x, w, 1e-5), expected));
  // a transposed (non-contiguous) float32 input: the fused kernel on its contiguous copy, gradients flow back
  auto xs = torch::randn({4, 16}).requires_grad_(true);  // used as xs.t(): [16, 4], normalised over 4
  auto w32 = torch::rand({4}).requires_grad_(true);
  rms_norm(xs.t(), w32, 1e-5).sum().backward();
  ASSERT_TRUE(xs.grad().defined());
  auto x64 = xs.detach().to(torch::kFloat64).requires_grad_(true);
  auto w64 = w32.detach().to(torch::kFloat64).requires_grad_(true);
  rms_reference(x64.t(), w64, 1e-5).sum().backward();
  EXPECT_LT(rel_diff(xs.grad(), x64.grad()), 1e-5);
  EXPECT_LT(rel_diff(w32.grad(), w64.grad()), 1e-5);
  auto g = torch::randn({3, 5}, torch::kFloat64), u = torch::randn({3, 5}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(swiglu(g, u), torch::silu(g) * u, 0, 1e-15));
}

// The kernels' at::parallel_for reaches torch's thread pool: built without OpenMP it ran every task on the calling
// thread (kernels/torch/parallel.h), with nothing wrong but the time.
TEST(FusedLayers, ParallelForFromTheLibraryRunsOnTorchsThreads) {
  const int saved = at::get_num_threads();
  at::set_num_threads(2);
  EXPECT_EQ(parallel_for_threads(8), 2);
  EXPECT_EQ(parallel_for_threads(1), 1);
  at::set_num_threads(1);
  EXPECT_EQ(parallel_for_threads(8), 1);
  at::set_num_threads(saved);
}

}  // namespace
}  // namespace crucible::kernels
