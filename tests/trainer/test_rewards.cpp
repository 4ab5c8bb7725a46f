// GRPO rewards: accuracy through the suite's own grader (as eval grades), R1's format reward on the completion after
// the "<think>\n" prefix (or the stricter opt-in rule `answer`), DAPO's overlong shaping, the weighted total, and
// each term kept apart.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// Crafted completions under both format rules, through the real graders (math, choice, code in the sandbox): the
// `answer` rule pays only a completion whose answer the suite's own verifier extracts, R1's rule pays any shape. The
// format rule never moves the accuracy term.
struct Case {
  std::string completion;
  std::string r1_issue;      // format_issue under --format-rule r1
  std::string answer_issue;  // under --format-rule answer
};

void expect_cases(const harness::SuiteInfo& suite, const harness::EvalConfig& config, const harness::Problem& problem,
                  const harness::BuiltPrompt& prompt, const std::vector<Case>& cases) {
  RewardConfig answer_config;
  answer_config.format_rule = verifiers::FormatRule::answer;
  Rewarder r1(harness::make_grader(suite, config), RewardConfig{});
  Rewarder answer(harness::make_grader(suite, config), answer_config);
  for (const Case& c : cases) {
    SCOPED_TRACE(suite.name + ": " + c.completion);
    auto a = r1.score(problem, prompt, c.completion, "stop", 20, 100);
    auto b = answer.score(problem, prompt, c.completion, "stop", 20, 100);
    EXPECT_EQ(a.format_issue, c.r1_issue);
    EXPECT_EQ(a.format, c.r1_issue == "ok" ? 1.0 : 0.0);
    EXPECT_EQ(b.format_issue, c.answer_issue) << b.verdict << " " << b.outcome.detail.dump();
    EXPECT_EQ(b.format, c.answer_issue == "ok" ? 1.0 : 0.0);
    EXPECT_EQ(a.accuracy, b.accuracy);
    EXPECT_EQ(a.verdict, b.verdict);
    EXPECT_EQ(b.total, b.accuracy + b.format);
  }
}

TEST(RewardsFormatRule, Math) {
  Fixture f;
  ASSERT_EQ(f.prompt.assistant_prefix, "<think>\n");
  expect_cases(f.suite, f.config, f.problem, f.prompt,
               {
                   // The hack GRPO found on the demo's student (benchmarks/demo/README.md, lr 3e-3).
                   {"++</think>}", "ok", "reasoning_without_words"},
                   {"6 * 7 = 42.\n</think>\nThe answer is \\boxed{42}.", "ok", "ok"},
                   {"6 * 7 = 43.\n</think>\n\\boxed{43}", "ok", "ok"},  // wrong, but an answer: accuracy's job
                   {"6 * 7 = 42.\n</think>\n#### 42", "ok", "ok"},        // the suite's own pattern
                   {"6 * 7 = 42.\n</think>\nAnswer: 42", "ok", "ok"},
                   // The chain's fallbacks guess an answer here, but the model marked none: not the format.
                   {"6 * 7 = 42.\n</think>\nso it is 42", "ok", "no_final_answer"},
                   {"6 * 7 = 42.\n</think>\n$42$", "ok", "no_final_answer"},
                   {"6 times 7\n</think>\n}", "ok", "no_final_answer"},
                   {"6 times 7\n</think>\nI am not sure.", "ok", "no_final_answer"},
                   {"6 times 7\n</think>\n\\boxed{ }", "ok", "no_final_answer"},
                   {"6 * 7 = 42\n</think>\n  \n", "empty_answer", "empty_answer"},
                   {"\n</think>\n\\boxed{42}", "empty_reasoning", "empty_reasoning"},
                   {"<think>6 * 7 = 42</think>\n\\boxed{42}", "duplicate_open", "duplicate_open"},
                   {"6 * 7</think>\\boxed{42}\n<think>again</think>\\boxed{42}", "duplicate_open", "duplicate_open"},
                   {"6 * 7</think>\\boxed{42}</think>", "duplicate_close", "duplicate_close"},
                   {"6 * 7 = 42, \\boxed{42}", "no_close_tag", "no_close_tag"},
               });
  // A prompt that does not open the think block: the completion opens it, with nothing before it.
  harness::Overrides o;
  o.assistant_prefix = "";
  auto config = harness::resolve_config("r1", f.suite, o);
  auto prompt = harness::build_prompt(f.problem, f.suite, config.prompt);
  ASSERT_EQ(prompt.assistant_prefix, "");
  expect_cases(f.suite, config, f.problem, prompt,
               {
                   {"<think>6 * 7 = 42</think>\n\\boxed{42}", "ok", "ok"},
                   {"Sure. <think>6 * 7 = 42</think>\n\\boxed{42}", "text_before_open", "text_before_open"},
                   {"<think>a</think>\\boxed{42}<think>b</think>\\boxed{42}", "duplicate_open", "duplicate_open"},
                   {"<think>++</think>}", "ok", "reasoning_without_words"},
                   {"6 * 7 = 42</think>\\boxed{42}", "no_open_tag", "no_open_tag"},
               });
}

TEST(RewardsFormatRule, Choice) {
  const auto& suite = harness::find_suite("gpqa_diamond");
  auto config = harness::resolve_config("r1", suite, {});
  harness::Problem p;
  p.key = "recFMT";
  p.question = "Which city is the capital of France?";
  p.meta["options"] = {"Paris", "Lyon", "Nice", "Lille"};
  auto grader = harness::make_grader(suite, config);
  auto prompt = harness::build_prompt(p, suite, config.prompt, grader->option_order(p, 0));
  ASSERT_EQ(prompt.assistant_prefix, "<think>\n");
  const std::string gold = *prompt.gold_letter;
  const std::string other = gold == "A" ? "B" : "A";
  expect_cases(suite, config, p, prompt,
               {
                   {"++</think>}", "ok", "reasoning_without_words"},
                   {"The capital is known.\n</think>\nAnswer: " + gold, "ok", "ok"},
                   {"The capital is known.\n</think>\nAnswer: " + other, "ok", "ok"},
                   {"The capital is known.\n</think>\n\\boxed{" + gold + "}", "ok", "ok"},
                   {"Hard to say.\n</think>\nI cannot decide.", "ok", "no_final_answer"},
                   {"Hard to say.\n</think>\nAnswer: A or B", "ok", "no_final_answer"},  // a hedge is no choice
                   {"Hard to say.\n</think>\n", "empty_answer", "empty_answer"},
                   {"<think>x</think>\nAnswer: " + gold, "duplicate_open", "duplicate_open"},
               });
}

TEST(RewardsFormatRule, Code) {
  const auto& suite = harness::find_suite("mbpp");
  auto config = harness::resolve_config("r1", suite, {});
  harness::Problem p;
  p.key = "mbpp-fmt";
  p.question = "Write a function add(a, b) that returns the sum of a and b.";
  p.meta["test_list"] = {"assert add(1, 2) == 3", "assert add(-4, 4) == 0"};
  auto prompt = harness::build_prompt(p, suite, config.prompt);
  ASSERT_EQ(prompt.assistant_prefix, "<think>\n");
  const std::string code = "```python\ndef add(a, b):\n    return a + b\n```";
  expect_cases(suite, config, p, prompt,
               {
                   {"++</think>}", "ok", "reasoning_without_words"},
                   {"Sum them.\n</think>\n" + code, "ok", "ok"},
                   {"Sum them.\n</think>\n```python\ndef add(a, b):\n    return a - b\n```", "ok", "ok"},
                   {"Sum them.\n</think>\nJust return a + b.", "ok", "no_final_answer"},
                   {"Sum them.\n</think>\n```python\ndef add(a, b):\n", "ok", "no_final_answer"},  // unclosed
                   {"Sum them.\n</think>\n ", "empty_answer", "empty_answer"},
                   {"<think>Sum them.</think>\n" + code, "duplicate_open", "duplicate_open"},
               });
  // The tests ran: the right code is correct, and the rule did not change that.
  RewardConfig c;
  c.format_rule = verifiers::FormatRule::answer;
  Rewarder answer(harness::make_grader(suite, config), c);
  auto right = answer.score(p, prompt, "Sum them.\n</think>\n" + code, "stop", 20, 100);
  EXPECT_EQ(right.accuracy, 1.0) << right.verdict << " " << right.outcome.detail.dump();
  EXPECT_EQ(right.total, 2.0);
}

TEST(RewardsFormatRule, ConfigAndFlag) {
  RewardConfig c;
  EXPECT_EQ(c.format_rule, verifiers::FormatRule::r1);  // R1's rule stays the default
  EXPECT_EQ(c.to_json().at("format_rule"), "r1");
  c.format_rule = parse_format_rule_flag("answer");
  EXPECT_EQ(c.to_json().at("format_rule"), "answer");
  try {
    parse_format_rule_flag("strict");
    FAIL() << "no error for an unknown rule";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--format-rule"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("strict"), std::string::npos) << e.what();
  }
}

TEST(RewardsFormatRule, FinalAnswerExtracted) {
  harness::GradeOutcome g;
  EXPECT_FALSE(final_answer_extracted(g));
  g.extracted = " \n";
  EXPECT_FALSE(final_answer_extracted(g));
  g.extracted = "42";
  EXPECT_TRUE(final_answer_extracted(g));
  // Math: the rule that found it must be a marker.
  harness::GradeOutcome math;
  math.grader_version = "math-3";
  math.extracted = "42";
  math.detail = {{"rule", "boxed"}};
  EXPECT_TRUE(final_answer_extracted(math));
  math.detail = {{"rule", "hash_marks"}};
  EXPECT_TRUE(final_answer_extracted(math));
  math.detail = {{"rule", "last_number"}};
  EXPECT_FALSE(final_answer_extracted(math));
  math.detail = {{"rule", "inline_math"}};
  EXPECT_FALSE(final_answer_extracted(math));
  math.detail = nlohmann::json::object();
  EXPECT_FALSE(final_answer_extracted(math));
  harness::GradeOutcome code;
  code.detail = {{"code_found", false}};
  EXPECT_FALSE(final_answer_extracted(code));
  code.detail = {{"code_found", true}};
  EXPECT_TRUE(final_answer_extracted(code));
}

}  // namespace
}  // namespace crucible::trainer
