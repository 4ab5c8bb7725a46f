// Shape legend: B batch, T new tokens, S cache capacity, L keys read, D hidden, H query heads, K kv heads,
// E head dim, V vocabulary, N cache slots, I intermediate size.
//
// The arithmetic follows transformers' modeling_llama/qwen2/qwen3 operation for operation (RMSNorm in float32 then
// cast back, cos/sin in float32 cast to the activation dtype, rotate_half), because the tests hold us to 1e-4 of it.
#include "model/transformer.h"

#include <cmath>
#include <numbers>

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

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  auto x32 = x.to(torch::kFloat32);
  auto variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  x32 = x32 * torch::rsqrt(variance + eps);
  return weight * x32.to(x.scalar_type());
}

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

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c) {
  self_attn = register_module("self_attn", Attention(c));
  mlp = register_module("mlp", MLP(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

BackboneImpl::BackboneImpl(const ModelConfig& c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

TransformerImpl::TransformerImpl(const ModelConfig& config) : config_(config) {
  config_.validate("model config");
  model = register_module("model", Backbone(config_));
  if (!config_.tie_word_embeddings)
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(config_.hidden_size, config_.vocab_size).bias(false)));
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

torch::Tensor TransformerImpl::forward(const torch::Tensor& tokens_BT) {
  const int64_t B = tokens_BT.size(0), T = tokens_BT.size(1);
  auto h_BTD = model->embed_tokens(tokens_BT);
  auto pos_BT = torch::arange(T, torch::TensorOptions().dtype(torch::kInt64).device(tokens_BT.device()))
                    .unsqueeze(0)
                    .expand({B, T});
  auto [cos32, sin32] = rope(pos_BT);
  auto cos = cos32.to(h_BTD.scalar_type()), sin = sin32.to(h_BTD.scalar_type());
  std::optional<torch::Tensor> mask;
  if (config_.sliding_window && *config_.sliding_window < T) {
    auto i = torch::arange(T, pos_BT.options());
    auto rel = i.unsqueeze(1) - i.unsqueeze(0);  // query - key
    mask = (rel >= 0).logical_and(rel < *config_.sliding_window);
  }
  for (const auto& m : *model->layers) {
    auto* layer = m->as<DecoderLayerImpl>();
    auto& a = *layer->self_attn;
    auto x = layer->input_layernorm(h_BTD);
    auto q = a.q_proj(x).view({B, T, a.n_heads, a.head_dim});
    auto k = a.k_proj(x).view({B, T, a.n_kv_heads, a.head_dim});
    auto v = a.v_proj(x).view({B, T, a.n_kv_heads, a.head_dim});
    if (a.q_norm) {
      q = a.q_norm(q);
      k = a.k_norm(k);
    }
    q = apply_rope(q, cos, sin);
    k = apply_rope(k, cos, sin);
    auto o_BHTE = at::scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask,
                                                   0.0, /*is_causal=*/!mask.has_value(), std::nullopt,
                                                   /*enable_gqa=*/a.n_heads != a.n_kv_heads);
    h_BTD = h_BTD + a.o_proj(o_BHTE.transpose(1, 2).reshape({B, T, a.n_heads * a.head_dim}));
    h_BTD = h_BTD + layer->mlp(layer->post_attention_layernorm(h_BTD));
  }
  return logits(model->norm(h_BTD));
}

torch::Tensor TransformerImpl::forward_cached(const torch::Tensor& tokens_BT, const CacheStep& step, KVCache& cache,
                                              bool all_logits) {
  torch::NoGradGuard no_grad;
  const int64_t B = tokens_BT.size(0), T = tokens_BT.size(1);
  const auto dev = tokens_BT.device();
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
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
  // Each query sees its own slot's keys up to its position; columns past a shorter sequence's end are masked.
  auto key_pos_L = torch::arange(L, i64.device(dev));
  auto rel_BTL = pos_BT.unsqueeze(-1) - key_pos_L.view({1, 1, L});
  auto mask_BTL = rel_BTL >= 0;
  if (config_.sliding_window) mask_BTL = mask_BTL.logical_and(rel_BTL < *config_.sliding_window);
  auto mask_B1TL = mask_BTL.unsqueeze(1);

  auto h_BTD = model->embed_tokens(tokens_BT);
  auto [cos32, sin32] = rope(pos_BT);
  auto cos = cos32.to(h_BTD.scalar_type()), sin = sin32.to(h_BTD.scalar_type());
  int64_t li = 0;
  for (const auto& m : *model->layers) {
    auto* layer = m->as<DecoderLayerImpl>();
    auto& a = *layer->self_attn;
    auto x = layer->input_layernorm(h_BTD);
    auto q = a.q_proj(x).view({B, T, a.n_heads, a.head_dim});
    auto k_BTKE = a.k_proj(x).view({B, T, a.n_kv_heads, a.head_dim});
    auto v_BTKE = a.v_proj(x).view({B, T, a.n_kv_heads, a.head_dim});
    if (a.q_norm) {
      q = a.q_norm(q);
      k_BTKE = a.k_norm(k_BTKE);
    }
    q = apply_rope(q, cos, sin);
    k_BTKE = apply_rope(k_BTKE, cos, sin);
    auto& kc = cache.k_NKSE[li];
    auto& vc = cache.v_NKSE[li];
    kc.index_put_({slot_BT, Slice(), pos_BT}, k_BTKE);
    vc.index_put_({slot_BT, Slice(), pos_BT}, v_BTKE);
    // The common case (slots 0..B-1 all busy) reads the cache in place; otherwise gather the busy rows.
    auto keys_BKLE = (slots_in_order ? kc.narrow(0, 0, B) : kc.index_select(0, slots_B)).narrow(2, 0, L);
    auto vals_BKLE = (slots_in_order ? vc.narrow(0, 0, B) : vc.index_select(0, slots_B)).narrow(2, 0, L);
    auto o_BHTE = at::scaled_dot_product_attention(q.transpose(1, 2), keys_BKLE, vals_BKLE, mask_B1TL, 0.0, false,
                                                   std::nullopt, a.n_heads != a.n_kv_heads);
    h_BTD = h_BTD + a.o_proj(o_BHTE.transpose(1, 2).reshape({B, T, a.n_heads * a.head_dim}));
    h_BTD = h_BTD + layer->mlp(layer->post_attention_layernorm(h_BTD));
    ++li;
  }
  if (!all_logits) h_BTD = h_BTD.select(1, T - 1);
  return logits(model->norm(h_BTD));
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
