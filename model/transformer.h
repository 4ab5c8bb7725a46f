// The decoder-only transformer (Llama 2/3, Qwen2/2.5, Qwen3, Mistral, SmolLM2) as one torch::nn::Module. Its
// parameters are named exactly as Hugging Face names them ("model.layers.3.self_attn.q_proj.weight"), so loading
// and saving a checkpoint is a walk over named_parameters(). Two forwards share the weights:
//   forward(tokens_BT)                 differentiable full-sequence forward with a causal mask (training);
//   forward_cached(tokens_BT, step, …) incremental forward over a KV cache (generation), batched over cache slots
//                                      whose sequences may have different lengths.
//
// Shape legend: B batch (active sequences), T new tokens per sequence, S cache capacity (positions), L key length
// read this step, D hidden size, H query heads, K key/value heads, E head dim, V vocabulary, N cache slots.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "model/config.h"

namespace crucible::model {

// A linear weight [O, I] in int groups (kernels/int_groups.h): q [O, I] int8, scale and offset [O, I/16] float32.
// A GGUF checkpoint's integer block formats decode to exactly this (model/checkpoint.h), so inference can keep them.
struct IntGroupWeight {
  torch::Tensor q, scale, offset;
};

// Per-layer K/V storage for N slots of up to S positions each: k_NKSE / v_NKSE.
struct KVCache {
  std::vector<torch::Tensor> k_NKSE, v_NKSE;
  int64_t slots() const { return k_NKSE.empty() ? 0 : k_NKSE[0].size(0); }
  int64_t capacity() const { return k_NKSE.empty() ? 0 : k_NKSE[0].size(2); }
  // Copies the first `n_positions` of slot `from` into slot `to` (forking a prefilled prompt).
  void copy_slot(int64_t from, int64_t to, int64_t n_positions);
};

// Where this step's tokens sit: sequence b's T new tokens go to cache slot slots_B[b] at positions
// start_B[b] .. start_B[b]+T-1, and attend to every earlier position of that slot.
// `len_B` (optional, batched prefill of prompts of different lengths): only the first len_B[b] tokens of row b are
// real, the rest is padding. Padding K/V lands in the cache past the sequence's end, where the sequence's next step
// overwrites it before any query of that slot can see it; the logits returned are those of each row's last real token.
struct CacheStep {
  std::vector<int64_t> slots_B;
  std::vector<int64_t> start_B;
  std::vector<int64_t> len_B;
};

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& c);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};
  int64_t n_heads, n_kv_heads, head_dim;
};
TORCH_MODULE(Attention);

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const ModelConfig& c);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(MLP);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& c);
  Attention self_attn{nullptr};
  MLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

class BackboneImpl : public torch::nn::Module {
 public:
  BackboneImpl(const ModelConfig& c, bool initialise);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(Backbone);

class TransformerImpl : public torch::nn::Module {
 public:
  // `initialise` false (loading a checkpoint): the parameters are allocated but not written, so their pages are not
  // touched before the checkpoint's tensors replace them (a randomly initialised copy would cost a second full copy
  // of the weights at the load's peak).
  explicit TransformerImpl(const ModelConfig& config, bool initialise = true);

  // tokens_BT (int64) -> logits_BTV in the parameters' dtype. Differentiable.
  torch::Tensor forward(const torch::Tensor& tokens_BT);

  // The training forward: tokens_BT -> the final-norm hidden states h_BTD (the lm_head is left to the loss, which
  // needs logits only at the positions it scores; see lm_head_weight()). Differentiable.
  //   pos_BT (optional, int64): each token's rotary position; packed rows restart it at 0 for every example.
  //   seg_BT (optional, int64): each token's example within its row; a query attends only to keys of its own
  //          example (block-diagonal causal mask), so packing several examples in a row changes nothing for each.
  //   checkpoint_layers: activation checkpointing per decoder layer: a layer keeps only its input for backward and
  //          runs its forward again, with grad, when backward reaches it (memory ~ one layer's activations).
  struct TrainInputs {
    torch::Tensor pos_BT, seg_BT;
    bool checkpoint_layers = false;
  };
  torch::Tensor forward_hidden(const torch::Tensor& tokens_BT, const TrainInputs& in);
  // The training forward of completions that share prompts (GRPO's G samples of a prompt): each prompt runs through
  // the layers once instead of once per completion, and its completions attend to its keys/values (gathered per
  // completion, so their gradients sum back into the one prompt). Same function of the weights as forward_hidden()
  // on the concatenated rows `prompt[:len] + completion` (tests/model/test_prefixed_forward.cpp), fewer FLOPs:
  // P*S + B*T positions instead of B*(S+T).
  //   prompt_tokens_PS (int64): the P distinct prompts, right-padded to S; prompt_len_P: their lengths (>= 1).
  //   tokens_BT (int64): the B completions, right-padded to T; prompt_of_B: each one's prompt row.
  // Returns the final-norm hidden states of every position as rows [P*S + B*T, D]: prompt p position s at row
  // p*S + s, completion b position t at row P*S + b*T + t (padding rows hold values nobody should read).
  struct PrefixedInputs {
    torch::Tensor prompt_tokens_PS, prompt_len_P, tokens_BT, prompt_of_B;
  };
  torch::Tensor forward_hidden_prefixed(const PrefixedInputs& in);
  // forward_hidden_prefixed in two phases, for completions of one prompt spread over several micro-batches (GRPO with
  // G > micro-batch): forward_prompts runs the prompts once and returns, per layer, the keys and values their
  // completions attend to (post-norm, post-RoPE) and the final-norm hidden state of each prompt's last position (what
  // predicts a completion's first token); forward_completions runs completions against them. The caller may pass
  // detached copies that require grad to forward_completions, run each micro-batch's backward into them, and run
  // the prompts' backward once at the end with the summed gradients (trainer/grpo_update.cpp): the same gradients as
  // forward_hidden_prefixed per micro-batch, each prompt through forward and backward once instead of once per
  // micro-batch. Same arithmetic per row as forward_hidden_prefixed, the prompts' rows and the completions' rows in
  // separate GEMMs.
  struct PromptStates {
    std::vector<torch::Tensor> k_PKSE, v_PKSE;  // one per layer: [P, K, S, E]
    torch::Tensor last_hidden_PD;               // final-norm hidden state at position prompt_len - 1
  };
  PromptStates forward_prompts(const torch::Tensor& prompt_tokens_PS, const torch::Tensor& prompt_len_P);
  // Final-norm hidden states of the completions' rows [B*T, D] (completion b position t at row b*T + t);
  // in.prompt_tokens_PS is read for its shape only, in.prompt_len_P and in.prompt_of_B index `prompts`.
  torch::Tensor forward_completions(const PromptStates& prompts, const PrefixedInputs& in);
  // The [V, D] matrix the logits are h @ W^T with: lm_head's weight, or the tied embeddings.
  torch::Tensor lm_head_weight() const;

  // tokens_BT -> logits of each sequence's last new token, logits_BV (or all positions, logits_BTV, when
  // `all_logits`). Writes the new K/V into `cache`. No autograd. Same parameters and arithmetic as forward(); on the
  // CPU in float32 its linear layers run on oneDNN-packed copies of the weights (see InferenceWeights in the .cpp),
  // made on first use and remade once after a parameter changes: each parameter's version counter and storage are
  // compared on every call (an in-place add_/copy_, a set_data), and refresh_inference_weights() is the explicit
  // refresh after an optimizer step; they are packed once per update, never per call.
  torch::Tensor forward_cached(const torch::Tensor& tokens_BT, const CacheStep& step, KVCache& cache,
                               bool all_logits = false);
  // forward_cached for every position, stopping before the vocabulary: the final-norm hidden states h_BTD, which
  // lm_logits() turns into logits a block of rows at a time (scoring a P-token prompt at once holds P x V floats).
  torch::Tensor forward_cached_hidden(const torch::Tensor& tokens_BT, const CacheStep& step, KVCache& cache);
  // Final-norm hidden states [..., D] -> logits [..., V], through the packed lm_head when there is one.
  torch::Tensor lm_logits(const torch::Tensor& h);

  KVCache make_cache(int64_t slots, int64_t capacity) const;
  // Packs the inference weights now if they are missing or stale (else the next forward_cached does), so a request
  // does not pay for it.
  void prepare_cached_forward() { inference_weights(); }
  // Repacks from the current parameters now. A training loop calls it once after each optimizer step: libtorch's
  // optimizers update parameters through .data(), which shares the storage but not the version counter, so such an
  // update is invisible to the staleness check (an in-place update of the parameter itself — add_/copy_ under
  // NoGradGuard, set_data — is seen without it).
  void refresh_inference_weights();

  // One copy of the weights when nothing trains: packs the inference weights and frees the dense copies of every
  // linear weight that has a packed one (q/k/v/o, gate/up/down, an untied lm_head), so eval, generate and serve hold
  // the weights once instead of twice. Those parameters are then empty ([0]) until restore_dense_weights() unpacks
  // them; forward() and save_hf_folder() restore by themselves, a training loop must restore before it builds its
  // optimizer. No-op where there is no packed path (CUDA, half precision).
  // `fill` (a loader's hook, load_model): called with each part right before it is packed — the lm_head (or the
  // tied embedding) first, then each decoder layer, then the whole module for what is left — to write that part's
  // parameters, so a load holds the packed weights plus one part's dense ones, never all the dense weights besides.
  // `groups_of` (a loader's hook too): a linear weight's int groups when its checkpoint stores it in an integer
  // block format (a GGUF's Q4_K …), else nullopt. A fused matrix whose parts all have them is kept as int groups
  // (12 bits a value; the same float32 values, see kernels/int_groups.h) instead of a oneDNN-packed float32 copy:
  // a decode step then streams a third of the bytes.
  void release_dense_weights(const std::function<void(torch::nn::Module&)>& fill = {},
                             const std::function<std::optional<IntGroupWeight>(const torch::Tensor&)>& groups_of = {});
  void restore_dense_weights();
  bool dense_released() const { return dense_released_; }
  int64_t times_packed() const { return times_packed_; }  // how often the inference weights were (re)made
  int64_t int_group_linears() const;  // how many of the inference weights' linears are int groups (0 when none)

  const ModelConfig& config() const { return config_; }
  torch::Device device() const;
  torch::Dtype dtype() const;

  Backbone model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // absent (null) when the embeddings are tied

 private:
  torch::Tensor logits(const torch::Tensor& h);
  // The cached forward up to the final norm: h of each row's last real token ([B, D]) or of every position.
  torch::Tensor hidden_cached(const torch::Tensor& tokens_BT, const CacheStep& step, KVCache& cache, bool all_positions);
  // cos/sin of shape [B, T, 1, E] (float32) for integer positions pos_BT.
  std::pair<torch::Tensor, torch::Tensor> rope(const torch::Tensor& pos_BT) const;

  struct InferenceWeights;
  // `release_dense`: free each layer's dense weights as soon as that layer is packed, so the peak is one copy of
  // the weights plus one layer, not two copies. `fill`: see release_dense_weights.
  const InferenceWeights* inference_weights(
      bool release_dense = false, const std::function<void(torch::nn::Module&)>& fill = {},
      const std::function<std::optional<IntGroupWeight>(const torch::Tensor&)>& groups_of = {});

  ModelConfig config_;
  std::shared_ptr<InferenceWeights> packed_;
  bool dense_released_ = false;
  int64_t times_packed_ = 0;
  torch::Tensor inv_freq_;  // [E/2] float32, not a parameter (HF keeps it as a non-persistent buffer)
};
TORCH_MODULE(Transformer);

// Reorders the rows of a q/k projection from the interleaved rotary layout (Meta/llama2.c/GGUF "llama": pairs
// (2i, 2i+1) rotate together) to Hugging Face's half-split layout (pairs (i, i+E/2)). w_OI has O = heads * E rows.
torch::Tensor unpermute_rotary_rows(const torch::Tensor& w, int64_t heads);

}  // namespace crucible::model
