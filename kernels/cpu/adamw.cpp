// AdamW's elementwise step on the CPU (kernels/adamw.h). Compiled with -ffp-contract=off (kernels/CMakeLists.txt):
// the scalar tail must round like the AVX2 lanes, which use separate multiplies and adds.
#include "kernels/adamw.h"

#include <cmath>

#include "kernels/cpu/parallel_rows.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace crucible::kernels {
namespace {

inline void adamw_scalar(float* p, const float* g, float* m, float* v, int64_t b, int64_t e, const AdamWStep& s) {
  const float one_m_b1 = s.one_minus_beta1, one_m_b2 = s.one_minus_beta2;
  for (int64_t i = b; i < e; ++i) {
    const float gi = g[i];
    const float pi = p[i] * s.decay;
    const float mi = s.beta1 * m[i] + one_m_b1 * gi;
    const float vi = s.beta2 * v[i] + one_m_b2 * gi * gi;
    const float denom = std::sqrt(vi) / s.sqrt_bias2 + s.eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - s.step_size * mi / denom;
  }
}

#if defined(__x86_64__) || defined(_M_X64)
bool cpu_has_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
}

// The same operations as adamw_scalar, in the same order, eight lanes at a time.
__attribute__((target("avx2"))) void adamw_avx2(float* p, const float* g, float* m, float* v, int64_t b, int64_t e,
                                                const AdamWStep& s) {
  const __m256 decay = _mm256_set1_ps(s.decay), b1 = _mm256_set1_ps(s.beta1), b2 = _mm256_set1_ps(s.beta2);
  const __m256 omb1 = _mm256_set1_ps(s.one_minus_beta1), omb2 = _mm256_set1_ps(s.one_minus_beta2);
  const __m256 step = _mm256_set1_ps(s.step_size), bias2 = _mm256_set1_ps(s.sqrt_bias2), eps = _mm256_set1_ps(s.eps);
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    const __m256 gi = _mm256_loadu_ps(g + i);
    const __m256 pi = _mm256_mul_ps(_mm256_loadu_ps(p + i), decay);
    const __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(omb1, gi));
    const __m256 vi =
        _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(omb2, gi), gi));
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bias2), eps);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(p + i, _mm256_sub_ps(pi, _mm256_div_ps(_mm256_mul_ps(step, mi), denom)));
  }
  adamw_scalar(p, g, m, v, i, e, s);
}
#endif

}  // namespace

AdamWStep AdamWStep::at(double lr, double weight_decay, double beta1, double beta2, double eps, int64_t t) {
  const double n = static_cast<double>(t);
  AdamWStep k;
  k.decay = static_cast<float>(1.0 - lr * weight_decay);
  k.beta1 = static_cast<float>(beta1);
  k.beta2 = static_cast<float>(beta2);
  k.one_minus_beta1 = static_cast<float>(1.0 - beta1);
  k.one_minus_beta2 = static_cast<float>(1.0 - beta2);
  k.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, n)));
  k.sqrt_bias2 = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, n)));
  k.eps = static_cast<float>(eps);
  return k;
}

void adamw_step_cpu(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n, const AdamWStep& s) {
  detail::parallel_rows(n, int64_t{1} << 16, [&](int64_t b, int64_t e) {
#if defined(__x86_64__) || defined(_M_X64)
    if (cpu_has_avx2()) return adamw_avx2(param, grad, exp_avg, exp_avg_sq, b, e, s);
#endif
    adamw_scalar(param, grad, exp_avg, exp_avg_sq, b, e, s);
  });
}

}  // namespace crucible::kernels
