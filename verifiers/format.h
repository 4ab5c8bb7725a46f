// R1's format reward: is a completion shaped `<think>reasoning</think>answer`?
//
// DeepSeek-R1 (§2.2.2) pairs its accuracy reward with a format reward that pays a completion for putting its
// reasoning between think tags and its answer after them. A policy optimised against that reward learns whatever the
// check lets through, so the rule here is strict and whole-text, not a regex that matches a prefix:
//
//   well-formed  ⇔  [ws] <think> R </think> A     with exactly one <think> and one </think> in the whole completion,
//                   R and A each containing a non-whitespace character, and nothing but whitespace before <think>.
//
// - `think_opened_by_prompt`: R1's chat template ends the prompt with "<assistant><think>\n", so the completion starts
//   inside the reasoning: it must then contain no `<think>` at all (a second opening tag is a duplicate) and exactly
//   one `</think>`.
// - Any tag-like variant counts as a tag: `<Think>`, `</ THINK >`, `<think >`, case-insensitive with inner spaces.
//   Otherwise a policy could open a second "think" block after its answer in a spelling the split ignores.
// - Tags inside code fences or quotes still count. The format has no escaping, and the grader's own split
//   (`split_response`) does not look at fences either; a completion that needs to talk about the tags in its answer
//   loses the format reward, which is the price of a check that cannot be fooled by a fence.
// - The completion is the decoded text without the end-of-sequence token; a completion cut by the length limit is
//   for the caller to score (R1's format reward does not see finish_reason; GRPO masks or zeroes truncated ones).
//
// Not checked: whether the answer is right (the accuracy reward does that), or whether the reasoning is reasoning.
//
// Rule `answer` (opt-in; `r1` above stays the default so an R1 reproduction pays what R1 paid). R1's rule is a reward
// hack waiting to be found: GRPO on the demo's student at lr 3e-3 converged on the 5-token `++</think>}`, well-formed
// under `r1` (visible reasoning, visible answer) and answering nothing (benchmarks/demo/README.md). `answer` adds:
// - the answer after </think> holds a final answer that the suite's verifier EXTRACTS (math: a marker rule of the
//   suite's chain — box, answer phrase, Answer: line, #### — not a fallback guess such as the last number; choice: a
//   letter the choice extractor finds; code: a block the code extractor takes). The caller says so in
//   `final_answer_extracted`: it runs the grader anyway for the accuracy reward, so the format check reads the very
//   extraction that accuracy graded, and no parsing is copied here. Whether that answer is right stays the accuracy
//   reward's job.
// - the reasoning holds a word character: an ASCII letter or digit, or a letter of a common non-Latin script (see
//   format.cpp). A floor, not a judgement: it rejects a think block of pure punctuation (`++`, `...`, `→`), the shape
//   the hack took, at no cost to any real reasoning ("7+5=12" has digits). A minimum length would be a threshold for
//   the policy to meet with filler, and would wrongly fail short true reasoning on easy problems.
#pragma once
#include <optional>
#include <string_view>

namespace crucible::verifiers {

enum class FormatIssue {
  ok,
  no_close_tag,          // no </think>: the reasoning never ended, so there is no answer
  no_open_tag,           // </think> without a preceding <think> (and the prompt did not open it)
  text_before_open,      // something other than whitespace precedes <think>
  duplicate_open,        // more than one <think> (or one when the prompt already opened it)
  duplicate_close,       // more than one </think>
  close_before_open,     // </think> comes before <think>
  empty_reasoning,       // nothing but whitespace between the tags
  empty_answer,          // nothing but whitespace after </think>
  // Rule `answer` only, checked after all of the above:
  reasoning_without_words,  // the reasoning holds no word character (`++`)
  no_final_answer,          // the suite's verifier extracts no final answer from the text after </think>
};

enum class FormatRule {
  r1,      // R1's: the shape above (default)
  answer,  // r1's, plus a word character in the reasoning and an extractable final answer after </think>
};

struct FormatOptions {
  bool think_opened_by_prompt = false;  // the prompt ended with "<think>\n" (R1 chat template)
  FormatRule rule = FormatRule::r1;
  // Rule `answer`: whether the suite's verifier extracted a final answer from this completion (the caller's grade).
  // Read only once the shape is otherwise right, so it is about the one answer after the one </think>; false (the
  // default) fails closed.
  bool final_answer_extracted = false;
};

struct FormatVerdict {
  FormatIssue issue = FormatIssue::ok;
  bool well_formed() const { return issue == FormatIssue::ok; }
};

FormatVerdict check_format(std::string_view completion, const FormatOptions& options = {});

// 1.0 for a well-formed completion, 0.0 otherwise (R1 uses a binary format reward).
double format_reward(std::string_view completion, const FormatOptions& options = {});

// Stable snake_case name of an issue, for logs and metrics ("ok", "empty_answer", ...).
std::string_view format_issue_name(FormatIssue issue);

// "r1" / "answer", and back (nullopt for any other name).
std::string_view format_rule_name(FormatRule rule);
std::optional<FormatRule> parse_format_rule(std::string_view name);

}  // namespace crucible::verifiers
