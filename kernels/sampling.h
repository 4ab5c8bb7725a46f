// Sampling one token per row of logits with temperature, top-k, top-p (nucleus) and min-p, given one uniform draw
// per row: a pure function of (logits, settings, u) so a GPU can run it and a test can pin it. The CPU version is the
// one implementation of these rules: the engine's sampler (model/engine.cpp Sampler::sample) draws u from its own
// RNG and calls sample_row_cpu. Torch-free: raw pointers, sizes, a stream.
//
// The rules, in order:
//   temperature <= 0      greedy: the first index of the largest logit; sampling logprob 0.
//   z = logits / T        (float division)
//   top_k > 0 (and < V)   keep the k largest z, ties to the lower id;
//   top_p < 1             keep the smallest prefix of the kept tokens, most likely first (ties: lower id first),
//                         whose probability mass (renormalised over the kept tokens) reaches top_p;
//   min_p > 0             keep z >= max z + log(min_p);
//   draw                  target = u · Σ_kept exp(z - max z); walk the kept tokens and pick the first whose running
//                         mass exceeds target (the last kept token if rounding leaves none).
// The walk order decides which token a given u picks (never the distribution): most likely first when top_p < 1,
// increasing token id otherwise.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace crucible::kernels {

struct SampleParams {
  double temperature = 0.0;  // <= 0: greedy
  int64_t top_k = 0;         // 0: off
  double top_p = 1.0;        // (0, 1]; 1: off
  double min_p = 0.0;        // [0, 1); 0: off
};

struct SampleRows {
  const float* logits = nullptr;  // [N, V], row_stride >= V
  int64_t n_rows = 0;
  int64_t vocab = 0;
  int64_t row_stride = 0;
  const SampleParams* params = nullptr;  // [N]: one per row (rows of a batch come from different requests)
  const double* uniforms = nullptr;      // [N] in [0, 1)
};

// CPU reference. tokens [N]; sampling_logprob [N] (may be null): log of the chosen token's probability under the
// distribution actually sampled from (after temperature and the filters), 0 for greedy.
void sample_rows_cpu(const SampleRows& rows, int64_t* tokens, double* sampling_logprob);

// One row on the calling thread, for a caller that samples a row at a time (the engine, once per token): the V
// candidates live in `scratch`, which the caller keeps across calls so a decode step allocates nothing.
struct SampleScratch {
  std::vector<std::pair<float, int64_t>> cand;  // (z, token id)
  std::vector<double> weight;                   // exp(z - max z) of an unfiltered row, summed once, walked once
};
int64_t sample_row_cpu(const float* logits, int64_t V, const SampleParams& p, double u, double* sampling_logprob,
                       SampleScratch& scratch);

// CUDA (kernels/cuda/sampling.cu): one block per row; every pointer (params and uniforms included) on the device.
// The kept set and the walk are found by bisection on the order-preserving bits of z and on token ids (each step
// one block-wide count/mass pass over the row), so nothing is sorted and no scratch memory is needed.
void sample_rows_cuda(const SampleRows& rows, int64_t* tokens, double* sampling_logprob, void* stream);

}  // namespace crucible::kernels
