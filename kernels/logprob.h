// Fused log-softmax + gather + entropy on rows of logits, forward and backward: what GRPO and SFT need per token
// (the logprob of the token that was sampled, the entropy of the distribution it was sampled from) without ever
// materialising log_softmax of a whole batch. Torch-free: raw pointers, sizes and (for CUDA) a stream; the torch side
// is kernels/torch/ (token_logprobs: chunked autograd over hidden @ weightᵀ).
//
// Shape legend: N rows, V vocabulary. One row i holds V float32 logits at logits + i * row_stride.
// With z = logits / T (T = temperature), p = softmax(z):
//   lse_i     = log Σ_j exp(z_ij)                     (per-row log-sum-exp; what backward needs)
//   logp_i    = z_i,target_i - lse_i
//   entropy_i = -Σ_j p_ij log p_ij = lse_i - Σ_j p_ij z_ij
// Backward, given dlogp_i and dentropy_i (upstream gradients; either pointer may be null = zero):
//   dlogits_ij = ( dlogp_i (δ_j,target_i - p_ij) - dentropy_i p_ij (log p_ij + entropy_i) ) / T
// A target outside [0, V) (the ignore index -100 of a padding position, say) gives logp 0 and no logp gradient; the
// entropy of its row is still computed (callers mask it as they mask the loss).
#pragma once
#include <cstdint>

namespace crucible::kernels {

// Logits up to this many elements (256 MB of float32) are kept from forward to backward by token_logprobs when they
// are one chunk (kernels/torch/token_logprobs.h); SFT's loss sizes its chunk by it and the --dry-run plan counts it.
constexpr int64_t kKeptLogitsMax = int64_t{64} << 20;

struct LogprobRows {
  const float* logits = nullptr;  // [N, V] with row_stride >= V
  int64_t n_rows = 0;
  int64_t vocab = 0;
  int64_t row_stride = 0;
  const int64_t* targets = nullptr;  // [N]
  float temperature = 1.0f;          // > 0
};

// CPU reference: threaded over rows, float exponentials accumulated in double (costs nothing next to the exp).
// Outputs are [N] each; lse may be null when no backward follows.
void logprob_forward_cpu(const LogprobRows& rows, float* logp, float* entropy, float* lse);
// Writes dlogits [N, V] (row stride dlogits_stride); dlogits may alias rows.logits (same stride): each element is
// read before it is written. lse and entropy are the forward's outputs for the same rows.
void logprob_backward_cpu(const LogprobRows& rows, const float* lse, const float* entropy, const float* dlogp,
                          const float* dentropy, float* dlogits, int64_t dlogits_stride);

// CUDA (kernels/cuda/logprob.cu): one block per row, online max / sum / Σp·z in one pass over the row (forward);
// backward is elementwise given the row's lse and entropy. All pointers are device pointers; `stream` is a
// cudaStream_t (void* keeps CUDA headers out of this file). Defined only when crucible is built with CRUCIBLE_CUDA;
// cuda_kernels_built() says whether they exist in this binary.
bool cuda_kernels_built();
void logprob_forward_cuda(const LogprobRows& rows, float* logp, float* entropy, float* lse, void* stream);
void logprob_backward_cuda(const LogprobRows& rows, const float* lse, const float* entropy, const float* dlogp,
                           const float* dentropy, float* dlogits, int64_t dlogits_stride, void* stream);

}  // namespace crucible::kernels
