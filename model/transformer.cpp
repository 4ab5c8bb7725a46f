// Shape legend: B batch, T new tokens, S cache capacity, L keys read, D hidden, H query heads, K kv heads,
// E head dim, V vocabulary, N cache slots, I intermediate size.
//
// The arithmetic follows transformers' modeling_llama/qwen2/qwen3 operation for operation (RMSNorm in float32 then
// cast back, cos/sin in float32 cast to the activation dtype, rotate_half), because the tests hold us to 1e-4 of it.
// Float32 on the CPU, RMSNorm and SwiGLU are the same formulas fused into one pass each way
// (kernels/torch/fused_layers.h): the mean of squares summed in double, SwiGLU's exp within 2 ulp of expf.
#include "model/transformer.h"

#include "kernels/torch/fused_layers.h"
#include "kernels/torch/linear.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <tuple>

#include "kernels/decode_attention.h"
#include "kernels/int_groups.h"
#include "kernels/torch/parallel.h"

namespace crucible::model {
namespace {

using torch::indexing::Slice;

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

torch::Tensor apply_rope(const torch::Tensor& x_BTHE, const torch::Tensor& cos, const torch::Tensor& sin) {
  return x_BTHE * cos + rotate_half(x_BTHE) * sin;
}

torch::Tensor inv_frequencies(const ModelConfig& c) {
  auto idx = torch::arange(0, c.head_dim, 2, torch::kInt64).to(torch::kFloat32);
  auto inv_freq = 1.0 / torch::pow(c.rope_theta, idx / static_cast<double>(c.head_dim));
  if (!c.rope_scaling) return inv_freq;
  const auto& s = *c.rope_scaling;
  if (s.type == "linear") return inv_freq / s.factor;
  // Llama 3.1: long wavelengths are slowed down by `factor`, short ones kept, the band between blended smoothly.
  const double old_ctx = static_cast<double>(s.original_max_position_embeddings);
  const double low_wavelen = old_ctx / s.low_freq_factor, high_wavelen = old_ctx / s.high_freq_factor;
  auto wavelen = 2.0 * std::numbers::pi / inv_freq;
  auto scaled = torch::where(wavelen > low_wavelen, inv_freq / s.factor, inv_freq);
  auto smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  auto smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  auto medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
  return torch::where(medium, smoothed, scaled);
}

}  // namespace

void KVCache::copy_slot(int64_t from, int64_t to, int64_t n) {
  torch::NoGradGuard no_grad;
  for (size_t l = 0; l < k_NKSE.size(); ++l) {
    k_NKSE[l][to].narrow(1, 0, n).copy_(k_NKSE[l][from].narrow(1, 0, n));
    v_NKSE[l][to].narrow(1, 0, n).copy_(v_NKSE[l][from].narrow(1, 0, n));
  }
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

// Float32 on the CPU: one fused pass (kernels/torch/fused_layers.h); anything else the composite expression.
torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) { return kernels::rms_norm(x, weight, eps); }

AttentionImpl::AttentionImpl(const ModelConfig& c)
    : n_heads(c.num_attention_heads), n_kv_heads(c.num_key_value_heads), head_dim(c.head_dim) {
  namespace nn = torch::nn;
  q_proj = register_module("q_proj", nn::Linear(nn::LinearOptions(c.hidden_size, n_heads * head_dim).bias(c.attention_bias)));
  k_proj = register_module("k_proj", nn::Linear(nn::LinearOptions(c.hidden_size, n_kv_heads * head_dim).bias(c.attention_bias)));
  v_proj = register_module("v_proj", nn::Linear(nn::LinearOptions(c.hidden_size, n_kv_heads * head_dim).bias(c.attention_bias)));
  o_proj = register_module("o_proj", nn::Linear(nn::LinearOptions(n_heads * head_dim, c.hidden_size).bias(false)));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim, c.rms_norm_eps));
    k_norm = register_module("k_norm", RMSNorm(head_dim, c.rms_norm_eps));
  }
}

MLPImpl::MLPImpl(const ModelConfig& c) {
  namespace nn = torch::nn;
  gate_proj = register_module("gate_proj", nn::Linear(nn::LinearOptions(c.hidden_size, c.intermediate_size).bias(false)));
  up_proj = register_module("up_proj", nn::Linear(nn::LinearOptions(c.hidden_size, c.intermediate_size).bias(false)));
  down_proj = register_module("down_proj", nn::Linear(nn::LinearOptions(c.intermediate_size, c.hidden_size).bias(false)));
}

namespace {
// A Linear module's product through kernels::linear (oneDNN for float32 on the CPU, the module's own otherwise).
torch::Tensor apply_linear(const torch::nn::Linear& l, const torch::Tensor& x) {
  return kernels::linear(x, l->weight, l->bias);
}
}  // namespace

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return apply_linear(down_proj, kernels::swiglu(apply_linear(gate_proj, x), apply_linear(up_proj, x)));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c) {
  self_attn = register_module("self_attn", Attention(c));
  mlp = register_module("mlp", MLP(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

namespace {
// Replaces a freshly built module's initialised parameters by unwritten ones of the same shape: a large allocation
// is fresh pages that cost no memory until written, so a module about to receive a checkpoint's tensors costs one
// layer's worth of initialisation at a time instead of a whole second copy.
void leave_unwritten(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.set_data(torch::empty(p.sizes(), p.options()));
}
}  // namespace

BackboneImpl::BackboneImpl(const ModelConfig& c, bool initialise) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  if (!initialise) leave_unwritten(*embed_tokens);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers->push_back(DecoderLayer(c));
    if (!initialise) leave_unwritten(*layers[i]);
  }
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

TransformerImpl::TransformerImpl(const ModelConfig& config, bool initialise) : config_(config) {
  config_.validate("model config");
  model = register_module("model", Backbone(config_, initialise));
  if (!config_.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(config_.hidden_size, config_.vocab_size).bias(false)));
    if (!initialise) leave_unwritten(*lm_head);
  }
  inv_freq_ = inv_frequencies(config_);
}

torch::Device TransformerImpl::device() const { return model->embed_tokens->weight.device(); }
torch::Dtype TransformerImpl::dtype() const { return model->embed_tokens->weight.scalar_type(); }

std::pair<torch::Tensor, torch::Tensor> TransformerImpl::rope(const torch::Tensor& pos_BT) const {
  auto inv = inv_freq_.to(pos_BT.device());
  auto freqs_BTh = pos_BT.to(torch::kFloat32).unsqueeze(-1) * inv;  // h = E/2
  auto emb_BTE = torch::cat({freqs_BTh, freqs_BTh}, -1).unsqueeze(2);
  return {emb_BTE.cos(), emb_BTE.sin()};
}

torch::Tensor TransformerImpl::logits(const torch::Tensor& h) {
  if (lm_head) return lm_head(h);
  return torch::nn::functional::linear(h, model->embed_tokens->weight);
}

torch::Tensor TransformerImpl::lm_head_weight() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

torch::Tensor TransformerImpl::forward(const torch::Tensor& tokens_BT) {
  return logits(forward_hidden(tokens_BT, {}));
}

namespace {

// One decoder layer of the training forward. `mask` (bool, true = may attend) undefined: plain causal attention.
// `segments` (packed rows, B = 1): the lengths of the examples laid end to end along T, each attending causally to
// itself only: one causal SDPA per example instead of one over the whole row under a block-diagonal mask (the same
// result; the masked blocks are never computed). Empty: `mask` (bool, true = may attend) or plain causal.
// The prefixed forwards' masks (bool, true = may attend). Prompts [1, 1, S, S]: causal; nullopt (SDPA's is_causal)
// unless a sliding window bites.
std::optional<torch::Tensor> prompt_mask(int64_t S, std::optional<int64_t> window, torch::Device dev) {
  if (!window || *window >= S) return std::nullopt;
  auto s_S = torch::arange(S, torch::TensorOptions().dtype(torch::kInt64).device(dev));
  auto rel_SS = s_S.unsqueeze(1) - s_S.unsqueeze(0);
  return rel_SS.ge(0).logical_and(rel_SS.lt(*window)).view({1, 1, S, S});
}

// Completions [B, 1, T, S + T] against [their prompt's S padded keys, their own T]: a completion query sees its
// prompt's real positions (len_B[b] of them, not the padding) and its own earlier tokens, within the window.
torch::Tensor completion_mask(const torch::Tensor& len_B, int64_t S, int64_t T, std::optional<int64_t> window) {
  const int64_t B = len_B.size(0);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(len_B.device());
  auto s_S = torch::arange(S, i64), j_T = torch::arange(T, i64);
  auto to_prompt_BTS = s_S.view({1, 1, S}).lt(len_B.view({B, 1, 1})).expand({B, T, S});
  auto rel_TT = j_T.unsqueeze(1) - j_T.unsqueeze(0);
  auto to_self_TT = rel_TT.ge(0);
  if (window) {
    auto pos_BT = len_B.unsqueeze(1) + j_T.unsqueeze(0);
    to_prompt_BTS = to_prompt_BTS.logical_and((pos_BT.unsqueeze(2) - s_S.view({1, 1, S})).lt(*window));
    to_self_TT = to_self_TT.logical_and(rel_TT.lt(*window));
  }
  return torch::cat({to_prompt_BTS, to_self_TT.unsqueeze(0).expand({B, T, T})}, 2).unsqueeze(1);
}

// A layer's q [..., H, E], k and v [..., K, E] for input rows x [..., D] (already input-normed): the projections,
// Qwen3's q/k norms, RoPE on q and k. The training forwards' shared first half of attention.
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> rotary_qkv(AttentionImpl& a, const torch::Tensor& x,
                                                                   const torch::Tensor& cos, const torch::Tensor& sin) {
  auto lead = x.sizes().vec();
  lead.pop_back();
  auto heads = [&](int64_t n) {
    auto shape = lead;
    shape.push_back(n);
    shape.push_back(a.head_dim);
    return shape;
  };
  auto q = apply_linear(a.q_proj, x).view(heads(a.n_heads)), k = apply_linear(a.k_proj, x).view(heads(a.n_kv_heads));
  auto v = apply_linear(a.v_proj, x).view(heads(a.n_kv_heads));
  if (a.q_norm) {
    q = a.q_norm(q);
    k = a.k_norm(k);
  }
  return {apply_rope(q, cos, sin), apply_rope(k, cos, sin), v};
}

// The rest of a decoder layer once attention's output o (rows of H*E) is known: residual + o_proj, residual + MLP.
// backward_only (activation checkpointing's recomputation, whose output is only back-propagated through): the
// layer's last GEMM, down_proj, is not computed (kernels::linear_for_backward_only: its value is not the layer's
// output, its gradients are).
torch::Tensor finish_layer(DecoderLayerImpl& layer, const torch::Tensor& h, const torch::Tensor& o,
                           bool backward_only = false) {
  auto h2 = h + apply_linear(layer.self_attn->o_proj, o);
  if (!backward_only) return h2 + layer.mlp(layer.post_attention_layernorm(h2));
  auto& mlp = *layer.mlp;
  auto x = layer.post_attention_layernorm(h2);
  auto act = kernels::swiglu(apply_linear(mlp.gate_proj, x), apply_linear(mlp.up_proj, x));
  return h2 + kernels::linear_for_backward_only(act, mlp.down_proj->weight, mlp.down_proj->bias);
}

torch::Tensor train_layer(DecoderLayerImpl& layer, const torch::Tensor& h_BTD, const torch::Tensor& cos,
                          const torch::Tensor& sin, const torch::Tensor& mask, const std::vector<int64_t>& segments,
                          bool backward_only = false) {
  const int64_t B = h_BTD.size(0), T = h_BTD.size(1);
  auto& a = *layer.self_attn;
  auto [q, k, v] = rotary_qkv(a, layer.input_layernorm(h_BTD), cos, sin);
  const bool gqa = a.n_heads != a.n_kv_heads;
  torch::Tensor o_BHTE;
  if (segments.size() > 1) {
    // split, not narrow: the backward of one split is one cat of the pieces' gradients, where each narrow's
    // backward zero-fills a whole [B, H, T, E] tensor and the pieces are then summed (a full pass per example).
    auto qs = torch::split_with_sizes(q.transpose(1, 2), segments, 2);
    auto ks = torch::split_with_sizes(k.transpose(1, 2), segments, 2);
    auto vs = torch::split_with_sizes(v.transpose(1, 2), segments, 2);
    std::vector<torch::Tensor> parts;
    parts.reserve(segments.size());
    for (size_t i = 0; i < segments.size(); ++i)
      parts.push_back(at::scaled_dot_product_attention(qs[i], ks[i], vs[i], std::nullopt, 0.0, /*is_causal=*/true,
                                                       std::nullopt, gqa));
    o_BHTE = torch::cat(parts, 2);
  } else {
    std::optional<torch::Tensor> m;
    if (mask.defined()) m = mask;
    o_BHTE = at::scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), m, 0.0,
                                              /*is_causal=*/!mask.defined(), std::nullopt, gqa);
  }
  return finish_layer(layer, h_BTD, o_BHTE.transpose(1, 2).reshape({B, T, a.n_heads * a.head_dim}), backward_only);
}

// Activation checkpointing for one layer (libtorch has no torch.utils.checkpoint): forward runs the layer with
// autograd off (custom Functions run their forward so) and saves only the layer's input; backward runs it again with
// autograd on and back-propagates through that fresh graph: the parameters' .grad accumulate there (they are
// leaves), the input's gradient is returned. The autocast state of the forward is restored for the recomputation,
// since backward may run on another thread (CUDA) where it is off.
struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor h_BTD, torch::Tensor cos,
                               torch::Tensor sin, int64_t layer_address, std::vector<int64_t> segments,
                               torch::Tensor mask) {
    // `mask` is never undefined here (autograd inputs must have a device): an empty tensor stands for "no mask"
    // (per-example or plain causal attention).
    ctx->saved_data["layer"] = layer_address;
    ctx->saved_data["segments"] = segments;
    if (mask.numel() == 0) mask = torch::Tensor();
    ctx->saved_data["autocast_cuda"] = at::autocast::is_autocast_enabled(at::kCUDA);
    ctx->saved_data["autocast_cpu"] = at::autocast::is_autocast_enabled(at::kCPU);
    ctx->saved_data["has_mask"] = mask.defined();
    ctx->save_for_backward(mask.defined() ? torch::autograd::variable_list{h_BTD, cos, sin, mask}
                                          : torch::autograd::variable_list{h_BTD, cos, sin});
    return train_layer(*reinterpret_cast<DecoderLayerImpl*>(layer_address), h_BTD, cos, sin, mask, segments);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    auto h = saved[0].detach().requires_grad_(true);
    torch::Tensor out;
    {
      torch::AutoGradMode grad_on(true);
      const bool ac_cuda = ctx->saved_data["autocast_cuda"].toBool(), ac_cpu = ctx->saved_data["autocast_cpu"].toBool();
      const bool was_cuda = at::autocast::is_autocast_enabled(at::kCUDA), was_cpu = at::autocast::is_autocast_enabled(at::kCPU);
      at::autocast::set_autocast_enabled(at::kCUDA, ac_cuda);
      at::autocast::set_autocast_enabled(at::kCPU, ac_cpu);
      const torch::Tensor mask = ctx->saved_data["has_mask"].toBool() ? saved[3] : torch::Tensor();
      // Only back-propagated through: the layer's last GEMM is skipped (finish_layer).
      out = train_layer(*layer, h, saved[1], saved[2], mask, ctx->saved_data["segments"].toIntVector(),
                        /*backward_only=*/true);
      at::autocast::set_autocast_enabled(at::kCUDA, was_cuda);
      at::autocast::set_autocast_enabled(at::kCPU, was_cpu);
      torch::autograd::backward({out}, {grad_out[0]});
    }
    return {h.grad(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor TransformerImpl::forward_hidden(const torch::Tensor& tokens_BT, const TrainInputs& in) {
  if (dense_released_) restore_dense_weights();
  const int64_t B = tokens_BT.size(0), T = tokens_BT.size(1);
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(tokens_BT.device());
  auto h_BTD = model->embed_tokens(tokens_BT);
  auto pos_BT = in.pos_BT.defined() ? in.pos_BT.to(i64) : torch::arange(T, i64).unsqueeze(0).expand({B, T});
  auto [cos32, sin32] = rope(pos_BT);
  auto cos = cos32.to(h_BTD.scalar_type()), sin = sin32.to(h_BTD.scalar_type());
  // mask_B1TT (bool, true = may attend), or undefined for plain causal attention (SDPA's is_causal, cheapest).
  torch::Tensor mask;
  const bool window = config_.sliding_window && *config_.sliding_window < T;
  // A packed row (B = 1, segment ids laid end to end) attends per example when no sliding window cuts an example.
  std::vector<int64_t> segments;
  if (in.seg_BT.defined() && B == 1) {
    auto seg = in.seg_BT.to(torch::kCPU, torch::kInt64).contiguous();
    const int64_t* id = seg.data_ptr<int64_t>();
    for (int64_t t = 0; t < T; ++t) {
      if (t == 0 || id[t] != id[t - 1]) segments.push_back(0);
      ++segments.back();
    }
    const int64_t longest = segments.empty() ? 0 : *std::max_element(segments.begin(), segments.end());
    if (config_.sliding_window && *config_.sliding_window < longest) segments.clear();
  }
  if (!segments.empty()) {
    // the causal mask of each example is SDPA's is_causal
  } else if (in.seg_BT.defined() || window) {
    auto i = torch::arange(T, i64);
    auto rel_TT = i.unsqueeze(1) - i.unsqueeze(0);  // query index - key index
    auto allowed = (rel_TT >= 0).unsqueeze(0);      // [1, T, T]
    if (window) allowed = allowed.logical_and(rel_TT < *config_.sliding_window);
    if (in.seg_BT.defined()) {
      auto seg = in.seg_BT.to(i64);
      allowed = allowed.logical_and(seg.unsqueeze(2) == seg.unsqueeze(1));  // [B, T, T]
    }
    mask = allowed.expand({B, T, T}).unsqueeze(1);
  }
  for (const auto& m : *model->layers) {
    auto* layer = m->as<DecoderLayerImpl>();
    if (in.checkpoint_layers && torch::GradMode::is_enabled())
      h_BTD = CheckpointedLayer::apply(h_BTD, cos, sin, reinterpret_cast<int64_t>(layer), segments,
                                       mask.defined() ? mask : torch::zeros({0}, torch::kBool));
    else
      h_BTD = train_layer(*layer, h_BTD, cos, sin, mask, segments);
  }
  return model->norm(h_BTD);
}

torch::Tensor TransformerImpl::forward_hidden_prefixed(const PrefixedInputs& in) {
  if (dense_released_) restore_dense_weights();
  const int64_t P = in.prompt_tokens_PS.size(0), S = in.prompt_tokens_PS.size(1);
  const int64_t B = in.tokens_BT.size(0), T = in.tokens_BT.size(1);
  const int64_t H = config_.num_attention_heads, K = config_.num_key_value_heads, E = config_.head_dim;
  const int64_t D = config_.hidden_size, PS = P * S, BT = B * T;
  const auto dev = in.tokens_BT.device();
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  auto len_P = in.prompt_len_P.to(i64);
  auto of_B = in.prompt_of_B.to(i64);
  auto len_B = len_P.index_select(0, of_B);
  auto s_S = torch::arange(S, i64), j_T = torch::arange(T, i64);
  // Completion token t of row b sits at position len_B[b] + t, right after its prompt.
  auto pos_BT = len_B.unsqueeze(1) + j_T.unsqueeze(0);
  auto [cos_p, sin_p] = rope(s_S.unsqueeze(0).expand({P, S}));
  auto [cos_c, sin_c] = rope(pos_BT);
  // Every row's rotary factors [R, 1, E], R = PS + BT rows: prompts first, then completions.
  auto h_RD = torch::cat({model->embed_tokens(in.prompt_tokens_PS).reshape({PS, D}),
                          model->embed_tokens(in.tokens_BT).reshape({BT, D})});
  const auto act = h_RD.scalar_type();
  auto cos = torch::cat({cos_p.reshape({PS, 1, E}), cos_c.reshape({BT, 1, E})}).to(act);
  auto sin = torch::cat({sin_p.reshape({PS, 1, E}), sin_c.reshape({BT, 1, E})}).to(act);
  const auto prompts_mask = prompt_mask(S, config_.sliding_window, dev);
  const auto completions_mask = completion_mask(len_B, S, T, config_.sliding_window);
  const bool gqa = H != K;
  for (const auto& m : *model->layers) {
    auto* layer = m->as<DecoderLayerImpl>();
    auto& a = *layer->self_attn;
    // The projections and the MLP run on all rows at once (one GEMM each); only attention is per part.
    auto [q, k, v] = rotary_qkv(a, layer->input_layernorm(h_RD), cos, sin);
    auto part = [](const torch::Tensor& t, int64_t first, int64_t rows, int64_t len) {  // [rows*len, N, E] -> [rows, N, len, E]
      return t.narrow(0, first, rows * len).view({rows, len, t.size(1), t.size(2)}).transpose(1, 2);
    };
    auto k_PKSE = part(k, 0, P, S), v_PKSE = part(v, 0, P, S);
    auto o_PHSE = at::scaled_dot_product_attention(part(q, 0, P, S), k_PKSE, v_PKSE, prompts_mask, 0.0,
                                                   /*is_causal=*/!prompts_mask, std::nullopt, gqa);
    auto keys = torch::cat({k_PKSE.index_select(0, of_B), part(k, PS, B, T)}, 2);  // [B, K, S+T, E]
    auto vals = torch::cat({v_PKSE.index_select(0, of_B), part(v, PS, B, T)}, 2);
    auto o_BHTE = at::scaled_dot_product_attention(part(q, PS, B, T), keys, vals, completions_mask, 0.0, false,
                                                   std::nullopt, gqa);
    auto o_RF = torch::cat({o_PHSE.transpose(1, 2).reshape({PS, H * E}), o_BHTE.transpose(1, 2).reshape({BT, H * E})});
    h_RD = finish_layer(*layer, h_RD, o_RF);
  }
  return model->norm(h_RD);
}

TransformerImpl::PromptStates TransformerImpl::forward_prompts(const torch::Tensor& prompt_tokens_PS,
                                                             const torch::Tensor& prompt_len_P) {
  if (dense_released_) restore_dense_weights();
  const int64_t P = prompt_tokens_PS.size(0), S = prompt_tokens_PS.size(1);
  const int64_t H = config_.num_attention_heads, K = config_.num_key_value_heads, E = config_.head_dim;
  const int64_t D = config_.hidden_size, PS = P * S;
  const auto dev = prompt_tokens_PS.device();
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  auto s_S = torch::arange(S, i64);
  auto [cos_p, sin_p] = rope(s_S.unsqueeze(0).expand({P, S}));
  auto h_RD = model->embed_tokens(prompt_tokens_PS).reshape({PS, D});
  const auto act = h_RD.scalar_type();
  auto cos = cos_p.reshape({PS, 1, E}).to(act), sin = sin_p.reshape({PS, 1, E}).to(act);
  const auto prompts_mask = prompt_mask(S, config_.sliding_window, dev);
  PromptStates out;
  for (const auto& m : *model->layers) {
    auto* layer = m->as<DecoderLayerImpl>();
    auto& a = *layer->self_attn;
    auto [q, k, v] = rotary_qkv(a, layer->input_layernorm(h_RD), cos, sin);
    auto part = [&](const torch::Tensor& t) { return t.view({P, S, t.size(1), E}).transpose(1, 2); };
    auto k_PKSE = part(k), v_PKSE = part(v);
    auto o_PHSE = at::scaled_dot_product_attention(part(q), k_PKSE, v_PKSE, prompts_mask, 0.0,
                                                   /*is_causal=*/!prompts_mask, std::nullopt, H != K);
    out.k_PKSE.push_back(k_PKSE);
    out.v_PKSE.push_back(v_PKSE);
    h_RD = finish_layer(*layer, h_RD, o_PHSE.transpose(1, 2).reshape({PS, H * E}));
  }
  auto last_P = torch::arange(P, i64) * S + prompt_len_P.to(i64) - 1;
  out.last_hidden_PD = model->norm(h_RD.index_select(0, last_P));
  return out;
}

torch::Tensor TransformerImpl::forward_completions(const PromptStates& prompts, const PrefixedInputs& in) {
  if (dense_released_) restore_dense_weights();
  const int64_t S = in.prompt_tokens_PS.size(1);
  const int64_t B = in.tokens_BT.size(0), T = in.tokens_BT.size(1);
  const int64_t H = config_.num_attention_heads, K = config_.num_key_value_heads, E = config_.head_dim;
  const int64_t D = config_.hidden_size, BT = B * T;
  const auto dev = in.tokens_BT.device();
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  auto of_B = in.prompt_of_B.to(i64);
  auto len_B = in.prompt_len_P.to(i64).index_select(0, of_B);
  auto j_T = torch::arange(T, i64);
  auto pos_BT = len_B.unsqueeze(1) + j_T.unsqueeze(0);
  auto [cos_c, sin_c] = rope(pos_BT);
  auto h_RD = model->embed_tokens(in.tokens_BT).reshape({BT, D});
  const auto act = h_RD.scalar_type();
  auto cos = cos_c.reshape({BT, 1, E}).to(act), sin = sin_c.reshape({BT, 1, E}).to(act);
  const auto completions_mask = completion_mask(len_B, S, T, config_.sliding_window);
  size_t l = 0;
  for (const auto& m : *model->layers) {
    auto* layer = m->as<DecoderLayerImpl>();
    auto& a = *layer->self_attn;
    auto [q, k, v] = rotary_qkv(a, layer->input_layernorm(h_RD), cos, sin);
    auto part = [&](const torch::Tensor& t) { return t.view({B, T, t.size(1), E}).transpose(1, 2); };
    auto keys = torch::cat({prompts.k_PKSE[l].index_select(0, of_B), part(k)}, 2);  // [B, K, S+T, E]
    auto vals = torch::cat({prompts.v_PKSE[l].index_select(0, of_B), part(v)}, 2);
    ++l;
    auto o_BHTE = at::scaled_dot_product_attention(part(q), keys, vals, completions_mask, 0.0, false, std::nullopt,
                                                   H != K);
    h_RD = finish_layer(*layer, h_RD, o_BHTE.transpose(1, 2).reshape({BT, H * E}));
  }
  return model->norm(h_RD);
}

// The cached forward's linear layers on the CPU. MKL's sgemm (behind at::linear) re-packs the whole weight matrix on
// every call; at decode batch sizes that copy costs more than the multiply (perf, SmolLM2-135M, 8 rows: 34% of the
// time in mkl_blas_def_sgemm_scopy_right16_bdz, 16% in the kernel). oneDNN takes weights reordered once into its
// blocked layout, and q/k/v and gate/up are fused into one GEMM each (fewer, larger calls: fewer thread-pool
// barriers per step). The price is one packed copy of the weights (the dense parameters stay: forward() and training
// use them). Only float32 on the CPU; everything else uses the module's own Linear layers.
namespace {
// Rows of input up to which an int-group linear runs kernels::int_group_matmul (decode steps: the int8 pass up to
// 8 rows, float32 panels above); more rows (prefill, scoring) dequantise ~4 MB of weight rows at a time into MKL.
// (SmolLM2-135M, one thread, decode at 128 rows: panels 90-105 tok/s, dequantise + MKL 85-105, float32 oneDNN
// 100-105, within this machine's run-to-run spread.)
constexpr int64_t kIntGroupKernelRows = 256;

struct PackedLinear {
  torch::Tensor w;                      // oneDNN-packed (opaque layout), rows = output features; or
  std::optional<IntGroupWeight> groups;  // the checkpoint's integer blocks as int groups
  std::optional<torch::Tensor> b;
  int64_t out_features = 0;
  torch::Tensor operator()(const torch::Tensor& x) const {
    if (groups) return grouped(x);
    return kernels::onednn_linear(x, w, b);
  }
  // Rows `ids` (any shape) of the weight, float32, shaped [..ids, I]: an embedding lookup (int groups only).
  torch::Tensor rows(const torch::Tensor& ids) const {
    const int64_t I = groups->q.size(1), G = I / kernels::kIntGroup;
    auto ids_N = ids.reshape(-1).to(torch::kCPU, torch::kInt64).contiguous();
    const int64_t N = ids_N.size(0);
    auto out = torch::empty({N, I}, torch::kFloat32);
    const int64_t* id = ids_N.data_ptr<int64_t>();
    for (int64_t n = 0; n < N; ++n) {
      TORCH_CHECK(id[n] >= 0 && id[n] < out_features, "token id ", id[n], " outside the vocabulary");
      kernels::dequantize_int_groups(groups->q.data_ptr<int8_t>() + id[n] * I, groups->scale.data_ptr<float>() + id[n] * G,
                                     groups->offset.data_ptr<float>() + id[n] * G, I, out.data_ptr<float>() + n * I);
    }
    auto shape = ids.sizes().vec();
    shape.push_back(I);
    return out.view(shape);
  }
  // The weight as plain float32 rows [O, I].
  torch::Tensor dense() const {
    if (!groups) return w.to_dense();
    auto out = torch::empty(groups->q.sizes(), torch::kFloat32);
    dequantize_rows(0, out_features, out.data_ptr<float>());
    return out;
  }

 private:
  void dequantize_rows(int64_t lo, int64_t hi, float* dst) const {
    const int64_t I = groups->q.size(1), G = I / kernels::kIntGroup;
    at::parallel_for(lo, hi, 16, [&](int64_t a, int64_t z) {
      kernels::dequantize_int_groups(groups->q.data_ptr<int8_t>() + a * I, groups->scale.data_ptr<float>() + a * G,
                                     groups->offset.data_ptr<float>() + a * G, (z - a) * I, dst + (a - lo) * I);
    });
  }
  torch::Tensor grouped(const torch::Tensor& x) const {
    const int64_t I = groups->q.size(1), O = out_features;
    auto x_RI = x.reshape({-1, I}).to(torch::kFloat32).contiguous();
    const int64_t R = x_RI.size(0);
    auto y_RO = torch::empty({R, O}, torch::kFloat32);
    if (R <= kIntGroupKernelRows) {
      at::parallel_for(0, O, 32, [&](int64_t lo, int64_t hi) {
        kernels::int_group_matmul(x_RI.data_ptr<float>(), R, I, groups->q.data_ptr<int8_t>(),
                                  groups->scale.data_ptr<float>(), groups->offset.data_ptr<float>(), lo, hi,
                                  y_RO.data_ptr<float>(), O);
      });
    } else {
      const int64_t rows = std::clamp<int64_t>((int64_t{1} << 20) / I, 1, O);  // ~4 MB of float32 weights a block
      auto w_block = torch::empty({rows, I}, torch::kFloat32);
      for (int64_t o = 0; o < O; o += rows) {
        const int64_t n = std::min(rows, O - o);
        auto w_nI = w_block.narrow(0, 0, n);
        dequantize_rows(o, o + n, w_nI.data_ptr<float>());
        y_RO.narrow(1, o, n).copy_(torch::mm(x_RI, w_nI.t()));
      }
    }
    if (b) y_RO.add_(*b);
    auto shape = x.sizes().vec();
    shape.back() = O;
    return y_RO.view(shape);
  }
};
}  // namespace

struct TransformerImpl::InferenceWeights {
  struct Layer {
    PackedLinear qkv, o, gate_up, down;
  };
  std::vector<Layer> layers;
  PackedLinear lm_head;
  // Tied embeddings kept only as the lm_head's int groups: the lookup dequantises the rows it needs (the same values
  // the dense table held), so a tied vocabulary matrix is held once, quantised.
  bool embedding_in_head = false;
  // Each source parameter's storage and version when packed: any in-place update (optimizer step, copy_) bumps
  // the version, set_data/to() changes the storage; either makes the packed copy stale.
  std::vector<std::tuple<torch::Tensor, const void*, int64_t>> sources;
  bool stale() const {
    for (const auto& [t, ptr, version] : sources)
      if (t.data_ptr() != ptr || t._version() != version) return true;
    return false;
  }
  void snapshot(const std::vector<torch::Tensor>& params) {
    sources.clear();
    for (const auto& p : params) sources.emplace_back(p, p.data_ptr(), p._version());
  }
};

namespace {

bool onednn_linear_available() {
  static const bool ok = kernels::onednn_linear_available() &&
                         c10::Dispatcher::singleton().findSchema({"mkldnn::_reorder_linear_weight", ""}).has_value();
  return ok;
}

// The parts' int groups stacked into one matrix, when every part has them.
std::optional<IntGroupWeight> stacked_groups(
    const std::vector<torch::Tensor>& weights,
    const std::function<std::optional<IntGroupWeight>(const torch::Tensor&)>& groups_of) {
  if (!groups_of) return std::nullopt;
  std::vector<torch::Tensor> q, scale, offset;
  for (const auto& w : weights) {
    auto g = groups_of(w);
    if (!g) return std::nullopt;
    q.push_back(g->q);
    scale.push_back(g->scale);
    offset.push_back(g->offset);
  }
  if (q.size() == 1) return IntGroupWeight{q[0].contiguous(), scale[0].contiguous(), offset[0].contiguous()};
  return IntGroupWeight{torch::cat(q, 0), torch::cat(scale, 0), torch::cat(offset, 0)};
}

PackedLinear pack_linear(const std::vector<torch::Tensor>& weights, const std::vector<torch::Tensor>& biases,
                         std::optional<IntGroupWeight> groups = std::nullopt) {
  PackedLinear p;
  if (!biases.empty()) p.b = biases.size() == 1 ? biases[0].contiguous() : torch::cat(biases, 0);
  if (groups) {
    p.out_features = groups->q.size(0);
    p.groups = std::move(groups);
    return p;
  }
  static const c10::OperatorHandle& reorder =
      c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_reorder_linear_weight", "");
  auto w = weights.size() == 1 ? weights[0].contiguous() : torch::cat(weights, 0);
  torch::jit::Stack stack{w, c10::IValue()};
  reorder.callBoxed(&stack);
  p.w = stack[0].toTensor();
  p.out_features = w.size(0);
  return p;
}

}  // namespace

const TransformerImpl::InferenceWeights* TransformerImpl::inference_weights(
    bool release_dense, const std::function<void(torch::nn::Module&)>& fill,
    const std::function<std::optional<IntGroupWeight>(const torch::Tensor&)>& groups_of) {
  if (!device().is_cpu() || dtype() != torch::kFloat32 || !onednn_linear_available()) return nullptr;
  if (packed_ && !packed_->stale()) {
    if (release_dense && !dense_released_) packed_.reset();  // repack, freeing as it goes
    else return packed_.get();
  }
  // Packed copies are the only copies of released weights: they are never stale (nothing can write the empty dense
  // parameters), so reaching here with released weights means a parameter was replaced under us.
  TORCH_CHECK(!dense_released_, "a released dense weight was replaced; call restore_dense_weights() before training");
  torch::NoGradGuard no_grad;
  packed_.reset();  // free the stale copy before making the new one
  auto iw = std::make_shared<InferenceWeights>();
  auto bias = [](const torch::nn::Linear& l) { return l->options.bias() ? std::vector{l->bias} : std::vector<torch::Tensor>{}; };
  auto release = [&](std::initializer_list<torch::nn::Linear*> ls) {
    if (release_dense)
      for (auto* l : ls) (*l)->weight.set_data(torch::empty({0}, (*l)->weight.options()));
  };
  // The lm_head first: the largest matrix is packed while little else is resident (a loader reads it now).
  if (fill) fill(lm_head ? static_cast<torch::nn::Module&>(*lm_head) : *model->embed_tokens);
  // Int groups only where the dense weights go (inference): they are the checkpoint's values, which training changes.
  const auto groups = release_dense ? groups_of : nullptr;
  const auto head_w = lm_head ? lm_head->weight : model->embed_tokens->weight;
  iw->lm_head = pack_linear({head_w}, {}, stacked_groups({head_w}, groups));
  if (lm_head) release({&lm_head});
  else if (iw->lm_head.groups && release_dense) {
    model->embed_tokens->weight.set_data(torch::empty({0}, model->embed_tokens->weight.options()));
    iw->embedding_in_head = true;
  }
  for (const auto& m : *model->layers) {
    if (fill) fill(*m);
    auto* layer = m->as<DecoderLayerImpl>();
    auto& a = *layer->self_attn;
    auto& mlp = *layer->mlp;
    InferenceWeights::Layer l;
    std::vector<torch::Tensor> qkv_b;
    if (a.q_proj->options.bias()) qkv_b = {a.q_proj->bias, a.k_proj->bias, a.v_proj->bias};
    auto linear = [&](const std::vector<torch::Tensor>& ws, const std::vector<torch::Tensor>& bs) {
      return pack_linear(ws, bs, stacked_groups(ws, groups));
    };
    l.qkv = linear({a.q_proj->weight, a.k_proj->weight, a.v_proj->weight}, qkv_b);
    l.o = linear({a.o_proj->weight}, bias(a.o_proj));
    l.gate_up = linear({mlp.gate_proj->weight, mlp.up_proj->weight}, {});
    l.down = linear({mlp.down_proj->weight}, {});
    release({&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj, &mlp.gate_proj, &mlp.up_proj, &mlp.down_proj});
    iw->layers.push_back(std::move(l));
  }
  if (fill) fill(*this);  // the rest (norms, embeddings) before the snapshot, so it sees their final storage
  iw->snapshot(parameters());
  packed_ = std::move(iw);
  dense_released_ = release_dense;
  ++times_packed_;
  return packed_.get();
}

void TransformerImpl::refresh_inference_weights() {
  TORCH_CHECK(!dense_released_, "refresh_inference_weights() on released weights: restore_dense_weights() first");
  packed_.reset();
  inference_weights();
}

void TransformerImpl::release_dense_weights(
    const std::function<void(torch::nn::Module&)>& fill,
    const std::function<std::optional<IntGroupWeight>(const torch::Tensor&)>& groups_of) {
  if (dense_released_) return;
  inference_weights(/*release_dense=*/true, fill, groups_of);
}

int64_t TransformerImpl::int_group_linears() const {
  if (!packed_) return 0;
  int64_t n = packed_->lm_head.groups ? 1 : 0;
  for (const auto& l : packed_->layers)
    for (const auto* p : {&l.qkv, &l.o, &l.gate_up, &l.down}) n += p->groups ? 1 : 0;
  return n;
}

void TransformerImpl::restore_dense_weights() {
  if (!dense_released_) return;
  torch::NoGradGuard no_grad;
  // Unpacks a packed matrix (oneDNN's blocked layout back to plain rows) into the weights it fused, row blocks of
  // the given sizes in order.
  auto unpack = [](const PackedLinear& p, std::vector<std::pair<torch::nn::Linear*, int64_t>> parts) {
    auto w = p.dense();
    int64_t row = 0;
    for (auto& [l, rows] : parts) {
      (*l)->weight.set_data(w.narrow(0, row, rows).clone());
      row += rows;
    }
  };
  const int64_t H = config_.num_attention_heads, K = config_.num_key_value_heads, E = config_.head_dim;
  const int64_t D = config_.hidden_size, I = config_.intermediate_size;
  size_t li = 0;
  for (const auto& m : *model->layers) {
    auto* layer = m->as<DecoderLayerImpl>();
    auto& a = *layer->self_attn;
    auto& mlp = *layer->mlp;
    const auto& pl = packed_->layers[li++];
    unpack(pl.qkv, {{&a.q_proj, H * E}, {&a.k_proj, K * E}, {&a.v_proj, K * E}});
    unpack(pl.o, {{&a.o_proj, D}});
    unpack(pl.gate_up, {{&mlp.gate_proj, I}, {&mlp.up_proj, I}});
    unpack(pl.down, {{&mlp.down_proj, D}});
  }
  if (lm_head) unpack(packed_->lm_head, {{&lm_head, config_.vocab_size}});
  if (packed_->embedding_in_head) {
    model->embed_tokens->weight.set_data(packed_->lm_head.dense());
    packed_->embedding_in_head = false;
  }
  // The packed copies still match the restored weights: keep them (a training loop's first step makes them stale).
  packed_->snapshot(parameters());
  dense_released_ = false;
}

torch::Tensor TransformerImpl::forward_cached(const torch::Tensor& tokens_BT, const CacheStep& step, KVCache& cache,
                                              bool all_logits) {
  torch::NoGradGuard no_grad;
  return lm_logits(hidden_cached(tokens_BT, step, cache, all_logits));
}

torch::Tensor TransformerImpl::forward_cached_hidden(const torch::Tensor& tokens_BT, const CacheStep& step,
                                                     KVCache& cache) {
  torch::NoGradGuard no_grad;
  return hidden_cached(tokens_BT, step, cache, /*all_positions=*/true);
}

torch::Tensor TransformerImpl::lm_logits(const torch::Tensor& h) {
  torch::NoGradGuard no_grad;
  const auto* packed = inference_weights();
  return packed ? packed->lm_head(h) : logits(h);
}

torch::Tensor TransformerImpl::hidden_cached(const torch::Tensor& tokens_BT, const CacheStep& step, KVCache& cache,
                                             bool all_positions) {
  const int64_t B = tokens_BT.size(0), T = tokens_BT.size(1);
  const auto dev = tokens_BT.device();
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  TORCH_CHECK(static_cast<int64_t>(step.slots_B.size()) == B && static_cast<int64_t>(step.start_B.size()) == B,
              "CacheStep needs one slot and one start per row");
  TORCH_CHECK(step.len_B.empty() || static_cast<int64_t>(step.len_B.size()) == B, "CacheStep.len_B: one per row");
  auto slots_B = torch::tensor(step.slots_B, i64).to(dev);
  auto start_B = torch::tensor(step.start_B, i64).to(dev);
  auto pos_BT = start_B.unsqueeze(1) + torch::arange(T, i64.device(dev)).unsqueeze(0);
  auto slot_BT = slots_B.unsqueeze(1).expand({B, T});
  int64_t L = 0;
  bool slots_in_order = true;
  for (int64_t b = 0; b < B; ++b) {
    L = std::max(L, step.start_B[b] + T);
    slots_in_order = slots_in_order && step.slots_B[b] == b;
  }
  TORCH_CHECK(L <= cache.capacity(), "KV cache capacity ", cache.capacity(), " exceeded (", L, " positions)");
  const auto* packed = inference_weights();

  auto h_BTD = packed && packed->embedding_in_head ? packed->lm_head.rows(tokens_BT) : model->embed_tokens(tokens_BT);
  const auto act = h_BTD.scalar_type();
  const int64_t H = config_.num_attention_heads, K = config_.num_key_value_heads, E = config_.head_dim, G = H / K;
  // Attention with the query heads grouped by the kv head they read (HF's repeat_kv maps head h to kv head h / G):
  // q [B, K, G*T, E] against the cache's [B, K, L, E] is plain multi-head attention with K heads, so SDPA reads each
  // slot's keys once, in place, with no GQA expansion. Query row r = g*T + t. Each query sees its own slot's keys
  // up to its position (and within the sliding window); the mask is additive, built once for all layers.
  auto key_pos_L = torch::arange(L, i64.device(dev));
  auto rel_BTL = pos_BT.unsqueeze(-1) - key_pos_L.view({1, 1, L});
  auto visible_BTL = rel_BTL >= 0;
  if (config_.sliding_window) visible_BTL = visible_BTL.logical_and(rel_BTL < *config_.sliding_window);
  auto mask_BTL = torch::zeros({B, T, L}, h_BTD.options()).masked_fill_(visible_BTL.logical_not(), -INFINITY);
  auto mask_BKRL = (T == 1 ? mask_BTL.unsqueeze(1) : mask_BTL.unsqueeze(1).expand({B, G, T, L}).reshape({B, 1, G * T, L}))
                       .expand({B, K, G * T, L});

  auto [cos32, sin32] = rope(pos_BT);
  auto cos = cos32.to(act), sin = sin32.to(act);
  // A decode step on the CPU in float32 without autograd runs kernels::decode_attention (per row and kv head, straight
  // over the cache) instead of SDPA's B·K small GEMMs; the visible positions of row b are [lo, pos + 1).
  const bool attn_kernel = T == 1 && dev.is_cpu() && act == torch::kFloat && !torch::GradMode::is_enabled();
  std::vector<int64_t> lo_B, hi_B;
  if (attn_kernel) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t pos = step.start_B[b];
      hi_B.push_back(pos + 1);
      lo_B.push_back(config_.sliding_window ? std::max<int64_t>(0, pos + 1 - *config_.sliding_window) : 0);
    }
  }
  int64_t li = 0;
  for (const auto& m : *model->layers) {
    auto* layer = m->as<DecoderLayerImpl>();
    auto& a = *layer->self_attn;
    auto x = layer->input_layernorm(h_BTD);
    // q and k side by side as H+K heads, so one rotary pass covers both.
    torch::Tensor qk_BTJE, v_BTKE;
    if (packed) {
      auto qkv = packed->layers[li].qkv(x);
      qk_BTJE = qkv.narrow(-1, 0, (H + K) * E).view({B, T, H + K, E});
      v_BTKE = qkv.narrow(-1, (H + K) * E, K * E).view({B, T, K, E});
    } else {
      qk_BTJE = torch::cat({a.q_proj(x), a.k_proj(x)}, -1).view({B, T, H + K, E});
      v_BTKE = a.v_proj(x).view({B, T, K, E});
    }
    if (a.q_norm) qk_BTJE = torch::cat({a.q_norm(qk_BTJE.narrow(2, 0, H)), a.k_norm(qk_BTJE.narrow(2, H, K))}, 2);
    qk_BTJE = apply_rope(qk_BTJE, cos, sin);
    auto q_BTHE = qk_BTJE.narrow(2, 0, H), k_BTKE = qk_BTJE.narrow(2, H, K);
    auto& kc = cache.k_NKSE[li];
    auto& vc = cache.v_NKSE[li];
    kc.index_put_({slot_BT, Slice(), pos_BT}, k_BTKE);
    vc.index_put_({slot_BT, Slice(), pos_BT}, v_BTKE);
    if (attn_kernel && kc.is_contiguous() && vc.is_contiguous() && q_BTHE.stride(3) == 1 && q_BTHE.stride(2) == E) {
      auto o_BTF = torch::empty({B, 1, H * E}, h_BTD.options());
      kernels::DecodeAttentionArgs args;
      args.q = q_BTHE.data_ptr<float>();
      args.q_row_stride = q_BTHE.stride(0);
      args.keys = kc.data_ptr<float>();
      args.values = vc.data_ptr<float>();
      args.slot_stride = kc.stride(0);
      args.head_stride = kc.stride(1);
      args.slot_B = step.slots_B.data();
      args.lo_B = lo_B.data();
      args.hi_B = hi_B.data();
      args.H = H;
      args.K = K;
      args.E = E;
      args.out = o_BTF.data_ptr<float>();
      args.out_row_stride = H * E;
      at::parallel_for(0, B * K, 4, [&](int64_t i0, int64_t i1) { kernels::decode_attention(args, i0, i1); });
      h_BTD = h_BTD + (packed ? packed->layers[li].o(o_BTF) : a.o_proj(o_BTF));
    } else {
      // The engine keeps busy slots at 0..B-1, so the cache is read in place; otherwise gather the busy rows.
      auto keys_BKLE = (slots_in_order ? kc.narrow(0, 0, B) : kc.index_select(0, slots_B)).narrow(2, 0, L);
      auto vals_BKLE = (slots_in_order ? vc.narrow(0, 0, B) : vc.index_select(0, slots_B)).narrow(2, 0, L);
      auto q_BKRE = T == 1 ? q_BTHE.reshape({B, K, G, E})
                           : q_BTHE.reshape({B, T, K, G, E}).permute({0, 2, 3, 1, 4}).reshape({B, K, G * T, E});
      auto o_BKRE = at::scaled_dot_product_attention(q_BKRE, keys_BKLE, vals_BKLE, mask_BKRL, 0.0, false);
      auto o_BTF = T == 1 ? o_BKRE.reshape({B, 1, H * E})
                          : o_BKRE.view({B, K, G, T, E}).permute({0, 3, 1, 2, 4}).reshape({B, T, H * E});
      h_BTD = h_BTD + (packed ? packed->layers[li].o(o_BTF) : a.o_proj(o_BTF));
    }
    auto y = layer->post_attention_layernorm(h_BTD);
    if (packed) {
      const int64_t I = config_.intermediate_size;
      auto gu = packed->layers[li].gate_up(y);
      h_BTD = h_BTD + packed->layers[li].down(torch::silu(gu.narrow(-1, 0, I)) * gu.narrow(-1, I, I));
    } else {
      h_BTD = h_BTD + layer->mlp(y);
    }
    ++li;
  }
  if (!all_positions) {
    if (step.len_B.empty()) {
      h_BTD = h_BTD.select(1, T - 1);
    } else {
      auto last_B = torch::tensor(step.len_B, i64).to(dev) - 1;
      h_BTD = h_BTD.index({torch::arange(B, i64.device(dev)), last_B});
    }
  }
  return model->norm(h_BTD);
}

KVCache TransformerImpl::make_cache(int64_t slots, int64_t capacity) const {
  KVCache c;
  auto opts = torch::TensorOptions().dtype(dtype()).device(device());
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    c.k_NKSE.push_back(torch::zeros({slots, config_.num_key_value_heads, capacity, config_.head_dim}, opts));
    c.v_NKSE.push_back(torch::zeros({slots, config_.num_key_value_heads, capacity, config_.head_dim}, opts));
  }
  return c;
}

torch::Tensor unpermute_rotary_rows(const torch::Tensor& w, int64_t heads) {
  const int64_t rows = w.size(0);
  const int64_t head_dim = rows / heads;
  auto shape = w.sizes().vec();
  std::vector<int64_t> split = {heads, head_dim / 2, 2};
  for (size_t i = 1; i < shape.size(); ++i) split.push_back(shape[i]);
  return w.reshape(split).transpose(1, 2).reshape(shape).contiguous();
}

}  // namespace crucible::model
