// CPU kernels of kernels/fused_layers.h. RMSNorm is plain loops the compiler vectorises; SwiGLU needs an exponential
// per element, so where the CPU has AVX2 + FMA it runs eight lanes at a time (avx2.h's exp256, within 2 ulp of expf)
// and falls back to std::exp otherwise.
#include "kernels/fused_layers.h"

#include <cmath>

#include "kernels/cpu/avx2.h"

namespace crucible::kernels {

void rms_norm_forward_cpu(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t d, float eps) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xi = x + i * d;
    float* yi = y + i * d;
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(xi[j]) * xi[j];
    const float var = static_cast<float>(ss / static_cast<double>(d));
    const float r = 1.0f / std::sqrt(var + eps);
    rstd[i] = r;
    for (int64_t j = 0; j < d; ++j) yi[j] = w[j] * (xi[j] * r);
  }
}

void rms_norm_backward_cpu(const float* x, const float* w, const float* rstd, const float* dy, float* dx,
                           double* dw_acc, int64_t rows, int64_t d) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xi = x + i * d;
    const float* gi = dy + i * d;
    float* dxi = dx + i * d;
    const float r = rstd[i];
    double dot = 0;  // Σ a_j x̂_j
    for (int64_t j = 0; j < d; ++j) {
      const float xh = xi[j] * r;
      dot += static_cast<double>(gi[j] * w[j]) * xh;
      dw_acc[j] += static_cast<double>(gi[j]) * xh;
    }
    const float c = static_cast<float>(dot / static_cast<double>(d));
    for (int64_t j = 0; j < d; ++j) dxi[j] = r * (gi[j] * w[j] - xi[j] * r * c);
  }
}

namespace {

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void swiglu_forward_avx2(const float* g, const float* u, float* h, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 gv = _mm256_loadu_ps(g + j);
    const __m256 e = detail::exp256(_mm256_xor_ps(gv, sign));  // exp(-g)
    _mm256_storeu_ps(h + j, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + j)));
  }
  for (; j < n; ++j) h[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
}

__attribute__((target("avx2,fma"))) void swiglu_backward_avx2(const float* g, const float* u, const float* dh,
                                                              float* dg, float* du, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 gv = _mm256_loadu_ps(g + j), uv = _mm256_loadu_ps(u + j), hv = _mm256_loadu_ps(dh + j);
    const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, detail::exp256(_mm256_xor_ps(gv, sign))));
    const __m256 ds = _mm256_mul_ps(s, _mm256_add_ps(one, _mm256_mul_ps(gv, _mm256_sub_ps(one, s))));
    _mm256_storeu_ps(dg + j, _mm256_mul_ps(_mm256_mul_ps(hv, uv), ds));
    _mm256_storeu_ps(du + j, _mm256_mul_ps(hv, _mm256_mul_ps(gv, s)));
  }
  for (; j < n; ++j) {
    const float s = 1.0f / (1.0f + std::exp(-g[j]));
    dg[j] = dh[j] * u[j] * (s * (1.0f + g[j] * (1.0f - s)));
    du[j] = dh[j] * (g[j] * s);
  }
}
#endif

}  // namespace

void swiglu_forward_cpu(const float* g, const float* u, float* h, int64_t n) {
#if defined(__x86_64__)
  if (detail::cpu_has_avx2_fma()) return swiglu_forward_avx2(g, u, h, n);
#endif
  for (int64_t j = 0; j < n; ++j) h[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
}

void swiglu_backward_cpu(const float* g, const float* u, const float* dh, float* dg, float* du, int64_t n) {
#if defined(__x86_64__)
  if (detail::cpu_has_avx2_fma()) return swiglu_backward_avx2(g, u, dh, dg, du, n);
#endif
  for (int64_t j = 0; j < n; ++j) {
    const float s = 1.0f / (1.0f + std::exp(-g[j]));
    dg[j] = dh[j] * u[j] * (s * (1.0f + g[j] * (1.0f - s)));
    du[j] = dh[j] * (g[j] * s);
  }
}

}  // namespace crucible::kernels
