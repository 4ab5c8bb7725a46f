// The distillation funnel on crafted traces: each filter removes the trace made to fail it (and only that one), the
// duplicates keep their first copy, the funnel counts what is left after each stage, and decontamination finds a
// benchmark problem planted in a trace — for every registry suite in ../shared/data, GPQA included (by key only).
#include "trainer/distill/funnel.h"

#include <gtest/gtest.h>

#include <chrono>

#include "harness/suite.h"
#include "tests/support/test_support.h"

namespace crucible::distill {
namespace {

const std::string kPrompt = "Tom has 3 apples and buys 4 more. How many apples does he have?\nPlease reason step by "
                            "step, and put your final answer within \\boxed{}.";

Trace make(const std::string& key, int64_t index, const std::string& completion, bool correct = true) {
  Trace t;
  t.sample_id = 100 + index;
  t.suite = "prompts";
  t.problem_key = key;
  t.sample_index = index;
  t.prompt = kPrompt;
  t.completion = completion;
  t.think_opened_by_prompt = true;
  t.correct = correct;
  t.finish_reason = "stop";
  t.completion_tokens = 40;
  return t;
}

// A longer trace and a copy with two words changed: real traces run to thousands of words, where a small edit leaves
// most 5-word shingles shared (here about 0.85 of them).
const std::string kLongBody =
    "First I restate the problem in my own words to be sure I read it right. Tom owns three apples at the start. "
    "Then he goes to the market and purchases four additional apples from a stall near the station. The question "
    "asks for the total he holds afterwards, with nothing eaten or given away in between. Counting on from three by "
    "ones gives four, five, six and finally seven. As a check, four and three make seven in the other order too, "
    "since addition of whole numbers does not depend on the order. No fractions or negative counts appear anywhere. "
    "So the total number of apples in his basket at the end of the story is seven, a small whole number as "
    "expected for such a question.";
const std::string kLong = kLongBody + "\n</think>\nHe has \\boxed{7} apples.";
const std::string kLongEdited = [] {
  std::string s = kLongBody;
  s.replace(s.find("market"), 6, "shop");
  s.replace(s.find("basket"), 6, "bag");
  return s + "\n</think>\nHe has \\boxed{7} apples!";
}();

const std::string kGood =
    "Tom starts with three apples. He buys four more, so we add them: three plus four gives seven apples in all, "
    "which matches a quick recount of the bag.\n</think>\nHe has \\boxed{7} apples.";

TEST(Funnel, EachCraftedTraceFailsItsOwnFilter) {
  std::string loop;
  for (int i = 0; i < 30; ++i) loop += "Wait, let me add them again: three plus four. ";
  std::vector<Trace> traces = {
      make("a", 0, kGood),                                                       // kept
      make("a", 1, kGood, /*correct=*/false),                                    // correct
      make("a", 2, "Three plus four is seven, so the answer is \\boxed{7}."),   // format: never closes </think>
      make("a", 3, "Tom has three apples. 他又买了四个苹果，所以一共有七个苹果，我们再检查一遍这个加法。\n</think>\n"
                   "\\boxed{7}"),                                                // language
      make("a", 4, kGood),                                                       // length (cut)
      make("a", 5, loop + "\n</think>\n\\boxed{7}"),                             // repetition
      make("a", 6, kGood),                                                       // exact_dup of a/0
      make("a", 7, kLong),                                                       // kept: a new text
      make("a", 8, kLongEdited),                                                 // near_dup of a/7
      make("b", 0, kGood),  // the same text for another problem is not a duplicate
  };
  traces[4].finish_reason = "length";
  Funnel funnel;
  auto v = judge_traces(traces, FilterConfig{}, nullptr, &funnel);
  ASSERT_EQ(v.size(), traces.size());
  const std::vector<std::string> expected = {"", "correct", "format", "language", "length", "repetition",
                                             "exact_dup", "", "near_dup", ""};
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(v[i].failed_at, expected[i]) << "trace " << i << ": " << v[i].checks.dump();
    EXPECT_EQ(v[i].kept, expected[i].empty()) << i;
  }
  EXPECT_EQ(v[3].checks["language"]["prompt_script"], "latin");
  EXPECT_GT(v[3].checks["language"]["mix"].get<double>(), 0.5);
  EXPECT_EQ(v[2].checks["format"]["issue"], "no_close_tag");
  EXPECT_GT(v[8].checks["near_dup"]["similarity"].get<double>(), 0.8);
  EXPECT_LT(v[7].checks["near_dup"]["similarity"].get<double>(), 0.2);  // kLong vs kGood: different texts
  EXPECT_FALSE(v[0].checks["decontam"]["checked"].get<bool>());
  // A check is computed for every trace: the wrong one still has a verdict on its (fine) format.
  EXPECT_TRUE(v[1].checks["format"]["pass"].get<bool>());

  EXPECT_EQ(funnel.generated, 10);
  EXPECT_EQ(funnel.kept, 3);
  std::vector<int64_t> remaining;
  for (const auto& s : funnel.stages) remaining.push_back(s.remaining);
  EXPECT_EQ(remaining, (std::vector<int64_t>{9, 8, 7, 6, 5, 4, 3, 3}));
  EXPECT_EQ(funnel.stages[0].filter, "correct");
  EXPECT_EQ(funnel.stages[0].passed, 9);
  EXPECT_EQ(funnel.to_json()["stages"].size(), filter_names().size());
}

TEST(Funnel, DisabledFiltersAreReportedButDoNotGate) {
  std::vector<Trace> traces = {make("a", 0, "no think tags here", /*correct=*/false), make("a", 1, kGood)};
  FilterConfig c;
  c.enabled = {"length", "repetition"};
  Funnel funnel;
  auto v = judge_traces(traces, c, nullptr, &funnel);
  EXPECT_TRUE(v[0].kept);
  EXPECT_FALSE(v[0].checks["correct"]["pass"].get<bool>());
  EXPECT_FALSE(v[0].checks["format"]["pass"].get<bool>());
  EXPECT_EQ(funnel.kept, 2);
  EXPECT_FALSE(funnel.stages[0].enabled);
  EXPECT_EQ(funnel.stages[0].passed, 1);
}

TEST(Funnel, LengthBoundsAndValidation) {
  std::vector<Trace> traces = {make("a", 0, kGood), make("b", 0, kGood)};
  traces[1].completion_tokens = 500;
  FilterConfig c;
  c.max_tokens = 100;
  auto v = judge_traces(traces, c, nullptr, nullptr);
  EXPECT_TRUE(v[0].kept);
  EXPECT_EQ(v[1].failed_at, "length");
  c.enabled = {"nonsense"};
  EXPECT_THROW(c.validate(), std::exception);
  FilterConfig back = FilterConfig::from_json(FilterConfig{}.to_json(), "test");
  EXPECT_EQ(back.to_json(), FilterConfig{}.to_json());
}

TEST(Funnel, DecontaminationFindsAPlantedSuiteProblem) {
  CRUCIBLE_REQUIRE_SHARED();
  const std::string data = testing::shared_dir() + "/data";
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> missing;
  auto d = Decontaminator::from_registry(data, 13, &missing);
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "registry suites loaded in " << load_s << " s: " << d.suites().size() << " suites, " << missing.size()
            << " missing\n";
  EXPECT_GE(d.suites().size(), 10u);

  const auto math = harness::load_suite(harness::find_suite("math500"), data);
  const harness::Problem& planted = math.problems.at(17);
  Trace t = make("x", 0, "Let me recall a problem I saw: " + planted.question + " Anyway.\n</think>\n\\boxed{7}");
  Funnel funnel;
  auto v = judge_traces({make("x", 1, kGood), t}, FilterConfig{}, &d, &funnel);
  EXPECT_TRUE(v[0].kept) << v[0].checks.dump();
  ASSERT_EQ(v[1].failed_at, "decontam") << v[1].checks.dump();
  EXPECT_EQ(v[1].checks["decontam"]["hit"]["suite"], "math500");
  EXPECT_EQ(v[1].checks["decontam"]["hit"]["problem"], planted.key);
  EXPECT_GE(v[1].checks["decontam"]["hit"]["shared_ngrams"].get<int64_t>(), 1);

  // A trace always quotes its own source problem: that is not contamination.
  auto own = d.find(planted.question, "math500", planted.key);
  EXPECT_FALSE(own) << own->suite << " " << own->problem_key;

  // GPQA: found by its key; the hit carries no text.
  const auto gpqa = harness::load_suite(harness::find_suite("gpqa_diamond"), data);
  auto hit = d.find("Preamble. " + gpqa.problems.at(3).question, "prompts", "x");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->suite, "gpqa_diamond");
  EXPECT_EQ(hit->problem_key, gpqa.problems.at(3).key);
}

}  // namespace
}  // namespace crucible::distill
