// GRPO rewards: accuracy through the suite's own grader (as eval grades), R1's format reward on the completion after
// the "<think>\n" prefix, DAPO's overlong shaping, the weighted total, and each term kept apart.
#include <gtest/gtest.h>

#include "core/error.h"
#include "harness/graders.h"
#include "trainer/rewards.h"

namespace crucible::trainer {
namespace {

struct Fixture {
  harness::SuiteInfo suite = harness::find_suite("gsm8k");
  harness::EvalConfig config = harness::resolve_config("r1", suite, {});
  harness::Problem problem;
  harness::BuiltPrompt prompt;
  Fixture() {
    problem.key = "p0";
    problem.question = "What is 6 times 7?";
    problem.gold = "42";
    prompt = harness::build_prompt(problem, suite, config.prompt);
  }
  Rewarder rewarder(RewardConfig c = {}) { return Rewarder(harness::make_grader(suite, config), c); }
};

TEST(Rewards, AccuracyAndFormatAreSeparateTerms) {
  Fixture f;
  ASSERT_EQ(f.prompt.assistant_prefix, "<think>\n");
  auto r = f.rewarder();
  auto both = r.score(f.problem, f.prompt, "6 * 7 = 42.\n</think>\nThe answer is \\boxed{42}.", "stop", 20, 100);
  EXPECT_EQ(both.accuracy, 1.0);
  EXPECT_EQ(both.format, 1.0);
  EXPECT_EQ(both.total, 2.0);
  EXPECT_EQ(both.verdict, "correct");

  auto wrong = r.score(f.problem, f.prompt, "6 * 7 = 43.\n</think>\n\\boxed{43}", "stop", 20, 100);
  EXPECT_EQ(wrong.accuracy, 0.0);
  EXPECT_EQ(wrong.format, 1.0);
  EXPECT_EQ(wrong.total, 1.0);

  // The think block never closed: no format reward, and (as eval grades R1's open <think>) no answer either.
  auto unclosed = r.score(f.problem, f.prompt, "6 * 7 = 42, so \\boxed{42}", "stop", 20, 100);
  EXPECT_EQ(unclosed.accuracy, 0.0) << unclosed.verdict;
  EXPECT_EQ(unclosed.format, 0.0);
  EXPECT_EQ(unclosed.format_issue, "no_close_tag");
  auto reopened = r.score(f.problem, f.prompt, "<think>x</think>\n\\boxed{42}", "stop", 20, 100);
  EXPECT_EQ(reopened.format, 0.0);
  EXPECT_EQ(reopened.accuracy, 1.0) << reopened.verdict;  // right answer, wrong shape: the terms stay apart
  EXPECT_EQ(reopened.format_issue, "duplicate_open");
}

TEST(Rewards, WeightsAndOverlongShaping) {
  Fixture f;
  RewardConfig c;
  c.format_weight = 0.5;
  c.overlong_shaping = true;
  c.overlong_buffer = 40;
  auto r = f.rewarder(c);
  const std::string good = "42\n</think>\n\\boxed{42}";
  EXPECT_DOUBLE_EQ(r.score(f.problem, f.prompt, good, "stop", 60, 100).total, 1.5);    // within max - buffer
  auto late = r.score(f.problem, f.prompt, good, "stop", 80, 100);                   // 20 tokens into the buffer
  EXPECT_DOUBLE_EQ(late.overlong, -0.5);
  EXPECT_DOUBLE_EQ(late.total, 1.0);
  EXPECT_DOUBLE_EQ(r.score(f.problem, f.prompt, good, "length", 100, 100).overlong, -1.0);
  EXPECT_DOUBLE_EQ(overlong_penalty(60, 100, 40), 0.0);
  EXPECT_DOUBLE_EQ(overlong_penalty(70, 100, 40), -0.25);
  EXPECT_DOUBLE_EQ(overlong_penalty(101, 100, 40), -1.0);

  RewardConfig bad;
  bad.overlong_shaping = true;
  bad.overlong_buffer = 0;
  EXPECT_THROW(bad.validate("grpo"), InputError);
}

TEST(Rewards, TruncatedMathAnswerCountsOnlyWhenMarked) {
  Fixture f;
  auto r = f.rewarder();
  // Cut by the length limit mid-reasoning: the grader (as in eval) does not take a bare trailing number.
  auto cut = r.score(f.problem, f.prompt, "Let me think: 6 * 7 = 42", "length", 100, 100);
  EXPECT_EQ(cut.accuracy, 0.0);
  EXPECT_EQ(cut.format, 0.0);
}

}  // namespace
}  // namespace crucible::trainer
