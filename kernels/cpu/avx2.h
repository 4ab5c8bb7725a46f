// Small AVX2 helpers shared by the CPU kernels (x86-64 only; each caller guards its AVX2 path with a run-time check).
#pragma once
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace crucible::kernels::detail {

// The sum of a vector's eight lanes.
__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// exp of eight floats (Cephes' expf: x = n·ln2 + r, |r| <= ln2/2, a degree-6 polynomial in r, 2^n put into the
// exponent): within 2 ulp of the true value on [-87.3, 88.3] (torch's float Sleef_expf8_u10 is within 1); below -87.3
// (and -inf, a masked logit) 0 exactly, above 88.37 +inf; NaN stays NaN. The kernels call it on x <= 0 only.
__attribute__((target("avx2,fma"))) inline __m256 exp256(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447504f);
  const __m256 zero_mask = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);   // true underflow, -inf
  const __m256 inf_mask = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);    // overflow, +inf
  const __m256 nan_mask = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  __m256 v = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
  // n = round(v / ln2); r = v - n·ln2 in two parts (exact first product)
  __m256 fx = _mm256_round_ps(_mm256_mul_ps(v, _mm256_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), v);
  v = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), v);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, v, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(v, v), _mm256_add_ps(v, _mm256_set1_ps(1.0f)));
  // 2^n: n in [-126, 128); n = 128 (v near 88.72) is split as 2^127 · 2 so the exponent field never overflows
  const __m256i n = _mm256_cvtps_epi32(fx);
  const __m256i n1 = _mm256_min_epi32(n, _mm256_set1_epi32(127));
  const __m256i n2 = _mm256_sub_epi32(n, n1);
  const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  y = _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
  y = _mm256_andnot_ps(zero_mask, y);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), inf_mask);
  return _mm256_blendv_ps(y, x, nan_mask);
}

// Adds eight floats to four + four doubles (lo: lanes 0-3, hi: lanes 4-7).
__attribute__((target("avx2,fma"))) inline void add_to_doubles(__m256 v, __m256d& lo, __m256d& hi) {
  lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
  hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

__attribute__((target("avx2,fma"))) inline double hsum_pd(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

__attribute__((target("avx2,fma"))) inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline bool cpu_has_avx2_fma() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

}  // namespace crucible::kernels::detail
#endif
