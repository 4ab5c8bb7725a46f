// R1's format reward against the shapes a policy finds when it is paid for the format: every hack scores 0.
#include <gtest/gtest.h>

#include <string>

#include "verifiers/format.h"

using crucible::verifiers::check_format;
using crucible::verifiers::format_issue_name;
using crucible::verifiers::format_reward;
using crucible::verifiers::FormatIssue;
using crucible::verifiers::FormatOptions;

namespace {

std::string issue(std::string_view completion, bool opened_by_prompt = false) {
  return std::string(format_issue_name(check_format(completion, FormatOptions{opened_by_prompt}).issue));
}

}  // namespace

TEST(FormatReward, WellFormed) {
  EXPECT_EQ(issue("<think>\n2+2 is 4\n</think>\n\nThe answer is \\boxed{4}."), "ok");
  EXPECT_EQ(issue("  \n<think>x</think>y"), "ok");
  EXPECT_DOUBLE_EQ(format_reward("<think>a</think>b"), 1.0);
  // R1's template ends the prompt with "<think>\n": the completion starts inside the reasoning.
  EXPECT_EQ(issue("2+2 is 4\n</think>\n\\boxed{4}", true), "ok");
  EXPECT_DOUBLE_EQ(format_reward("r</think>a", FormatOptions{true}), 1.0);
}

TEST(FormatReward, MissingTags) {
  EXPECT_EQ(issue("The answer is 4."), "no_open_tag");
  EXPECT_EQ(issue("<think>still thinking, \\boxed{4}"), "no_close_tag");
  EXPECT_EQ(issue("still thinking \\boxed{4}", true), "no_close_tag");
  // A close tag alone: the open tag is neither in the completion nor in the prompt.
  EXPECT_EQ(issue("reasoning</think>answer"), "no_open_tag");
  EXPECT_EQ(issue(""), "no_open_tag");
  EXPECT_EQ(issue("", true), "no_close_tag");
  EXPECT_DOUBLE_EQ(format_reward("The answer is 4."), 0.0);
}

TEST(FormatReward, DuplicatedAndNestedTags) {
  EXPECT_EQ(issue("<think>a</think>b<think>c</think>d"), "duplicate_open");
  EXPECT_EQ(issue("<think>a<think>b</think>c</think>d"), "duplicate_open");  // nested
  EXPECT_EQ(issue("<think>a</think>b</think>c"), "duplicate_close");
  EXPECT_EQ(issue("<think>a</think></think>c"), "duplicate_close");
  // The prompt already opened the block: another <think> in the completion is a second one.
  EXPECT_EQ(issue("<think>a</think>b", true), "duplicate_open");
  EXPECT_EQ(issue("a</think>b</think>c", true), "duplicate_close");
  // The answer, then another think (closed or not).
  EXPECT_EQ(issue("<think>a</think>answer 4<think>more"), "duplicate_open");
  EXPECT_EQ(issue("a</think>answer 4<think>more</think>5", true), "duplicate_open");
  EXPECT_EQ(issue("</think>a<think>b"), "close_before_open");
  EXPECT_EQ(issue("</think>a<think>b</think>c"), "duplicate_close");
  EXPECT_EQ(issue("</think><think>a</think>"), "duplicate_close");
}

TEST(FormatReward, CloseBeforeOpen) { EXPECT_EQ(issue("</think>answer<think>reasoning"), "close_before_open"); }

TEST(FormatReward, TagSpellingsAllCount) {
  EXPECT_EQ(issue("<think>a</think>b<THINK>c"), "duplicate_open");
  EXPECT_EQ(issue("<think>a</think>b< Think >c"), "duplicate_open");
  EXPECT_EQ(issue("<think>a</think>b</ think>"), "duplicate_close");
  EXPECT_EQ(issue("<Think>a</THINK>b"), "ok");
  // Not tags: other words, or no closing '>'.
  EXPECT_EQ(issue("<think>a < b and thinking</think> <thinker> 4 <think"), "ok");
}

TEST(FormatReward, TagsInsideCodeFencesStillCount) {
  // The whole exchange wrapped in a fence: text before the opening tag.
  EXPECT_EQ(issue("```\n<think>a</think>\n```"), "text_before_open");
  // A fenced tag in the answer is a second tag: the format has no escaping, and the grader's split ignores fences.
  EXPECT_EQ(issue("<think>a</think>Write:\n```\n<think>\n```"), "duplicate_open");
  EXPECT_EQ(issue("<think>the tag ```</think>``` ends it</think>b"), "duplicate_close");
}

TEST(FormatReward, TextBeforeOpen) {
  EXPECT_EQ(issue("The answer is 4. <think>a</think>4"), "text_before_open");
}

TEST(FormatReward, EmptyParts) {
  EXPECT_EQ(issue("<think></think>4"), "empty_reasoning");
  EXPECT_EQ(issue("<think> \n\t </think>4"), "empty_reasoning");
  EXPECT_EQ(issue("\n</think>4", true), "empty_reasoning");
  EXPECT_EQ(issue("<think>a</think>"), "empty_answer");
  EXPECT_EQ(issue("<think>a</think>\n\n  \t"), "empty_answer");
  EXPECT_EQ(issue("a</think>  ", true), "empty_answer");
  // Invisible code points are whitespace to a reader: zero-width space, no-break space, BOM, ideographic space.
  EXPECT_EQ(issue("<think>a</think>\xE2\x80\x8B"), "empty_answer");
  EXPECT_EQ(issue("<think>a</think>\xC2\xA0\xEF\xBB\xBF\xE3\x80\x80"), "empty_answer");
  EXPECT_EQ(issue("<think>\xE2\x80\x8B</think>4"), "empty_reasoning");
  // Control characters other than whitespace are not an answer either.
  EXPECT_EQ(issue(std::string("<think>a</think>\x01\x7f", 18)), "empty_answer");
  // A visible non-ASCII answer is an answer.
  EXPECT_EQ(issue("<think>a</think>\xCF\x80"), "ok");  // π
  EXPECT_DOUBLE_EQ(format_reward("<think>a</think>   "), 0.0);
}

// Rule `answer` (opt-in): R1's shape, plus a word character in the reasoning and a final answer the suite's verifier
// extracted (the caller's grade says so in `final_answer_extracted`).
namespace {

using crucible::verifiers::FormatRule;

std::string answer_issue(std::string_view completion, bool extracted, bool opened_by_prompt = true) {
  FormatOptions o;
  o.think_opened_by_prompt = opened_by_prompt;
  o.rule = FormatRule::answer;
  o.final_answer_extracted = extracted;
  return std::string(format_issue_name(check_format(completion, o).issue));
}

}  // namespace

TEST(FormatRuleAnswer, TheDemoHackPassesR1AndFailsAnswer) {
  // GRPO on the demo's student (lr 3e-3) converged on this: R1's rule pays it.
  EXPECT_EQ(issue("++</think>}", true), "ok");
  EXPECT_EQ(answer_issue("++</think>}", false), "reasoning_without_words");
  // Even were its answer a box, punctuation is no reasoning.
  EXPECT_EQ(answer_issue("++</think>\\boxed{3}", true), "reasoning_without_words");
  // With a word in the reasoning, the answer still has to hold something the verifier extracts.
  EXPECT_EQ(answer_issue("a</think>}", false), "no_final_answer");
  EXPECT_EQ(answer_issue("7+5-3\n</think>\n\\boxed{9}", true), "ok");
}

TEST(FormatRuleAnswer, WordCharacters) {
  EXPECT_EQ(answer_issue("... -> ?!</think>4", true), "reasoning_without_words");
  EXPECT_EQ(answer_issue("\xE2\x86\x92\xE2\x80\xA6</think>4", true), "reasoning_without_words");  // →…
  EXPECT_EQ(answer_issue("\xC3\x97\xC3\xB7</think>4", true), "reasoning_without_words");          // ×÷
  EXPECT_EQ(answer_issue("\xFF\xFE</think>4", true), "reasoning_without_words");                  // invalid UTF-8
  EXPECT_EQ(answer_issue("2</think>4", true), "ok");
  EXPECT_EQ(answer_issue("\xE8\xAE\xA1\xE7\xAE\x97</think>4", true), "ok");  // 计算
  EXPECT_EQ(answer_issue("\xCE\xB1</think>4", true), "ok");                  // α
  EXPECT_EQ(answer_issue("\xEF\xBC\x97</think>4", true), "ok");              // fullwidth 7
  // R1's rule does not ask for words.
  EXPECT_EQ(issue("... -> ?!</think>4", true), "ok");
}

TEST(FormatRuleAnswer, ShapeIssuesComeFirstAndAreTheSameUnderBothRules) {
  for (bool extracted : {false, true}) {
    EXPECT_EQ(answer_issue("a</think>", extracted), "empty_answer");
    EXPECT_EQ(answer_issue("a</think>b</think>c", extracted), "duplicate_close");
    EXPECT_EQ(answer_issue("<think>a</think>b", extracted), "duplicate_open");
    EXPECT_EQ(answer_issue("no close \\boxed{4}", extracted), "no_close_tag");
    EXPECT_EQ(answer_issue("The answer: <think>a</think>4", extracted, false), "text_before_open");
    EXPECT_EQ(answer_issue("<think>a</think>b<think>c</think>d", extracted, false), "duplicate_open");
    EXPECT_EQ(answer_issue("</think>4", extracted), "empty_reasoning");
  }
  EXPECT_EQ(answer_issue("<think>a</think>4", true, false), "ok");
  // Fails closed: a caller that never says the answer was extracted gets no reward.
  FormatOptions o;
  o.rule = FormatRule::answer;
  EXPECT_DOUBLE_EQ(format_reward("<think>a</think>\\boxed{4}", o), 0.0);
}

TEST(FormatRuleAnswer, Names) {
  using crucible::verifiers::format_rule_name;
  using crucible::verifiers::parse_format_rule;
  EXPECT_EQ(format_rule_name(FormatRule::r1), "r1");
  EXPECT_EQ(parse_format_rule("answer"), FormatRule::answer);
  EXPECT_EQ(parse_format_rule("r1"), FormatRule::r1);
  EXPECT_EQ(parse_format_rule("Answer"), std::nullopt);
  EXPECT_EQ(parse_format_rule(""), std::nullopt);
  EXPECT_EQ(FormatOptions{}.rule, FormatRule::r1);  // R1's rule is the default
}

TEST(FormatRuleAnswer, StrayByteDoesNotHideALetter) {
  EXPECT_EQ(answer_issue("\xE4" "ab</think>4", true), "ok");
  EXPECT_EQ(answer_issue("\xE4" "+-</think>4", true), "reasoning_without_words");
}
