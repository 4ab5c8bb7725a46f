#include "trainer/rewards.h"

#include <cmath>

#include "core/error.h"
#include "verifiers/format.h"
#include "verifiers/math/math_verifier.h"

namespace crucible::trainer {

void RewardConfig::validate(const std::string& where) const {
  for (auto [name, w] : {std::pair{"accuracy_weight", accuracy_weight}, std::pair{"format_weight", format_weight},
                         std::pair{"overlong_weight", overlong_weight}}) {
    if (!std::isfinite(w)) throw InputError(where, name, "must be a finite number");
  }
  if (overlong_shaping && overlong_buffer <= 0) throw InputError(where, "overlong_buffer", "must be > 0");
}

nlohmann::json RewardConfig::to_json() const {
  return {{"accuracy_weight", accuracy_weight},
          {"format_weight", format_weight},
          {"format_rule", std::string(verifiers::format_rule_name(format_rule))},
          {"overlong_shaping", overlong_shaping},
          {"overlong_buffer", overlong_buffer},
          {"overlong_weight", overlong_weight}};
}

nlohmann::json RewardTerms::to_json() const {
  return {{"accuracy", accuracy}, {"format", format},          {"overlong", overlong},
          {"total", total},       {"verdict", verdict},        {"format_issue", format_issue}};
}

verifiers::FormatRule parse_format_rule_flag(const std::string& s) {
  if (auto rule = verifiers::parse_format_rule(s)) return *rule;
  throw InputError("command line", "--format-rule", "expected r1 or answer, got '" + s + "'");
}

bool final_answer_extracted(const harness::GradeOutcome& outcome) {
  if (outcome.extracted) {
    if (outcome.extracted->find_first_not_of(" \t\r\n") == std::string::npos) return false;
    // Math: only an answer the model marked (box, answer phrase, Answer: line, ####). The fallbacks (the last number,
    // the last bare line, the last display or inline math) are the grader's guesses at an unmarked response: under
    // them `x</think>\boxed{ }` has an "answer" (the line `\boxed{ }` itself).
    if (outcome.grader_version.rfind("math-", 0) == 0) {
      const auto rule = outcome.detail.find("rule");
      if (rule == outcome.detail.end() || !rule->is_string()) return false;
      const auto parsed = verifiers::parse_rule_name(rule->get<std::string>());
      return parsed && verifiers::is_marker_rule(*parsed);
    }
    return true;  // choice: the letter the choice extractor found
  }
  const auto code_found = outcome.detail.find("code_found");
  return code_found != outcome.detail.end() && code_found->is_boolean() && code_found->get<bool>();
}

double overlong_penalty(int64_t tokens, int64_t max_tokens, int64_t buffer) {
  const int64_t expected = max_tokens - buffer;
  if (tokens <= expected) return 0.0;
  if (tokens <= max_tokens) return static_cast<double>(expected - tokens) / static_cast<double>(buffer);
  return -1.0;
}

Rewarder::Rewarder(std::shared_ptr<harness::Grader> grader, RewardConfig config)
    : grader_(std::move(grader)), config_(config) {}

RewardTerms Rewarder::score(const harness::Problem& problem, const harness::BuiltPrompt& prompt,
                            const std::string& completion, const std::string& finish_reason,
                            int64_t completion_tokens, int64_t max_tokens) const {
  RewardTerms t;
  t.outcome = grader_->grade(problem, prompt, completion, finish_reason);
  t.correct = t.outcome.correct;
  t.verdict = t.outcome.verdict;
  t.extracted = t.outcome.extracted;
  t.accuracy = t.correct ? 1.0 : 0.0;

  // The prompt ends with the assistant prefix: under R1 that is "<think>\n", so the completion starts inside the
  // reasoning and must close it exactly once.
  verifiers::FormatOptions fo;
  fo.think_opened_by_prompt = prompt.assistant_prefix.find("<think>") != std::string::npos;
  fo.rule = config_.format_rule;
  // The grade above read the answer after the last </think>; format checks it only when there is exactly one.
  fo.final_answer_extracted = final_answer_extracted(t.outcome);
  const auto fv = verifiers::check_format(completion, fo);
  t.format = fv.well_formed() ? 1.0 : 0.0;
  t.format_issue = std::string(verifiers::format_issue_name(fv.issue));

  if (config_.overlong_shaping) {
    // A completion the limit cut is past the limit by definition, whatever its count says.
    t.overlong = finish_reason == "length" ? -1.0
                                           : overlong_penalty(completion_tokens, max_tokens, config_.overlong_buffer);
  }
  t.total = config_.accuracy_weight * t.accuracy + config_.format_weight * t.format +
            config_.overlong_weight * t.overlong;
  return t;
}

}  // namespace crucible::trainer
