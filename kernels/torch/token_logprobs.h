// The torch side of kernels/: tensors in, the CPU reference or the CUDA kernel picked by device (bindings.cpp lists
// every op), and token_logprobs, the chunked autograd function the trainers call for per-token logprobs and entropy.
//
// Shape legend: N positions (any leading dims flattened), D hidden size, V vocabulary.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "kernels/sampling.h"

namespace crucible::kernels {

struct LogprobOut {
  torch::Tensor logp_N, entropy_N;  // float32, shaped as targets
};

// Per-position logp of targets and entropy of softmax(hidden @ weightᵀ / T), differentiable wrt hidden and weight.
// hidden [..., D] (float32, or bf16/fp16 on CUDA), weight [V, D] (the lm_head weight, tied or not) on the same
// device, targets [...] int64 in [0, V) (anything else, e.g. -100, gives logp 0 and no logp gradient).
// Precision: the matmuls run in hidden's dtype (a float32 weight is cast per call, its gradient returned in float32:
// fp32 master weights under bf16 hidden states); autocast does not reach inside, so forward and backward's
// recompute see the same logits.
// Never holds the logits of more than chunk_rows positions: forward saves hidden, weight, targets and per-row lse and
// entropy ([N] each), and backward recomputes each chunk's logits to form grad_hidden and grad_weight (accumulated in
// float32). Memory beyond the inputs and their gradients: ~2 · chunk_rows · V · 4 bytes. One exception saves a matmul:
// when all N positions are one chunk of at most 64 Mi logits (256 MB) and a gradient is wanted, forward keeps that
// chunk's logits for backward instead of recomputing them (the same ~2 · N · V · 4 bytes, held from forward on).
LogprobOut token_logprobs(const torch::Tensor& hidden_ND, const torch::Tensor& weight_VD,
                          const torch::Tensor& targets_N, double temperature = 1.0, int64_t chunk_rows = 1024);

// ---- the ops (bindings.cpp), for callers that already hold a chunk of logits --------------------------------------
struct LogprobRowsOut {
  torch::Tensor logp_N, entropy_N, lse_N;  // float32 [N]
};
// logits_NV float32 with unit stride along V (any row stride), targets_N int64, same device.
LogprobRowsOut logprob_rows_forward(const torch::Tensor& logits_NV, const torch::Tensor& targets_N, double temperature);
// d(logp, entropy)/d logits for the same rows: dlogp_N / dentropy_N may be undefined (zero). Written into dlogits_NV
// (float32, same shape; it may be logits_NV itself: in place) and returned.
torch::Tensor logprob_rows_backward(const torch::Tensor& logits_NV, const torch::Tensor& targets_N, double temperature,
                                    const torch::Tensor& lse_N, const torch::Tensor& entropy_N,
                                    const torch::Tensor& dlogp_N, const torch::Tensor& dentropy_N,
                                    torch::Tensor dlogits_NV);

struct SampleOut {
  torch::Tensor tokens_N;            // int64
  torch::Tensor sampling_logprob_N;  // float64
};
// One token per row (kernels/sampling.h rules); params one per row, uniforms_N float64 in [0, 1).
SampleOut sample_rows(const torch::Tensor& logits_NV, const std::vector<SampleParams>& params,
                      const torch::Tensor& uniforms_N);

}  // namespace crucible::kernels
