// `crucible eval --endpoint` SIGKILLed mid-run (three times) and resumed with `--resume RUN`, against the fake
// OpenAI server (with a few seeded faults), the last time with `--resume RUN` alone: a sample stored before a kill is never requested again (the server counts
// requests per sample), every sample is stored exactly once, and samples and scores equal an uninterrupted run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "harness/eval.h"
#include "reports/sqlite.h"
#include "reports/store.h"
#include "tests/harness/fake_openai_server.h"
#include "tests/support/spawn.h"
#include "tests/support/test_support.h"

using namespace crucible;
using crucible::testing::FakeOpenAIServer;
using crucible::testing::TempDir;

namespace {

constexpr int64_t kProblems = 12, kSamples = 4;
constexpr uint64_t kSeed = 11;

std::vector<std::string> eval_args(const std::string& db, const std::string& url) {
  std::string shared = crucible::testing::shared_dir();
  return {crucible::testing::crucible_binary(), "--db", db, "--log-level", "error", "--json", "eval",
          "--endpoint", url, "--api-model", "fake-r1", "--suite", "gsm8k",
          "--limit", std::to_string(kProblems), "--samples", std::to_string(kSamples), "--seed", std::to_string(kSeed),
          "--concurrency", "4", "--request-timeout", "2", "--max-retries", "8", "--data-dir", shared + "/data"};
}

// The seeds (as the server sees them) of the samples stored in `db`.
std::set<int64_t> stored_seeds(const std::string& db) {
  std::set<int64_t> out;
  try {
    Store s = Store::open(db, false);
    sql::Statement st(s.connection().handle(),
                      "SELECT p.problem_key, s.sample_index FROM samples s JOIN problems p ON p.id = s.problem_id");
    while (st.step()) {
      uint64_t seed = harness::sample_seed(kSeed, "gsm8k", st.column_text(0), st.column_int(1));
      out.insert(static_cast<int64_t>(seed & 0x7fffffffULL));
    }
  } catch (const std::exception&) {
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> gsm8k_golds() {
  auto data = harness::load_suite(harness::find_suite("gsm8k"), crucible::testing::shared_dir() + "/data");
  std::vector<std::pair<std::string, std::string>> out;
  for (int64_t i = 0; i < kProblems; ++i)
    out.emplace_back(data.problems[static_cast<size_t>(i)].question, data.problems[static_cast<size_t>(i)].gold.value_or(""));
  return out;
}

}  // namespace

TEST(EvalEndpointResume, SigkillMidRunThenResumeNeverRequestsAStoredSampleAgain) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  TempDir dir;
  auto golds = gsm8k_golds();
  FakeOpenAIServer clean_server({}, golds);
  auto ref = crucible::testing::run_command(eval_args(dir.file("ref.db"), clean_server.url()));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const int64_t total = kProblems * kSamples;

  FakeOpenAIServer::Options so;
  so.fault_rate = 0.1;
  so.fault_seed = 77;
  so.delay_ms = 40;  // a run lasts long enough to be killed in the middle
  so.retry_after_s = 0;
  FakeOpenAIServer server(so, golds);
  std::string db = dir.file("run.db");
  std::mt19937 rng(20261123);
  std::map<int64_t, int64_t> frozen;  // seed -> requests the server had seen when the sample was found stored
  int kills = 0;
  for (int round = 0; round < 4; ++round) {
    int64_t before = static_cast<int64_t>(stored_seeds(db).size());
    if (before >= total) break;
    int64_t target = before + 1 + static_cast<int64_t>(rng() % std::max<int64_t>(1, (total - before) / 2));
    const bool killed = crucible::testing::run_then_kill_when(
        eval_args(db, server.url()), [&] { return static_cast<int64_t>(stored_seeds(db).size()) >= target; });
    if (killed) ++kills;
    auto requests = server.requests();
    for (int64_t seed : stored_seeds(db))
      if (!frozen.count(seed)) frozen[seed] = requests[seed];
  }
  EXPECT_GE(kills, 2) << "the test must actually interrupt the run";
  // `--resume RUN` alone: endpoint, model, suites, sampling, concurrency and retries come from the stored run.
  auto done = crucible::testing::run_command(
      {crucible::testing::crucible_binary(), "eval", "--resume", "1", "--db", db, "--log-level", "error", "--json"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  auto summary = nlohmann::json::parse(done.out);
  EXPECT_TRUE(summary["resumed"].get<bool>());

  auto requests = server.requests();
  for (const auto& [seed, n] : frozen) EXPECT_EQ(requests[seed], n) << "stored sample (seed " << seed << ") requested again";
  int64_t twice = 0;
  for (const auto& [seed, n] : server.answered()) twice += n > 1;
  std::string faults;
  for (const auto& [kind, n] : server.faults()) faults += " " + kind + "=" + std::to_string(n);
  std::printf("[endpoint-resume] kills=%d samples=%lld stored-before-last-resume=%zu requests=%lld "
              "answered-twice(in flight at a kill)=%lld faults:%s\n",
              kills, static_cast<long long>(total), frozen.size(), static_cast<long long>(server.total_requests()),
              static_cast<long long>(twice), faults.c_str());

  Store a = Store::open(dir.file("ref.db"), false), b = Store::open(db, false);
  ASSERT_EQ(b.list_runs().size(), 1u) << "resuming must not create a second run";
  auto sa = a.run_samples(1), sb = b.run_samples(1);
  ASSERT_EQ(sb.size(), static_cast<size_t>(total)) << "every sample present exactly once";
  std::map<std::pair<int64_t, int64_t>, const SampleRecord*> ref_of;
  for (const auto& s : sa) ref_of[{s.problem_id, s.sample_index}] = &s;
  for (const auto& s : sb) {
    const auto* r = ref_of.at({s.problem_id, s.sample_index});
    EXPECT_EQ(s.completion, r->completion);
    EXPECT_EQ(s.correct, r->correct);
    EXPECT_TRUE(s.verdict.has_value()) << "every stored sample graded";
  }
  auto ja = nlohmann::json::parse(ref.out)["suites"][0], jb = summary["suites"][0];
  EXPECT_EQ(ja["pass@1"], jb["pass@1"]);
  EXPECT_EQ(ja["pass@1_ci95"], jb["pass@1_ci95"]);
}

// `--store-logprobs` is part of the stored run: a run started with it and killed keeps storing every sample's
// logprobs when continued with `--resume RUN` alone (no flag given again).
TEST(EvalEndpointResume, StoreLogprobsCarriedByResumeAlone) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  TempDir dir;
  FakeOpenAIServer::Options so;
  so.delay_ms = 40;
  FakeOpenAIServer server(so, gsm8k_golds());
  const std::string db = dir.file("lp.db");
  auto args = eval_args(db, server.url());
  args.push_back("--store-logprobs");
  const int64_t total = kProblems * kSamples;
  crucible::testing::run_then_kill_when(args, [&] { return static_cast<int64_t>(stored_seeds(db).size()) >= total / 4; });
  const auto before = stored_seeds(db).size();
  ASSERT_GT(before, 0u);
  ASSERT_LT(static_cast<int64_t>(before), total) << "the run must be interrupted";
  auto done = crucible::testing::run_command(
      {crucible::testing::crucible_binary(), "eval", "--resume", "1", "--db", db, "--log-level", "error", "--json"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  Store s = Store::open(db, false);
  auto samples = s.run_samples(1);
  ASSERT_EQ(samples.size(), static_cast<size_t>(total));
  int64_t with = 0;
  for (const auto& x : samples) with += s.sample_logprobs(x.id).has_value();
  EXPECT_EQ(with, total) << "samples generated by the resume (" << total - static_cast<int64_t>(before)
                         << ") must store their logprobs too";
}
