// `crucible distill onpolicy` through the built CLI:
//   - student = teacher (stories260K): the divergence of the first step is 0 (both score the same tokens with the
//     same weights), the run is stored as kind distill-onpolicy with one train_steps row per step and every metric,
//     every sample graded and stored, and the step and final folders are written;
//   - a student and a teacher with other weights but one tokenizer (two `init-model` folders, other seeds): the
//     reverse KL falls over the steps;
//   - bad input exits 2 naming the flag or file, and records no run: another tokenizer (vocabulary size; same size
//     but other token text), a --jsd-beta outside [0, 1], --endpoint (not implemented), a prompt without answer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

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
  r = with({"--endpoint", "http://127.0.0.1:9/v1"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--endpoint"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not implemented"), std::string::npos) << r.err;
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
