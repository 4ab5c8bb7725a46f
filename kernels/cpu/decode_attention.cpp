#include "kernels/decode_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "kernels/cpu/avx2.h"
#define CRUCIBLE_DECODE_ATTN_X86 1
#endif

namespace crucible::kernels {
namespace {

constexpr int64_t kTile = 128;  // cache rows per tile: 128 · E floats of keys stay in L2 while G queries read them

// Scores s[g][t] = scale · q_g · k_t for the tile's rows, softmax over all visible rows, o_g = Σ p_t v_t: the plain
// loops (any E, any CPU), also the reference the vector path is tested against.
void attend_plain(const float* const* qs, int64_t G, const float* keys, const float* values, int64_t n, int64_t E,
                  float scale, float* s, float* const* outs) {
  for (int64_t g = 0; g < G; ++g) {
    float* sg = s + g * n;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t t = 0; t < n; ++t) {
      float d = 0;
      for (int64_t e = 0; e < E; ++e) d += qs[g][e] * keys[t * E + e];
      sg[t] = d * scale;
      mx = std::max(mx, sg[t]);
    }
    float sum = 0;
    for (int64_t t = 0; t < n; ++t) sum += (sg[t] = std::exp(sg[t] - mx));
    float* o = outs[g];
    std::fill(o, o + E, 0.0f);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t e = 0; e < E; ++e) o[e] += sg[t] * values[t * E + e];
    const float inv = 1.0f / sum;
    for (int64_t e = 0; e < E; ++e) o[e] *= inv;
  }
}

#ifdef CRUCIBLE_DECODE_ATTN_X86

bool cpu_has_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

__attribute__((target("avx2,fma"))) inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

using detail::hsum;

// e^x for x <= 0 (scores minus their maximum): avx2.h's exp256 (Cephes' expf reduction and polynomial; below -87.3
// the result is 0, as e^x underflows there anyway).
using detail::exp256;

// Four dot products of q (E floats, E % 8 == 0) with rows k0..k3, as one vector's low four lanes.
__attribute__((target("avx2,fma"))) inline __m128 dot4(const float* q, const float* k, int64_t E) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t e = 0; e < E; e += 8) {
    const __m256 qv = _mm256_loadu_ps(q + e);
    a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + e), a0);
    a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + E + e), a1);
    a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 2 * E + e), a2);
    a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 3 * E + e), a3);
  }
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

__attribute__((target("avx2,fma"))) float dot1(const float* q, const float* k, int64_t E) {
  __m256 a = _mm256_setzero_ps();
  for (int64_t e = 0; e < E; e += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + e), _mm256_loadu_ps(k + e), a);
  return hsum(a);
}

// The vector path (E % 8 == 0): scores tile by tile (each tile of keys read by all G queries while it is in cache),
// softmax, then the values tile by tile with E/8 accumulators per 64 features.
__attribute__((target("avx2,fma"))) void attend_avx2(const float* const* qs, int64_t G, const float* keys,
                                                     const float* values, int64_t n, int64_t E, float scale, float* s,
                                                     float* const* outs) {
  const __m128 sc4 = _mm_set1_ps(scale);
  for (int64_t t0 = 0; t0 < n; t0 += kTile) {
    const int64_t tn = std::min(kTile, n - t0);
    for (int64_t g = 0; g < G; ++g) {
      float* sg = s + g * n + t0;
      const float* k = keys + t0 * E;
      int64_t t = 0;
      for (; t + 4 <= tn; t += 4) _mm_storeu_ps(sg + t, _mm_mul_ps(dot4(qs[g], k + t * E, E), sc4));
      for (; t < tn; ++t) sg[t] = dot1(qs[g], k + t * E, E) * scale;
    }
  }
  std::vector<float> inv(static_cast<size_t>(G));
  for (int64_t g = 0; g < G; ++g) {
    float* sg = s + g * n;
    __m256 mv = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    int64_t t = 0;
    for (; t + 8 <= n; t += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(sg + t));
    float mx = hmax(mv);
    for (; t < n; ++t) mx = std::max(mx, sg[t]);
    const __m256 m8 = _mm256_set1_ps(mx);
    __m256 sv = _mm256_setzero_ps();
    t = 0;
    for (; t + 8 <= n; t += 8) {
      const __m256 p = exp256(_mm256_sub_ps(_mm256_loadu_ps(sg + t), m8));
      _mm256_storeu_ps(sg + t, p);
      sv = _mm256_add_ps(sv, p);
    }
    float sum = hsum(sv);
    if (t < n) {  // the tail through the same exp, one padded vector
      alignas(32) float buf[8];
      const int64_t r = n - t;
      for (int64_t i = 0; i < 8; ++i) buf[i] = i < r ? sg[t + i] - mx : -std::numeric_limits<float>::infinity();
      _mm256_store_ps(buf, exp256(_mm256_load_ps(buf)));
      for (int64_t i = 0; i < r; ++i) sum += (sg[t + i] = buf[i]);
    }
    inv[static_cast<size_t>(g)] = 1.0f / sum;
  }
  for (int64_t g = 0; g < G; ++g) {
    const float* pg = s + g * n;
    for (int64_t e0 = 0; e0 < E; e0 += 64) {
      const int64_t w = std::min<int64_t>(64, E - e0) / 8;  // vectors in this chunk of features
      __m256 acc[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
      if (w == 8) {
        for (int64_t t = 0; t < n; ++t) {
          const __m256 p = _mm256_broadcast_ss(pg + t);
          const float* v = values + t * E + e0;
#pragma GCC unroll 8
          for (int i = 0; i < 8; ++i) acc[i] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8 * i), acc[i]);
        }
      } else {
        for (int64_t t = 0; t < n; ++t) {
          const __m256 p = _mm256_broadcast_ss(pg + t);
          const float* v = values + t * E + e0;
          for (int64_t i = 0; i < w; ++i) acc[i] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8 * i), acc[i]);
        }
      }
      const __m256 iv = _mm256_set1_ps(inv[static_cast<size_t>(g)]);
      for (int64_t i = 0; i < w; ++i) _mm256_storeu_ps(outs[g] + e0 + 8 * i, _mm256_mul_ps(acc[i], iv));
    }
  }
}

#endif

}  // namespace

void decode_attention(const DecodeAttentionArgs& a, int64_t begin, int64_t end) {
  const int64_t G = a.H / a.K;
  const float scale = 1.0f / std::sqrt(static_cast<float>(a.E));
  std::vector<const float*> qs(static_cast<size_t>(G));
  std::vector<float*> outs(static_cast<size_t>(G));
  std::vector<float> s;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t b = item / a.K, k = item % a.K;
    const int64_t lo = a.lo_B[b], n = a.hi_B[b] - lo;
    for (int64_t g = 0; g < G; ++g) {
      qs[static_cast<size_t>(g)] = a.q + b * a.q_row_stride + (k * G + g) * a.E;
      outs[static_cast<size_t>(g)] = a.out + b * a.out_row_stride + (k * G + g) * a.E;
    }
    if (n <= 0) {
      for (float* o : outs) std::fill(o, o + a.E, 0.0f);
      continue;
    }
    s.resize(static_cast<size_t>(G * n));
    const int64_t base = a.slot_B[b] * a.slot_stride + k * a.head_stride + lo * a.E;
#ifdef CRUCIBLE_DECODE_ATTN_X86
    if (cpu_has_avx2() && a.E % 8 == 0) {
      attend_avx2(qs.data(), G, a.keys + base, a.values + base, n, a.E, scale, s.data(), outs.data());
      continue;
    }
#endif
    attend_plain(qs.data(), G, a.keys + base, a.values + base, n, a.E, scale, s.data(), outs.data());
  }
}

}  // namespace crucible::kernels
