// CPU version of kernels/sampling.h: the reference the CUDA kernel is tested against and the engine's sampler
// (model/engine.cpp Sampler::sample calls sample_row_cpu with its own uniform draw). Float z, double sums.
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

}  // namespace

int64_t sample_row_cpu(const float* logits, int64_t V, const SampleParams& p, double u, double* sampling_logprob,
                       SampleScratch& scratch) {
  auto& cand = scratch.cand;
  if (p.temperature <= 0) {
    if (sampling_logprob) *sampling_logprob = 0;
    return std::max_element(logits, logits + V) - logits;
  }
  const float temperature = static_cast<float>(p.temperature);
  if ((p.top_k <= 0 || p.top_k >= V) && p.top_p >= 1.0 && p.min_p <= 0) {
    // Nothing filtered (R1's and TRL's GRPO rollouts: top-k off, top-p 1): the same z, sum and walk as below, in the
    // same order, so the same bits, without the (z, id) copy of the row and with each exp computed once.
    auto& weight = scratch.weight;
    weight.resize(static_cast<size_t>(V));
    float xmax = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < V; ++i) xmax = std::max(xmax, logits[i] / temperature);
    double total = 0;
    for (int64_t i = 0; i < V; ++i) total += weight[i] = std::exp(static_cast<double>(logits[i] / temperature - xmax));
    const double target = u * total;
    double cum = 0;
    int64_t chosen = V - 1;
    for (int64_t i = 0; i < V; ++i) {
      cum += weight[i];
      if (target < cum) {
        chosen = i;
        break;
      }
    }
    if (sampling_logprob) *sampling_logprob = static_cast<double>(logits[chosen] / temperature - xmax) - std::log(total);
    return chosen;
  }
  cand.resize(static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i) cand[i] = {logits[i] / temperature, i};
  const auto first = cand.begin();
  int64_t n = V;
  if (p.top_k > 0 && p.top_k < V) {
    std::nth_element(first, first + p.top_k, cand.end(), higher);
    n = p.top_k;
    // Back to id order, so the walk order (and so the token a given u picks) does not depend on how the standard
    // library's nth_element happens to leave the kept k.
    std::sort(first, first + n, [](const Cand& a, const Cand& b) { return a.second < b.second; });
  }
  float xmax = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) xmax = std::max(xmax, cand[i].first);
  if (p.top_p < 1.0) {
    // Keep the smallest highest-probability prefix whose mass reaches top_p (transformers keeps a token when the
    // mass strictly above it is < top_p). The nucleus is usually small: sort a growing head, not the vocabulary.
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

void sample_rows_cpu(const SampleRows& r, int64_t* tokens, double* sampling_logprob) {
  detail::parallel_rows(r.n_rows, r.vocab >= 4096 ? 2 : 64, [&](int64_t begin, int64_t end) {
    SampleScratch scratch;  // per thread, reused across its rows
    for (int64_t i = begin; i < end; ++i)
      tokens[i] = sample_row_cpu(r.logits + i * r.row_stride, r.vocab, r.params[i], r.uniforms[i],
                                 sampling_logprob ? sampling_logprob + i : nullptr, scratch);
  });
}

#ifndef CRUCIBLE_HAS_CUDA_KERNELS
void sample_rows_cuda(const SampleRows&, int64_t*, double*, void*) {
  throw std::runtime_error("crucible was built without CUDA kernels (CRUCIBLE_CUDA=OFF): sample_rows_cuda");
}
#endif

}  // namespace crucible::kernels
