// `crucible distill onpolicy` through the built CLI:
//   - student = teacher (stories260K): the divergence of the first step is 0 (both score the same tokens with the
//     same weights), the run is stored as kind distill-onpolicy with one train_steps row per step and every metric,
//     every sample graded and stored, and the step and final folders are written;
//   - a student and a teacher with other weights but one tokenizer (two `init-model` folders, other seeds): the
//     reverse KL falls over the steps;
//   - a served teacher (`crucible serve` on loopback, --endpoint, top 20 logprobs per token) gives the losses of the
//     same teacher in-process cut to its top 20 (--teacher-top-k 20), step by step, and these are below the full
//     vocabulary's on the same first-step samples; the run stores the endpoint and K, never the API key;
//   - --nproc-per-node 2 (Gloo) equals one process, with a native and with a served teacher: each step's loss,
//     teacher logprob and gradient norm, the stored samples in order, the final weights (allowed 1e-6, observed 0);
//   - bad input exits 2 naming the flag or file, and records no run: another tokenizer (vocabulary size; same size
//     but other token text), a --jsd-beta outside [0, 1], --teacher with --endpoint, --temperature != 1 or
//     --teacher-top-k 0 with --endpoint, a prompt without answer; an unreachable endpoint exits 1 naming it.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "reports/store.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

using testing::crucible_binary;
using testing::run_command;

std::string shared(const std::string& f) { return testing::shared_dir() + "/models/" + f; }
std::string stories(const std::string& f) { return shared("stories260K/" + f); }

void write_prompts(const std::string& path) {
  std::ofstream f(path);
  f << R"({"id": "a", "prompt": "Lily had 2 cats and got 3 more. How many cats?", "answer": "5"})" << "\n"
    << R"({"id": "b", "prompt": "Tom had 7 balls and lost 4. How many balls?", "answer": "3"})" << "\n";
}

std::vector<std::string> onpolicy(const std::string& db, const std::string& prompts, const std::string& out,
                                  std::vector<std::string> extra) {
  std::vector<std::string> args = {crucible_binary(), "--json", "--db", db, "distill", "onpolicy", "--prompts",
                                   prompts, "--out", out, "--threads", "1", "--seed", "3"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(OnPolicyCli, StudentEqualToTeacherHasZeroDivergenceAndIsStored) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_prompts(dir.file("p.jsonl"));
  const auto db = dir.file("c.db");
  auto r = run_command(onpolicy(db, dir.file("p.jsonl"), dir.file("out"),
                                {"--student", stories("stories260K.bin"), "--student-tokenizer", stories("tok512.bin"),
                                 "--teacher", stories("stories260K.bin"), "--teacher-tokenizer", stories("tok512.bin"),
                                 "--steps", "2", "--prompts-per-step", "2", "--samples", "2", "--max-tokens", "16",
                                 "--micro-batch", "3", "--lr", "1e-3", "--temperature", "1.5", "--save-every", "1"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["status"], "completed");
  EXPECT_EQ(out["steps"], 2);
  // Step 1: the student is the teacher, so KL(student || teacher) = 0 up to float32 (the teacher runs on its
  // packed inference weights, the student on its dense trainable ones).
  EXPECT_LT(std::abs(out["first_loss"].get<double>()), 1e-6) << r.out;

  auto store = Store::open_read_only(db);
  auto run = store.get_run(out["run_id"].get<int64_t>());
  ASSERT_TRUE(run);
  EXPECT_EQ(run->kind, "distill-onpolicy");
  EXPECT_EQ(run->config["jsd_beta"], 1.0);
  EXPECT_EQ(run->config["distill"]["stage"], "onpolicy");
  auto steps = store.run_train_steps(run->id);
  ASSERT_EQ(steps.size(), 2u);
  for (const auto& s : steps) {
    for (const char* k : {"loss", "lr", "grad_norm", "tokens", "seconds", "response_len_mean", "truncated_frac",
                          "teacher_logp_mean", "student_logp_mean", "accuracy", "seconds_rollout", "seconds_update"})
      EXPECT_TRUE(s.metrics.contains(k)) << "step " << s.step << " lacks " << k;
    EXPECT_GT(s.metrics["tokens"].get<double>(), 0);
    EXPECT_LT(s.metrics["teacher_logp_mean"].get<double>(), 0);
  }
  EXPECT_NEAR(steps[0].metrics["teacher_logp_mean"].get<double>(), steps[0].metrics["student_logp_mean"].get<double>(),
              1e-5);
  // The second step's student has moved: its divergence is positive (and finite).
  EXPECT_GT(steps[1].metrics["loss"].get<double>(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/model.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/step-1/model.safetensors")));  // --save-every 1, not the last

  // Every sample stored with its grade and step: 2 steps x 2 prompts x 2 samples, each problem's numbered 0..3.
  auto samples = store.run_samples(run->id);
  ASSERT_EQ(samples.size(), 8u);
  for (const auto& s : samples) {
    EXPECT_TRUE(s.verdict.has_value());
    EXPECT_EQ(s.completion_tokens, 16);  // stories260K never ends a story within 16 tokens here
    EXPECT_EQ(s.finish_reason, "length");
    EXPECT_EQ(s.detail["distill"]["stage"], "onpolicy");
    EXPECT_LT(s.sample_index, 4);
  }
  EXPECT_EQ(samples.back().detail["distill"]["step"], 2);
  r = run_command({crucible_binary(), "--json", "--db", db, "runs", "list", "--kind", "distill-onpolicy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u) << r.out;
}

TEST(OnPolicyCli, ReverseKlFallsTowardAnotherTeacher) {
  testing::TempDir dir;
  for (const auto& [name, seed, std] : {std::tuple{"student", "1", "0.2"}, std::tuple{"teacher", "2", "0.2"}}) {
    auto r = run_command({crucible_binary(), "init-model", "--out", dir.file(name), "--layers", "2", "--dim", "32",
                          "--heads", "4", "--kv-heads", "2", "--ffn", "64", "--seed", seed, "--init-std", std});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  write_prompts(dir.file("p.jsonl"));
  const auto db = dir.file("c.db");
  auto r = run_command(onpolicy(db, dir.file("p.jsonl"), dir.file("out"),
                                {"--student", dir.file("student"), "--teacher", dir.file("teacher"), "--steps", "20",
                                 "--prompts-per-step", "2", "--samples", "4", "--max-tokens", "16", "--lr", "1e-2",
                                 "--schedule", "constant", "--assistant-prefix", ""}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto out = nlohmann::json::parse(r.out);
  auto store = Store::open_read_only(db);
  auto steps = store.run_train_steps(out["run_id"].get<int64_t>());
  ASSERT_EQ(steps.size(), 20u);
  double first = 0, last = 0;
  for (size_t i = 0; i < 3; ++i) {
    first += steps[i].metrics["loss"].get<double>() / 3;
    last += steps[steps.size() - 1 - i].metrics["loss"].get<double>() / 3;
  }
  std::printf("reverse KL: first 3 steps %.4f, last 3 steps %.4f\n", first, last);
  // Measured: 1.14 -> 0.59 (every run the same: seeded samples, one thread).
  EXPECT_GT(first, 0.5);
  EXPECT_LT(last, 0.7 * first);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `crucible serve --model MODEL --port 0` as a process; url() once it has printed where it listens.
struct ServeProcess {
  explicit ServeProcess(const std::string& model, const std::string& log) : log_(log) {
    pid_ = fork();
    if (pid_ == 0) {
      if (!freopen(log.c_str(), "w", stderr)) _exit(126);
      setenv("OMP_NUM_THREADS", "1", 1);  // the machine's cores are the test runner's
      execl(crucible_binary().c_str(), crucible_binary().c_str(), "serve", "--model", model.c_str(), "--port", "0",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::regex listening(R"(http://127\.0\.0\.1:(\d+)/v1)");
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::smatch m;
      const std::string text = slurp(log);
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

TEST(OnPolicyCli, ServedTeacherEqualsTheNativeTeacherCutToItsTopK) {
  testing::TempDir dir;
  for (const auto& [name, seed] : {std::pair{"student", "1"}, std::pair{"teacher", "2"}}) {
    auto r = run_command({crucible_binary(), "init-model", "--out", dir.file(name), "--layers", "2", "--dim", "32",
                          "--heads", "4", "--kv-heads", "2", "--ffn", "64", "--seed", seed, "--init-std", "0.2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  write_prompts(dir.file("p.jsonl"));
  ServeProcess serve(dir.file("teacher"), dir.file("serve.log"));
  ASSERT_GT(serve.port_, 0) << slurp(dir.file("serve.log"));
  const std::vector<std::string> common = {"--student", dir.file("student"), "--steps", "6", "--prompts-per-step",
                                           "2", "--samples", "4", "--max-tokens", "16", "--lr", "1e-2", "--schedule",
                                           "constant", "--assistant-prefix", ""};
  auto train = [&](const std::string& db, std::vector<std::string> teacher) {
    auto args = common;
    args.insert(args.end(), teacher.begin(), teacher.end());
    auto r = run_command(onpolicy(db, dir.file("p.jsonl"), dir.file("out-" + db.substr(db.size() - 4)), args));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    auto out = nlohmann::json::parse(r.out);
    EXPECT_EQ(out["status"], "completed");
    return Store::open_read_only(db).run_train_steps(out["run_id"].get<int64_t>());
  };
  ::setenv("CRUCIBLE_TEST_ONPOLICY_KEY", "sk-onpolicy-secret", 1);  // sent as a Bearer token; crucible serve ignores it
  const auto served = train(dir.file("s.db"), {"--endpoint", serve.url(), "--api-model", "teacher", "--teacher-top-k",
                                               "20", "--concurrency", "3", "--api-key-env",
                                               "CRUCIBLE_TEST_ONPOLICY_KEY"});
  ::unsetenv("CRUCIBLE_TEST_ONPOLICY_KEY");
  const auto native = train(dir.file("n.db"), {"--teacher", dir.file("teacher"), "--teacher-top-k", "20"});
  const auto full = train(dir.file("f.db"), {"--teacher", dir.file("teacher")});
  ASSERT_EQ(served.size(), 6u);
  ASSERT_EQ(native.size(), 6u);
  ASSERT_EQ(full.size(), 6u);
  // Step by step the same losses: the server's scores are the teacher's own forward, in another process and
  // another code path (the engine's prefill). A misaligned position, a wrong id map or a dropped alternative would
  // show here. Measured |difference| ~3e-8.
  for (size_t i = 0; i < served.size(); ++i) {
    const auto& a = served[i].metrics;
    const auto& b = native[i].metrics;
    EXPECT_NEAR(a["loss"].get<double>(), b["loss"].get<double>(), 1e-5) << "step " << i + 1;
    EXPECT_NEAR(a["teacher_logp_mean"].get<double>(), b["teacher_logp_mean"].get<double>(), 1e-5) << i + 1;
    EXPECT_NEAR(a["grad_norm"].get<double>(), b["grad_norm"].get<double>(), 1e-4 * b["grad_norm"].get<double>())
        << i + 1;
    EXPECT_EQ(a["tokens"], b["tokens"]) << "the student's samples are seeded: the same tokens";
    std::printf("step %zu: served %.9f, native top-20 %.9f, full vocabulary %.6f\n", i + 1, a["loss"].get<double>(),
                b["loss"].get<double>(), full[i].metrics["loss"].get<double>());
  }
  // Step 1 scores the same samples on all three sides: the top-K divergence is a lower bound of the full one
  // (data-processing inequality), and here a strict one (261 byte-level tokens, 20 listed).
  EXPECT_LT(served[0].metrics["loss"].get<double>(), full[0].metrics["loss"].get<double>());
  EXPECT_GT(served[0].metrics["loss"].get<double>(), 0.05);
  // It trains: the mean of the last two steps is below the first two's.
  EXPECT_LT(served[4].metrics["loss"].get<double>() + served[5].metrics["loss"].get<double>(),
            served[0].metrics["loss"].get<double>() + served[1].metrics["loss"].get<double>());
  // The run records the endpoint (normalised) and K, the key's variable but never the key.
  auto store = Store::open_read_only(dir.file("s.db"));
  auto runs = store.list_runs();
  ASSERT_EQ(runs.size(), 1u);
  auto run = store.get_run(runs[0].run.id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->config["endpoint"], serve.url() + "/v1");
  EXPECT_EQ(run->config["api_model"], "teacher");
  EXPECT_EQ(run->config["teacher_top_k"], 20);
  EXPECT_EQ(run->config["api_key_env"], "CRUCIBLE_TEST_ONPOLICY_KEY");
  EXPECT_EQ(run->config["distill"]["loss"], "generalized_jsd_topk");
  EXPECT_EQ(run->config["distill"]["teacher"], "endpoint");
  EXPECT_EQ(run->config.dump().find("sk-onpolicy-secret"), std::string::npos);
  EXPECT_EQ(store.run_samples(run->id).size(), 48u);  // 6 steps x 2 prompts x 4 samples, graded and stored
  // A K above what crucible serve gives (20): the server's refusal, naming the endpoint, before a run is recorded.
  auto r = run_command(onpolicy(dir.file("k.db"), dir.file("p.jsonl"), dir.file("out-k"),
                                {"--student", dir.file("student"), "--endpoint", serve.url(), "--api-model",
                                 "teacher", "--teacher-top-k", "21", "--max-retries", "0"}));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find(serve.url() + "/v1 answered HTTP 422"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("logprobs"), std::string::npos) << r.err;
  if (std::filesystem::exists(dir.file("k.db"))) {
    EXPECT_TRUE(Store::open_read_only(dir.file("k.db")).list_runs().empty());
  }
}

// --nproc-per-node 2 (Gloo, this machine's CPU) against one process, the same command: each rank samples and
// scores its share of a step's 3 prompts (2 + 1, micro-batches of 2), the gradients are summed over the ranks, rank 0
// stores. Every step's loss and gradient norm, the stored samples in order, and the final weights agree.
void expect_two_ranks_equal_one_process(const testing::TempDir& dir, const std::vector<std::string>& teacher,
                                        const std::string& tag) {
  auto args = [&](const std::string& db, const std::string& out) {
    std::vector<std::string> extra = {"--student", dir.file("student"), "--steps", "6", "--prompts-per-step", "3",
                                      "--samples", "2", "--max-tokens", "16", "--micro-batch", "2", "--lr", "1e-2",
                                      "--schedule", "constant", "--assistant-prefix", ""};
    extra.insert(extra.end(), teacher.begin(), teacher.end());
    return onpolicy(db, dir.file("p.jsonl"), out, extra);
  };
  auto one = run_command(args(dir.file(tag + "1.db"), dir.file(tag + "1")));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto a = args(dir.file(tag + "2.db"), dir.file(tag + "2"));
  a.insert(a.end(), {"--nproc-per-node", "2"});
  auto two = run_command(a);
  ASSERT_EQ(two.exit_code, 0) << two.err;
  // Rank 0 alone reports; each rank's reducer started its all-reduce inside the last backward.
  const auto j1 = nlohmann::json::parse(one.out), j2 = nlohmann::json::parse(two.out);
  for (const char* rank : {"rank 0: gradient all-reduce", "rank 1: gradient all-reduce"})
    EXPECT_NE(two.err.find(rank), std::string::npos) << two.err;
  auto s1 = Store::open_read_only(dir.file(tag + "1.db")), s2 = Store::open_read_only(dir.file(tag + "2.db"));
  EXPECT_EQ(s2.list_runs().size(), 1u);
  auto r2 = s2.get_run(j2["run_id"].get<int64_t>());
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->config["resolved"]["world_size"], 2);
  auto st1 = s1.run_train_steps(j1["run_id"].get<int64_t>()), st2 = s2.run_train_steps(r2->id);
  ASSERT_EQ(st1.size(), 6u);
  ASSERT_EQ(st2.size(), 6u);
  double worst_loss = 0, worst_norm = 0;
  for (size_t k = 0; k < st1.size(); ++k) {
    const auto &m1 = st1[k].metrics, &m2 = st2[k].metrics;
    EXPECT_EQ(m1["tokens"], m2["tokens"]) << "step " << k + 1;
    EXPECT_EQ(m1["sequences"], m2["sequences"]) << "step " << k + 1;
    EXPECT_NEAR(m1["loss"].get<double>(), m2["loss"].get<double>(), 1e-6) << "step " << k + 1;
    EXPECT_NEAR(m1["teacher_logp_mean"].get<double>(), m2["teacher_logp_mean"].get<double>(), 1e-6) << k + 1;
    const double g1 = m1["grad_norm"].get<double>(), g2 = m2["grad_norm"].get<double>();
    EXPECT_NEAR(g1, g2, 1e-6 * g1) << "step " << k + 1 << ": the gradient is summed over the ranks, not averaged";
    worst_loss = std::max(worst_loss, std::abs(m1["loss"].get<double>() - m2["loss"].get<double>()));
    worst_norm = std::max(worst_norm, std::abs(g1 - g2) / g1);
  }
  const double worst =
      testing::max_relative_difference(dir.file(tag + "1/model.safetensors"), dir.file(tag + "2/model.safetensors"))
          .first;
  std::printf("%s: 2 ranks vs 1 process, 6 steps: max |loss diff| %.2e, max relative grad-norm diff %.2e, max "
              "relative parameter diff %.2e\n",
              tag.c_str(), worst_loss, worst_norm, worst);
  EXPECT_LE(worst, 1e-6);
  EXPECT_GT(st1[0].metrics["loss"].get<double>() - st1[5].metrics["loss"].get<double>(), 0.05) << "it trained";
  // Rank 0 stored every rank's samples in the one-process order.
  auto a1 = s1.run_samples(j1["run_id"].get<int64_t>()), a2 = s2.run_samples(r2->id);
  ASSERT_EQ(a1.size(), 36u);
  ASSERT_EQ(a1.size(), a2.size());
  for (size_t i = 0; i < a1.size(); ++i) {
    EXPECT_EQ(a1[i].completion, a2[i].completion) << "sample " << i;
    EXPECT_EQ(a1[i].sample_index, a2[i].sample_index) << "sample " << i;
    EXPECT_EQ(a1[i].detail["distill"]["step"], a2[i].detail["distill"]["step"]) << "sample " << i;
  }
}

void init_pair(const testing::TempDir& dir) {
  for (const auto& [name, seed] : {std::pair{"student", "1"}, std::pair{"teacher", "2"}}) {
    auto r = run_command({crucible_binary(), "init-model", "--out", dir.file(name), "--layers", "2", "--dim", "32",
                          "--heads", "4", "--kv-heads", "2", "--ffn", "64", "--seed", seed, "--init-std", "0.2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  write_prompts(dir.file("p.jsonl"));
}

TEST(OnPolicyCli, TwoGlooRanksEqualOneProcess) {
  testing::TempDir dir;
  init_pair(dir);
  expect_two_ranks_equal_one_process(dir, {"--teacher", dir.file("teacher")}, "native");
}

TEST(OnPolicyCli, TwoGlooRanksEqualOneProcessWithAServedTeacher) {
  testing::TempDir dir;
  init_pair(dir);
  ServeProcess serve(dir.file("teacher"), dir.file("serve.log"));
  ASSERT_GT(serve.port_, 0) << slurp(dir.file("serve.log"));
  expect_two_ranks_equal_one_process(dir, {"--endpoint", serve.url(), "--api-model", "teacher"}, "served");
}

TEST(OnPolicyCli, BadInputExitsTwoNamingTheFlag) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_prompts(dir.file("p.jsonl"));
  const auto db = dir.file("c.db");
  const std::vector<std::string> student = {"--student", stories("stories260K.bin"), "--student-tokenizer",
                                            stories("tok512.bin"), "--steps", "1", "--max-tokens", "4"};
  auto with = [&](std::vector<std::string> more) {
    auto args = student;
    args.insert(args.end(), more.begin(), more.end());
    return run_command(onpolicy(db, dir.file("p.jsonl"), dir.file("out"), args));
  };
  // Another vocabulary size: an init-model folder (byte-level tokenizer) as the teacher.
  auto r = run_command({crucible_binary(), "init-model", "--out", dir.file("other"), "--layers", "1", "--dim", "16",
                        "--heads", "2", "--kv-heads", "1", "--ffn", "32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = with({"--teacher", dir.file("other")});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("do not share a tokenizer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vocabulary sizes"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dir.file("other")), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(stories("stories260K.bin")), std::string::npos) << r.err;
  // The same size, other tokens: stories260K read with the first 512 entries of Llama 2's tokenizer.
  if (std::filesystem::exists(shared("llama2-tokenizer/tokenizer.bin"))) {
    r = with({"--teacher", stories("stories260K.bin"), "--teacher-tokenizer", shared("llama2-tokenizer/tokenizer.bin")});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("do not share a tokenizer"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("for the teacher"), std::string::npos) << r.err;
  }
  r = with({"--teacher", stories("stories260K.bin"), "--teacher-tokenizer", stories("tok512.bin"), "--jsd-beta", "1.5"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--jsd-beta"), std::string::npos) << r.err;
  // A teacher both in-process and served; a served one with a temperature other than 1 (its logprobs are at 1);
  // a top-K of 0 with an endpoint.
  r = with({"--teacher", stories("stories260K.bin"), "--endpoint", "http://127.0.0.1:9/v1", "--api-model", "t"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--teacher/--endpoint"), std::string::npos) << r.err;
  r = with({"--endpoint", "http://127.0.0.1:9/v1", "--api-model", "t", "--temperature", "0.7"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--temperature"), std::string::npos) << r.err;
  r = with({"--endpoint", "http://127.0.0.1:9/v1", "--api-model", "t", "--teacher-top-k", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--teacher-top-k"), std::string::npos) << r.err;
  // Nobody listening: the probe before the run is recorded fails, naming the endpoint (exit 1: a run failure).
  r = with({"--endpoint", "http://127.0.0.1:9", "--api-model", "t", "--max-retries", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("http://127.0.0.1:9/v1"), std::string::npos) << r.err;
  // A bad prompts file names the file and the line.
  {
    std::ofstream f(dir.file("bad.jsonl"));
    f << R"({"id": "a", "prompt": "2 + 2?"})" << "\n";
  }
  auto args = onpolicy(db, dir.file("bad.jsonl"), dir.file("out"), student);
  args.insert(args.end(), {"--teacher", stories("stories260K.bin"), "--teacher-tokenizer", stories("tok512.bin")});
  r = run_command(args);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("bad.jsonl:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("answer"), std::string::npos) << r.err;
  // Nothing was recorded by a refused command.
  if (std::filesystem::exists(db)) {
    auto store = Store::open_read_only(db);
    EXPECT_TRUE(store.list_runs().empty());
  }
}

}  // namespace
}  // namespace crucible
