// Multiple-choice grading (GPQA and alike): find the chosen letter in a response, compare it with the gold letter,
// and shuffle the options deterministically per question and repeat.
//
// Extraction rules, in order (the first that finds a letter wins; within a rule the last occurrence counts, since
// models restate the final choice at the end):
//   answer_colon   "Answer: C" (simple-evals' pattern, also **Answer:** C, Answer: $C$, Answer: (C))
//   boxed          \boxed{C}, \boxed{\text{(C)}}
//   answer_is      "the answer is (C)", "correct option is C", "answer would be **C**"
//   parenthesized  the last "(C)"
//   bare_letter    the answer text (or its last line) is only a letter: "C", "C.", "**C**"
//   option_text    the final answer equals one option's text (math-aware: "1/2" matches an option "0.5"); needs the
//                  option texts in the order they were shown
// A hedge is no choice (nullopt), so it can never pay for two golds: two letters offered together ("Answer: A or B",
// "A, B, C, D", "(A) (B) (C) (D)", "\boxed{A}\boxed{B}"). Several answer lines or one letter per line give the
// last one, a single choice. Rules per case: tests/verifiers/reward_hacks/choice.jsonl.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crucible::verifiers {

inline constexpr std::string_view kChoiceGraderVersion = "choice-2";

enum class ChoiceRule { answer_colon, boxed, answer_is, parenthesized, bare_letter, option_text, none };
std::string_view choice_rule_name(ChoiceRule rule);

enum class ChoiceOutcome { correct, wrong, unparsed, unfinished };
std::string_view choice_outcome_name(ChoiceOutcome outcome);

struct ChoiceGradeOptions {
  int n_options = 4;               // letters A.. up to this many
  bool assume_think_open = false;  // the prompt ended with "<think>\n"
  bool grade_unfinished = false;
};

struct ChoiceVerdict {
  bool correct = false;
  std::optional<char> extracted;
  ChoiceRule rule = ChoiceRule::none;
  ChoiceOutcome outcome = ChoiceOutcome::unparsed;
  std::string reason;
  std::string_view grader_version = kChoiceGraderVersion;
};

struct ChoiceExtraction {
  char letter;
  ChoiceRule rule;
};
// `options`: the option texts in the order shown (A first); may be empty (then option_text never fires).
std::optional<ChoiceExtraction> extract_choice(std::string_view answer_text, int n_options,
                                               const std::vector<std::string>& options = {});

// `gold_letter` in 'A'..; lower case is accepted.
ChoiceVerdict grade_choice(std::string_view response, char gold_letter, const std::vector<std::string>& options = {},
                           const ChoiceGradeOptions& grade_options = {});

// The order in which to show the options of one question on one repeat: result[shown_position] = original index.
// Seeded by SHA-256 of (question_id, repeat_index), so every question and every repeat gets its own permutation and
// the same one on every machine (one permutation for all questions biases the gold position: Evalchemy #155).
std::vector<int> choice_permutation(std::string_view question_id, int repeat_index, int n_options);

}  // namespace crucible::verifiers
