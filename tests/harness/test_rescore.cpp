// Scoring external generations and regrading stored runs, on real suite data.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "harness/rescore.h"
#include "reports/sqlite.h"
#include "tests/support/test_support.h"
#include "verifiers/math/math_verifier.h"

using namespace crucible;
using namespace crucible::harness;
using crucible::testing::TempDir;

namespace {
std::string data_dir() { return crucible::testing::shared_dir() + "/data"; }
}

TEST(Rescore, ScoreExternalGenerationsThenRegrade) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared/data not present";
  TempDir dir;
  auto aime = load_suite(find_suite("aime24"), data_dir());
  // Three problems, two completions each: gold written differently (correct), a wrong number, an unclosed think.
  {
    std::ofstream out(dir.file("gens.jsonl"));
    for (int i = 0; i < 3; ++i) {
      const auto& p = aime.problems[i];
      nlohmann::json rec = {{"problem_id", p.key},
                            {"completions",
                             {"thinking</think>The answer is $\\boxed{" + *p.gold + ".0}$",
                              i == 0 ? "<think>never closed \\boxed{" + *p.gold + "}" : "x</think>\\boxed{1000}"}}};
      out << rec.dump() << "\n";
    }
  }
  Store store = Store::open(dir.file("c.db"));
  auto summary = score_external(store, "aime24", dir.file("gens.jsonl"), data_dir(), "r1", "external", 2);
  ASSERT_EQ(summary.suites.size(), 1u);
  EXPECT_EQ(summary.suites[0].problems, 3);
  EXPECT_NEAR(summary.suites[0].pass1.value, 0.5, 1e-12);
  EXPECT_EQ(store.count_samples(summary.run_id), 6);

  // Tamper with a stored verdict; regrade restores it and reports the flip.
  sql::Statement st(store.connection().handle(), "UPDATE samples SET correct = 0, grader_version = 'old' WHERE sample_index = 0");
  st.run();
  auto r = regrade_run(store, std::to_string(summary.run_id), data_dir(), 2);
  EXPECT_EQ(r.regraded, 6);
  EXPECT_EQ(r.changed, 3);
  for (const auto& s : store.run_samples(summary.run_id)) EXPECT_EQ(s.grader_version.value_or(""), crucible::verifiers::kMathGraderVersion);
  EXPECT_NEAR(r.suites[0].pass1.value, 0.5, 1e-12);
}

TEST(Rescore, BadExternalInputNamesFileAndField) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared/data not present";
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  std::ofstream(dir.file("bad.jsonl")) << R"({"problem_id": "no-such-problem", "completion": "x"})" << "\n";
  try {
    score_external(store, "aime24", dir.file("bad.jsonl"), data_dir(), "r1", "", 1);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("problem_id"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(store.list_runs().empty()) << "bad input stores nothing";
}

namespace {

// Every sample: a correct has_close_elements (HumanEval/0) that first takes 300 MB, so it passes under the default
// 1024 MiB and fails under 128 MiB.
class GreedyForMemoryBackend : public Backend {
 public:
  ModelIdentity identity() const override { return {"/models/memory-hungry", "hf", "weights", "template", {}}; }
  void generate(const std::vector<GenerationRequest>& requests,
                const std::function<void(GenerationResult)>& on_result) override {
    for (const auto& r : requests)
      for (int64_t k : r.sample_indices) {
        GenerationResult g;
        g.request_id = r.id;
        g.sample_index = k;
        g.text = "ok</think>\n```python\nhog = bytearray(300 * 1024 * 1024)\n"
                 "def has_close_elements(numbers, threshold):\n"
                 "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```\n";
        g.finish_reason = "stop";
        on_result(g);
      }
  }
};

}  // namespace

TEST(Rescore, RegradeRunsCodeWithTheRunsOwnLimits) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared/data not present";
  TempDir dir;
  const auto& info = find_suite("humaneval");
  SuitePlan sp;
  Overrides o;
  o.samples = 1;
  o.limit = 1;
  sp.config = resolve_config("r1", info, o);
  sp.data = load_suite(info, data_dir());
  sp.data.problems.resize(1);
  EvalPlan plan;
  plan.name = "tight";
  plan.preset = "r1";
  plan.code_limits = {6.0, 128};
  sp.grader = make_grader(info, sp.config, plan.code_limits);
  plan.suites.push_back(std::move(sp));
  Store store = Store::open(dir.file("c.db"));
  GreedyForMemoryBackend backend;
  auto s = run_eval(backend, plan, store);
  ASSERT_EQ(store.count_samples(s.run_id), 1);
  EXPECT_FALSE(store.run_samples(s.run_id)[0].correct.value_or(true)) << "300 MB does not fit in 128 MiB";
  EXPECT_EQ(store.get_run(s.run_id)->config["code_limits"],
            (nlohmann::json{{"time_limit_s", 6.0}, {"memory_mb", 128}}));

  auto r = regrade_run(store, "tight", data_dir(), 1);
  EXPECT_EQ(r.code_limits.memory_mb, 128);
  EXPECT_EQ(r.changed, 0) << "regrade keeps the run's 128 MiB";
  EXPECT_FALSE(store.run_samples(s.run_id)[0].correct.value_or(true));

  // A run stored before the limits were kept regrades with the defaults (1024 MiB): then the sample passes.
  auto config = store.get_run(s.run_id)->config;
  config.erase("code_limits");
  store.update_run_config(s.run_id, config);
  auto d = regrade_run(store, "tight", data_dir(), 1);
  EXPECT_EQ(d.code_limits.memory_mb, 1024);
  EXPECT_EQ(d.changed, 1);
  EXPECT_TRUE(store.run_samples(s.run_id)[0].correct.value_or(false));
}

TEST(Rescore, LoadStoredEvalRebuildsThePlanAndTheBackendSettings) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared/data not present";
  TempDir dir;
  EvalPlan plan;
  plan.name = "two-suites";
  plan.preset = "greedy";
  plan.backend = {{"kind", "native"}, {"model", "m.gguf"}};
  for (const char* name : {"gsm8k", "aime24"}) {  // not alphabetical: the order is part of the identity
    const auto& info = find_suite(name);
    SuitePlan sp;
    Overrides o;
    o.limit = 2;
    o.temperature = 0.3;
    sp.config = resolve_config("greedy", info, o);
    sp.data = load_suite(info, data_dir());
    sp.data.problems.resize(2);
    sp.grader = make_grader(info, sp.config);
    plan.suites.push_back(std::move(sp));
  }
  Store store = Store::open(dir.file("c.db"));
  GreedyForMemoryBackend backend;
  auto s = run_eval(backend, plan, store);
  auto stored = load_stored_eval(store, "two-suites", std::nullopt);
  EXPECT_EQ(stored.run.id, s.run_id);
  EXPECT_EQ(stored.plan.name, "two-suites");
  EXPECT_EQ(stored.plan.preset, "greedy");
  EXPECT_EQ(stored.plan.backend, plan.backend);
  ASSERT_EQ(stored.plan.suites.size(), 2u);
  EXPECT_EQ(run_identity(backend.identity(), stored.plan), run_identity(backend.identity(), plan))
      << "resuming from the stored config is the same run";
  EXPECT_EQ(stored.plan.suites[0].data.problems.size(), 2u);
  EXPECT_THROW(load_stored_eval(store, "no-such-run", std::nullopt), InputError);
}
