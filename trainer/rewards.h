// GRPO's rewards, torch-free: every term of a sample's reward computed and kept apart, then weighted and summed.
//
//   accuracy  the suite's grader (harness/graders.h: math, choice, code in the sandbox), called exactly as `crucible
//             eval` calls it, finish_reason included (a math answer cut by the length limit counts only if marked):
//             1 correct, 0 otherwise;
//   format    R1's format reward (verifiers/format.h: `<think>reasoning</think>answer`, strict, whole-text; when the
//             prompt already opened the think block, the completion must close it exactly once): 1 or 0. Under
//             `format_rule` answer (opt-in) the reasoning must also hold a word character and the answer a final
//             answer that the accuracy grader extracted (math: a box or another marker of the suite's chain; choice:
//             a letter; code: a block): R1's rule pays `++</think>}`, which a GRPO run found and farmed;
//   overlong  DAPO's soft overlong punishment (off by default): 0 up to max_tokens - buffer tokens, then falling
//             linearly to -1 at max_tokens (and -1 for a completion cut by the length limit).
//   total     accuracy_weight * accuracy + format_weight * format + overlong_weight * overlong.
// Defaults: R1's rule-based reward is accuracy + format with equal weights (DeepSeek-R1, Nature 2025, Methods:
// Reward_rule = Reward_acc + Reward_format); DAPO's shaping uses a 4,096-token buffer of 20,480 (DAPO §3.4).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "harness/grader.h"
#include "harness/graders.h"
#include "harness/protocol.h"
#include "harness/suite.h"
#include "verifiers/format.h"

namespace crucible::trainer {

struct RewardConfig {
  double accuracy_weight = 1.0;
  double format_weight = 1.0;
  verifiers::FormatRule format_rule = verifiers::FormatRule::r1;  // R1's; `answer` closes the `++</think>}` hack
  bool overlong_shaping = false;
  int64_t overlong_buffer = 4096;  // DAPO's L_cache
  double overlong_weight = 1.0;

  void validate(const std::string& where) const;  // InputError naming the field
  nlohmann::json to_json() const;
};

struct RewardTerms {
  double accuracy = 0, format = 0, overlong = 0, total = 0;
  bool correct = false;
  std::string verdict;                 // the grader's (correct | wrong | unparsed | <code verdicts> ...)
  std::string format_issue;            // verifiers::format_issue_name
  std::optional<std::string> extracted;
  harness::GradeOutcome outcome;       // the whole grade, stored with the sample like eval's
  nlohmann::json to_json() const;      // {"accuracy", "format", "overlong", "total", "verdict", "format_issue"}
};

// `--format-rule` r1|answer; InputError naming the flag otherwise.
verifiers::FormatRule parse_format_rule_flag(const std::string& s);

// Whether a grade extracted a final answer (what FormatRule::answer asks of the text after </think>), read off the
// grade so nothing is parsed twice: math, a non-blank answer found by a marker rule (verifiers::is_marker_rule: box,
// answer phrase, Answer: line, ####; not the last-number or last-math fallbacks); choice, the letter the choice
// extractor found; code, a code block (detail.code_found).
bool final_answer_extracted(const harness::GradeOutcome& outcome);

// DAPO's R_length(|y|) for a completion of `tokens` tokens under a limit of `max_tokens` with `buffer` tokens of
// warning: 0, then ((max - buffer) - tokens) / buffer, and -1 past the limit.
double overlong_penalty(int64_t tokens, int64_t max_tokens, int64_t buffer);

class Rewarder {
 public:
  // `grader` is the suite's (harness::make_grader), shared with nothing else that mutates it (graders are
  // thread-safe).
  Rewarder(std::shared_ptr<harness::Grader> grader, RewardConfig config);
  // Thread-safe (the grading pool calls it concurrently).
  RewardTerms score(const harness::Problem& problem, const harness::BuiltPrompt& prompt, const std::string& completion,
                    const std::string& finish_reason, int64_t completion_tokens, int64_t max_tokens) const;
  const RewardConfig& config() const { return config_; }

 private:
  std::shared_ptr<harness::Grader> grader_;
  RewardConfig config_;
};

}  // namespace crucible::trainer
