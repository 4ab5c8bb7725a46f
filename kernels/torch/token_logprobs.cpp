// token_logprobs: per-position logp and entropy of hidden @ weightᵀ / T, computed chunk_rows positions at a time, the
// logits recomputed in backward. Shape legend: N positions, C positions of one chunk, D hidden size, V vocabulary.
//
// Why a custom autograd function: the naive path (log_softmax(hidden @ Wᵀ / T).gather + entropy) keeps logits,
// log-probs and probabilities of every position alive for backward, ~3 · N · V floats (30 GB at N = 16k, V = 152k).
// Here forward keeps [N]-sized statistics only, and backward rebuilds one chunk of logits at a time, turns it into
// its gradient in place (kernels/logprob.h), and folds it into grad_hidden / grad_weight with two matmuls.
#include "kernels/torch/token_logprobs.h"

#include <torch/torch.h>

#include "kernels/logprob.h"

namespace crucible::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Autocast is switched off in forward and backward (a guard at the top of each): it would round forward's matmul to
// bf16 but maybe not backward's recompute (autograd may run it without autocast), and gradients from logits that
// disagree with the saved lse are biased. The caller picks the precision by hidden's dtype; the weight follows it.

// One chunk's logits as float32 [C, V] (the kernels read float32; bf16 matmuls are widened once per chunk); weight_VD
// is already in hidden's dtype (as_compute).
torch::Tensor chunk_logits(const torch::Tensor& hidden_CD, const torch::Tensor& weight_VD) {
  auto logits_CV = torch::matmul(hidden_CD, weight_VD.t());
  return logits_CV.scalar_type() == torch::kFloat32 ? logits_CV : logits_CV.to(torch::kFloat32);
}

// The weight in hidden's dtype, converted once per forward / backward (fp32 master weights, bf16 hidden states).
torch::Tensor as_compute(const torch::Tensor& weight_VD, const torch::Tensor& hidden_ND) {
  return weight_VD.scalar_type() == hidden_ND.scalar_type() ? weight_VD : weight_VD.to(hidden_ND.scalar_type());
}

// Logits up to kKeptLogitsMax (kernels/logprob.h) are kept from forward to backward when they are one chunk and a
// gradient is wanted, instead of recomputed: one [N, V] x [V, D] matmul fewer per call (SmolLM2's GRPO micro-batch,
// 256 x 49,152: ~15 GFLOP). More than that (many chunks, or a 152k vocabulary at 1,024 rows) recomputes as before.

struct TokenLogprobsFn : torch::autograd::Function<TokenLogprobsFn> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& hidden_ND, const torch::Tensor& weight_VD,
                               const torch::Tensor& targets_N, double temperature, int64_t chunk_rows) {
    const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const int64_t N = hidden_ND.size(0);
    auto opts = hidden_ND.options().dtype(torch::kFloat32);
    auto logp_N = torch::empty({N}, opts), entropy_N = torch::empty({N}, opts), lse_N = torch::empty({N}, opts);
    const auto weight_c = as_compute(weight_VD, hidden_ND);
    const bool keep = N <= chunk_rows && N * weight_VD.size(0) <= kKeptLogitsMax &&
                      (hidden_ND.requires_grad() || weight_VD.requires_grad());
    torch::Tensor kept_logits;
    for (int64_t c0 = 0; c0 < N; c0 += chunk_rows) {
      const int64_t C = std::min(chunk_rows, N - c0);
      auto logits_CV = chunk_logits(hidden_ND.narrow(0, c0, C), weight_c);
      if (keep) kept_logits = logits_CV;
      auto out = logprob_rows_forward(logits_CV, targets_N.narrow(0, c0, C), temperature);
      logp_N.narrow(0, c0, C).copy_(out.logp_N);
      entropy_N.narrow(0, c0, C).copy_(out.entropy_N);
      lse_N.narrow(0, c0, C).copy_(out.lse_N);
    }
    // entropy is also an output the caller may modify in place: backward keeps its own copy ([N] floats).
    ctx->save_for_backward({hidden_ND, weight_VD, targets_N, lse_N, entropy_N.clone(), kept_logits});
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["chunk_rows"] = chunk_rows;
    return {logp_N, entropy_N};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const auto saved = ctx->get_saved_variables();
    const auto &hidden_ND = saved[0], &weight_VD = saved[1], &targets_N = saved[2], &lse_N = saved[3],
               &entropy_N = saved[4], &kept_logits = saved[5];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const int64_t chunk_rows = ctx->saved_data["chunk_rows"].toInt();
    const auto& dlogp_N = grads[0];
    const auto& dentropy_N = grads[1];
    const bool need_hidden = ctx->needs_input_grad(0), need_weight = ctx->needs_input_grad(1);
    torch::Tensor grad_hidden_ND, grad_weight_VD;
    if (need_hidden) grad_hidden_ND = torch::empty_like(hidden_ND);
    // float32 accumulator whatever the weight's dtype: a bf16 sum over N / C chunks would lose the small ones.
    // (the first chunk's product is the accumulator: no zero-filled [V, D] pass first)
    auto as_float = [](const torch::Tensor& g, int64_t c0, int64_t C) {
      return g.defined() ? g.narrow(0, c0, C).to(torch::kFloat32).contiguous() : torch::Tensor();
    };
    const int64_t N = hidden_ND.size(0);
    const auto weight_c = as_compute(weight_VD, hidden_ND);
    for (int64_t c0 = 0; c0 < N; c0 += chunk_rows) {
      const int64_t C = std::min(chunk_rows, N - c0);
      auto hidden_CD = hidden_ND.narrow(0, c0, C);
      // The kept logits are read, not overwritten (a retained graph may run backward again); recomputed ones are
      // turned into their gradient in place.
      auto logits_CV = kept_logits.defined() ? kept_logits : chunk_logits(hidden_CD, weight_c);
      auto dlogits_CV = logprob_rows_backward(logits_CV, targets_N.narrow(0, c0, C), temperature,
                                              lse_N.narrow(0, c0, C), entropy_N.narrow(0, c0, C),
                                              as_float(dlogp_N, c0, C), as_float(dentropy_N, c0, C),
                                              kept_logits.defined() ? torch::empty_like(logits_CV) : logits_CV);
      if (need_hidden)
        grad_hidden_ND.narrow(0, c0, C).copy_(torch::matmul(dlogits_CV.to(hidden_ND.scalar_type()), weight_c));
      if (need_weight) {
        if (c0 == 0)
          grad_weight_VD = torch::mm(dlogits_CV.t(), hidden_CD.to(torch::kFloat32));
        else
          grad_weight_VD.addmm_(dlogits_CV.t(), hidden_CD.to(torch::kFloat32));
      }
    }
    if (need_weight && weight_VD.scalar_type() != torch::kFloat32) grad_weight_VD = grad_weight_VD.to(weight_VD.scalar_type());
    return {grad_hidden_ND, grad_weight_VD, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

LogprobOut token_logprobs(const torch::Tensor& hidden_ND, const torch::Tensor& weight_VD,
                          const torch::Tensor& targets_N, double temperature, int64_t chunk_rows) {
  TORCH_CHECK(hidden_ND.dim() >= 1 && weight_VD.dim() == 2 && hidden_ND.size(-1) == weight_VD.size(1),
              "token_logprobs: hidden [..., D] and weight [V, D] must agree on D; got hidden ", hidden_ND.sizes(),
              ", weight ", weight_VD.sizes());
  TORCH_CHECK(hidden_ND.sizes().slice(0, hidden_ND.dim() - 1) == targets_N.sizes(),
              "token_logprobs: targets must have hidden's leading shape ", hidden_ND.sizes().slice(0, hidden_ND.dim() - 1),
              ", got ", targets_N.sizes());
  TORCH_CHECK(hidden_ND.device() == weight_VD.device() && hidden_ND.device() == targets_N.device(),
              "token_logprobs: hidden, weight and targets must share a device");
  TORCH_CHECK(chunk_rows > 0, "token_logprobs: chunk_rows must be > 0, got ", chunk_rows);
  TORCH_CHECK(temperature > 0, "token_logprobs: temperature must be > 0, got ", temperature);
  const auto lead = targets_N.sizes().vec();
  auto flat_hidden = hidden_ND.reshape({-1, hidden_ND.size(-1)});
  auto flat_targets = targets_N.reshape({-1}).to(torch::kInt64).contiguous();
  auto outs = TokenLogprobsFn::apply(flat_hidden, weight_VD, flat_targets, temperature, chunk_rows);
  return {outs[0].view(lead), outs[1].view(lead)};
}

}  // namespace crucible::kernels
