// Data parallel `crucible train sft` (trainer/dist/): 2 Gloo ranks started by --nproc-per-node against one process,
// same global batches, 20 steps on stories260K (llama2.c, 260K parameters): the final parameters agree within 1e-6
// relative (each tensor's max |a - b| over its max |a|; measured 9.5e-7), every step's loss within 5e-6 relative,
// rank 0 alone writes the store
// and the folders. A rank killed mid-run: the launcher stops the other rank and exits non-zero, naming it. A run
// SIGKILLed at 3 random steps and resumed (--resume auto) each time ends bit-identical to an uninterrupted one, for 1
// rank and for 2 ranks. --shard on 2 ranks (SFT and GRPO): the parameters of one process, half its optimizer state
// on each rank (as the ranks log it), and a resume from a step folder bit-identical to the uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "model/safetensors.h"
#include "reports/store.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

std::string stories(const std::string& f) { return testing::shared_dir() + "/models/stories260K/" + f; }

void write_data(const std::string& path) {
  std::ofstream f(path);
  const char* words[] = {"cat", "dog", "tree", "ball", "sun", "boat", "bird", "cake"};
  for (int i = 0; i < 24; ++i) {
    std::string completion = "Lily saw a";
    for (int k = 0; k <= i % 7; ++k) completion += std::string(" big ") + words[(i + k) % 8];
    f << nlohmann::json{{"prompt", "Once upon a time, there was a " + std::string(words[i % 8]) + "."},
                        {"completion", completion + "."}}
             .dump()
      << "\n";
  }
}

std::vector<std::string> sft_args(const std::string& db, const std::string& data, const std::string& out,
                                  const std::string& steps) {
  return {testing::crucible_binary(), "--json", "--db", db, "train", "sft", "--model", stories("stories260K.bin"),
          "--tokenizer", stories("tok512.bin"), "--data", data, "--out", out, "--steps", steps, "--batch-tokens",
          "150", "--lr", "2e-3", "--warmup", "2", "--seed", "5", "--threads", "1", "--device", "cpu"};
}

// Every tensor of two float32 safetensors files bit for bit the same.
void expect_same_bits(const std::string& fa, const std::string& fb) {
  const auto a = testing::read_safetensors_f32(fa), b = testing::read_safetensors_f32(fb);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, va] : a) {
    const auto& vb = b.at(name);
    ASSERT_EQ(va.size(), vb.size());
    EXPECT_EQ(std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)), 0) << name << " differs";
  }
}

// Runs a command as one process and as 2 Gloo ranks (--nproc-per-node 2); `args(db, out)` builds it. Returns the
// JSON reports (rank 0 alone reports: one document on stdout); `two_err`: the 2-rank run's stderr (every rank's log).
std::pair<nlohmann::json, nlohmann::json> one_and_two_ranks(
    const testing::TempDir& dir, const std::function<std::vector<std::string>(std::string, std::string)>& args,
    std::string* two_err = nullptr) {
  auto one = testing::run_command(args(dir.file("one.db"), dir.file("one")));
  EXPECT_EQ(one.exit_code, 0) << one.err;
  auto a = args(dir.file("two.db"), dir.file("two"));
  a.insert(a.end(), {"--nproc-per-node", "2"});
  auto two = testing::run_command(a);
  EXPECT_EQ(two.exit_code, 0) << two.err;
  if (two_err) *two_err = two.err;
  if (one.exit_code != 0 || two.exit_code != 0) return {};
  return {nlohmann::json::parse(one.out), nlohmann::json::parse(two.out)};
}

// Each rank's "gradient all-reduce: B buckets a step, L of N started during backward" (dist::GradReducer): the
// all-reduce overlapped the last backward in the CLI's own step, on every rank, for every step. `passes_per_step`
// (--shard: every backward pass is reduce-scattered) > 1: more than one pass's buckets a step on average.
void expect_buckets_started_during_backward(const std::string& err, int64_t steps,
                                            const std::string& collective = "all-reduce",
                                            bool several_passes_a_step = false) {
  for (int r = 0; r < 2; ++r) {
    const std::string key = "rank " + std::to_string(r) + ": gradient " + collective + ": ";
    const auto at = err.find(key);
    ASSERT_NE(at, std::string::npos) << "no reducer line for rank " << r << " in:\n" << err;
    long long buckets = 0, early = 0, all = 0;
    ASSERT_EQ(std::sscanf(err.c_str() + at + key.size(), "%lld bucket%*[^,], %lld of %lld", &buckets, &early, &all),
              3)
        << err.substr(at, 120);
    std::printf("rank %d: %lld buckets a step, %lld of %lld started during backward\n", r, buckets, early, all);
    if (several_passes_a_step) {
      EXPECT_GT(all, buckets * steps) << "the micro-batches were not reduced one by one";
      EXPECT_EQ(all % buckets, 0);
    } else {
      EXPECT_EQ(all, buckets * steps);
    }
    EXPECT_GT(early, 0) << "no bucket's all-reduce started before backward returned";
  }
}

TEST(DistCli, TwoGlooRanksEqualOneProcess) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_data(dir.file("d.jsonl"));
  std::string err;
  auto [j1, j2] = one_and_two_ranks(
      dir, [&](std::string db, std::string out) { return sft_args(db, dir.file("d.jsonl"), out, "20"); }, &err);
  ASSERT_FALSE(j1.is_null() || j2.is_null());
  EXPECT_EQ(j2["steps"], 20);
  expect_buckets_started_during_backward(err, 20);
  EXPECT_EQ(j1["tokens"], j2["tokens"]);  // the same global batches

  auto [worst, worst_name] =
      testing::max_relative_difference(dir.file("one/model.safetensors"), dir.file("two/model.safetensors"));
  std::printf("max relative parameter difference, 2 ranks vs 1 process: %.3g (%s)\n", worst, worst_name.c_str());
  EXPECT_LE(worst, 1e-6) << worst_name;

  // The parameters moved (the comparison is not of two untouched copies).
  auto start_loss = j1["first_loss"].get<double>(), end_loss = j1["last_loss"].get<double>();
  EXPECT_NE(start_loss, end_loss);

  auto s1 = Store::open_read_only(dir.file("one.db")), s2 = Store::open_read_only(dir.file("two.db"));
  auto r2 = s2.get_run(j2["run_id"].get<int64_t>());
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->config["resolved"]["world_size"], 2);
  EXPECT_EQ(r2->config["resolved"]["backend"], "gloo");
  auto st1 = s1.run_train_steps(j1["run_id"].get<int64_t>()), st2 = s2.run_train_steps(r2->id);
  ASSERT_EQ(st1.size(), 20u);
  ASSERT_EQ(st2.size(), 20u);  // one row per step: rank 1 writes nothing
  for (size_t k = 0; k < st1.size(); ++k) {
    const double l1 = st1[k].metrics["loss"], l2 = st2[k].metrics["loss"];
    // float32 training: the gradients' summation order differs (per rank, then across ranks), so the weights drift
    // apart by up to ~1e-6 relative over the run and a late step's loss by about as much (measured 1.1e-6 at 20).
    EXPECT_NEAR(l1, l2, 5e-6 * std::abs(l1)) << "step " << k + 1;
    EXPECT_EQ(st1[k].metrics["targets"], st2[k].metrics["targets"]) << "step " << k + 1;
    EXPECT_EQ(st1[k].metrics["tokens"], st2[k].metrics["tokens"]) << "step " << k + 1;
  }
}

// Starts argv in its own process group (so a test can SIGKILL a launcher with its ranks), stdout to /dev/null,
// stderr to `err_file`.
pid_t spawn_logged(std::vector<std::string> args, const std::string& err_file) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    std::FILE* e = std::fopen(err_file.c_str(), "w");
    ::dup2(::fileno(e), 2);
    std::FILE* o = std::fopen("/dev/null", "w");
    ::dup2(::fileno(o), 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string read_text(const std::string& file) {
  std::ifstream e(file);
  return std::string((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
}

// The children of `pid` (the ranks under the launcher), from /proc.
std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  pid_t c;
  while (f >> c) out.push_back(c);
  return out;
}

TEST(DistCli, DeadRankStopsTheRunWithAClearError) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_data(dir.file("d.jsonl"));
  auto args = sft_args(dir.file("c.db"), dir.file("d.jsonl"), dir.file("out"), "100000");
  args.insert(args.end(), {"--nproc-per-node", "2", "--dist-timeout", "20"});
  const std::string err_file = dir.file("err.txt");
  const pid_t pid = spawn_logged(args, err_file);
  ASSERT_GT(pid, 0);
  // Wait until both ranks train (the store has step rows), then SIGKILL rank 1.
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<pid_t> ranks;
  bool training = false;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120) && !training) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ranks = children_of(pid);
    training = ranks.size() == 2 && read_text(err_file).find("step 3/") != std::string::npos;
  }
  ASSERT_TRUE(training) << "the ranks never got to step 3";
  ::kill(ranks[1], SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - killed > std::chrono::seconds(60)) {
      ::kill(pid, SIGKILL);
      for (pid_t r : ranks) ::kill(r, SIGKILL);
      FAIL() << "the launcher did not stop within 60 s of a rank's death";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  std::printf("launcher stopped %.2f s after rank 1 was killed\n", secs);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  const auto text = read_text(err_file);
  EXPECT_NE(text.find("rank 1 was killed by signal"), std::string::npos) << text;
  // Rank 0 is gone too (SIGTERM from the launcher).
  for (pid_t r : ranks) EXPECT_NE(::kill(r, 0), 0) << "rank pid " << r << " still alive";
}

void expect_bit_identical(int ranks, bool shard = false) {
  testing::TempDir dir;
  write_data(dir.file("d.jsonl"));
  auto args_for = [&](const std::string& out) {
    auto a = sft_args(dir.file("c.db"), dir.file("d.jsonl"), dir.file(out), "20");
    a.insert(a.end(), {"--save-every", "3", "--keep-last", "2", "--resume", "auto"});
    if (ranks > 1) a.insert(a.end(), {"--nproc-per-node", std::to_string(ranks)});
    if (shard) a.push_back("--shard");
    return a;
  };
  auto ref = testing::run_command(args_for("ref"));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;

  // Three kill points, increasing, anywhere in the 20 steps (on a step that saves, too: the save is then cut short).
  std::mt19937 rng(std::random_device{}());
  std::vector<int> points;
  while (points.size() < 3) {
    int p = std::uniform_int_distribution<int>(2, 19)(rng);
    if (std::find(points.begin(), points.end(), p) == points.end()) points.push_back(p);
  }
  std::sort(points.begin(), points.end());
  std::printf("%d rank(s): SIGKILL when steps %d, %d, %d are logged\n", ranks, points[0], points[1], points[2]);
  for (int p : points) {
    const auto err = dir.file("err-" + std::to_string(p) + ".txt");
    const pid_t pid = spawn_logged(args_for("cut"), err);
    const auto t0 = std::chrono::steady_clock::now();
    bool seen = false;
    int status = 0;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
      if (read_text(err).find("step " + std::to_string(p) + "/") != std::string::npos) {
        seen = true;
        break;
      }
      if (::waitpid(pid, &status, WNOHANG) == pid) break;  // finished before the point (resumed past it)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(-pid, SIGKILL);  // the whole group: a launcher and its ranks
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(seen) << "the run never logged step " << p << ": " << read_text(err);
  }
  auto last = testing::run_command(args_for("cut"));
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_NE(last.err.find("resuming from"), std::string::npos) << last.err;

  expect_same_bits(dir.file("ref/model.safetensors"), dir.file("cut/model.safetensors"));
  // --keep-last 2: only the newest two step folders remain.
  int folders = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.file("cut")))
    if (e.path().filename().string().rfind("step-", 0) == 0) ++folders;
  EXPECT_EQ(folders, 2);
}

TEST(DistCli, KilledThreeTimesAndResumedIsBitIdenticalOneRank) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  expect_bit_identical(1);
}

TEST(DistCli, KilledThreeTimesAndResumedIsBitIdenticalTwoRanks) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  expect_bit_identical(2);
}

// The same with --shard: each rank reloads its slice's moments; the reduce-scattered gradients are never saved.
TEST(DistCli, KilledThreeTimesAndResumedIsBitIdenticalTwoRanksSharded) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  expect_bit_identical(2, /*shard=*/true);
}

// ---- train grpo -------------------------------------------------------------------------------------------------

void write_prompts(const std::string& path) {
  std::ofstream f(path);
  const char* who[] = {"Lily", "Tom", "Sue", "Ben", "Max", "Mia"};
  for (int i = 0; i < 6; ++i)
    f << nlohmann::json{{"id", std::string("p") + std::to_string(i)},
                        {"prompt", std::string(who[i]) + " had " + std::to_string(i + 2) + " toys. How many toys?"},
                        {"answer", std::to_string(i + 2)}}
             .dump()
      << "\n";
}

// stories260K never answers, so the reward that varies is DAPO's overlong shaping (buffer = max tokens: a sample
// that ends with EOS at length L scores -L/32, a cut one -1); at temperature 1.5 a few samples end early. No <think>
// prefix (the model knows no tags). Two micro-batches per rank and step. lr 3e-4: at 1e-3 the two runs' parameters
// drift apart by ~6e-8 relative by step 11 (rounding), and at temperature 1.5 that was once enough to flip a sampled
// token at step 12, after which the rollouts, and so the parameters, legitimately differ; at 3e-4 they stay
// bit-identical over the 20 steps.
std::vector<std::string> grpo_args(const std::string& db, const std::string& prompts, const std::string& out,
                                   const std::string& steps) {
  return {testing::crucible_binary(), "--json", "--db", db, "train", "grpo", "--model", stories("stories260K.bin"),
          "--tokenizer", stories("tok512.bin"), "--prompts", prompts, "--out", out, "--steps", steps,
          "--prompts-per-step", "4", "--group-size", "4", "--max-tokens", "32", "--temperature", "1.5",
          "--overlong-shaping", "--overlong-buffer", "32", "--assistant-prefix", "", "--beta", "0", "--lr", "3e-4",
          "--micro-batch", "4", "--seed", "3", "--threads", "1", "--device", "cpu"};
}

TEST(DistCli, GrpoTwoGlooRanksEqualOneProcess) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_prompts(dir.file("p.jsonl"));
  std::string err;
  auto [j1, j2] = one_and_two_ranks(
      dir, [&](std::string db, std::string out) { return grpo_args(db, dir.file("p.jsonl"), out, "20"); }, &err);
  ASSERT_FALSE(j1.is_null() || j2.is_null());
  EXPECT_EQ(j2["steps"], 20);
  expect_buckets_started_during_backward(err, 20);

  auto [worst, where] =
      testing::max_relative_difference(dir.file("one/model.safetensors"), dir.file("two/model.safetensors"));
  std::printf("train grpo, max relative parameter difference, 2 ranks vs 1 process: %.3g (%s)\n", worst,
              where.c_str());
  EXPECT_LE(worst, 1e-6) << where;

  auto s1 = Store::open_read_only(dir.file("one.db")), s2 = Store::open_read_only(dir.file("two.db"));
  auto r2 = s2.get_run(j2["run_id"].get<int64_t>());
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->config["resolved"]["world_size"], 2);
  auto st1 = s1.run_train_steps(j1["run_id"].get<int64_t>()), st2 = s2.run_train_steps(r2->id);
  ASSERT_EQ(st1.size(), 20u);
  ASSERT_EQ(st2.size(), 20u);
  int64_t trained = 0;
  for (size_t k = 0; k < st1.size(); ++k) {
    const auto &m1 = st1[k].metrics, &m2 = st2[k].metrics;
    // The same rollouts (seeded per problem and sample, not per process), so the same rewards and counts.
    EXPECT_EQ(m1["reward_mean"], m2["reward_mean"]) << "step " << k + 1;
    EXPECT_EQ(m1["tokens"], m2["tokens"]) << "step " << k + 1;
    EXPECT_EQ(m1["sequences_backward"], m2["sequences_backward"]) << "step " << k + 1;
    EXPECT_NEAR(m1["loss"].get<double>(), m2["loss"].get<double>(), 1e-6) << "step " << k + 1;
    trained += m1["sequences_backward"].get<int64_t>();
  }
  // Some groups had rewards that differ: the policy was trained, not only decayed.
  std::printf("sequences trained over 20 steps: %lld of %d\n", static_cast<long long>(trained), 20 * 16);
  EXPECT_GT(trained, 0);
  // Rank 0 stored every rank's rollouts, in the one-process order.
  auto a = s1.run_samples(j1["run_id"].get<int64_t>()), b = s2.run_samples(r2->id);
  ASSERT_EQ(a.size(), 20u * 16u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].completion, b[i].completion) << "sample " << i;
    EXPECT_EQ(a[i].detail["grpo"]["advantage"], b[i].detail["grpo"]["advantage"]) << "sample " << i;
  }
}

TEST(DistCli, GrpoTwoRanksKilledAndResumedIsBitIdentical) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_prompts(dir.file("p.jsonl"));
  auto args_for = [&](const std::string& out) {
    auto a = grpo_args(dir.file("c.db"), dir.file("p.jsonl"), dir.file(out), "20");
    a.insert(a.end(), {"--save-every", "3", "--keep-last", "2", "--resume", "auto", "--nproc-per-node", "2"});
    return a;
  };
  auto ref = testing::run_command(args_for("ref"));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  std::mt19937 rng(std::random_device{}());
  const int p = std::uniform_int_distribution<int>(4, 18)(rng);
  std::printf("2 ranks: SIGKILL when step %d is logged\n", p);
  const auto err = dir.file("err.txt");
  const pid_t pid = spawn_logged(args_for("cut"), err);
  const auto t0 = std::chrono::steady_clock::now();
  bool seen = false;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(300) && !seen) {
    seen = read_text(err).find("step " + std::to_string(p) + "/") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(-pid, SIGKILL);  // the launcher and its ranks
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(seen) << read_text(err);
  auto last = testing::run_command(args_for("cut"));
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_NE(last.err.find("resuming from"), std::string::npos) << last.err;
  expect_same_bits(dir.file("ref/model.safetensors"), dir.file("cut/model.safetensors"));
}

// ---- a checkpoint write that fails --------------------------------------------------------------------------------

// A full disk, simulated with a file size limit: bash's `ulimit -f` (RLIMIT_FSIZE, in KiB) with SIGXFSZ ignored, so a
// write past the limit fails with EFBIG instead of killing the process. The limit lets the store, the HF weights and
// params.pt through but not optimizer.pt (AdamW's two moments: twice the parameters). A run killed after its step-3
// folder is written, resumed under the limit, fails at the step-6 save naming the folder, leaves step-3 intact and no
// step-6 (nor step-6.tmp); resumed again without the limit, it ends bit-identical to an uninterrupted run.
TEST(DistCli, FailedCheckpointWriteLeavesThePreviousOneUsable) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_data(dir.file("d.jsonl"));
  auto args_for = [&](const std::string& out) {
    auto a = sft_args(dir.file("c.db"), dir.file("d.jsonl"), dir.file(out), "8");
    a.insert(a.end(), {"--save-every", "3", "--resume", "auto"});
    return a;
  };
  auto ref = testing::run_command(args_for("ref"));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const auto params_kb = std::filesystem::file_size(dir.file("ref/step-6/trainer_state/params.pt")) / 1024;

  const auto err = dir.file("err.txt");
  const pid_t pid = spawn_logged(args_for("cut"), err);
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120) &&
         read_text(err).find("step 4/") == std::string::npos)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ::kill(-pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(std::filesystem::exists(dir.file("cut/step-3/trainer_state/state.json"))) << read_text(err);

  std::vector<std::string> limited{"/bin/bash", "-c",
                                   "trap '' XFSZ; ulimit -f " + std::to_string(params_kb * 3 / 2) + "; exec \"$@\"",
                                   "bash"};
  auto cut_args = args_for("cut");
  limited.insert(limited.end(), cut_args.begin(), cut_args.end());
  auto full = testing::run_command(limited);
  EXPECT_NE(full.exit_code, 0);
  EXPECT_NE(full.err.find("writing the checkpoint " + dir.file("cut/step-6") + " failed"), std::string::npos)
      << full.err;
  EXPECT_NE(full.err.find("resuming from"), std::string::npos) << full.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("cut/step-3/trainer_state/state.json")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("cut/step-6")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("cut/step-6.tmp")));

  auto last = testing::run_command(args_for("cut"));
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_NE(last.err.find("resuming from " + dir.file("cut/step-3")), std::string::npos) << last.err;
  expect_same_bits(dir.file("ref/model.safetensors"), dir.file("cut/model.safetensors"));
}

// ---- non-finite gradients (CRUCIBLE_TEST_NAN_AT_STEP, trainer/optimizer.h) ------------------------------------

// Sets an environment variable for the commands this test starts, and removes it afterwards.
struct ScopedEnv {
  std::string name;
  ScopedEnv(const std::string& n, const std::string& v) : name(n) { ::setenv(n.c_str(), v.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// A NaN in one rank's gradient at step 3 (rank 1's when there are two: rank 0, which writes the store, only learns
// of it through the all-reduce) skips that step on every rank and the run goes on; NaNs at steps 2, 3, 4 with
// --max-bad-steps 3 fail the run with an error naming the flag, and the run row says failed.
void expect_nan_handling(const std::string& kind, int ranks, bool shard = false) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_data(dir.file("d.jsonl"));
  write_prompts(dir.file("p.jsonl"));
  auto args_for = [&](const std::string& name, const std::string& steps) {
    auto a = kind == "sft" ? sft_args(dir.file("c.db"), dir.file("d.jsonl"), dir.file(name), steps)
                           : grpo_args(dir.file("c.db"), dir.file("p.jsonl"), dir.file(name), steps);
    a.insert(a.end(), {"--name", name, "--max-bad-steps", "3"});
    if (ranks > 1) a.insert(a.end(), {"--nproc-per-node", std::to_string(ranks)});
    if (shard) a.push_back("--shard");
    return a;
  };
  ScopedEnv rank("CRUCIBLE_TEST_NAN_RANK", std::to_string(ranks - 1));
  {
    ScopedEnv nan("CRUCIBLE_TEST_NAN_AT_STEP", "3");
    auto r = testing::run_command(args_for("once", "5"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("step 3: non-finite gradient norm"), std::string::npos) << r.err;
  }
  {
    ScopedEnv nan("CRUCIBLE_TEST_NAN_AT_STEP", "2,3,4");
    auto r = testing::run_command(args_for("streak", "6"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--max-bad-steps 3: steps 2 to 4"), std::string::npos) << r.err;
  }
  auto store = Store::open_read_only(dir.file("c.db"));
  auto once = store.find_run("once"), streak = store.find_run("streak");
  ASSERT_TRUE(once && streak);
  EXPECT_EQ(once->status, "completed");
  EXPECT_EQ(streak->status, "failed");
  auto steps = store.run_train_steps(once->id);
  ASSERT_EQ(steps.size(), 5u);
  for (const auto& st : steps) EXPECT_EQ(st.metrics["skipped"].get<bool>(), st.step == 3) << "step " << st.step;
  EXPECT_EQ(store.run_train_steps(streak->id).size(), 4u);  // steps 1-4 logged, then the run stopped
}

TEST(DistCli, NanGradientSftOneRank) { expect_nan_handling("sft", 1); }
TEST(DistCli, NanGradientSftTwoRanks) { expect_nan_handling("sft", 2); }
TEST(DistCli, NanGradientGrpoOneRank) { expect_nan_handling("grpo", 1); }
TEST(DistCli, NanGradientGrpoTwoRanks) { expect_nan_handling("grpo", 2); }
// --shard: the NaN goes into rank 1's gradient of the first parameter, which rank 0's slice holds: the reduce-scatter
// carries it to rank 0, whose sum of squares is NaN, and the norm's all-reduce to rank 1; both skip the step.
TEST(DistCli, NanGradientSftTwoRanksSharded) { expect_nan_handling("sft", 2, true); }
TEST(DistCli, NanGradientGrpoTwoRanksSharded) { expect_nan_handling("grpo", 2, true); }

// ---- --shard (trainer/optimizer.h) ---------------------------------------------------------------------------------

// Each rank's "rank R: optimizer state N bytes, gradients G bytes at the last step" log line (trainer/optimizer.h,
// log_rank_memory): R -> N (gradients: R -> G).
std::map<int, int64_t> logged_bytes(const std::string& log, bool gradients) {
  std::map<int, int64_t> out;
  static const std::regex line(R"(rank (\d+): optimizer state (\d+) bytes, gradients (\d+) bytes at the last step)");
  for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it)
    out[std::stoi((*it)[1].str())] = std::stoll((*it)[gradients ? 3 : 2].str());
  return out;
}
std::map<int, int64_t> optimizer_state_bytes(const std::string& log) { return logged_bytes(log, false); }

// One process vs 2 Gloo ranks with --shard (same global batches, `steps` steps, a step folder at `steps` / 2): the
// parameters within 1e-6 relative, every step's pre-clip gradient norm (the sharded one from the ranks' summed
// squares) within 2e-6 relative of 2 unsharded ranks' (the first step's 2e-7), each rank's optimizer state and the gradient it held at the step half the one
// process's (as each run reports it: the gradient is reduce-scattered, no rank keeps a whole one), and the sharded
// run resumed from its step folder ends bit-identical to itself uninterrupted (each rank reloads its own
// optimizer-rank-R.pt; the parameters come from params.pt, which rank 0 writes after the all-gather).
void expect_sharded_equal(const std::function<std::vector<std::string>(std::string, std::string)>& args,
                          const std::string& steps) {
  testing::TempDir dir;
  auto one = testing::run_command(args(dir.file("one.db"), dir.file("one")));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto a = args(dir.file("two.db"), dir.file("two"));
  a.insert(a.end(), {"--nproc-per-node", "2", "--shard", "--save-every", std::to_string(std::stoi(steps) / 2),
                     "--resume", "auto"});
  auto two = testing::run_command(a);
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(nlohmann::json::parse(two.out)["steps"], std::stoi(steps));

  auto [worst, where] =
      testing::max_relative_difference(dir.file("one/model.safetensors"), dir.file("two/model.safetensors"));
  std::printf("%s, --shard on 2 ranks vs 1 process, %s steps: max relative parameter difference %.3g%s\n",
              a[5].c_str(), steps.c_str(), worst, worst > 0 ? (" (" + where + ")").c_str() : " (bit-identical)");
  EXPECT_LE(worst, 1e-6) << where;
  // The parameters moved: some step had a gradient (the comparison is not of two untouched copies).
  auto store = Store::open_read_only(dir.file("one.db"));
  double norms = 0;
  for (const auto& st : store.run_train_steps(nlohmann::json::parse(one.out)["run_id"].get<int64_t>()))
    norms += st.metrics["grad_norm"].get<double>();
  EXPECT_GT(norms, 0);

  const auto b1 = optimizer_state_bytes(one.err), b2 = optimizer_state_bytes(two.err);
  ASSERT_EQ(b1.size(), 1u) << one.err;
  ASSERT_EQ(b2.size(), 2u) << two.err;
  const int64_t full = b1.at(0);
  std::printf("optimizer state: 1 process %lld bytes; --shard rank 0 %lld, rank 1 %lld (%.4f, %.4f of it)\n",
              static_cast<long long>(full), static_cast<long long>(b2.at(0)), static_cast<long long>(b2.at(1)),
              double(b2.at(0)) / double(full), double(b2.at(1)) / double(full));
  EXPECT_GT(full, 0);
  // The moments of the two slices add up to the unsharded moments; the split rounds by at most one element (two
  // float32 moments: 8 bytes).
  EXPECT_EQ(b2.at(0) + b2.at(1), full);
  for (int r = 0; r < 2; ++r) EXPECT_LE(std::abs(2 * b2.at(r) - full), 16) << "rank " << r;
  // The gradients: the one process holds the whole float32 gradient at the step, each sharded rank its half.
  const auto g1 = logged_bytes(one.err, true), g2 = logged_bytes(two.err, true);
  ASSERT_EQ(g1.size(), 1u);
  ASSERT_EQ(g2.size(), 2u);
  std::printf("gradients at the step: 1 process %lld bytes; --shard rank 0 %lld, rank 1 %lld\n",
              static_cast<long long>(g1.at(0)), static_cast<long long>(g2.at(0)), static_cast<long long>(g2.at(1)));
  EXPECT_EQ(g1.at(0), full / 2);  // float32 gradient: half the two float32 moments
  EXPECT_EQ(g2.at(0) + g2.at(1), g1.at(0));
  for (int r = 0; r < 2; ++r) EXPECT_LE(std::abs(2 * g2.at(r) - g1.at(0)), 8) << "rank " << r;

  // The global norm from the shards equals the all-reduced one: 2 ranks without --shard, the same summed gradients
  // (a sum of two is the same addition however it is scattered), so the first step's norms agree to float32 rounding
  // and later ones drift only as far as the parameters do. (Against one process the gradients themselves differ by
  // the order of float32 sums: 1e-5 of a norm, with or without --shard.)
  auto u = args(dir.file("ddp.db"), dir.file("ddp"));
  u.insert(u.end(), {"--nproc-per-node", "2"});
  auto ddp = testing::run_command(u);
  ASSERT_EQ(ddp.exit_code, 0) << ddp.err;
  auto store2 = Store::open_read_only(dir.file("two.db")), store3 = Store::open_read_only(dir.file("ddp.db"));
  const auto s1 = store3.run_train_steps(nlohmann::json::parse(ddp.out)["run_id"].get<int64_t>());
  const auto s2 = store2.run_train_steps(nlohmann::json::parse(two.out)["run_id"].get<int64_t>());
  ASSERT_EQ(s1.size(), s2.size());
  double worst_norm = 0;
  for (size_t k = 0; k < s1.size(); ++k) {
    const double a1 = s1[k].metrics["grad_norm"].get<double>(), a2 = s2[k].metrics["grad_norm"].get<double>();
    if (a1 > 0) worst_norm = std::max(worst_norm, std::abs(a2 - a1) / a1);
    EXPECT_NEAR(a2, a1, (k == 0 ? 2e-7 : 2e-6) * a1) << "step " << s1[k].step;
  }
  std::printf("grad_norm: --shard vs 2 ranks without, max relative difference %.3g over %zu steps\n", worst_norm,
              s1.size());

  // Resume from the step folder half-way: both ranks reload, and the end is the same bits.
  std::filesystem::copy_file(dir.file("two/model.safetensors"), dir.file("uninterrupted.safetensors"));
  auto resumed = testing::run_command(a);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming from"), std::string::npos) << resumed.err;
  expect_same_bits(dir.file("uninterrupted.safetensors"), dir.file("two/model.safetensors"));
}

TEST(DistCli, ShardedSftHalvesTheOptimizerStateAndEqualsOneProcess) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir data;
  write_data(data.file("d.jsonl"));
  expect_sharded_equal([&](std::string db, std::string out) { return sft_args(db, data.file("d.jsonl"), out, "20"); },
                       "20");
}

// `args(name, shard)` run as 2 unsharded ranks (DIR/ddp) and as 2 ranks with --shard (DIR/zero2): both exit 0, every
// step's reduce-scatters started inside backward and outnumber the steps (each pass reduced), and the final
// parameters agree within 1e-6 relative (`what` names the case in the printed figure). Returns zero2's --json output.
nlohmann::json expect_zero2_equals_ddp(const testing::TempDir& dir,
                                       const std::function<std::vector<std::string>(const std::string&, bool)>& args,
                                       int64_t steps, const std::string& what) {
  auto ddp = testing::run_command(args("ddp", false));
  EXPECT_EQ(ddp.exit_code, 0) << ddp.err;
  auto zero2 = testing::run_command(args("zero2", true));
  EXPECT_EQ(zero2.exit_code, 0) << zero2.err;
  if (ddp.exit_code != 0 || zero2.exit_code != 0) return {};
  expect_buckets_started_during_backward(zero2.err, steps, "reduce-scatter", /*several_passes_a_step=*/true);
  auto [worst, where] =
      testing::max_relative_difference(dir.file("ddp/model.safetensors"), dir.file("zero2/model.safetensors"));
  std::printf("%s, --shard vs not, 2 ranks, %lld steps: max relative difference %.3g (%s)\n", what.c_str(),
              static_cast<long long>(steps), worst, where.c_str());
  EXPECT_LE(worst, 1e-6) << where;
  return nlohmann::json::parse(zero2.out);
}

// --shard with several micro-batches a step (64-token rows: each row's backward reduce-scattered before the next, the
// ranks' row counts agreed first) and activation checkpointing (the layers' gradients land during the
// recomputation inside backward): 2 sharded ranks end within 1e-6 relative of 2 unsharded ranks (the same sums; only
// the norm's arithmetic differs), and every step's reduce-scatter started inside backward.
TEST(DistCli, ShardedWithSeveralRowsAndCheckpointingEqualsUnsharded) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_data(dir.file("d.jsonl"));
  auto args = [&](const std::string& name, bool shard) {
    auto a = sft_args(dir.file(name + ".db"), dir.file("d.jsonl"), dir.file(name), "10");
    *(std::find(a.begin(), a.end(), "--batch-tokens") + 1) = "300";  // 150 tokens a rank: at least three rows
    a.insert(a.end(), {"--max-seq-len", "64", "--grad-checkpointing", "--nproc-per-node", "2"});
    if (shard) a.push_back("--shard");
    return a;
  };
  const auto zero2 = expect_zero2_equals_ddp(dir, args, 10, "train sft, 64-token rows, checkpointing");
  ASSERT_FALSE(zero2.is_null());
  auto store = Store::open_read_only(dir.file("zero2.db"));
  const auto steps = store.run_train_steps(zero2["run_id"].get<int64_t>());
  ASSERT_EQ(steps.size(), 10u);
  int several = 0;  // steps whose rows (both ranks') exceed 2: some rank accumulated over several
  for (const auto& st : steps) several += st.metrics["rows"].get<int64_t>() > 2 ? 1 : 0;
  std::printf("%d of 10 steps with more than one row on some rank\n", several);
  EXPECT_GE(several, 5);
}

// GRPO with --shard where a group spans micro-batches (G 4, --micro-batch 2: per group two completion passes and one
// through the prompts, every one reduce-scattered; every sequence through backward, so each rank runs 6 passes a
// step): 2 sharded ranks end within 1e-6 relative of 2 unsharded ranks, some steps had a gradient, and more
// reduce-scatters ran than steps. (Unequal pass counts: GradReducer.ReduceScatterEveryPassWithUnequalPassCounts.)
TEST(DistCli, ShardedGrpoWithGroupsSpanningMicroBatchesEqualsUnsharded) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_prompts(dir.file("p.jsonl"));
  auto args = [&](const std::string& name, bool shard) {
    auto a = grpo_args(dir.file(name + ".db"), dir.file("p.jsonl"), dir.file(name), "20");
    *(std::find(a.begin(), a.end(), "--micro-batch") + 1) = "2";
    a.insert(a.end(), {"--nproc-per-node", "2", "--no-skip-zero-advantage"});
    if (shard) a.push_back("--shard");
    return a;
  };
  const auto zero2 = expect_zero2_equals_ddp(dir, args, 20, "train grpo, micro-batch 2 < G 4");
  ASSERT_FALSE(zero2.is_null());
  auto store = Store::open_read_only(dir.file("zero2.db"));
  const auto steps = store.run_train_steps(zero2["run_id"].get<int64_t>());
  ASSERT_EQ(steps.size(), 20u);
  int trained = 0;
  for (const auto& st : steps) {
    EXPECT_EQ(st.metrics["sequences_backward"].get<int64_t>(), 16);
    trained += st.metrics["grad_norm"].get<double>() > 0 ? 1 : 0;
  }
  std::printf("%d of 20 steps with a non-zero gradient\n", trained);
  EXPECT_GE(trained, 2) << "steps without a gradient prove nothing";  // 3 of 20 here (stories260K rarely differs in a group)
}

TEST(DistCli, ShardedGrpoHalvesTheOptimizerStateAndEqualsOneProcess) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir data;
  write_prompts(data.file("p.jsonl"));
  expect_sharded_equal(
      [&](std::string db, std::string out) { return grpo_args(db, data.file("p.jsonl"), out, "20"); }, "20");
}

}  // namespace
}  // namespace crucible
