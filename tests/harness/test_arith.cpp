// The generated task family (harness/arith.h): the same seed gives the same files, the splits are disjoint and cover
// the space, the solver's solutions grade correct through the suite's own grader (as eval grades), wrong answers
// grade wrong, and the suites load what `write_arith` wrote.
#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "core/json_io.h"
#include "harness/arith.h"
#include "harness/graders.h"
#include "harness/protocol.h"
#include "harness/suite.h"
#include "tests/support/test_support.h"

using namespace crucible;
using namespace crucible::harness;

TEST(Arith, SolverWritesStepsAndAnswer) {
  auto p = solve_arith("7+5-13");
  EXPECT_EQ(p.question, "Compute 7+5-13.");
  EXPECT_EQ(p.answer, "-1");
  EXPECT_EQ(p.reasoning, "7+5=12\n12-13=-1\n");
  EXPECT_EQ(p.solution, "7+5=12\n12-13=-1\n</think>\n\\boxed{-1}");
  EXPECT_THROW(solve_arith("7*5"), InputError);
  EXPECT_THROW(solve_arith("7"), InputError);
  EXPECT_THROW(solve_arith("7+"), InputError);
}

TEST(Arith, SameSeedSameSplitsOtherSeedOtherSplits) {
  ArithSpec spec;
  spec.seed = 3;
  auto a = generate_arith(spec), b = generate_arith(spec);
  ASSERT_EQ(a.test.size(), 200u);
  ASSERT_EQ(a.train.size(), 9u * 9 * 9 * 4 - 200);
  for (size_t i = 0; i < a.test.size(); ++i) EXPECT_EQ(a.test[i].id, b.test[i].id);
  for (size_t i = 0; i < a.train.size(); ++i) EXPECT_EQ(a.train[i].id, b.train[i].id);
  spec.seed = 4;
  auto c = generate_arith(spec);
  size_t same = 0;
  for (size_t i = 0; i < a.test.size(); ++i) same += a.test[i].id == c.test[i].id;
  EXPECT_LT(same, 10u) << "another seed draws another test split";
}

TEST(Arith, SplitsAreDisjointAndCoverTheSpace) {
  ArithSpec spec;
  spec.seed = 11;
  spec.test_size = 300;
  auto s = generate_arith(spec);
  std::set<std::string> test, train;
  for (const auto& p : s.test) test.insert(p.question);
  for (const auto& p : s.train) train.insert(p.question);
  EXPECT_EQ(test.size(), 300u);
  EXPECT_EQ(train.size(), s.train.size()) << "no problem twice";
  for (const auto& q : test) EXPECT_EQ(train.count(q), 0u) << q;
  EXPECT_EQ(test.size() + train.size(), 2916u);
  EXPECT_THROW(generate_arith({.seed = 0, .ops = 1, .max_operand = 3, .test_size = 18}), InputError)
      << "no room left for a train split";
  EXPECT_THROW(generate_arith({.seed = 0, .ops = 0}), InputError);
}

TEST(Arith, SolverSolutionsGradeCorrectAndWrongAnswersGradeWrong) {
  const SuiteInfo& suite = find_suite("arith");
  const EvalConfig config = resolve_config("r1", suite, {});
  auto grader = make_grader(suite, config);
  auto s = generate_arith({});
  int checked = 0;
  for (const auto& a : s.test) {
    Problem p;
    p.key = a.id;
    p.question = a.question;
    p.gold = a.answer;
    BuiltPrompt prompt = build_prompt(p, suite, config.prompt);
    auto right = grader->grade(p, prompt, a.solution, "stop");
    EXPECT_TRUE(right.correct) << a.id << " " << right.verdict;
    const std::string off_by_one = std::to_string(std::stoll(a.answer) + 1);
    auto wrong = grader->grade(p, prompt, a.reasoning + "</think>\n\\boxed{" + off_by_one + "}", "stop");
    EXPECT_FALSE(wrong.correct) << a.id;
    EXPECT_EQ(wrong.verdict, "wrong");
    auto cut = grader->grade(p, prompt, a.reasoning, "length");
    EXPECT_FALSE(cut.correct) << "no answer without the end of the reasoning";
    ++checked;
  }
  EXPECT_EQ(checked, 200);
}

TEST(Arith, SuitesLoadTheWrittenFilesAndSftFilesMatchTheEvalPrompt) {
  crucible::testing::TempDir dir;
  ArithSpec spec;
  spec.seed = 5;
  spec.test_size = 50;
  auto s = generate_arith(spec);
  write_arith(s, spec, dir.path());
  auto test = load_suite(find_suite("arith"), dir.path());
  auto train = load_suite(find_suite("arith_train"), dir.path());
  ASSERT_EQ(test.problems.size(), 50u);
  ASSERT_EQ(train.problems.size(), s.train.size());
  EXPECT_EQ(test.problems[0].key, s.test[0].id);
  EXPECT_EQ(*test.problems[0].gold, s.test[0].answer);
  EXPECT_EQ(test.problems[0].meta["reasoning"], s.test[0].reasoning);

  // Same seed, same bytes.
  crucible::testing::TempDir again;
  write_arith(generate_arith(spec), spec, again.path());
  for (const char* f : {"test.jsonl", "train.jsonl", "sft_reasoning.jsonl", "sft_answer.jsonl"})
    EXPECT_EQ(read_text_file(dir.path() + "/arith/" + f), read_text_file(again.path() + "/arith/" + f)) << f;

  // The SFT prompt is the user turn eval builds; the completion starts with the r1 assistant prefix.
  const EvalConfig r1 = resolve_config("r1", find_suite("arith_train"), {});
  auto sft = read_jsonl_file(dir.path() + "/arith/sft_reasoning.jsonl");
  auto answer_only = read_jsonl_file(dir.path() + "/arith/sft_answer.jsonl");
  ASSERT_EQ(sft.size(), s.train.size());
  ASSERT_EQ(answer_only.size(), s.train.size());
  BuiltPrompt prompt = build_prompt(train.problems[0], find_suite("arith_train"), r1.prompt);
  EXPECT_EQ(sft[0]["prompt"], prompt.messages.back().content);
  EXPECT_EQ(sft[0]["completion"], "<think>\n" + s.train[0].solution);
  const std::string expr = s.train[0].id.substr(6);
  EXPECT_EQ(answer_only[0]["completion"], "<think>\n" + expr + "\n</think>\n\\boxed{" + s.train[0].answer + "}");

  // A malformed record names the file, the line and the field.
  write_text_file_atomic(dir.path() + "/arith/test.jsonl", "{\"id\": \"x\", \"question\": \"q\"}\n");
  try {
    load_suite(find_suite("arith"), dir.path());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("answer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.jsonl"), std::string::npos) << e.what();
  }
}
