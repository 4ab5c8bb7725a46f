#include "trainer/dist/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/logprob.h"

namespace crucible::trainer::dist {

int64_t count_parameters(const model::ModelConfig& m) {
  const int64_t D = m.hidden_size, I = m.intermediate_size, V = m.vocab_size, L = m.num_hidden_layers;
  const int64_t hd = m.head_dim > 0 ? m.head_dim : D / m.num_attention_heads;
  const int64_t q = m.num_attention_heads * hd, kv = m.num_key_value_heads * hd;
  int64_t layer = D * q + 2 * D * kv + q * D  // q, k, v, o projections
                  + 3 * D * I                 // gate, up, down
                  + 2 * D;                    // input and post-attention RMSNorm
  if (m.attention_bias) layer += q + 2 * kv;
  if (m.qk_norm) layer += 2 * hd;
  return V * D + L * layer + D + (m.tie_word_embeddings ? 0 : V * D);
}

int64_t activation_values_per_token_layer(const model::ModelConfig& m) {
  const int64_t D = m.hidden_size, I = m.intermediate_size;
  const int64_t hd = m.head_dim > 0 ? m.head_dim : D / m.num_attention_heads;
  const int64_t H = m.num_attention_heads, KV = m.num_key_value_heads;
  return 4 * D + 2 * (H + 2 * KV) * hd + H * hd + 4 * I;
}

int64_t micro_batches_per_rank(const MemoryPlanInput& in) {
  const int64_t W = std::max(1, in.world_size);
  if (in.micro_batch > 0) {
    const int64_t groups = (in.prompts_per_step + W - 1) / W;
    return std::max<int64_t>(1, (groups * in.group_size + in.micro_batch - 1) / in.micro_batch);
  }
  if (in.batch_tokens <= 0 || in.row_tokens <= 0) return 1;
  const int64_t share = (in.batch_tokens + W - 1) / W;
  return std::max<int64_t>(1, (share + in.row_tokens - 1) / in.row_tokens);
}

int64_t bucket_bytes_in_flight(const model::ModelConfig& m) {
  const int64_t D = m.hidden_size, I = m.intermediate_size, V = m.vocab_size;
  const int64_t hd = m.head_dim > 0 ? m.head_dim : D / m.num_attention_heads;
  const int64_t largest = std::max({V * D, D * I, D * m.num_attention_heads * hd});
  return std::max<int64_t>(2 * (25 << 20), largest * 4);  // GradReducer's bucket_bytes default
}

namespace {

// Whether the scored positions' logits stay alive from forward to backward (MemoryPlanInput::logits_keep_rows).
bool logits_kept(const MemoryPlanInput& in, int64_t scored) {
  return in.logits_copies > 2 || (scored * in.model.vocab_size <= kernels::kKeptLogitsMax &&
                                  (in.logits_keep_rows <= 0 || scored <= in.logits_keep_rows));
}

// Logit-sized float32 values alive at the peak: every copy of every scored row when kept, else one chunk's.
int64_t logit_values_held(const MemoryPlanInput& in, int64_t scored) {
  const int64_t rows = logits_kept(in, scored) ? in.logits_copies * scored
                                               : std::min(scored, std::max<int64_t>(1, in.logits_chunk_rows));
  return rows * in.model.vocab_size;
}

}  // namespace

MemoryPlan plan_memory(const MemoryPlanInput& in) {
  MemoryPlan p;
  const int64_t W = in.world_size, L = in.model.num_hidden_layers, f32 = 4;
  p.parameters = count_parameters(in.model);
  p.weights = p.parameters * f32;
  const int64_t slice = in.shard ? (p.parameters + W - 1) / W : p.parameters;
  // --shard with one rank is unsharded (no Comm); with several, reduce-scattered (see the header).
  if (in.shard && W > 1) {  // every backward pass reduce-scattered as it runs, however many a step has
    p.gradients = slice * f32 + std::min(bucket_bytes_in_flight(in.model), p.parameters * f32);
  } else {
    p.gradients = p.parameters * f32;
  }
  p.optimizer = 2 * slice * f32;  // --shard: the slice AdamW updates is a view of the weights, not a copy
  const int64_t share = in.batch_tokens > 0 ? (in.batch_tokens + W - 1) / W : in.row_tokens;
  const int64_t row = std::min(in.row_tokens, share), scored = std::min(in.scored_tokens, share);
  const int64_t per_layer = activation_values_per_token_layer(in.model) * row * f32;
  p.activations = in.grad_checkpointing ? L * row * in.model.hidden_size * f32 + per_layer : L * per_layer;
  p.logits = logit_values_held(in, scored) * f32;
  const int64_t hd = in.model.head_dim > 0 ? in.model.head_dim : in.model.hidden_size / in.model.num_attention_heads;
  p.kv_cache = in.kv_slots * in.kv_tokens * L * 2 * in.model.num_key_value_heads * hd * in.kv_bytes_per_value;
  // --shard on several ranks frees each .grad when its pass is reduce-scattered: the next pass finds none.
  const bool defined_grad = !(in.shard && W > 1) && (W > 1 || micro_batches_per_rank(in) > 1);
  if (in.model.tie_word_embeddings || defined_grad) p.transient = in.model.vocab_size * in.model.hidden_size * f32;
  return p;
}

std::string format_plan(const MemoryPlanInput& in, const MemoryPlan& p) {
  auto line = [](const char* what, int64_t bytes, const std::string& note) {
    return fmt::format("  {:<12} {:>10.2f} GiB  {:>16}  {}\n", what, static_cast<double>(bytes) / (1 << 30), bytes,
                       note);
  };
  std::string out = fmt::format("memory plan per rank: {} parameters, {} rank(s){}{}\n", p.parameters, in.world_size,
                                in.shard ? ", --shard" : "", in.grad_checkpointing ? ", --grad-checkpointing" : "");
  out += line("weights", p.weights, "float32 masters");
  const bool scattered = in.shard && in.world_size > 1;
  out += line("gradients", p.gradients,
              !scattered ? "float32, whole model"
                         : fmt::format("float32, this rank's 1/W slice + buckets in flight (each of {} "
                                       "micro-batch{} reduce-scattered)",
                                       micro_batches_per_rank(in), micro_batches_per_rank(in) == 1 ? "" : "es"));
  out += line("optimizer", p.optimizer, in.shard ? "AdamW moments of this rank's 1/W slice" : "AdamW moments");
  const int64_t share = in.batch_tokens > 0 ? (in.batch_tokens + in.world_size - 1) / in.world_size : in.row_tokens;
  out += line("activations", p.activations, fmt::format("one row of {} tokens", std::min(in.row_tokens, share)));
  out += line("logits", p.logits,
              !logits_kept(in, std::min(in.scored_tokens, share))
                  ? fmt::format("{} scored positions, {} at a time x vocab, recomputed in backward",
                                std::min(in.scored_tokens, share), std::min(std::min(in.scored_tokens, share),
                                                                            in.logits_chunk_rows))
                  : fmt::format("{} scored positions x vocab, {}", std::min(in.scored_tokens, share),
                                in.logits_copies > 2 ? "value + log_softmax + gradient" : "value + gradient"));
  if (in.kv_slots > 0)
    out += line("kv_cache", p.kv_cache, fmt::format("{} slots x {} tokens", in.kv_slots, in.kv_tokens));
  if (p.transient > 0)
    out += line("transient", p.transient,
                in.model.tie_word_embeddings ? "[V, D] gradient of the tied embedding, summed into .grad"
                                             : "[V, D] gradient summed into a .grad already defined");
  out += line("total", p.total(), "(estimate: no allocator slack, no runtime)");
  return out;
}

}  // namespace crucible::trainer::dist
