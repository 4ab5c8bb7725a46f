// Compiled with -ffp-contract=off (kernels/CMakeLists.txt): q · scale + offset must round twice, as dequantisation
// does, not fuse into one FMA. The dot products use explicit FMAs.
#include "kernels/int_groups.h"

#include <algorithm>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define CRUCIBLE_INT_GROUPS_X86 1
#endif

namespace crucible::kernels {
namespace {

void matmul_plain(const float* x, int64_t R, int64_t cols, const int8_t* q, const float* scale, const float* offset,
                  int64_t lo, int64_t hi, float* y, int64_t ldy) {
  const int64_t G = cols / kIntGroup;
  float w[kIntGroup];
  for (int64_t r0 = 0; r0 < R; r0 += 8) {
    const int64_t nr = std::min<int64_t>(8, R - r0);
    for (int64_t o = lo; o < hi; ++o) {
      float acc[8] = {};
      for (int64_t g = 0; g < G; ++g) {
        const int8_t* qg = q + o * cols + g * kIntGroup;
        const float s = scale[o * G + g], m = offset[o * G + g];
        for (int64_t i = 0; i < kIntGroup; ++i) w[i] = static_cast<float>(qg[i]) * s + m;
        for (int64_t r = 0; r < nr; ++r) {
          const float* xr = x + (r0 + r) * cols + g * kIntGroup;
          float a = 0;
          for (int64_t i = 0; i < kIntGroup; ++i) a += xr[i] * w[i];
          acc[r] += a;
        }
      }
      for (int64_t r = 0; r < nr; ++r) y[(r0 + r) * ldy + o] = acc[r];
    }
  }
}

#ifdef CRUCIBLE_INT_GROUPS_X86

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// NR rows of x against rows [lo, hi) of w. Up to 4 rows: two accumulators per row (the two halves of a group), so
// the FMA chains are short; 5–8 rows: one per row (8 independent chains already fill the FMA ports).
template <int NR>
__attribute__((target("avx2,fma"))) void matmul_avx2_rows(const float* x, int64_t cols, const int8_t* q,
                                                          const float* scale, const float* offset, int64_t lo,
                                                          int64_t hi, float* y, int64_t ldy) {
  constexpr bool kTwo = NR <= 4;
  const int64_t G = cols / kIntGroup;
  for (int64_t o = lo; o < hi; ++o) {
    const int8_t* qo = q + o * cols;
    const float* so = scale + o * G;
    const float* mo = offset + o * G;
    __m256 acc0[NR], acc1[kTwo ? NR : 1];
    // Unrolled (the pragmas) so the accumulators live in registers, not in a stack array.
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) acc0[r] = _mm256_setzero_ps();
    if constexpr (kTwo) {
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) acc1[r] = _mm256_setzero_ps();
    }
    for (int64_t g = 0; g < G; ++g) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qo + g * kIntGroup));
      const __m256 s = _mm256_broadcast_ss(so + g), m = _mm256_broadcast_ss(mo + g);
      const __m256 w0 = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), s), m);
      const __m256 w1 =
          _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8))), s), m);
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        const float* xr = x + r * cols + g * kIntGroup;
        acc0[r] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr), acc0[r]);
        if constexpr (kTwo) acc1[r] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr + 8), acc1[r]);
        else acc0[r] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr + 8), acc0[r]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      __m256 a = acc0[r];
      if constexpr (kTwo) a = _mm256_add_ps(a, acc1[r]);
      y[r * ldy + o] = hsum(a);
    }
  }
}

// Panel kernel for more rows: 16 output features at a time are dequantised once into a [cols, 16] float32 panel (L2
// resident), then every 6 rows of x run a 6 x 16 register block over it (12 accumulators, one broadcast of x and two
// panel loads per 12 FMAs: the compute-bound shape, as a GEMM micro-kernel).
template <int NR>
__attribute__((target("avx2,fma"))) void panel_rows(const float* x, int64_t cols, const float* panel, int64_t n_out,
                                                    float* y, int64_t ldy) {
  __m256 acc0[NR], acc1[NR];
#pragma GCC unroll 6
  for (int r = 0; r < NR; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  for (int64_t c = 0; c < cols; ++c) {
    const __m256 b0 = _mm256_loadu_ps(panel + c * 16), b1 = _mm256_loadu_ps(panel + c * 16 + 8);
#pragma GCC unroll 6
    for (int r = 0; r < NR; ++r) {
      const __m256 a = _mm256_broadcast_ss(x + r * cols + c);
      acc0[r] = _mm256_fmadd_ps(a, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(a, b1, acc1[r]);
    }
  }
  alignas(32) float out[16];
#pragma GCC unroll 6
  for (int r = 0; r < NR; ++r) {
    _mm256_store_ps(out, acc0[r]);
    _mm256_store_ps(out + 8, acc1[r]);
    for (int64_t j = 0; j < n_out; ++j) y[r * ldy + j] = out[j];
  }
}

using PanelFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t);
constexpr PanelFn kPanel[6] = {panel_rows<1>, panel_rows<2>, panel_rows<3>, panel_rows<4>, panel_rows<5>,
                               panel_rows<6>};

void matmul_panels(const float* x, int64_t R, int64_t cols, const int8_t* q, const float* scale, const float* offset,
                   int64_t lo, int64_t hi, float* y, int64_t ldy) {
  const int64_t G = cols / kIntGroup;
  std::vector<float> panel(static_cast<size_t>(cols * 16)), row(static_cast<size_t>(cols));
  for (int64_t o = lo; o < hi; o += 16) {
    const int64_t n = std::min<int64_t>(16, hi - o);
    for (int64_t j = 0; j < 16; ++j) {
      if (j < n) dequantize_int_groups(q + (o + j) * cols, scale + (o + j) * G, offset + (o + j) * G, cols, row.data());
      else std::fill(row.begin(), row.end(), 0.0f);
      for (int64_t c = 0; c < cols; ++c) panel[c * 16 + j] = row[c];
    }
    for (int64_t r0 = 0; r0 < R; r0 += 6) {
      const int64_t nr = std::min<int64_t>(6, R - r0);
      kPanel[nr - 1](x + r0 * cols, cols, panel.data(), n, y + r0 * ldy + o, ldy);
    }
  }
}

using RowsFn = void (*)(const float*, int64_t, const int8_t*, const float*, const float*, int64_t, int64_t, float*,
                        int64_t);
constexpr RowsFn kRows[8] = {matmul_avx2_rows<1>, matmul_avx2_rows<2>, matmul_avx2_rows<3>, matmul_avx2_rows<4>,
                             matmul_avx2_rows<5>, matmul_avx2_rows<6>, matmul_avx2_rows<7>, matmul_avx2_rows<8>};

bool cpu_has_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

#endif

}  // namespace

bool int_groups_vectorised() {
#ifdef CRUCIBLE_INT_GROUPS_X86
  return cpu_has_avx2();
#else
  return false;
#endif
}

void dequantize_int_groups(const int8_t* q, const float* scale, const float* offset, int64_t n, float* y) {
  for (int64_t g = 0; g < n / kIntGroup; ++g)
    for (int64_t i = 0; i < kIntGroup; ++i)
      y[g * kIntGroup + i] = static_cast<float>(q[g * kIntGroup + i]) * scale[g] + offset[g];
}

void int_group_matmul(const float* x, int64_t R, int64_t cols, const int8_t* q, const float* scale, const float* offset,
                      int64_t lo, int64_t hi, float* y, int64_t ldy) {
#ifdef CRUCIBLE_INT_GROUPS_X86
  if (cpu_has_avx2() && R > 8) {
    matmul_panels(x, R, cols, q, scale, offset, lo, hi, y, ldy);
    return;
  }
  if (cpu_has_avx2()) {
    // Blocks of weight rows small enough to stay in L2 while every pass of 8 rows of x runs over them.
    const int64_t block = std::max<int64_t>(8, (int64_t{128} << 10) / (cols + cols / kIntGroup * 8));
    for (int64_t o = lo; o < hi; o += block) {
      const int64_t o_end = std::min(hi, o + block);
      for (int64_t r0 = 0; r0 < R; r0 += 8) {
        const int64_t nr = std::min<int64_t>(8, R - r0);
        kRows[nr - 1](x + r0 * cols, cols, q, scale, offset, o, o_end, y + r0 * ldy, ldy);
      }
    }
    return;
  }
#endif
  matmul_plain(x, R, cols, q, scale, offset, lo, hi, y, ldy);
}

}  // namespace crucible::kernels
