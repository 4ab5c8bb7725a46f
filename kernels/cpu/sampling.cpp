// CPU reference of kernels/sampling.h, written as the engine's sampler is (model/engine.cpp Sampler::sample): the
// same float/double arithmetic in the same places, so the same logits and u give the same token and logprob.
#include "kernels/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/cpu/parallel_rows.h"

namespace crucible::kernels {
namespace {

using Cand = std::pair<float, int64_t>;  // (z, token id)

// Most likely first, ties to the lower id: a strict total order, so "the k largest" and "sorted" are unique.
bool higher(const Cand& a, const Cand& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); }

int64_t sample_row(const float* logits, int64_t V, const SampleParams& p, double u, double* sampling_logprob,
                   std::vector<Cand>& cand) {
  if (p.temperature <= 0) {
    if (sampling_logprob) *sampling_logprob = 0;
    return std::max_element(logits, logits + V) - logits;
  }
  const float temperature = static_cast<float>(p.temperature);
  cand.resize(static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i) cand[i] = {logits[i] / temperature, i};
  const auto first = cand.begin();
  int64_t n = V;
  if (p.top_k > 0 && p.top_k < V) {
    std::nth_element(first, first + p.top_k, cand.end(), higher);
    n = p.top_k;
    std::sort(first, first + n, [](const Cand& a, const Cand& b) { return a.second < b.second; });  // id order
  }
  float xmax = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) xmax = std::max(xmax, cand[i].first);
  if (p.top_p < 1.0) {
    // As the engine: sort a growing head (the nucleus is usually small), keep the shortest prefix reaching top_p.
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total += std::exp(static_cast<double>(cand[i].first - xmax));
    for (int64_t m = std::min<int64_t>(n, 64);; m = std::min<int64_t>(n, m * 8)) {
      std::partial_sort(first, first + m, first + n, higher);
      double cum = 0;
      int64_t keep = -1;
      for (int64_t r = 0; r < m; ++r) {
        cum += std::exp(static_cast<double>(cand[r].first - xmax)) / total;
        if (cum >= p.top_p) {
          keep = r + 1;
          break;
        }
      }
      if (keep > 0) {
        n = keep;
        break;
      }
      if (m == n) break;
    }
  }
  if (p.min_p > 0) {
    const float threshold = xmax + std::log(static_cast<float>(p.min_p));
    int64_t w = 0;  // order-preserving compaction: the walk order must survive the filter
    for (int64_t i = 0; i < n; ++i)
      if (cand[i].first >= threshold) cand[w++] = cand[i];
    n = w;
  }
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += std::exp(static_cast<double>(cand[i].first - xmax));
  const double target = u * total;
  double cum = 0;
  int64_t chosen = n - 1;
  for (int64_t i = 0; i < n; ++i) {
    cum += std::exp(static_cast<double>(cand[i].first - xmax));
    if (target < cum) {
      chosen = i;
      break;
    }
  }
  if (sampling_logprob) *sampling_logprob = static_cast<double>(cand[chosen].first - xmax) - std::log(total);
  return cand[chosen].second;
}

}  // namespace

void sample_rows_cpu(const SampleRows& r, int64_t* tokens, double* sampling_logprob) {
  detail::parallel_rows(r.n_rows, r.vocab >= 4096 ? 2 : 64, [&](int64_t begin, int64_t end) {
    std::vector<Cand> cand;  // scratch per thread, reused across its rows
    for (int64_t i = begin; i < end; ++i)
      tokens[i] = sample_row(r.logits + i * r.row_stride, r.vocab, r.params[i], r.uniforms[i],
                             sampling_logprob ? sampling_logprob + i : nullptr, cand);
  });
}

#ifndef CRUCIBLE_HAS_CUDA_KERNELS
void sample_rows_cuda(const SampleRows&, int64_t*, double*, void*) {
  throw std::runtime_error("crucible was built without CUDA kernels (CRUCIBLE_CUDA=OFF): sample_rows_cuda");
}
#endif

}  // namespace crucible::kernels
