// The training forward's linear layers on the CPU through oneDNN (model/transformer.cpp): y = x Wᵀ + b with the
// forward and the input gradient as oneDNN matmuls and the weight gradient as MKL's (at::mm). Measured on the
// 2-core Zen 4 VM (benchmarks/RESULTS.md, "oneDNN for the training linears"): oneDNN's fp32 GEMM runs the forward
// and dx shapes of a decoder layer 5-30% faster than MKL's sgemm (which at::linear calls); MKL keeps the weight
// gradient, where it is as fast or faster. Same float32 arithmetic up to the order of the additions.
// Anything but float32 on the CPU (CUDA, bf16, float64, autocast), or a torch without the oneDNN ops, or
// CRUCIBLE_ONEDNN_LINEAR=0 in the environment: torch::nn::functional::linear, as before.
#pragma once
#include <torch/types.h>

#include <optional>

namespace crucible::kernels {

// oneDNN's fp32 linear (`mkldnn::_linear_pointwise`) y [R, O] = x [R, I] · w [O, I]ᵀ (+ b): w plain, a transposed
// view, or packed by `mkldnn::_reorder_linear_weight` (the engine's weights, model/transformer.cpp). Call only where
// onednn_linear_available().
bool onednn_linear_available();
torch::Tensor onednn_linear(const torch::Tensor& x_RI, const torch::Tensor& w_OI, const std::optional<torch::Tensor>& b);

// x [..., I], weight [O, I], bias [O] or undefined -> [..., O].
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

// The same linear for a recomputation that only back-propagates (activation checkpointing's second forward): the
// output's value is zeros, never x Wᵀ + b, but its backward is the linear's (dx = g W, dW = gᵀ x, db = Σ g), so the
// GEMM whose result nothing reads is skipped. Only where linear() takes oneDNN (float32 on the CPU, no autocast);
// anywhere else the real linear() (its value correct as well).
torch::Tensor linear_for_backward_only(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace crucible::kernels
