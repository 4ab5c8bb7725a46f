#include <gtest/gtest.h>

#include "verifiers/response.h"

using crucible::verifiers::split_response;

TEST(SplitResponse, GradesOnlyAfterLastThinkClose) {
  auto r = split_response("<think>\nmaybe 3</think>\nso \\boxed{4}");
  EXPECT_EQ(r.reasoning, "\nmaybe 3");
  EXPECT_EQ(r.answer, "\nso \\boxed{4}");
  EXPECT_FALSE(r.unfinished);
  auto twice = split_response("<think>a</think>b</think>c");
  EXPECT_EQ(twice.answer, "c");
}

TEST(SplitResponse, UnclosedThinkIsUnfinished) {
  auto r = split_response("<think>\nthe answer is \\boxed{4} wait");
  EXPECT_TRUE(r.unfinished);
  EXPECT_TRUE(r.answer.empty());
  // The R1 prompt ends with "<think>\n", so the response itself lacks the opening tag.
  auto p = split_response("still thinking \\boxed{4}", /*assume_think_open=*/true);
  EXPECT_TRUE(p.unfinished);
  auto closed = split_response("reasoning</think>\\boxed{4}", true);
  EXPECT_FALSE(closed.unfinished);
  EXPECT_EQ(closed.reasoning, "reasoning");
  EXPECT_EQ(closed.answer, "\\boxed{4}");
}

TEST(SplitResponse, NoThinkMeansWholeResponseIsTheAnswer) {
  auto r = split_response("The answer is 5.");
  EXPECT_EQ(r.answer, "The answer is 5.");
  EXPECT_FALSE(r.unfinished);
  EXPECT_FALSE(r.has_think_open);
}
