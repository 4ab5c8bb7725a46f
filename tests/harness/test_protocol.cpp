#include <gtest/gtest.h>

#include "core/error.h"
#include "harness/protocol.h"

using namespace crucible;
using namespace crucible::harness;

TEST(Protocol, R1PresetFollowsThePaper) {
  auto c = resolve_config("r1", find_suite("aime24"), {});
  EXPECT_DOUBLE_EQ(c.sampling.temperature, 0.6);
  EXPECT_DOUBLE_EQ(c.sampling.top_p, 0.95);
  EXPECT_EQ(c.sampling.max_new_tokens, 32768);
  EXPECT_EQ(c.sampling.samples, 64);
  EXPECT_FALSE(c.prompt.system.has_value());
  EXPECT_EQ(c.prompt.assistant_prefix, "<think>\n");
  EXPECT_EQ(resolve_config("r1", find_suite("math500"), {}).sampling.samples, 4);
  EXPECT_EQ(resolve_config("r1", find_suite("gpqa_diamond"), {}).sampling.samples, 8);
  EXPECT_EQ(resolve_config("r1", find_suite("livecodebench"), {}).sampling.samples, 16);
  EXPECT_EQ(resolve_config("r1", find_suite("gsm8k"), {}).sampling.samples, 4);
}

TEST(Protocol, OverridesAndValidation) {
  Overrides o;
  o.samples = 8;
  o.temperature = 1.0;
  o.max_new_tokens = 512;
  auto c = resolve_config("r1", find_suite("gsm8k"), o);
  EXPECT_EQ(c.sampling.samples, 8);
  EXPECT_DOUBLE_EQ(c.sampling.temperature, 1.0);
  EXPECT_EQ(to_json(c)["sampling"]["max_new_tokens"], 512);
  auto g = resolve_config("greedy", find_suite("aime24"), {});
  EXPECT_EQ(g.sampling.samples, 1);
  EXPECT_DOUBLE_EQ(g.sampling.temperature, 0.0);
  EXPECT_THROW(resolve_config("fast", find_suite("aime24"), {}), InputError);
  Overrides bad;
  bad.top_p = 1.5;
  EXPECT_THROW(resolve_config("r1", find_suite("aime24"), bad), InputError);
}

TEST(Protocol, MathPromptEndsWithTheR1Suffix) {
  Problem p;
  p.question = "What is 1+1?";
  auto c = resolve_config("r1", find_suite("math500"), {});
  auto b = build_prompt(p, find_suite("math500"), c.prompt);
  ASSERT_EQ(b.messages.size(), 1u);  // no system prompt
  EXPECT_EQ(b.messages[0].role, "user");
  EXPECT_EQ(b.messages[0].content,
            "What is 1+1?\nPlease reason step by step, and put your final answer within \\boxed{}.");
  EXPECT_EQ(b.assistant_prefix, "<think>\n");
}

TEST(Protocol, ChoicePromptPermutesOptionsAndTracksTheGoldLetter) {
  Problem p;
  p.question = "Q";
  p.meta["options"] = {"right", "w1", "w2", "w3"};
  auto c = resolve_config("r1", find_suite("gpqa_diamond"), {});
  auto b = build_prompt(p, find_suite("gpqa_diamond"), c.prompt, {2, 0, 3, 1});
  EXPECT_EQ(b.gold_letter, std::optional<std::string>("B"));
  EXPECT_NE(b.messages[0].content.find("A) w2\nB) right\nC) w3\nD) w1"), std::string::npos) << b.messages[0].content;
  EXPECT_NE(b.messages[0].content.find("'Answer: $LETTER'"), std::string::npos);
}

TEST(Protocol, LiveCodeBenchUsesTheOfficialPrompt) {
  Problem p;
  p.question = "Sum two numbers.";
  p.meta["starter_code"] = "class Solution:\n    def add(self, a, b):";
  auto c = resolve_config("r1", find_suite("livecodebench"), {});
  auto b = build_prompt(p, find_suite("livecodebench"), c.prompt);
  ASSERT_EQ(b.messages.size(), 2u);
  EXPECT_EQ(b.messages[0].role, "system");
  EXPECT_NE(b.messages[1].content.find("### Format: You will use the following starter code"), std::string::npos);
  EXPECT_NE(b.messages[1].content.find("### Answer: (use the provided format with backticks)"), std::string::npos);
  p.meta["starter_code"] = "";
  auto s = build_prompt(p, find_suite("livecodebench"), c.prompt);
  EXPECT_NE(s.messages[1].content.find("Read the inputs from stdin"), std::string::npos);
}
