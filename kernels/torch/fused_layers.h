// RMSNorm and SwiGLU for the transformer (model/transformer.cpp): kernels/fused_layers.h's one-pass CPU kernels as
// autograd functions, threaded over rows on torch's intra-op pool. Anything but contiguous float32 on the CPU (CUDA,
// bf16, float64: the references the parity tests hold) runs the composite torch expression instead, the same formula.
#pragma once
#include <torch/types.h>

namespace crucible::kernels {

// weight ⊙ (x · rsqrt(mean(x², -1) + eps)) over the last dim of x (transformers' LlamaRMSNorm, float32 inside).
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
// silu(gate) ⊙ up, same shapes.
torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace crucible::kernels
