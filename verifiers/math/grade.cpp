#include <algorithm>
#include <array>

#include "verifiers/math/answer.h"
#include "verifiers/math/equivalence.h"
#include "verifiers/math/math_verifier.h"
#include "verifiers/response.h"

namespace crucible::verifiers {
namespace {

constexpr std::array<std::pair<ExtractRule, std::string_view>, 10> kRuleNames{{
    {ExtractRule::boxed, "boxed"},
    {ExtractRule::final_answer, "final_answer"},
    {ExtractRule::answer_line, "answer_line"},
    {ExtractRule::bold, "bold"},
    {ExtractRule::hash_marks, "hash_marks"},
    {ExtractRule::display_math, "display_math"},
    {ExtractRule::inline_math, "inline_math"},
    {ExtractRule::last_number, "last_number"},
    {ExtractRule::whole, "whole"},
    {ExtractRule::none, "none"},
}};

struct Compared {
  Equivalence result;
  std::string reason;
};

Compared compare_detail(std::string_view a, std::string_view b, const MathGradeOptions& options) {
  math::Budget budget(options.budget);
  try {
    // Identical up to spacing and \\left/\\right: equal without parsing (also the fast path for exact repeats).
    std::string la = math::loose_string(a), lb = math::loose_string(b);
    bool loose_equal = !la.empty() && la == lb;
    if (loose_equal) return {Equivalence::equal, "equal as text"};
    auto pa = math::parse_answer(a, budget);
    auto pb = math::parse_answer(b, budget);
    if (!pa || !pb) {
      return {Equivalence::unparsed, !pa ? "answer could not be parsed" : "gold could not be parsed"};
    }
    if (math::equivalent(*pa, *pb, budget, options)) return {Equivalence::equal, "equivalent"};
    return {Equivalence::different, "not equivalent"};
  } catch (const math::BudgetExceeded& e) {
    return {Equivalence::timeout, std::string("refused: ") + e.why};
  } catch (const std::exception& e) {
    // A grader bug must not take down a run of a million samples: report it on the verdict instead.
    return {Equivalence::unparsed, std::string("internal error: ") + e.what()};
  }
}

}  // namespace

std::string_view rule_name(ExtractRule rule) {
  for (const auto& [r, n] : kRuleNames)
    if (r == rule) return n;
  return "none";
}

std::optional<ExtractRule> parse_rule_name(std::string_view name) {
  for (const auto& [r, n] : kRuleNames)
    if (n == name && r != ExtractRule::none) return r;
  return std::nullopt;
}

std::string_view outcome_name(MathOutcome outcome) {
  switch (outcome) {
    case MathOutcome::correct: return "correct";
    case MathOutcome::wrong: return "wrong";
    case MathOutcome::unparsed: return "unparsed";
    case MathOutcome::unfinished: return "unfinished";
    case MathOutcome::timeout: return "timeout";
  }
  return "unparsed";
}

MathGradeOptions MathGradeOptions::math() { return MathGradeOptions{}; }

MathGradeOptions MathGradeOptions::gsm8k() {
  MathGradeOptions o;
  o.rules = {ExtractRule::boxed,        ExtractRule::final_answer, ExtractRule::answer_line,
             ExtractRule::hash_marks,   ExtractRule::bold,         ExtractRule::display_math,
             ExtractRule::inline_math,  ExtractRule::last_number};
  return o;
}

Equivalence compare_answers(std::string_view a, std::string_view b, const MathGradeOptions& options) {
  return compare_detail(a, b, options).result;
}

bool answers_equivalent(std::string_view a, std::string_view b, const MathGradeOptions& options) {
  return compare_answers(a, b, options) == Equivalence::equal;
}

MathVerdict grade_math(std::string_view response, std::string_view gold, const MathGradeOptions& options) {
  MathVerdict v;
  SplitResponse split = split_response(response, options.assume_think_open);
  if (split.unfinished && !options.grade_unfinished) {
    v.outcome = MathOutcome::unfinished;
    v.reason = "the reasoning never closed (no </think>)";
    return v;
  }
  std::string_view text = split.unfinished ? split.reasoning : split.answer;
  // A completion that ran on into a next chat turn ("… is 2/3. <|im_start|>user …"): the answer is before it.
  for (std::string_view stop : {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>"}) {
    size_t p = text.find(stop);
    if (p != std::string_view::npos) text = text.substr(0, p);
  }
  // A few-shot completion that goes on to invent the next example: Minerva's answer ends with "I hope it is
  // correct."; a new "Problem:"/"Question:" paragraph after the answer is the next example.
  if (size_t p = text.find("I hope it is correct"); p != std::string_view::npos) {
    size_t e = p + 20;
    if (e < text.size() && (text[e] == '.' || text[e] == '!')) ++e;
    text = text.substr(0, e);
  }
  for (std::string_view stop : {"\n\nProblem:", "\n\nQuestion:", "\n\nQ:"}) {
    size_t p = text.find(stop);
    if (p != std::string_view::npos && p > 0) text = text.substr(0, p);
  }
  // A response cut by the length limit has no answer unless it marked one: the fallbacks would only guess from the
  // middle of the working (the last number, or a bold section heading).
  bool cut = options.cut_by_length || response_looks_cut(text);
  std::vector<ExtractRule> rules;
  for (ExtractRule r : options.rules)
    if (!cut || is_marker_rule(r)) rules.push_back(r);
  std::optional<Extraction> found;
  try {
    found = extract_answer(text, rules);
  } catch (const std::exception& e) {
    // A grader bug must not take down a run: report it on the verdict.
    v.outcome = MathOutcome::unparsed;
    v.reason = std::string("internal error in extraction: ") + e.what();
    return v;
  }
  if (!found) {
    bool fallbacks = std::any_of(options.rules.begin(), options.rules.end(), [](ExtractRule r) { return !is_marker_rule(r); });
    if (cut && fallbacks) {
      v.outcome = MathOutcome::unfinished;
      v.reason = options.cut_by_length ? "cut by the length limit before a final answer"
                                       : "the response stops mid-sentence, before a final answer";
      return v;
    }
    v.outcome = MathOutcome::unparsed;
    v.reason = "no answer found";
    return v;
  }
  v.extracted = found->text;
  v.rule = found->rule;
  size_t offset = static_cast<size_t>(text.data() - response.data());
  v.span_begin = offset + found->begin;
  v.span_end = offset + found->end;
  Compared c = compare_detail(found->text, gold, options);
  switch (c.result) {
    case Equivalence::equal:
      v.correct = true;
      v.outcome = MathOutcome::correct;
      break;
    case Equivalence::different: v.outcome = MathOutcome::wrong; break;
    case Equivalence::unparsed: v.outcome = MathOutcome::unparsed; break;
    case Equivalence::timeout: v.outcome = MathOutcome::timeout; break;
  }
  v.reason = std::string(rule_name(found->rule)) + ": " + c.reason;
  return v;
}

std::optional<std::string> debug_parse(std::string_view answer) {
  math::Budget budget(std::chrono::milliseconds(200));
  try {
    auto n = math::parse_answer(answer, budget);
    if (!n) return std::nullopt;
    return math::render(*n);
  } catch (const math::BudgetExceeded&) {
    return std::nullopt;
  }
}

}  // namespace crucible::verifiers
