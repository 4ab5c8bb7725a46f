// SFT data, torch-free: JSONL records -> token ids with a per-token "learn this" flag, and the plan of which examples
// make each optimizer step and how they are packed into rows.
//
// Records (one JSON object per line):
//   {"messages": [{"role": "system"|"user"|"assistant"|…, "content": "…"}, …]}   loss on every assistant turn
//   {"prompt": P, "completion": C}                                                  loss on the completion
// P and C are strings (a user turn and an assistant turn) or message lists (TRL's conversational prompt-completion
// form: P the turns before, C the assistant turn(s)). The model's chat template renders the conversation; the
// completion tokens are found as TRL 1.16 finds them: the tokens of the rendering with the prompt alone (and a
// generation prompt) are compared with those of the whole conversation, and the completion starts where the two
// first differ. A model without a chat template (llama2.c) takes string pairs only, as plain text: the ids of
// prompt + completion with the tokenizer's BOS, then EOS (TRL's non-conversational form).
// Texts are tokenised without special tokens (apply_chat_template's tokenize=True), then cut to max_seq_len from the
// right (TRL's truncation). A record left with nothing to learn is dropped with a warning (counted in the stats).
//
// A teacher's tokens (what `distill sft --kd` writes; trainer/distill/README.md):
//   {"prompt": P, "assistant_prefix": S, "completion": C, "completion_ids": [T ids],
//    "teacher_topk": {"ids": [[K ids] x T], "logprobs": [[K logprobs] x T]}}
// The completion is the teacher's own token ids, not C re-tokenised, so each position lines up with the teacher's
// top-K recorded for it. The prompt is rendered as the teacher was given it (harness/render_prompt.h: the chat
// template's generation prompt, then S; without a template one line per turn, then S, with BOS), the ids follow,
// and every one of them is learned. The student's tokenizer must be the teacher's: every id is inside its vocabulary
// and the ids decode (after the prompt, as the engine decodes) to text that starts with C (C is the teacher's text,
// cut before a stop string) — else an InputError naming `completion_ids`; "teacher_prompt_tokens" (optional) must
// equal the student's prompt length. `teacher_topk` (optional; id -1 pads a
// position with fewer than K alternatives) gives the KD targets; a file has it on every record or on none, with one K.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/text/chat_template.h"
#include "model/text/tokenizer.h"

namespace crucible::trainer {

struct SftExample {
  std::vector<text::TokenId> ids;
  std::vector<uint8_t> learn;  // learn[t] = 1: token t is a completion token, predicted from tokens < t
  std::string where;           // "file:line"
  // With a teacher's top-K (teacher_k > 0): [ids.size() * teacher_k], entries t*K..t*K+K-1 are the teacher's K most
  // likely tokens (and logprobs) at the position that predicts token t; id -1 where there is none (prompt tokens).
  int64_t teacher_k = 0;
  std::vector<int32_t> teacher_ids;
  std::vector<float> teacher_logprobs;
  int64_t targets() const;     // completion tokens with a token before them (what the loss counts)
};

struct SftDataStats {
  int64_t records = 0, truncated = 0, dropped = 0;
  int64_t tokens = 0, targets = 0;
};

// InputError naming file:line and the field for a record that is not one of the forms above.
std::vector<SftExample> load_sft_data(const std::string& path, const text::Tokenizer& tokenizer,
                                      const text::ChatTemplate* chat_template, int64_t max_seq_len,
                                      SftDataStats* stats = nullptr);

// The order examples are seen in: `steps` batches (or, with steps = 0, every batch of `epochs` passes; a fraction
// of an epoch takes that share of its batches, rounded up). Each epoch is a fresh shuffle (seed + epoch); a batch
// takes examples in that order until their tokens reach `batch_tokens` (at least one example per batch).
std::vector<std::vector<size_t>> plan_batches(const std::vector<SftExample>& data, int64_t batch_tokens,
                                              int64_t steps, double epochs, uint64_t seed);

// Packs a batch's examples into rows of at most `row_tokens` tokens (best fit, longest first). Without packing
// (`pack` false) each example is its own row.
std::vector<std::vector<size_t>> pack_rows(const std::vector<SftExample>& data, const std::vector<size_t>& batch,
                                           int64_t row_tokens, bool pack);

}  // namespace crucible::trainer
