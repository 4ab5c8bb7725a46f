// Math answer grading: extraction from a model response, parsing of LaTeX/plain answers, equivalence.
//
// Flow: split_response (text after the last </think>) -> extract_answer (rules in a per-suite order) -> parse both
// answers into an expression tree (own recursive-descent parser) -> compare structurally (sets, tuples, intervals,
// equations, matrices, lists) down to scalars -> scalars exactly (rationals), or with GiNaC normalisation plus numeric
// spot checks. Every verdict carries kMathGraderVersion; change it whenever a verdict could change.
//
// Guarantees: thread-safe (GiNaC, whose reference counts and symbol tables are not, is only ever touched under one
// process-wide lock); every comparison stops at its time budget with outcome `timeout` (deadline checks inside the
// parser and evaluator; sizes that GiNaC or the big-integer evaluator could choke on are refused before the call,
// since those calls cannot be interrupted). Nothing here throws on bad model output: a verdict is always returned.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crucible::verifiers {

inline constexpr std::string_view kMathGraderVersion = "math-1";

// Extraction rules, tried in the order the suite lists them; the first that finds something wins.
enum class ExtractRule {
  boxed,          // the last \boxed{…} or \fbox{…} (nested braces)
  final_answer,   // "the final answer is …" / "the answer is …" (last occurrence)
  answer_line,    // a line "Answer: …" (also **Answer:**); the last one
  bold,           // the last **…** span
  hash_marks,     // GSM8K's "#### 42"
  last_number,    // the last number in the text (GSM8K-style fallback)
  whole,          // the whole answer text (for answers that are already bare, e.g. gold strings)
  none,           // nothing fired
};
std::string_view rule_name(ExtractRule rule);
// "boxed" -> ExtractRule::boxed; nullopt for an unknown name.
std::optional<ExtractRule> parse_rule_name(std::string_view name);

enum class MathOutcome { correct, wrong, unparsed, unfinished, timeout };
std::string_view outcome_name(MathOutcome outcome);

struct MathGradeOptions {
  std::vector<ExtractRule> rules{ExtractRule::boxed, ExtractRule::final_answer, ExtractRule::answer_line,
                                 ExtractRule::bold};
  bool assume_think_open = false;  // the prompt ended with "<think>\n" (R1): a response without </think> is unfinished
  bool grade_unfinished = false;   // grade the text of an unfinished response anyway (default: outcome unfinished)
  // Numbers: exact when both sides are exact; when a decimal is involved, `float_rel_tol` covers floating fuzz and a
  // decimal with >= 3 significant digits also matches a value that rounds to it (0.333 vs 1/3, 1.414 vs \sqrt2).
  double float_rel_tol = 1e-6;
  std::chrono::microseconds budget{50'000};  // per comparison (parse both + compare)

  static MathGradeOptions math();   // boxed, final answer, Answer:, bold
  static MathGradeOptions gsm8k();  // boxed, final answer, Answer:, ####, bold, last number
};

struct MathVerdict {
  bool correct = false;
  std::optional<std::string> extracted;  // what the rule pulled out of the response
  ExtractRule rule = ExtractRule::none;
  MathOutcome outcome = MathOutcome::unparsed;
  std::string reason;  // one short line: why this outcome
  std::string_view grader_version = kMathGraderVersion;
};

struct Extraction {
  std::string text;
  ExtractRule rule = ExtractRule::none;
};
// Applies `rules` in order to `answer_text` (already split from the reasoning).
std::optional<Extraction> extract_answer(std::string_view answer_text, const std::vector<ExtractRule>& rules);

// Grades one response against a gold answer (a bare answer string such as "\frac{1}{2}" or "(3, \infty)").
MathVerdict grade_math(std::string_view response, std::string_view gold, const MathGradeOptions& options = {});

enum class Equivalence { equal, different, unparsed, timeout };
// Compares two bare answers; symmetric. For majority voting (cons@k) over extracted answers.
Equivalence compare_answers(std::string_view a, std::string_view b, const MathGradeOptions& options = {});
bool answers_equivalent(std::string_view a, std::string_view b, const MathGradeOptions& options = {});

// Parses one bare answer; nullopt when it cannot be parsed. Returns a canonical rendering of the parse tree (for
// tests, fuzzing and debugging; not a stable format).
std::optional<std::string> debug_parse(std::string_view answer);

}  // namespace crucible::verifiers
