// kernels/int_groups.h: the int-group matmul against a float64 product over the dequantised weights, for every row
// count the decode kernel specialises (1-8) and beyond (passes of 8), row ranges, and extreme q values.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/int_groups.h"

namespace crucible::kernels {
namespace {

struct Matrix {
  int64_t rows, cols;
  std::vector<int8_t> q;
  std::vector<float> scale, offset;
};

Matrix random_matrix(int64_t rows, int64_t cols, std::mt19937& rng) {
  Matrix m{rows, cols, std::vector<int8_t>(rows * cols), {}, {}};
  std::uniform_int_distribution<int> qd(-128, 127);
  std::normal_distribution<float> sd(0.0f, 0.02f);
  for (auto& v : m.q) v = static_cast<int8_t>(qd(rng));
  for (int64_t g = 0; g < rows * cols / kIntGroup; ++g) {
    m.scale.push_back(sd(rng));
    m.offset.push_back(g % 3 == 0 ? 0.0f : sd(rng));
  }
  return m;
}

TEST(IntGroups, DequantiseIsQTimesScalePlusOffsetRoundedTwice) {
  std::mt19937 rng(1);
  auto m = random_matrix(3, 64, rng);
  std::vector<float> w(m.q.size());
  dequantize_int_groups(m.q.data(), m.scale.data(), m.offset.data(), static_cast<int64_t>(w.size()), w.data());
  for (size_t i = 0; i < w.size(); ++i) {
    volatile float prod = static_cast<float>(m.q[i]) * m.scale[i / kIntGroup];  // rounded once here
    EXPECT_EQ(w[i], prod + m.offset[i / kIntGroup]) << i;
  }
}

TEST(IntGroups, MatmulEqualsFloat64OverDequantisedWeights) {
  std::mt19937 rng(2);
  for (int64_t cols : {16, 48, 576}) {
    auto m = random_matrix(37, cols, rng);
    std::vector<float> w(m.q.size());
    dequantize_int_groups(m.q.data(), m.scale.data(), m.offset.data(), static_cast<int64_t>(w.size()), w.data());
    for (int64_t R : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 19}) {
      std::normal_distribution<float> xd(0.0f, 1.0f);
      std::vector<float> x(R * cols);
      for (auto& v : x) v = xd(rng);
      const int64_t lo = 3, hi = 37, ldy = 40;
      std::vector<float> y(R * ldy, -7.0f);
      int_group_matmul(x.data(), R, cols, m.q.data(), m.scale.data(), m.offset.data(), lo, hi, y.data(), ldy);
      for (int64_t r = 0; r < R; ++r) {
        for (int64_t o = 0; o < ldy; ++o) {
          if (o < lo || o >= hi) {
            EXPECT_EQ(y[r * ldy + o], -7.0f) << "wrote outside [lo, hi): r " << r << " o " << o;
            continue;
          }
          double want = 0, mag = 0;
          for (int64_t c = 0; c < cols; ++c) {
            want += static_cast<double>(x[r * cols + c]) * w[o * cols + c];
            mag += std::abs(static_cast<double>(x[r * cols + c]) * w[o * cols + c]);
          }
          EXPECT_NEAR(y[r * ldy + o], want, 1e-6 * mag + 1e-12)
              << "cols " << cols << " R " << R << " r " << r << " o " << o;
        }
      }
    }
  }
  std::printf("int_group_matmul: %s path\n", int_groups_vectorised() ? "AVX2" : "plain C++");
}

}  // namespace
}  // namespace crucible::kernels
