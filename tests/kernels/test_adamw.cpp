// kernels/adamw.h: AdamW's one-pass CPU step against the formula in double, and the property --shard relies on: a
// slice updated on its own (any offset, any length: AVX2 lanes and scalar tail in other places) writes exactly the
// bits the whole array's update writes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/adamw.h"

namespace crucible::kernels {
namespace {

struct State {
  std::vector<float> p, g, m, v;
};

State random_state(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  State s;
  for (size_t i = 0; i < n; ++i) {
    s.p.push_back(d(rng));
    s.g.push_back(d(rng) * 1e-2f);
    s.m.push_back(d(rng) * 1e-3f);
    s.v.push_back(std::abs(d(rng)) * 1e-5f);
  }
  return s;
}

AdamWStep step_at(double lr, double wd, double b1, double b2, double eps, int t) {
  return AdamWStep::at(lr, wd, b1, b2, eps, t);
}

TEST(AdamWKernel, MatchesTheFormulaInDouble) {
  const double lr = 1e-3, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const size_t n = 100003;  // threads, lanes and a tail
  for (int t : {1, 2, 50}) {
    auto s = random_state(n, 7);
    const auto ref = s;
    adamw_step_cpu(s.p.data(), s.g.data(), s.m.data(), s.v.data(), static_cast<int64_t>(n), step_at(lr, wd, b1, b2, eps, t));
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
      const double g = ref.g[i], m = b1 * ref.m[i] + (1 - b1) * g, v = b2 * ref.v[i] + (1 - b2) * g * g;
      const double denom = std::sqrt(v) / std::sqrt(1 - std::pow(b2, t)) + eps;
      const double p = ref.p[i] * (1 - lr * wd) - lr / (1 - std::pow(b1, t)) * m / denom;
      // Errors relative to the size of the terms summed (m's two terms may cancel).
      const double p_scale = std::abs(ref.p[i] * (1 - lr * wd)) + std::abs(lr / (1 - std::pow(b1, t)) * m / denom);
      worst = std::max(worst, std::abs(p - s.p[i]) / p_scale);
      ASSERT_NEAR(s.m[i], m, 1e-6 * (b1 * std::abs(ref.m[i]) + (1 - b1) * std::abs(g))) << i;
      ASSERT_NEAR(s.v[i], v, 1e-6 * v + 1e-15) << i;
    }
    EXPECT_LT(worst, 1e-6) << "step " << t;
  }
}

TEST(AdamWKernel, ASliceUpdatedAloneWritesTheBitsOfTheWhole) {
  const size_t n = 70001;
  const auto k = step_at(3e-4, 0.01, 0.9, 0.95, 1e-8, 3);
  auto whole = random_state(n, 3);
  auto parts = whole;
  adamw_step_cpu(whole.p.data(), whole.g.data(), whole.m.data(), whole.v.data(), static_cast<int64_t>(n), k);
  // Uneven cuts: offsets that are not multiples of the vector width, a piece shorter than one vector.
  const std::vector<size_t> cuts = {0, 5, 13, 4099, 4102, 33333, n};
  for (size_t c = 0; c + 1 < cuts.size(); ++c) {
    const size_t b = cuts[c], len = cuts[c + 1] - b;
    adamw_step_cpu(parts.p.data() + b, parts.g.data() + b, parts.m.data() + b, parts.v.data() + b,
                   static_cast<int64_t>(len), k);
  }
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(whole.p[i], parts.p[i]) << i;
    ASSERT_EQ(whole.m[i], parts.m[i]) << i;
    ASSERT_EQ(whole.v[i], parts.v[i]) << i;
  }
}

}  // namespace
}  // namespace crucible::kernels
