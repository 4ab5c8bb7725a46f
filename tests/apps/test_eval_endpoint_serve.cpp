// Issue 7's loop closed: `crucible eval --endpoint` against `crucible serve` on loopback gives the same greedy
// completions and verdicts as `crucible eval --model` on the same model and suite subset. Both are real processes;
// the server applies the model's own chat template (the client sends messages), the native eval applies it in-process.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "reports/sqlite.h"
#include "reports/store.h"
#include "tests/support/test_support.h"

using namespace crucible;
using crucible::testing::TempDir;

namespace {

std::string demo_model() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Row {
  std::string completion;
  std::optional<int64_t> correct;
  std::string finish_reason;
};

// (problem_key, sample_index) -> what was stored, for the one run in `db`.
std::map<std::pair<std::string, int64_t>, Row> stored(const std::string& db) {
  Store s = Store::open(db, false);
  sql::Statement st(s.connection().handle(),
                    "SELECT p.problem_key, s.sample_index, s.completion, s.correct, s.finish_reason "
                    "FROM samples s JOIN problems p ON p.id = s.problem_id");
  std::map<std::pair<std::string, int64_t>, Row> out;
  while (st.step()) {
    Row r{st.column_text(2), st.column_optional_int(3), st.column_text(4)};
    out[{st.column_text(0), st.column_int(1)}] = r;
  }
  return out;
}

}  // namespace

TEST(EvalEndpointServe, GreedyThroughServeEqualsTheNativeEval) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  if (!std::filesystem::exists(demo_model())) GTEST_SKIP() << "demo model missing: run scripts/setup";
  TempDir dir;
  const std::string data = crucible::testing::shared_dir() + "/data";
  const std::vector<std::string> common = {"--suite", "gsm8k", "--limit", "4", "--preset", "greedy",
                                           "--max-tokens", "40", "--assistant-prefix", "", "--data-dir", data};

  // The native run.
  std::vector<std::string> native = {crucible::testing::crucible_binary(), "--db", dir.file("native.db"),
                                     "--log-level", "error", "eval", "--model", demo_model()};
  native.insert(native.end(), common.begin(), common.end());
  auto n = crucible::testing::run_command(native);
  ASSERT_EQ(n.exit_code, 0) << n.err;

  // The server, on a free port it prints.
  const std::string log = dir.file("serve.log");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!freopen(log.c_str(), "w", stderr)) _exit(126);
    const std::string bin = crucible::testing::crucible_binary();
    execl(bin.c_str(), bin.c_str(), "serve", "--model", demo_model().c_str(), "--port", "0",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  struct Reap {
    pid_t pid;
    ~Reap() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } reap{pid};
  int port = 0;
  const std::regex listening(R"(http://127\.0\.0\.1:(\d+)/v1)");
  for (int i = 0; i < 1200 && port == 0; ++i) {
    std::smatch m;
    const std::string text = slurp(log);
    if (std::regex_search(text, m, listening)) port = std::stoi(m[1]);
    else std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(port, 0) << slurp(log);

  std::vector<std::string> remote = {crucible::testing::crucible_binary(), "--db", dir.file("remote.db"),
                                     "--log-level", "error", "eval", "--endpoint",
                                     "http://127.0.0.1:" + std::to_string(port) + "/v1", "--api-model", "default",
                                     "--concurrency", "2"};
  remote.insert(remote.end(), common.begin(), common.end());
  auto r = crucible::testing::run_command(remote);
  ASSERT_EQ(r.exit_code, 0) << r.err << "\nserver log:\n" << slurp(log);

  auto a = stored(dir.file("native.db"));
  auto b = stored(dir.file("remote.db"));
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), a.size());
  for (const auto& [key, row] : a) {
    ASSERT_TRUE(b.count(key)) << key.first;
    EXPECT_EQ(b[key].completion, row.completion) << key.first;
    EXPECT_EQ(b[key].correct, row.correct) << key.first;
    EXPECT_EQ(b[key].finish_reason, row.finish_reason) << key.first;
    EXPECT_FALSE(row.completion.empty()) << key.first;
  }
}
