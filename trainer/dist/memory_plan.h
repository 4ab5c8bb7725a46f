// `crucible train sft|grpo --dry-run`: what one rank will hold, from config.json alone (no weights are read).
// Torch-free. Every figure is bytes per rank and follows what the trainer allocates (trainer/README.md, "Past one
// process"):
//   weights      float32 master parameters, the whole model on every rank
//   gradients    float32, the whole model on every rank; with --shard (reduce-scattered, dist/reducer.h) the rank's 1/W
//                slice plus the buckets in flight (bucket_bytes_in_flight) when a rank's step is one micro-batch, and
//                the whole model (plus the same) when it is several: the earlier micro-batches accumulate whole
//                gradients until the last backward reduces them
//   optimizer    AdamW's two float32 moments; with --shard those of the rank's 1/W slice (updated in place)
//   activations  one row (SFT: --micro-batch-tokens, default --max-seq-len; GRPO: a micro-batch of prompt +
//                completion tokens) kept for
//                backward, float32: per token and layer the tensors a decoder layer saves (below), or with
//                --grad-checkpointing only each layer's input plus one layer recomputed; and the scored positions'
//                logits (the lm_head's output and its gradient: kernels/torch/token_logprobs, SFT and GRPO alike)
//   kv_cache     GRPO's rollouts: engine slots x (prompt + completion) tokens x layers x 2 x kv_heads x head_dim
//   transient    one vocabulary-sized [V, D] float32 gradient computed apart and then added into the parameter's
//                .grad: with tied embeddings (the lm_head's and the lookup's gradients are summed), and whenever a
//                backward pass meets a gradient already defined (several ranks: the reducer's bucket views; several
//                micro-batches). One pass into an undefined .grad of an untied model keeps the new tensor (none), and
//                so does every pass with --shard on several ranks (each .grad is freed once reduce-scattered).
// It is an estimate: allocator slack (freed memory glibc's heap and model/block_cache keep for reuse), temporary
// buffers of single ops and the runtime itself are not counted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace crucible::trainer::dist {

struct MemoryPlanInput {
  model::ModelConfig model;
  int world_size = 1;
  bool shard = false;
  bool grad_checkpointing = false;
  int64_t row_tokens = 1024;      // tokens of one forward/backward (SFT: micro_batch_tokens; GRPO: micro-batch x seq)
  int64_t scored_tokens = 1024;   // positions whose logits are computed (SFT: completion tokens of a row)
  // SFT: tokens per optimizer step over all ranks (--batch-tokens); a rank packs its rows from its 1/W share, so
  // its row holds at most ceil(batch_tokens / W) tokens (0: rows are row_tokens long).
  int64_t batch_tokens = 0;
  // Logit-sized float32 tensors alive at once: 2 (value, gradient) through token_logprobs (SFT and GRPO in float32 /
  // bf16); 3 for a cross_entropy, whose log_softmax output is kept for backward (SFT in float64, the reference).
  int64_t logits_copies = 2;
  // token_logprobs (logits_copies 2) keeps the scored positions' logits for backward (value + gradient) only when all
  // of them are one chunk of at most 64 Mi logits and, where logits_keep_rows > 0, no more than that many rows (GRPO:
  // its logprob chunk, 1,024; SFT: 0, any count that fits); otherwise it takes logits_chunk_rows rows at a time and recomputes
  // them in backward (one chunk's logits alive, its gradient written in place).
  int64_t logits_keep_rows = 0;
  int64_t logits_chunk_rows = 1024;
  int64_t kv_slots = 0;           // GRPO: engine slots decoded together (0: no rollouts)
  int64_t kv_tokens = 0;          // GRPO: prompt + completion tokens per slot
  int64_t kv_bytes_per_value = 4;  // float32 engine; 2 for bfloat16
  // GRPO: the rank's micro-batches come from its whole groups, ceil(prompts / W) of them, of group_size sequences,
  // micro_batch at a time (0: SFT, whose rows are its share of batch_tokens in rows of row_tokens).
  int64_t prompts_per_step = 0, group_size = 0, micro_batch = 0;
};

// Micro-batches (backward passes) in one rank's optimizer step: SFT ceil(share / row_tokens) with share the rank's
// part of batch_tokens (1 without batch_tokens); GRPO ceil(ceil(prompts / W) x group_size / micro_batch). A lower
// bound where packing leaves rows part-empty.
int64_t micro_batches_per_rank(const MemoryPlanInput& in);

// --shard: the most whole-size gradient bytes a reduce-scattering rank holds beside its slice (each backward pass
// is reduced before the next): a bucket's .grad tensors and the flat copy being sent, 2 x 25 MB (GradReducer's cap), or one parameter
// larger than the cap (an embedding), which is a bucket of its own and sent from its .grad without a copy.
int64_t bucket_bytes_in_flight(const model::ModelConfig& m);

struct MemoryPlan {
  int64_t parameters = 0;
  int64_t weights = 0, gradients = 0, optimizer = 0, activations = 0, logits = 0, kv_cache = 0, transient = 0;
  int64_t total() const { return weights + gradients + optimizer + activations + logits + kv_cache + transient; }
};

// Trainable parameters of a config: embeddings, per layer q/k/v/o (+ q/k/v biases, + q/k norms), the gated MLP and
// two RMSNorms, the final norm, and the lm_head unless tied.
int64_t count_parameters(const model::ModelConfig& m);

// float32 values one decoder layer keeps per token for backward: its two RMSNorm inputs and outputs (4 D), q, k, v
// before and after rope (2 (H + 2 KV) hd, v counted twice for SDPA's saved input), the attention output (H hd) and
// the MLP's gate, up, activation and product (4 I).
int64_t activation_values_per_token_layer(const model::ModelConfig& m);

MemoryPlan plan_memory(const MemoryPlanInput& in);

// The plan as a table (one line per item, GiB and bytes), for the terminal.
std::string format_plan(const MemoryPlanInput& in, const MemoryPlan& p);

}  // namespace crucible::trainer::dist
