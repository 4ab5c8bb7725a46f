// The suite graders as the eval loop uses them, on real suite problems from ../shared/data.
#include <gtest/gtest.h>

#include <filesystem>

#include "harness/graders.h"
#include "harness/protocol.h"
#include "harness/suite.h"
#include "tests/harness/lcb_fixture.h"
#include "tests/support/test_support.h"
#include "verifiers/math/math_verifier.h"

using namespace crucible::harness;

namespace {
std::string data_dir() { return crucible::testing::shared_dir() + "/data"; }
}

TEST(Graders, MathUsesR1ThinkHandlingAndEquivalence) {
  const auto& suite = find_suite("math500");
  auto config = resolve_config("r1", suite, {});
  auto g = make_grader(suite, config);
  Problem p;
  p.gold = "\\frac{1}{2}";
  BuiltPrompt bp;
  auto right = g->grade(p, bp, "so it is 0.5</think>\nThe answer is $\\boxed{\\dfrac12}$.");
  EXPECT_TRUE(right.correct) << right.verdict;
  EXPECT_EQ(right.grader_version, crucible::verifiers::kMathGraderVersion);
  auto unfinished = g->grade(p, bp, "I think \\boxed{\\frac{1}{2}} but wait");
  EXPECT_FALSE(unfinished.correct);
  EXPECT_EQ(unfinished.verdict, "unfinished");
  EXPECT_TRUE(g->equivalent("0.5", "\\frac{1}{2}"));
  EXPECT_FALSE(g->equivalent("1-1/e", "1+1/e"));
}

TEST(Graders, Gsm8kFallsBackToTheLastNumber) {
  const auto& suite = find_suite("gsm8k");
  auto g = make_grader(suite, resolve_config("greedy", suite, {}));
  Problem p;
  p.gold = "18";
  auto o = g->grade(p, {}, "done</think>She makes 9 * 2 = 18 dollars.");
  EXPECT_TRUE(o.correct) << o.verdict << " " << o.detail.dump();
}

TEST(Graders, EverySuiteGradesUnmarkedAnswersWithTheDefaultChain) {
  // No box, no "answer is": the last inline math of the final sentence is the answer, on every math suite.
  for (const char* name : {"aime24", "aime25", "math500", "amc23", "minerva_math", "olympiadbench", "gsm8k"}) {
    const auto& suite = find_suite(name);
    auto g = make_grader(suite, resolve_config("greedy", suite, {}));
    Problem p;
    p.gold = "\\frac{3}{4}";
    auto o = g->grade(p, {}, "done</think>\nAdding the two parts gives $\\frac{1}{2} + \\frac{1}{4} = \\frac34$.");
    EXPECT_TRUE(o.correct) << name << ": " << o.verdict << " " << o.detail.dump();
  }
}

TEST(Graders, MathCutByTheLengthLimitCountsOnlyAMarkedAnswer) {
  const auto& suite = find_suite("gsm8k");
  auto g = make_grader(suite, resolve_config("greedy", suite, {}));
  Problem p;
  p.gold = "18";
  const std::string cut = "done</think>\nFirst she sells 9 cups at 2 dollars, which is 18 dollars. Then";
  auto stopped_by_length = g->grade(p, {}, cut, "length");
  EXPECT_FALSE(stopped_by_length.correct);
  EXPECT_EQ(stopped_by_length.verdict, "unfinished") << stopped_by_length.detail.dump();
  auto marked = g->grade(p, {}, "done</think>\nSo the answer is \\boxed{18}. Let me also check", "length");
  EXPECT_TRUE(marked.correct) << marked.verdict << " " << marked.detail.dump();
}

TEST(Graders, ChoiceShufflesPerQuestionAndSample) {
  const auto& suite = find_suite("gpqa_diamond");
  auto config = resolve_config("r1", suite, {});
  auto g = make_grader(suite, config);
  Problem p;
  p.key = "recAAA";
  p.question = "Q";
  p.meta["options"] = {"right", "w1", "w2", "w3"};
  auto o0 = g->option_order(p, 0);
  ASSERT_EQ(o0.size(), 4u);
  bool differs = false;
  for (int k = 1; k < 8; ++k) differs |= g->option_order(p, k) != o0;
  EXPECT_TRUE(differs) << "one permutation for every sample would be the Evalchemy #155 bug";
  Problem q = p;
  q.key = "recBBB";
  bool per_question = false;
  for (int k = 0; k < 8; ++k) per_question |= g->option_order(q, k) != g->option_order(p, k);
  EXPECT_TRUE(per_question);
  auto bp = build_prompt(p, suite, config.prompt, o0);
  auto o = g->grade(p, bp, "reasoning</think>\nAnswer: " + *bp.gold_letter);
  EXPECT_TRUE(o.correct);
}

TEST(Graders, CodeRunsHumanEvalCanonicalSolution) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared/data not present";
  const auto& suite = find_suite("humaneval");
  auto loaded = load_suite(suite, data_dir());
  auto config = resolve_config("greedy", suite, {});
  auto g = make_grader(suite, config);
  const Problem& p = loaded.problems[0];
  std::string response = "</think>\n```python\n" + p.question + p.meta["canonical_solution"].get<std::string>() + "```";
  auto o = g->grade(p, {}, response);
  EXPECT_TRUE(o.correct) << o.verdict << " " << o.detail.dump();
  auto wrong = g->grade(p, {}, "</think>\n```python\n" + p.question + "    return None\n```");
  EXPECT_FALSE(wrong.correct);
}

TEST(Graders, FunctionNameFromStarterCode) {
  EXPECT_EQ(function_name_from_starter("class Solution:\n    def maxScore(self, nums: List[int]) -> int:\n"), "maxScore");
  EXPECT_EQ(function_name_from_starter(""), "");
}

// An official-release LiveCodeBench row (made here, private tests base64/zlib/pickle-encoded) is graded on public and
// private tests together: a program that only fits the public example fails.
TEST(Graders, LiveCodeBenchGradesPublicAndPrivateTests) {
  using crucible::testing::lcb_row;
  using crucible::testing::stdin_test;
  crucible::testing::TempDir dir;
  std::string base = dir.path() + "/livecodebench/code_generation_lite";
  std::filesystem::create_directories(base);
  for (const char* f : {"test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl"}) crucible::testing::write_jsonl(base + "/" + f, {});
  nlohmann::json pub = nlohmann::json::array({stdin_test("1 2\n", "3\n")});
  nlohmann::json priv = nlohmann::json::array({stdin_test("10 20\n", "30\n"), stdin_test("-5 5\n", "0\n")});
  nlohmann::json fn_priv = nlohmann::json::array({{{"input", "7\n8"}, {"output", "15"}, {"testtype", "functional"}}});
  nlohmann::json fn_pub = nlohmann::json::array({{{"input", "1\n2"}, {"output", "3"}, {"testtype", "functional"}}});
  crucible::testing::write_jsonl(base + "/test5.jsonl",
                                 {lcb_row("abc999_a", "2024-10-05T00:00:00", pub, priv),
                                  lcb_row("4000", "2024-11-05T00:00:00", fn_pub, fn_priv, "addTwo",
                                          "class Solution:\n    def addTwo(self, a: int, b: int) -> int:\n        ")});
  const auto& suite = find_suite("livecodebench");
  auto loaded = load_suite(suite, dir.path());
  ASSERT_EQ(loaded.problems.size(), 2u);
  auto g = make_grader(suite, resolve_config("greedy", suite, {}));
  const Problem& p = loaded.problems[0];
  auto right = g->grade(p, {}, "</think>\n```python\na, b = map(int, input().split())\nprint(a + b)\n```");
  EXPECT_TRUE(right.correct) << right.verdict << " " << right.detail.dump();
  EXPECT_EQ(right.detail["tests_total"], 3);
  auto fitted = g->grade(p, {}, "</think>\n```python\nprint(3)\n```");
  EXPECT_FALSE(fitted.correct);
  EXPECT_EQ(fitted.detail["tests_passed"], 1) << fitted.detail.dump();
  const Problem& f = loaded.problems[1];
  auto fn = g->grade(f, {}, "</think>\n```python\nclass Solution:\n    def addTwo(self, a, b):\n        return a + b\n```");
  EXPECT_TRUE(fn.correct) << fn.verdict << " " << fn.detail.dump();
  auto fn_fitted = g->grade(f, {}, "</think>\n```python\nclass Solution:\n    def addTwo(self, a, b):\n        return 3\n```");
  EXPECT_FALSE(fn_fitted.correct);
}
