// CPU reference of kernels/logprob.h. Two passes per row (max, then Σexp and Σexp·(z-max)); the exponentials are
// float (expf, as torch's float log_softmax), their sums double, so the row's error does not grow with V. Where the
// CPU has AVX2 + FMA the rows run eight lanes at a time (avx2.h's exp256, within 2 ulp of expf): the scalar loop
// took ~13 ns an element, most of a GRPO step's log-prob time at a 49k-150k vocabulary.
#include "kernels/logprob.h"

#include <cassert>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "kernels/cpu/avx2.h"
#include "kernels/cpu/parallel_rows.h"

namespace crucible::kernels {
namespace {

// Rows per thread at least: a row of a 150k vocabulary is ~1 ms of expf, a row of 32 tokens is nothing.
int64_t min_rows_for(int64_t vocab) { return vocab >= 4096 ? 4 : 256; }

#if defined(__x86_64__)
// The same two passes eight lanes at a time (exp256: within 2 ulp of expf), the sums still double. Row by row the
// scalar loop and this one differ only by the exponential's last bits and the order of the double sums.
__attribute__((target("avx2,fma"))) void forward_row_avx2(const float* x, int64_t V, float T, int64_t tgt,
                                                          float* logp, float* entropy, float* lse) {
  const __m256 vT = _mm256_set1_ps(T);
  __m256 vm = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 8 <= V; j += 8) vm = _mm256_max_ps(vm, _mm256_div_ps(_mm256_loadu_ps(x + j), vT));
  float m = detail::hmax(vm);
  for (; j < V; ++j) m = std::max(m, x[j] / T);
  const __m256 bm = _mm256_set1_ps(m), zero = _mm256_setzero_ps();
  __m256d s_lo = _mm256_setzero_pd(), s_hi = s_lo, t_lo = s_lo, t_hi = s_lo;
  for (j = 0; j + 8 <= V; j += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_div_ps(_mm256_loadu_ps(x + j), vT), bm);
    const __m256 e = detail::exp256(d);
    detail::add_to_doubles(e, s_lo, s_hi);
    // e · d, 0 where e is 0 (a -inf logit: not 0 · -inf)
    detail::add_to_doubles(_mm256_and_ps(_mm256_mul_ps(e, d), _mm256_cmp_ps(e, zero, _CMP_NEQ_OQ)), t_lo, t_hi);
  }
  double s = detail::hsum_pd(_mm256_add_pd(s_lo, s_hi)), t = detail::hsum_pd(_mm256_add_pd(t_lo, t_hi));
  for (; j < V; ++j) {
    const float d = x[j] / T - m;
    const double e = std::exp(d);
    s += e;
    if (e != 0) t += e * d;
  }
  const double log_s = std::log(s);
  const double row_lse = static_cast<double>(m) + log_s;
  *logp = (tgt >= 0 && tgt < V) ? static_cast<float>(static_cast<double>(x[tgt] / T) - row_lse) : 0.0f;
  *entropy = static_cast<float>(log_s - t / s);
  if (lse) *lse = static_cast<float>(row_lse);
}

__attribute__((target("avx2,fma"))) void backward_row_avx2(const float* x, float* g, int64_t V, float T, float gl_eff,
                                                           float ge, float row_lse, float h) {
  const __m256 vT = _mm256_set1_ps(T), vlse = _mm256_set1_ps(row_lse), vh = _mm256_set1_ps(h);
  const __m256 vgl = _mm256_set1_ps(-gl_eff), vge = _mm256_set1_ps(ge), zero = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= V; j += 8) {
    const __m256 lp = _mm256_sub_ps(_mm256_div_ps(_mm256_loadu_ps(x + j), vT), vlse);
    const __m256 p = detail::exp256(lp);
    // (-gl · p - ge · p · (lp + h)) / T, 0 where p is 0
    const __m256 num = _mm256_sub_ps(_mm256_mul_ps(vgl, p), _mm256_mul_ps(_mm256_mul_ps(vge, p), _mm256_add_ps(lp, vh)));
    _mm256_storeu_ps(g + j, _mm256_and_ps(_mm256_div_ps(num, vT), _mm256_cmp_ps(p, zero, _CMP_NEQ_OQ)));
  }
  for (; j < V; ++j) {
    const float logp_j = x[j] / T - row_lse;
    const float p = std::exp(logp_j);
    g[j] = p == 0 ? 0.0f : (-gl_eff * p - ge * p * (logp_j + h)) / T;
  }
}
#endif

}  // namespace

void logprob_forward_cpu(const LogprobRows& r, float* logp, float* entropy, float* lse) {
  assert(r.row_stride >= r.vocab && r.temperature > 0);
  const float T = r.temperature;
  detail::parallel_rows(r.n_rows, min_rows_for(r.vocab), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* x = r.logits + i * r.row_stride;
#if defined(__x86_64__)
      if (detail::cpu_has_avx2_fma()) {
        forward_row_avx2(x, r.vocab, T, r.targets[i], logp + i, entropy + i, lse ? lse + i : nullptr);
        continue;
      }
#endif
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < r.vocab; ++j) m = std::max(m, x[j] / T);
      double s = 0, t = 0;  // Σ e, Σ e·(z - m), e = exp(z - m)
      for (int64_t j = 0; j < r.vocab; ++j) {
        const float d = x[j] / T - m;
        const double e = std::exp(d);
        s += e;
        if (e != 0) t += e * d;  // a -inf logit (masked) adds nothing, not 0·-inf
      }
      const double log_s = std::log(s);
      const double row_lse = static_cast<double>(m) + log_s;
      const int64_t tgt = r.targets[i];
      logp[i] = (tgt >= 0 && tgt < r.vocab) ? static_cast<float>(static_cast<double>(x[tgt] / T) - row_lse) : 0.0f;
      entropy[i] = static_cast<float>(log_s - t / s);
      if (lse) lse[i] = static_cast<float>(row_lse);
    }
  });
}

void logprob_backward_cpu(const LogprobRows& r, const float* lse, const float* entropy, const float* dlogp,
                          const float* dentropy, float* dlogits, int64_t dlogits_stride) {
  assert(r.row_stride >= r.vocab && dlogits_stride >= r.vocab && r.temperature > 0);
  const float T = r.temperature;
  detail::parallel_rows(r.n_rows, min_rows_for(r.vocab), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* x = r.logits + i * r.row_stride;
      float* g = dlogits + i * dlogits_stride;
      const float gl = dlogp ? dlogp[i] : 0.0f, ge = dentropy ? dentropy[i] : 0.0f;
      const float row_lse = lse[i], h = entropy[i];
      const int64_t tgt = r.targets[i];
      const bool has_target = tgt >= 0 && tgt < r.vocab;
      const float gl_eff = has_target ? gl : 0.0f;
#if defined(__x86_64__)
      if (detail::cpu_has_avx2_fma()) {
        backward_row_avx2(x, g, r.vocab, T, gl_eff, ge, row_lse, h);
        if (has_target) g[tgt] += gl / T;
        continue;
      }
#endif
      for (int64_t j = 0; j < r.vocab; ++j) {
        const float logp_j = x[j] / T - row_lse;
        const float p = std::exp(logp_j);
        // x[j] is read before g[j] is written (g may alias x); p == 0 (a masked logit) has no gradient, not 0·-inf.
        g[j] = p == 0 ? 0.0f : (-gl_eff * p - ge * p * (logp_j + h)) / T;
      }
      if (has_target) g[tgt] += gl / T;
    }
  });
}

#ifndef CRUCIBLE_HAS_CUDA_KERNELS
// Built without CRUCIBLE_CUDA: the CUDA entry points exist so callers link, and say why they cannot run.
bool cuda_kernels_built() { return false; }
void logprob_forward_cuda(const LogprobRows&, float*, float*, float*, void*) {
  throw std::runtime_error("crucible was built without CUDA kernels (CRUCIBLE_CUDA=OFF): logprob_forward_cuda");
}
void logprob_backward_cuda(const LogprobRows&, const float*, const float*, const float*, const float*, float*,
                           int64_t, void*) {
  throw std::runtime_error("crucible was built without CUDA kernels (CRUCIBLE_CUDA=OFF): logprob_backward_cuda");
}
#endif

}  // namespace crucible::kernels
