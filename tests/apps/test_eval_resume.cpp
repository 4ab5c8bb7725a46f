// `crucible eval` killed with SIGKILL at random moments and resumed: every sample present exactly once, and the
// samples and scores equal those of an uninterrupted run with the same seed. Uses the real stories260K checkpoint
// (llama2.c) on gsm8k, so the whole path — engine, grading pool, per-sample commits — is exercised, through the
// torch-free front's hand-over to crucible-torch (exec keeps the pid, so the kills land on the running eval).
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "reports/sqlite.h"
#include "reports/store.h"
#include "tests/support/spawn.h"
#include "tests/support/test_support.h"

using namespace crucible;
using crucible::testing::TempDir;

namespace {

std::vector<std::string> eval_args(const std::string& db) {
  std::string shared = crucible::testing::shared_dir();
  return {crucible::testing::crucible_binary(), "--db", db, "--log-level", "warn", "--json", "eval",
          "--model", shared + "/models/stories260K/stories260K.bin",
          "--tokenizer", shared + "/models/stories260K/tok512.bin",
          "--suite", "gsm8k", "--limit", "8", "--samples", "4", "--max-tokens", "64",
          "--temperature", "0.8", "--seed", "11", "--max-batch", "6",
          "--data-dir", shared + "/data"};
}

int64_t stored_samples(const std::string& db) {
  try {
    Store s = Store::open(db, false);
    sql::Statement st(s.connection().handle(), "SELECT count(*) FROM samples");
    st.step();
    return st.column_int(0);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

TEST(EvalResume, SigkillAtRandomPointsThenResumeEqualsUninterrupted) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  TempDir dir;
  auto ref = crucible::testing::run_command(eval_args(dir.file("ref.db")));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const int64_t total = 8 * 4;

  std::string db = dir.file("run.db");
  std::mt19937 rng(20261123);
  int kills = 0;
  for (int round = 0; round < 4; ++round) {
    int64_t before = stored_samples(db);
    if (before >= total) break;
    int64_t target = before + 1 + static_cast<int64_t>(rng() % std::max<int64_t>(1, (total - before) / 2));
    if (crucible::testing::run_then_kill_when(eval_args(db), [&] { return stored_samples(db) >= target; })) ++kills;
  }
  EXPECT_GE(kills, 2) << "the test must actually interrupt the run";
  // The kills above re-ran the identical command, which resumes by itself; the last leg is `eval --resume 1` alone
  // (the stored model, suites and settings; the global options after the subcommand), through the torch-free front.
  auto done = crucible::testing::run_command({crucible::testing::crucible_binary(), "eval", "--resume", "1", "--db", db,
                                              "--log-level", "warn", "--json"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  auto summary = nlohmann::json::parse(done.out);
  EXPECT_TRUE(summary["resumed"].get<bool>());

  Store a = Store::open(dir.file("ref.db"), false), b = Store::open(db, false);
  ASSERT_EQ(b.list_runs().size(), 1u) << "resuming must not create a second run";
  auto sa = a.run_samples(1), sb = b.run_samples(1);
  ASSERT_EQ(sb.size(), static_cast<size_t>(total)) << "every sample present exactly once";
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].sample_index, sb[i].sample_index);
    EXPECT_EQ(sa[i].completion, sb[i].completion) << "sample " << i;
    EXPECT_EQ(sa[i].correct, sb[i].correct);
  }
  auto ja = nlohmann::json::parse(ref.out)["suites"][0], jb = summary["suites"][0];
  EXPECT_EQ(ja["pass@1"], jb["pass@1"]);
  EXPECT_EQ(ja["pass@1_ci95"], jb["pass@1_ci95"]);
}
