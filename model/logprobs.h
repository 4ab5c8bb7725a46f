// Per-token log-probabilities of a generated (or scored) sequence: what GRPO needs for each rollout token, what
// distillation needs from a teacher (top-N alternatives), what serve returns as OpenAI `logprobs`. Torch-free: the
// harness, serve, the remote backend and the store use it without seeing the engine.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crucible {

struct TopLogprob {
  int32_t token_id = -1;  // -1 where a remote API reports only the token's text
  std::string text;       // the token's bytes as decoded alone (may be part of a UTF-8 sequence)
  double logprob = 0;     // under the model: log_softmax of the raw logits (temperature 1)
};

struct TokenLogprob {
  int32_t token_id = -1;  // -1 where a remote API reports only the token's text
  std::string text;
  double logprob = 0;                       // under the model: log_softmax of the raw logits (temperature 1)
  std::optional<double> sampling_logprob;   // under the distribution actually sampled from (temperature, top-k/p,
                                            // min-p applied); absent where the backend cannot know it
  std::vector<TopLogprob> top;              // top-N alternatives under the model, most likely first (N may be 0)
};

}  // namespace crucible
