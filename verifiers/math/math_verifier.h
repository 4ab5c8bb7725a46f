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

inline constexpr std::string_view kMathGraderVersion = "math-3";

// Extraction rules, tried in the order the suite lists them; the first that finds something wins. The first group
// are markers the model wrote on purpose; display_math, inline_math and last_number are fallbacks for responses
// without one, and never run on a response that was cut off (outcome `unfinished`).
enum class ExtractRule {
  boxed,          // the last \boxed{…} or \fbox{…} (nested braces); boxes written together form one list answer
  final_answer,   // "the final answer is …" / "the answer is …" (last occurrence)
  answer_line,    // a line "Answer: …" (also **Answer:**, "**Final Answer**" then the answer); the last one
  bold,           // the last **…** span that is not a section heading ("**Step 3: …**")
  hash_marks,     // GSM8K's "#### 42"
  display_math,   // the last $$…$$ / \[…\] (its last row), unless a math answer follows it inline
  inline_math,    // the last $…$ / \(…\) with content (currency dollars are not math)
  last_number,    // the last line when it is a bare answer, else the last number or fraction in the text
  whole,          // the whole answer text (for answers that are already bare, e.g. gold strings)
  none,           // nothing fired
};
std::string_view rule_name(ExtractRule rule);
// "boxed" -> ExtractRule::boxed; nullopt for an unknown name.
std::optional<ExtractRule> parse_rule_name(std::string_view name);

enum class MathOutcome { correct, wrong, unparsed, unfinished, timeout };
std::string_view outcome_name(MathOutcome outcome);

struct MathGradeOptions {
  std::vector<ExtractRule> rules{ExtractRule::boxed,        ExtractRule::final_answer, ExtractRule::answer_line,
                                 ExtractRule::hash_marks,   ExtractRule::bold,         ExtractRule::display_math,
                                 ExtractRule::inline_math,  ExtractRule::last_number};
  bool assume_think_open = false;  // the prompt ended with "<think>\n" (R1): a response without </think> is unfinished
  bool grade_unfinished = false;   // grade the text of an unfinished response anyway (default: outcome unfinished)
  // The generation stopped at its length limit (finish_reason "length"): only a marker (box, answer phrase,
  // Answer: line, ####) counts; without one the response is `unfinished`, not a guess from the fallbacks.
  bool cut_by_length = false;
  // Decimals are exact rationals. A decimal equals a value it is not exactly (1.4142 vs \sqrt2, 0.333 vs 1/3) only
  // within this relative tolerance, which is off (0) by default; a suite's own protocol may set one.
  double decimal_tolerance = 0;
  std::chrono::microseconds budget{50'000};  // per comparison (parse both + compare)

  static MathGradeOptions math();   // the default chain: markers (box, phrase, Answer:, ####, bold), then the last
                                    // display math, inline math, number
  static MathGradeOptions gsm8k();  // the same chain (kept as a name: GSM8K's #### is in the default since math-2)
};

struct MathVerdict {
  bool correct = false;
  std::optional<std::string> extracted;  // what the rule pulled out of the response
  ExtractRule rule = ExtractRule::none;
  size_t span_begin = 0, span_end = 0;   // byte offsets in the response of the text the rule read (when extracted)
  MathOutcome outcome = MathOutcome::unparsed;
  std::string reason;  // one short line: why this outcome
  std::string_view grader_version = kMathGraderVersion;
};

struct Extraction {
  std::string text;
  ExtractRule rule = ExtractRule::none;
  size_t begin = 0, end = 0;  // byte offsets in the searched text
};
// Applies `rules` in order to `answer_text` (already split from the reasoning).
std::optional<Extraction> extract_answer(std::string_view answer_text, const std::vector<ExtractRule>& rules);
// Whether a rule is a marker the model wrote (box, answer phrase, Answer: line, ####, whole) or a fallback guess.
bool is_marker_rule(ExtractRule rule);
// A long answer text that stops mid-sentence (on a letter, an operator, a comma): cut by the length limit.
bool response_looks_cut(std::string_view answer_text);

// Grades one response against a gold answer (a bare answer string such as "\frac{1}{2}" or "(3, \infty)").
MathVerdict grade_math(std::string_view response, std::string_view gold, const MathGradeOptions& options = {});

enum class Equivalence { equal, different, unparsed, timeout };
// Compares two bare answers (a: the response's, b: the gold). Symmetric but for one reading: a response that states
// "x + y + z = 22" equals the gold 22, while a gold equation "2x + z = 1" is not matched by a bare 1. Also used for
// majority voting (cons@k) over extracted answers.
Equivalence compare_answers(std::string_view a, std::string_view b, const MathGradeOptions& options = {});
bool answers_equivalent(std::string_view a, std::string_view b, const MathGradeOptions& options = {});

// Parses one bare answer; nullopt when it cannot be parsed. Returns a canonical rendering of the parse tree (for
// tests, fuzzing and debugging; not a stable format).
std::optional<std::string> debug_parse(std::string_view answer);

}  // namespace crucible::verifiers
