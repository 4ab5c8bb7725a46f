// The eval loop with a deterministic backend: every sample stored once, resume after a crash reproduces an
// uninterrupted run exactly, and any change to what defines a sample makes a new run.
#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "harness/eval.h"
#include "harness/logprob_pack.h"
#include "tests/harness/fake_backend.h"
#include "tests/support/test_support.h"

using namespace crucible;
using namespace crucible::harness;
using crucible::testing::BoxedExactGrader;
using crucible::testing::FakeBackend;
using crucible::testing::TempDir;

namespace {
EvalPlan make_plan(int64_t samples, uint64_t seed = 7) {
  SuitePlan sp;
  sp.data.info = find_suite("gsm8k");
  sp.data.path = "mem";
  sp.data.sha256 = "data-sha";
  for (int i = 0; i < 6; ++i) {
    Problem p;
    p.key = "q" + std::to_string(i);
    p.idx = i;
    p.question = "What is 1+1? (" + std::to_string(i) + ")";
    p.gold = "2";
    sp.data.problems.push_back(p);
  }
  Overrides o;
  o.samples = samples;
  o.seed = seed;
  sp.config = resolve_config("r1", sp.data.info, o);
  sp.grader = std::make_shared<BoxedExactGrader>();
  EvalPlan plan;
  plan.name = "test";
  plan.preset = "r1";
  plan.suites.push_back(sp);
  return plan;
}
}  // namespace

TEST(EvalLoop, StoresEverySampleOnceAndScores) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  FakeBackend backend;
  auto summary = run_eval(backend, make_plan(4), store);
  EXPECT_EQ(summary.samples_generated, 24);
  EXPECT_EQ(store.count_samples(summary.run_id), 24);
  ASSERT_EQ(summary.suites.size(), 1u);
  const auto& s = summary.suites[0];
  EXPECT_EQ(s.problems, 6);
  EXPECT_EQ(s.samples_per_problem, 4);
  // pass@1 computed independently from the stored rows.
  int64_t correct = 0;
  for (const auto& smp : store.run_samples(summary.run_id)) correct += smp.correct.value_or(false);
  EXPECT_NEAR(s.pass1.value, correct / 24.0, 1e-12);
  EXPECT_EQ(s.pass_at_k.back().first, 4);
  EXPECT_TRUE(s.cons.has_value());
  EXPECT_EQ(store.get_run(summary.run_id)->status, "completed");
  EXPECT_FALSE(store.run_scores(summary.run_id).empty());
  // Running the identical plan again resumes the same run and generates nothing.
  FakeBackend again;
  auto second = run_eval(again, make_plan(4), store);
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(second.run_id, summary.run_id);
  EXPECT_EQ(second.samples_generated, 0);
  EXPECT_EQ(again.produced, 0);
}

// The classes score_run stores let a reader without the verifier (crucible report) recount the same cons@k.
TEST(EvalLoop, StoredAnswerClassesRecountTheSameConsAtK) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  FakeBackend backend;
  auto summary = run_eval(backend, make_plan(4), store);
  std::map<int64_t, ProblemSamples> by_problem;
  for (const auto& smp : store.run_samples(summary.run_id)) {
    ASSERT_EQ(smp.answer_class.has_value(), smp.extracted_answer.has_value()) << smp.sample_index;
    auto& p = by_problem[smp.problem_id];
    p.problem_key = std::to_string(smp.problem_id);
    p.correct.push_back(smp.correct.value_or(false));
    p.answers.push_back(smp.answer_class ? std::optional<std::string>(std::to_string(*smp.answer_class)) : std::nullopt);
  }
  std::vector<ProblemSamples> problems;
  for (auto& [id, p] : by_problem) problems.push_back(p);
  auto same = [](const std::string& a, const std::string& b) { return a == b; };
  ASSERT_TRUE(summary.suites[0].cons);
  EXPECT_DOUBLE_EQ(cons_at_k(problems, 4, same), *summary.suites[0].cons);
}

TEST(EvalLoop, ResumeAfterCrashEqualsUninterruptedRun) {
  TempDir dir;
  Store reference = Store::open(dir.file("ref.db"));
  FakeBackend clean;
  auto ref = run_eval(clean, make_plan(4), reference);

  Store store = Store::open(dir.file("c.db"));
  for (int64_t crash_after : {3, 8, 5}) {  // three crashes, each after a few more samples
    FakeBackend crashing;
    crashing.fail_after = crash_after;
    EXPECT_THROW(run_eval(crashing, make_plan(4), store), std::runtime_error);
  }
  EXPECT_EQ(store.count_samples(1), 16) << "what was handed to grading before each crash is committed";
  EXPECT_EQ(store.list_runs().size(), 1u);
  EXPECT_EQ(store.get_run(1)->status, "interrupted");
  FakeBackend rest;
  auto resumed = run_eval(rest, make_plan(4), store, std::string("1"));
  EXPECT_TRUE(resumed.resumed);
  EXPECT_EQ(store.count_samples(resumed.run_id), 24) << "every sample present exactly once";
  auto a = reference.run_samples(ref.run_id);
  auto b = store.run_samples(resumed.run_id);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].sample_index, b[i].sample_index);
    EXPECT_EQ(a[i].completion, b[i].completion) << "a resumed sample is the sample an uninterrupted run draws";
  }
  EXPECT_DOUBLE_EQ(resumed.suites[0].pass1.value, ref.suites[0].pass1.value);
  EXPECT_DOUBLE_EQ(resumed.suites[0].pass1.low, ref.suites[0].pass1.low);
}

TEST(EvalLoop, ChangedSettingsAreADifferentRun) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  FakeBackend b1, b2, b3;
  auto r1 = run_eval(b1, make_plan(2, 7), store);
  auto r2 = run_eval(b2, make_plan(2, 8), store);  // another seed
  EXPECT_NE(r1.run_id, r2.run_id);
  auto plan = make_plan(2, 7);
  plan.suites[0].config.sampling.temperature = 0.7;
  auto r3 = run_eval(b3, plan, store);
  EXPECT_NE(r3.run_id, r1.run_id);
  // --resume of a run with another identity is refused, and stores nothing.
  FakeBackend b4;
  EXPECT_THROW(run_eval(b4, make_plan(2, 9), store, std::to_string(r1.run_id)), InputError);
  EXPECT_EQ(store.list_runs().size(), 3u);
  EXPECT_EQ(b4.produced, 0);
}

TEST(EvalLoop, MoreSamplesExtendsNothingButMakesANewRun) {
  // k is part of the resolved config: asking for 8 after 4 is a new run (its pass@k curve differs), not a silent
  // extension that would mix seeds policies.
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  FakeBackend b1, b2;
  auto r4 = run_eval(b1, make_plan(4), store);
  auto r8 = run_eval(b2, make_plan(8), store);
  EXPECT_NE(r4.run_id, r8.run_id);
  EXPECT_EQ(store.count_samples(r8.run_id), 48);
}

namespace {
// Grading that fails: the process "dies" after the generations were committed but before their grades were.
class FailingGrader : public BoxedExactGrader {
 public:
  GradeOutcome grade(const Problem&, const BuiltPrompt&, const std::string&, std::string_view) override {
    throw std::runtime_error("grader crashed");
  }
};
}  // namespace

TEST(EvalLoop, GenerationsAreCommittedBeforeGradingAndGradedOnResume) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  auto failing = make_plan(4);
  failing.suites[0].grader = std::make_shared<FailingGrader>();
  FakeBackend first;
  EXPECT_THROW(run_eval(first, failing, store), std::runtime_error);
  int64_t kept = store.count_samples(1);
  EXPECT_GE(kept, 1) << "a generation is stored the moment it arrives, graded or not";
  for (const auto& s : store.run_samples(1)) EXPECT_FALSE(s.verdict.has_value());

  // The grader is not part of the identity: the same plan with a working grader resumes, grades what is stored and
  // generates only what is missing.
  FakeBackend rest;
  auto resumed = run_eval(rest, make_plan(4), store);
  EXPECT_TRUE(resumed.resumed);
  EXPECT_EQ(rest.produced, 24 - kept) << "no stored sample is generated again";
  EXPECT_EQ(store.count_samples(1), 24);
  for (const auto& s : store.run_samples(1)) EXPECT_TRUE(s.verdict.has_value()) << "sample " << s.sample_index;

  TempDir ref_dir;
  Store reference = Store::open(ref_dir.file("ref.db"));
  FakeBackend clean;
  auto ref = run_eval(clean, make_plan(4), reference);
  EXPECT_DOUBLE_EQ(resumed.suites[0].pass1.value, ref.suites[0].pass1.value);
}

TEST(EvalLoop, StoreLogprobsKeepsEachTokensLogprobsWithTheSample) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  FakeBackend plain;
  auto without = run_eval(plain, make_plan(2), store);
  for (const auto& smp : store.run_samples(without.run_id)) EXPECT_FALSE(store.sample_logprobs(smp.id).has_value());

  // Asking for logprobs does not change the run's identity: a fresh store, the same plan + store_logprobs.
  TempDir dir2;
  Store store2 = Store::open(dir2.file("c.db"));
  auto plan = make_plan(2);
  plan.store_logprobs = true;
  FakeBackend backend;
  auto with = run_eval(backend, plan, store2);
  EXPECT_EQ(store2.get_run(with.run_id)->identity, store.get_run(without.run_id)->identity);
  const auto samples = store2.run_samples(with.run_id);
  ASSERT_EQ(samples.size(), 12u);
  for (const auto& smp : samples) {
    auto packed = store2.sample_logprobs(smp.id);
    ASSERT_TRUE(packed.has_value()) << smp.id;
    auto lps = unpack_logprobs(*packed, "sample " + std::to_string(smp.id));
    ASSERT_EQ(static_cast<int64_t>(lps.size()), smp.completion_tokens);
    for (size_t t = 0; t < lps.size(); ++t) {
      ASSERT_TRUE(lps[t].sampling_logprob.has_value());
      EXPECT_NEAR(*lps[t].sampling_logprob, lps[t].logprob / 2, 1e-6);
      ASSERT_EQ(lps[t].top.size(), 2u);
      EXPECT_EQ(lps[t].top[0].token_id, lps[t].token_id);
      EXPECT_EQ(lps[t].top[1].token_id, 7);
      EXPECT_NEAR(lps[t].top[1].logprob, lps[t].logprob - 1.5, 1e-6);
    }
  }
}

TEST(LogprobPack, RoundTripsAndRefusesForeignBytes) {
  std::vector<TokenLogprob> lps(3);
  lps[0] = {12, "a", -0.25, -0.125, {{12, "a", -0.25}, {3, "b", -2.0}, {99, "c", -7.5}}};
  lps[1] = {4, "b", -13.0625, std::nullopt, {{5, "d", -0.5}}};  // fewer alternatives, unknown sampling logprob
  lps[2] = {-1, "remote", -1.5, 0.0, {}};
  const std::string packed = pack_logprobs(lps);
  EXPECT_EQ(packed.size(), 2 + 3 * (12 + 8 * 3));
  auto back = unpack_logprobs(packed, "here");
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].token_id, 12);
  EXPECT_DOUBLE_EQ(back[0].logprob, -0.25);
  EXPECT_DOUBLE_EQ(*back[0].sampling_logprob, -0.125);
  ASSERT_EQ(back[0].top.size(), 3u);
  EXPECT_EQ(back[0].top[2].token_id, 99);
  EXPECT_FALSE(back[1].sampling_logprob.has_value());
  ASSERT_EQ(back[1].top.size(), 1u);
  EXPECT_EQ(back[2].token_id, -1);
  EXPECT_TRUE(back[2].top.empty());
  EXPECT_THROW(unpack_logprobs("{\"json\": 1}", "sample 9"), InputError);
  EXPECT_THROW(unpack_logprobs(packed.substr(0, packed.size() - 3), "sample 9"), InputError);
}
