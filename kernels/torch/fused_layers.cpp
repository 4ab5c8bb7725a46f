// kernels/torch/fused_layers.h: the autograd side of kernels/fused_layers.h.
#include "kernels/torch/fused_layers.h"

#include <torch/autograd.h>

#include <vector>

#include "kernels/fused_layers.h"
#include "kernels/torch/parallel.h"

namespace crucible::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per task at least: a row of a 576-wide norm is ~0.3 µs.
constexpr int64_t kGrainRows = 64;
constexpr int64_t kGrainElems = int64_t{1} << 15;

bool fusable(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.layout() == torch::kStrided;
}

torch::Tensor rms_norm_composite(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  auto x32 = x.to(torch::kFloat32);
  auto variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  x32 = x32 * torch::rsqrt(variance + eps);
  return weight * x32.to(x.scalar_type());
}

// y and rstd of contiguous x [rows, d].
void rms_forward(const torch::Tensor& x, const torch::Tensor& w, double eps, torch::Tensor& y, torch::Tensor& rstd) {
  const int64_t d = x.size(-1), rows = x.numel() / d;
  y = torch::empty_like(x);
  rstd = torch::empty({rows}, x.options());
  const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>();
  float *yp = y.data_ptr<float>(), *rp = rstd.data_ptr<float>();
  at::parallel_for(0, rows, kGrainRows, [&](int64_t b, int64_t e) {
    rms_norm_forward_cpu(xp + b * d, wp, yp + b * d, rp + b, e - b, d, static_cast<float>(eps));
  });
}

struct RmsNormFn : torch::autograd::Function<RmsNormFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight, double eps) {
    torch::Tensor y, rstd;
    rms_forward(x, weight, eps, y, rstd);
    ctx->save_for_backward({x, weight, rstd});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1], &rstd = saved[2];
    const auto dy = grads[0].contiguous();
    const int64_t d = x.size(-1), rows = x.numel() / d;
    auto dx = torch::empty_like(x);
    // One double accumulator per range; ranges fixed by the thread count so the sum's order does not depend on
    // scheduling.
    const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), rows / kGrainRows));
    std::vector<double> acc(static_cast<size_t>(parts * d), 0.0);
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>(), *rp = rstd.data_ptr<float>(),
                *gp = dy.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    const int64_t per = (rows + parts - 1) / parts;
    at::parallel_for(0, parts, 1, [&](int64_t pb, int64_t pe) {
      for (int64_t p = pb; p < pe; ++p) {
        const int64_t b = p * per, e = std::min(rows, b + per);
        if (b < e) rms_norm_backward_cpu(xp + b * d, wp, rp + b, gp + b * d, dxp + b * d, acc.data() + p * d, e - b, d);
      }
    });
    auto dw = torch::empty({d}, w.options());
    float* dwp = dw.data_ptr<float>();
    for (int64_t j = 0; j < d; ++j) {
      double s = 0;
      for (int64_t p = 0; p < parts; ++p) s += acc[static_cast<size_t>(p * d + j)];
      dwp[j] = static_cast<float>(s);
    }
    return {dx, dw, torch::Tensor()};
  }
};

// h of contiguous g and u.
torch::Tensor swiglu_forward(const torch::Tensor& g, const torch::Tensor& u) {
  auto h = torch::empty_like(g);
  const float *gp = g.data_ptr<float>(), *up = u.data_ptr<float>();
  float* hp = h.data_ptr<float>();
  at::parallel_for(0, g.numel(), kGrainElems,
                   [&](int64_t b, int64_t e) { swiglu_forward_cpu(gp + b, up + b, hp + b, e - b); });
  return h;
}

struct SwigluFn : torch::autograd::Function<SwigluFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& g, const torch::Tensor& u) {
    ctx->save_for_backward({g, u});
    return swiglu_forward(g, u);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &g = saved[0], &u = saved[1];
    const auto dh = grads[0].contiguous();
    auto dg = torch::empty_like(g), du = torch::empty_like(u);
    const float *gp = g.data_ptr<float>(), *up = u.data_ptr<float>(), *hp = dh.data_ptr<float>();
    float *dgp = dg.data_ptr<float>(), *dup = du.data_ptr<float>();
    at::parallel_for(0, g.numel(), kGrainElems, [&](int64_t b, int64_t e) {
      swiglu_backward_cpu(gp + b, up + b, hp + b, dgp + b, dup + b, e - b);
    });
    return {dg, du};
  }
};

}  // namespace

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (!fusable(x) || !fusable(weight) || x.dim() < 1 || weight.dim() != 1 || weight.size(0) != x.size(-1) ||
      x.numel() == 0)
    return rms_norm_composite(x, weight, eps);
  const auto xc = x.contiguous(), wc = weight.contiguous();
  if (torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()))
    return RmsNormFn::apply(xc, wc, eps);
  torch::Tensor y, rstd;
  rms_forward(xc, wc, eps, y, rstd);
  return y;
}

torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up) {
  if (!fusable(gate) || !fusable(up) || gate.sizes() != up.sizes() || gate.numel() == 0)
    return torch::silu(gate) * up;
  const auto gc = gate.contiguous(), uc = up.contiguous();
  if (torch::GradMode::is_enabled() && (gate.requires_grad() || up.requires_grad())) return SwigluFn::apply(gc, uc);
  return swiglu_forward(gc, uc);
}

}  // namespace crucible::kernels
