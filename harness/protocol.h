// Protocol presets and prompt building. A preset fills every sampling and prompt setting; any flag overrides one
// value; the resolved config (every default written out) is stored with the run, and its hash is part of the run's
// identity, so changing any of it is a different run.
//
//   r1      temperature 0.6, top-p 0.95, 32,768 new tokens, k per suite (AIME 64, MATH-500 4, GPQA 8,
//           LiveCodeBench 16, others 4), no system prompt, the math suffix "Please reason step by step, and put your
//           final answer within \boxed{}.", the assistant turn opened with "<think>\n".
//   greedy  k = 1, temperature 0, same prompts as r1.
// Suite prompt styles: simple-evals (GPQA), lcb (LiveCodeBench's official prompt and system message),
// humaneval (complete the function), mbpp (DeepSeek-Coder's task + tests prompt), r1-math.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "harness/suite.h"
#include "model/sampling.h"

namespace crucible::harness {

// The engine's sampling settings (model/sampling.h: temperature, top-p/k, min-p, max_new_tokens, stop, logprobs,
// top_logprobs; `seed` here is the run's seed, from which each sample's own is derived) plus k, with r1's defaults.
struct SamplingConfig : model::SamplingParams {
  int64_t samples = 4;   // k per problem
  SamplingConfig() {
    temperature = 0.6;
    top_p = 0.95;
    max_new_tokens = 32768;
  }
};

struct PromptConfig {
  std::string style;                  // r1-math, simple-evals, lcb, humaneval, mbpp
  std::optional<std::string> system;  // none under r1
  std::string assistant_prefix;       // "<think>\n" under r1: the response starts inside the reasoning
};

struct EvalConfig {
  std::string preset;
  std::string suite;
  SamplingConfig sampling;
  PromptConfig prompt;
  int64_t limit = 0;  // first N problems (0: all)
};

// Flags a user may set on top of a preset; unset means "the preset's value".
struct Overrides {
  std::optional<double> temperature, top_p, min_p;
  std::optional<int64_t> top_k, max_new_tokens, samples, limit;
  std::optional<uint64_t> seed;
  std::optional<std::string> system;
  std::optional<std::string> assistant_prefix;  // "" for instruct models that do not think in <think> blocks
};

EvalConfig resolve_config(const std::string& preset, const SuiteInfo& suite, const Overrides& overrides);
nlohmann::json to_json(const EvalConfig& c);
// The inverse of to_json, for configs read back from the store; InputError naming `where` and the field.
EvalConfig eval_config_from_json(const nlohmann::json& j, const std::string& where);

struct ChatTurn {
  std::string role;
  std::string content;
};

struct BuiltPrompt {
  std::vector<ChatTurn> messages;  // rendered by the model's own chat template
  std::string assistant_prefix;    // appended after the generation prompt
  // Choice suites: the letter of the correct option in this sample's order, and the order itself.
  std::optional<std::string> gold_letter;
  std::vector<int> option_order;
};

// `option_order` (choice suites only): the permutation of the stored options for this sample, from the verifier's
// deterministic per-(question, sample) shuffle.
BuiltPrompt build_prompt(const Problem& problem, const SuiteInfo& suite, const PromptConfig& config,
                         const std::vector<int>& option_order = {});

}  // namespace crucible::harness
