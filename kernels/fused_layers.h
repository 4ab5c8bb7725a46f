// Fused RMSNorm and SwiGLU on float32 rows, forward and backward: the elementwise parts of a decoder layer that torch
// runs as four to ten separate passes each (pow, mean, rsqrt, two muls; silu and a mul; their backward nodes). One pass
// forward, one backward, on raw pointers; the torch side (autograd, threads) is kernels/torch/fused_layers.h.
// Rows [begin, end) of the whole: callers split rows across threads.
#pragma once
#include <cstdint>

namespace crucible::kernels {

// RMSNorm over rows of d: y = w ⊙ (x · r), r = 1 / sqrt(mean(x²) + eps), the arithmetic of transformers' float32
// LlamaRMSNorm (mean of squares summed in double here). rstd receives r per row (backward needs it).
void rms_norm_forward_cpu(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t d, float eps);
// With a = dy ⊙ w and x̂ = x · r: dx = r · (a − x̂ · mean(a ⊙ x̂)); dw_acc[j] += Σ_rows dy_j x̂_j (double, this
// range's share; the caller sums the ranges).
void rms_norm_backward_cpu(const float* x, const float* w, const float* rstd, const float* dy, float* dx,
                           double* dw_acc, int64_t rows, int64_t d);

// SwiGLU over n elements: h = silu(g) ⊙ u, silu(g) = g / (1 + exp(-g)) (torch's silu).
void swiglu_forward_cpu(const float* g, const float* u, float* h, int64_t n);
// s = sigmoid(g): dg = dh ⊙ u ⊙ s ⊙ (1 + g (1 − s)) (torch's silu_backward), du = dh ⊙ silu(g).
void swiglu_backward_cpu(const float* g, const float* u, const float* dh, float* dg, float* du, int64_t n);

}  // namespace crucible::kernels
