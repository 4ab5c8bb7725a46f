// Compiled with -ffp-contract=off (kernels/CMakeLists.txt): q · scale + offset must round twice, as dequantisation
// does, not fuse into one FMA. The dot products use explicit FMAs.
#include "kernels/int_groups.h"

#include <algorithm>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "kernels/cpu/avx2.h"
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

using detail::hsum;

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

// 8 x 8 float transpose in registers (rows r[0..7] in, columns out in r[0..7]).
__attribute__((target("avx2,fma"))) inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// The [cols, 16] panel of weight rows [o, o + n) (n <= 16; missing rows are zero), formed group by group: each
// row's 16 int8 values dequantised in registers (q * scale, then + offset: two roundings, as dequantisation) and
// the 16 x 16 block transposed in registers, so no scalar pass and no strided stores.
__attribute__((target("avx2,fma"))) void form_panel(const int8_t* q, const float* scale, const float* offset,
                                                    int64_t cols, int64_t o, int64_t n, float* panel) {
  const int64_t G = cols / kIntGroup;
  for (int64_t g = 0; g < G; ++g) {
    for (int h = 0; h < 2; ++h) {  // output rows h*8 .. h*8+7 of the panel
      __m256 lo[8], hi[8];
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) {
        const int64_t j = h * 8 + t;
        if (j < n) {
          const int64_t row = o + j;
          const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + row * cols + g * kIntGroup));
          const __m256 s = _mm256_broadcast_ss(scale + row * G + g), m = _mm256_broadcast_ss(offset + row * G + g);
          lo[t] = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), s), m);
          hi[t] = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8))), s), m);
        } else {
          lo[t] = hi[t] = _mm256_setzero_ps();
        }
      }
      transpose8(lo);
      transpose8(hi);
      float* dst = panel + g * kIntGroup * 16 + h * 8;
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) {
        _mm256_storeu_ps(dst + t * 16, lo[t]);
        _mm256_storeu_ps(dst + (8 + t) * 16, hi[t]);
      }
    }
  }
}

void matmul_panels(const float* x, int64_t R, int64_t cols, const int8_t* q, const float* scale, const float* offset,
                   int64_t lo, int64_t hi, float* y, int64_t ldy) {
  std::vector<float> panel(static_cast<size_t>(cols * 16));
  for (int64_t o = lo; o < hi; o += 16) {
    const int64_t n = std::min<int64_t>(16, hi - o);
    form_panel(q, scale, offset, cols, o, n, panel.data());
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

// Same values as the scalar loop: q * scale rounded, then + offset rounded (separate intrinsics, never an FMA).
__attribute__((target("avx2,fma"))) void dequantize_avx2(const int8_t* q, const float* scale, const float* offset,
                                                         int64_t n, float* y) {
  for (int64_t g = 0; g < n / kIntGroup; ++g) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + g * kIntGroup));
    const __m256 s = _mm256_broadcast_ss(scale + g), m = _mm256_broadcast_ss(offset + g);
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8)));
    _mm256_storeu_ps(y + g * kIntGroup, _mm256_add_ps(_mm256_mul_ps(lo, s), m));
    _mm256_storeu_ps(y + g * kIntGroup + 8, _mm256_add_ps(_mm256_mul_ps(hi, s), m));
  }
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
#ifdef CRUCIBLE_INT_GROUPS_X86
  if (cpu_has_avx2()) {
    dequantize_avx2(q, scale, offset, n, y);
    return;
  }
#endif
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
