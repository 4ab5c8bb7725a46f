// The sampling settings of one request, declared once for every caller: the engine (model/engine.h), the eval
// harness (harness/protocol.h SamplingConfig extends it with k), the server (serve/protocol.h fills it from a request
// body) and `crucible generate`. Torch-free.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crucible::model {

struct SamplingParams {
  double temperature = 0.0;  // <= 0: greedy
  double top_p = 1.0;
  int64_t top_k = 0;         // 0: off
  double min_p = 0.0;        // 0: off
  int64_t max_new_tokens = 256;
  int64_t min_new_tokens = 0;  // EOS is masked out until this many tokens exist (transformers' min_new_tokens)
  std::vector<std::string> stop;  // stop strings; the text is cut before the first one found
  uint64_t seed = 0;
  bool ignore_eos = false;   // benchmarks: always generate max_new_tokens
  bool logprobs = false;     // report each generated token's logprob (model/logprobs.h TokenLogprob)
  int64_t top_logprobs = 0;  // and its N most likely alternatives under the model (0: none)
};

// The first out-of-range setting, as (field, what is wrong); nullopt when all are valid. Field names are the
// struct's; callers map them to their own spelling (a CLI flag, a JSON field).
struct SamplingProblem {
  std::string field, message;
};
inline std::optional<SamplingProblem> check_sampling(const SamplingParams& p) {
  if (!(p.temperature >= 0)) return SamplingProblem{"temperature", "must be >= 0"};
  if (!(p.top_p > 0 && p.top_p <= 1)) return SamplingProblem{"top_p", "must be in (0, 1]"};
  if (p.top_k < 0) return SamplingProblem{"top_k", "must be >= 0"};
  if (!(p.min_p >= 0 && p.min_p < 1)) return SamplingProblem{"min_p", "must be in [0, 1)"};
  if (p.max_new_tokens < 0) return SamplingProblem{"max_new_tokens", "must be >= 0"};
  if (p.min_new_tokens < 0) return SamplingProblem{"min_new_tokens", "must be >= 0"};
  if (p.top_logprobs < 0 || p.top_logprobs > 20) return SamplingProblem{"top_logprobs", "must be in 0..20"};
  return std::nullopt;
}

}  // namespace crucible::model
