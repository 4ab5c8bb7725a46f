// kernels/torch/linear.h.
#include "kernels/torch/linear.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/nn/functional/linear.h>

#include <cstdlib>
#include <cstring>

namespace crucible::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

const c10::OperatorHandle* onednn_linear_op() {
  static const c10::OperatorHandle* op = []() -> const c10::OperatorHandle* {
    if (!at::hasMKLDNN()) return nullptr;
    auto h = c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
    return h ? new c10::OperatorHandle(*h) : nullptr;  // lives as long as the process, as the dispatcher's entry
  }();
  return op;
}

// The training linears take oneDNN unless CRUCIBLE_ONEDNN_LINEAR=0 (the A/B switch; the engine's packed weights
// use oneDNN either way).
bool training_linears_on_onednn() {
  static const bool on = [] {
    const char* env = std::getenv("CRUCIBLE_ONEDNN_LINEAR");
    return onednn_linear_op() != nullptr && !(env && std::strcmp(env, "0") == 0);
  }();
  return on;
}

torch::Tensor onednn_mm(const torch::Tensor& x_RI, const torch::Tensor& w_OI, const torch::Tensor& b) {
  return onednn_linear(x_RI, w_OI, b.defined() ? std::optional<torch::Tensor>(b) : std::nullopt);
}

// Autograd is wanted for this call.
bool needs_autograd(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return torch::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
}

bool onednn_fits(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  auto f32_cpu = [](const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.layout() == torch::kStrided;
  };
  return training_linears_on_onednn() && f32_cpu(x) && f32_cpu(w) && (!b.defined() || f32_cpu(b)) && w.dim() == 2 &&
         x.dim() >= 1 && x.size(-1) == w.size(1) && x.numel() > 0 && w.numel() > 0 &&
         !at::autocast::is_autocast_enabled(at::kCPU);
}

std::vector<int64_t> out_shape(const torch::Tensor& x, int64_t O) {
  auto s = x.sizes().vec();
  s.back() = O;
  return s;
}

// x Wᵀ with autograd (a bias, where there is one, is added outside: autograd inputs must be defined tensors).
struct LinearFn : torch::autograd::Function<LinearFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w) {
    const int64_t I = w.size(1), O = w.size(0);
    auto x_RI = x.reshape({-1, I}).contiguous();
    auto wc = w.contiguous();
    ctx->save_for_backward({x_RI, wc});
    ctx->saved_data["x_shape"] = x.sizes().vec();
    return onednn_mm(x_RI, wc, torch::Tensor()).view(out_shape(x, O));
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x_RI = saved[0], &w = saved[1];
    auto g_RO = grads[0].reshape({-1, w.size(0)}).contiguous();
    torch::Tensor dx, dw;
    if (ctx->needs_input_grad(0))
      dx = onednn_mm(g_RO, w.t(), torch::Tensor()).view(ctx->saved_data["x_shape"].toIntVector());
    if (ctx->needs_input_grad(1)) dw = g_RO.t().mm(x_RI);
    return {dx, dw};
  }
};

// LinearFn's backward under a forward that computes nothing (linear_for_backward_only).
struct BackwardOnlyLinearFn : torch::autograd::Function<BackwardOnlyLinearFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w) {
    const int64_t I = w.size(1);
    ctx->save_for_backward({x.reshape({-1, I}).contiguous(), w.contiguous()});
    ctx->saved_data["x_shape"] = x.sizes().vec();
    return torch::zeros(out_shape(x, w.size(0)), x.options());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) { return LinearFn::backward(ctx, grads); }
};

}  // namespace

bool onednn_linear_available() { return onednn_linear_op() != nullptr; }

torch::Tensor onednn_linear(const torch::Tensor& x_RI, const torch::Tensor& w_OI, const std::optional<torch::Tensor>& b) {
  torch::jit::Stack stack{x_RI, w_OI, b ? c10::IValue(*b) : c10::IValue(), std::string("none"),
                          c10::List<std::optional<at::Scalar>>(), c10::IValue()};
  onednn_linear_op()->callBoxed(&stack);
  return stack[0].toTensor();
}

torch::Tensor linear_for_backward_only(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!needs_autograd(x, weight, bias) || !onednn_fits(x, weight, bias)) return linear(x, weight, bias);
  auto y = BackwardOnlyLinearFn::apply(x, weight);
  return bias.defined() ? y + bias : y;
}

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (!onednn_fits(x, weight, bias)) return torch::nn::functional::linear(x, weight, bias);
  if (needs_autograd(x, weight, bias)) {
    auto y = LinearFn::apply(x, weight);
    return bias.defined() ? y + bias : y;
  }
  const int64_t I = weight.size(1), O = weight.size(0);
  return onednn_mm(x.reshape({-1, I}).contiguous(), weight.contiguous(), bias).view(out_shape(x, O));
}

}  // namespace crucible::kernels
