// kernels/torch/linear.h (the training linears through oneDNN on the CPU) against float64 autograd of x Wᵀ + b:
// outputs and every gradient, leading dims, awkward widths, a bias, a frozen weight (no weight gradient built),
// a frozen input, the no-grad path, and the fallbacks (float64, a transposed weight view) giving torch's values.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "kernels/torch/linear.h"

namespace crucible::kernels {
namespace {

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  auto a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  return ((a64 - b64).abs().max() / b64.abs().max().clamp_min(1e-30)).item<double>();
}

struct Shape {
  std::vector<int64_t> x;
  int64_t out;
  bool bias;
};

TEST(Linear, MatchesFloat64WithGradients) {
  torch::manual_seed(7);
  for (const auto& s : std::vector<Shape>{{{1, 5}, 3, false}, {{3, 4, 37}, 19, true}, {{2, 65, 576}, 1536, false},
                                          {{400, 1536}, 576, false}, {{7, 576}, 960, true}}) {
    const int64_t in = s.x.back();
    auto x = torch::randn(s.x).requires_grad_(true);
    auto w = (torch::randn({s.out, in}) / std::sqrt(static_cast<double>(in))).requires_grad_(true);
    auto b = s.bias ? torch::randn({s.out}).requires_grad_(true) : torch::Tensor();
    auto y = linear(x, w, b);
    auto dy = torch::randn(y.sizes());
    y.backward(dy);
    auto x64 = x.detach().to(torch::kFloat64).requires_grad_(true);
    auto w64 = w.detach().to(torch::kFloat64).requires_grad_(true);
    auto b64 = s.bias ? b.detach().to(torch::kFloat64).requires_grad_(true) : torch::Tensor();
    auto y64 = torch::nn::functional::linear(x64, w64, b64);
    y64.backward(dy.to(torch::kFloat64));
    ASSERT_EQ(y.sizes(), y64.sizes());
    EXPECT_LT(rel_diff(y, y64), 1e-5) << in;
    EXPECT_LT(rel_diff(x.grad(), x64.grad()), 1e-5) << in;
    EXPECT_LT(rel_diff(w.grad(), w64.grad()), 1e-5) << in;
    if (s.bias) {
      EXPECT_LT(rel_diff(b.grad(), b64.grad()), 1e-5) << in;
    }
    torch::NoGradGuard no_grad;  // without autograd: the same values
    EXPECT_TRUE(torch::equal(linear(x, w, b), y)) << in;
  }
}

TEST(Linear, FrozenWeightOrInputGetsNoGradient) {
  torch::manual_seed(8);
  auto w = torch::randn({16, 24});  // a frozen reference's weight
  auto x = torch::randn({5, 24}).requires_grad_(true);
  linear(x, w, torch::Tensor()).sum().backward();
  EXPECT_FALSE(w.grad().defined());
  EXPECT_LT(rel_diff(x.grad(), torch::ones({5, 16}).mm(w)), 1e-6);
  auto w2 = torch::randn({16, 24}).requires_grad_(true);
  auto x2 = torch::randn({5, 24});  // the embedding output of a frozen table, say
  linear(x2, w2, torch::Tensor()).sum().backward();
  EXPECT_LT(rel_diff(w2.grad(), torch::ones({5, 16}).t().mm(x2)), 1e-6);
}

TEST(Linear, FallbacksAreTorchsLinear) {
  torch::manual_seed(9);
  auto x = torch::randn({6, 10}, torch::kFloat64), w = torch::randn({4, 10}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(linear(x, w, torch::Tensor()), torch::nn::functional::linear(x, w, torch::Tensor())));
  // A non-contiguous weight (a view) is taken as its values.
  auto wt = torch::randn({10, 4}).t();
  auto x32 = torch::randn({6, 10});
  EXPECT_LT(rel_diff(linear(x32, wt, torch::Tensor()), x32.mm(wt.t())), 1e-6);
}

}  // namespace
}  // namespace crucible::kernels
