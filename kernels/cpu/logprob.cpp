// CPU reference of kernels/logprob.h. Two passes per row (max, then Σexp and Σexp·(z-max)); the exponentials are
// float (expf, as torch's float log_softmax), their sums double, so the row's error does not grow with V.
#include "kernels/logprob.h"

#include <cassert>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "kernels/cpu/parallel_rows.h"

namespace crucible::kernels {
namespace {

// Rows per thread at least: a row of a 150k vocabulary is ~1 ms of expf, a row of 32 tokens is nothing.
int64_t min_rows_for(int64_t vocab) { return vocab >= 4096 ? 4 : 256; }

}  // namespace

void logprob_forward_cpu(const LogprobRows& r, float* logp, float* entropy, float* lse) {
  assert(r.row_stride >= r.vocab && r.temperature > 0);
  const float T = r.temperature;
  detail::parallel_rows(r.n_rows, min_rows_for(r.vocab), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* x = r.logits + i * r.row_stride;
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
