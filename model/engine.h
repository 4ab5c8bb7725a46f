// The batched generation engine: used in-process by `crucible generate`, eval, `crucible serve` and (later) GRPO
// rollouts. One loop, EngineSession (engine_session.h); Engine::generate adds every request to a session and steps
// it until idle:
//
//   requests (prompt ids x k samples) -> queue of sequences -> slots of one KV cache
//   step: fill free slots (the prompts starting together are prefilled as one padded batch, each prompt once; its k
//         samples fork the cache rows) -> keep busy slots at 0..B-1 (a finished sequence's slot takes the last busy
//         one's rows) -> one batched decode step over every busy slot, reading the cache in place -> sample each row
//         with its own RNG -> finish (EOS / stop string / length) frees the slot for the next sequence in the queue
//         (continuous batching).
//
// Sampling runs on the CPU in float32 with one std::mt19937_64 per sample, seeded from (request seed, sample index),
// so a sample's tokens do not depend on what else shares the batch.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/sampling.h"
#include "model/logprobs.h"
#include "model/sampling.h"
#include "model/text/tokenizer.h"
#include "model/transformer.h"

namespace crucible::model {

using text::TokenId;

struct GenerationRequest {
  std::vector<TokenId> prompt;
  int64_t n_samples = 1;
  SamplingParams params;
  // One seed per sample, overriding sample_seed(params.seed, index): the eval harness derives each sample's seed
  // from (run seed, problem, sample index) so a resumed run draws exactly the samples it would have drawn.
  std::vector<uint64_t> sample_seeds;
  // Score the prompt too: each prompt token's logprob given the ones before it (the first token has none), with
  // params.top_logprobs alternatives (OpenAI completions' `echo` + `logprobs`; a distillation teacher's scores).
  // Only then may params.max_new_tokens be 0 (score, generate nothing).
  bool score_prompt = false;
};

enum class FinishReason { stop, length };
const char* finish_reason_name(FinishReason r);

struct SampleOutput {
  size_t request = 0;
  int64_t sample = 0;
  std::vector<TokenId> tokens;  // completion ids (EOS excluded; tokens of a matched stop string included)
  std::string text;             // completion text (cut before a matched stop string); empty without a tokenizer
  FinishReason finish = FinishReason::length;
  std::optional<std::string> stop_matched;  // the stop string, or the EOS token's text
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::vector<TokenLogprob> logprobs;         // one per token of `tokens` when params.logprobs
  std::vector<TokenLogprob> prompt_logprobs;  // prompt tokens 1..P-1 when score_prompt
};

struct EngineStats {
  int64_t prefill_tokens = 0, decode_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t decode_steps = 0;

  // Every field summed (an Engine over its generate() calls): a field added here is added here only.
  EngineStats& operator+=(const EngineStats& o) {
    prefill_tokens += o.prefill_tokens;
    decode_tokens += o.decode_tokens;
    prefill_seconds += o.prefill_seconds;
    decode_seconds += o.decode_seconds;
    decode_steps += o.decode_steps;
    return *this;
  }
};

// Called after every generated token with the text it completed (UTF-8-safe; may be empty), for streaming.
using TokenCallback =
    std::function<void(size_t request, int64_t sample, TokenId token, std::string_view text_piece)>;

struct EngineOptions {
  int64_t max_batch = 32;  // KV cache slots decoded together
  int64_t max_seq = 0;     // cache positions per slot; 0: longest prompt + max_new_tokens over the requests
  // Scoring a prompt (score_prompt) turns its positions into logits this many floats at a time (256 MiB): a long
  // prompt never holds P x V of them. A block of rows, not one row at a time, because each block reads the whole
  // lm_head.
  int64_t score_chunk_logits = int64_t{1} << 26;
};

// The engine runs on the module's own parameters: a training loop that updates them in place (an optimizer step)
// is seen by the next generate(), whose first forward repacks the inference weights once (transformer.h).
class Engine {
 public:
  // `tokenizer` may be null: then no text, no stop strings, and EOS comes from the model config only.
  Engine(Transformer model, const text::Tokenizer* tokenizer, EngineOptions options = {});

  // Outputs ordered by (request, sample). InputError (naming the request and field) before any work for a bad request.
  // `on_done` sees each sample as soon as it finishes (eval commits it then); it may throw to stop generation.
  std::vector<SampleOutput> generate(const std::vector<GenerationRequest>& requests, const TokenCallback& on_token = {},
                                     const std::function<void(const SampleOutput&)>& on_done = {});
  const EngineStats& stats() const { return stats_; }
  Transformer& model() { return model_; }

 private:
  Transformer model_;
  const text::Tokenizer* tokenizer_;
  EngineOptions options_;
  EngineStats stats_;
};

// The end-of-sequence ids: the model config's, then the tokenizer's (may be null).
std::vector<TokenId> eos_ids_of(const Transformer& model, const text::Tokenizer* tokenizer);

// The per-token rules of a sequence, shared by Engine::generate and EngineSession: given the token just sampled,
// decide whether the sequence goes on or ends (EOS unless ignored, the earliest stop string in the text, the length
// limit) and which text it completed. `out`, `text` and `decoder` are the sequence's own (decoder may be absent:
// no tokenizer, no text, no stop strings).
struct TokenVerdict {
  enum class Kind { go_on, eos, stop_string, length } kind = Kind::go_on;
  std::string piece;    // text to stream for this token (cut before a matched stop string)
  std::string matched;  // the stop string that ended the sequence
};
TokenVerdict accept_token(const SamplingParams& p, const std::vector<TokenId>& eos, TokenId tok,
                          std::vector<TokenId>& out, std::string& text, text::StreamDecoder* decoder);

// One row of logits (float32, length V) -> a token id following `p`: a uniform from this sample's own RNG, then
// kernels::sample_row_cpu (kernels/sampling.h: the one implementation of the filters, in transformers' order
// temperature, top-k, top-p, min-p, and of the draw). `sampling_logprob` (optional) receives the chosen token's
// log-probability under the distribution it was drawn from (0 for greedy: a point mass).
class Sampler {
 public:
  explicit Sampler(uint64_t seed);
  TokenId sample(const float* logits, int64_t V, const SamplingParams& p, double* sampling_logprob = nullptr);

 private:
  std::mt19937_64 rng_;
  kernels::SampleScratch scratch_;  // reused across steps
};
// Log-probabilities under the model (log_softmax of raw logits, temperature 1) of row `logits`: the log of its
// normaliser, and its `n` most likely tokens (ties: lower id first).
struct RowLogprobs {
  double log_normalizer = 0;
  std::vector<std::pair<float, TokenId>> top;  // (raw logit, id), most likely first
};
RowLogprobs row_logprobs(const float* logits, int64_t V, int64_t n);
// The record of token `tok` in that row (text left empty: the caller names tokens).
TokenLogprob token_logprob(const float* logits, const RowLogprobs& row, TokenId tok);

// The per-sample seed: splitmix64 of (request seed, sample index), so sample i of a prompt is reproducible alone.
uint64_t sample_seed(uint64_t request_seed, int64_t sample_index);

}  // namespace crucible::model
