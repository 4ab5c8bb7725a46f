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
