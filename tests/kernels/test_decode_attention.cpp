// kernels/decode_attention.h against a float64 softmax attention: GQA group sizes 1-7, head sizes on the vector
// path (multiples of 8, incl. > 64 features) and off it, visible ranges of every tail length around the tiles and
// the 4-/8-wide blocks, a sliding-window start, slots out of order, strided query rows, and large score ranges
// (the exp polynomial's reduction and its flush below e^-87).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/decode_attention.h"

namespace crucible::kernels {
namespace {

struct Case {
  int64_t B, H, K, E, slots, capacity;
  float q_scale;  // scales the queries: large values spread the scores over many orders of magnitude
};

void check(const Case& c, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t q_row = (c.H + c.K) * c.E;  // queries sit in rows of H + K heads, as the engine's fused q/k tensor
  std::vector<float> q(c.B * q_row), keys(c.slots * c.K * c.capacity * c.E), vals(keys.size());
  for (auto& v : q) v = nd(rng) * c.q_scale;
  for (auto& v : keys) v = nd(rng);
  for (auto& v : vals) v = nd(rng);
  std::vector<int64_t> slot(c.B);
  for (int64_t b = 0; b < c.B; ++b) slot[b] = ((c.slots - 1 - b * 3) % c.slots + c.slots) % c.slots;  // not in order
  std::vector<float> out(c.B * c.H * c.E, -1.0f);
  DecodeAttentionArgs a;
  a.q = q.data();
  a.q_row_stride = q_row;
  a.keys = keys.data();
  a.values = vals.data();
  a.slot_stride = c.K * c.capacity * c.E;
  a.head_stride = c.capacity * c.E;
  a.slot_B = slot.data();
  a.lo_B = lo.data();
  a.hi_B = hi.data();
  a.H = c.H;
  a.K = c.K;
  a.E = c.E;
  a.out = out.data();
  a.out_row_stride = c.H * c.E;
  decode_attention(a, 0, c.B * c.K / 2);  // two calls over the work items, as threads split them
  decode_attention(a, c.B * c.K / 2, c.B * c.K);

  const int64_t G = c.H / c.K;
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) {
      const int64_t kv = h / G;
      const float* qh = q.data() + b * q_row + h * c.E;
      const int64_t base = slot[b] * a.slot_stride + kv * a.head_stride;
      std::vector<double> s;
      double mx = -INFINITY;
      for (int64_t l = lo[b]; l < hi[b]; ++l) {
        double d = 0;
        for (int64_t e = 0; e < c.E; ++e) d += double(qh[e]) * keys[base + l * c.E + e];
        s.push_back(d / std::sqrt(double(c.E)));
        mx = std::max(mx, s.back());
      }
      double sum = 0;
      for (auto& v : s) sum += (v = std::exp(v - mx));
      for (int64_t e = 0; e < c.E; ++e) {
        double o = 0, mag = 0;
        for (int64_t l = lo[b]; l < hi[b]; ++l) {
          o += s[l - lo[b]] / sum * vals[base + l * c.E + e];
          mag += s[l - lo[b]] / sum * std::abs(vals[base + l * c.E + e]);
        }
        const float got = out[(b * c.H + h) * c.E + e];
        ASSERT_NEAR(got, o, 2e-6 + 2e-5 * mag) << "b " << b << " h " << h << " e " << e << " n " << hi[b] - lo[b];
      }
    }
}

TEST(DecodeAttention, EqualsFloat64SoftmaxAttention) {
  // SmolLM2's shape (H 9, K 3, E 64), Qwen2.5-0.5B's group (7), MHA, 128 features, and 20 (the plain path).
  const Case cases[] = {{6, 9, 3, 64, 8, 300, 1.0f}, {4, 14, 2, 64, 5, 300, 1.0f}, {3, 4, 4, 128, 4, 300, 1.0f},
                        {3, 6, 3, 20, 4, 300, 1.0f}, {4, 8, 2, 64, 4, 300, 6.0f}};
  uint32_t seed = 1;
  for (const auto& c : cases) {
    for (int64_t n : {1, 3, 4, 5, 8, 9, 127, 128, 129, 131, 257, 300}) {
      std::vector<int64_t> lo(c.B), hi(c.B);
      for (int64_t b = 0; b < c.B; ++b) {
        hi[b] = std::max<int64_t>(1, n - b);  // different lengths per row
        lo[b] = b == 1 ? hi[b] / 3 : 0;        // row 1: a sliding window's start
      }
      check(c, lo, hi, seed++);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace crucible::kernels
