// `crucible train grpo` end to end on stories260K (llama2.c, no chat template): two optimizer steps from one
// generation batch (mu = 2), a reference model (beta > 0), micro-batches that split groups, a checkpoint per step.
// Checks the stored run (kind, config), one train_steps row per step with every metric the issue lists, every
// rollout stored as a sample with its reward terms, the step folders, and the sampler/trainer logprob mismatch on
// the same fp32 weights (<= 1e-4 per token: the engine's cached forward and the trainer's full forward agree).
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
using testing::shared_dir;

std::string stories(const std::string& f) { return shared_dir() + "/models/stories260K/" + f; }

TEST(GrpoCli, TwoStepsStoredWithEveryMetric) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  {
    std::ofstream f(dir.file("prompts.jsonl"));
    f << R"({"id": "a", "prompt": "Lily had 2 cats and got 3 more. How many cats?", "answer": "5"})" << "\n"
      << R"({"id": "b", "prompt": "Tom had 7 balls and lost 4. How many balls?", "answer": "3"})" << "\n"
      << R"({"id": "c", "prompt": "One day a bird saw 4 trees and then 4 more. How many trees?", "answer": "8"})"
      << "\n";
  }
  const auto db = dir.file("c.db");
  auto r = run_command({crucible_binary(), "--json", "--db", db, "train", "grpo", "--model", stories("stories260K.bin"),
                        "--tokenizer", stories("tok512.bin"), "--prompts", dir.file("prompts.jsonl"), "--out",
                        dir.file("out"), "--steps", "2", "--prompts-per-step", "2", "--group-size", "4",
                        "--max-tokens", "12", "--micro-batch", "3", "--beta", "0.04", "--num-iterations", "2",
                        "--lr", "1e-3", "--save-every", "1", "--seed", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["status"], "completed");
  EXPECT_EQ(out["steps"], 2);

  auto store = Store::open_read_only(db);
  auto run = store.get_run(out["run_id"].get<int64_t>());
  ASSERT_TRUE(run);
  EXPECT_EQ(run->kind, "train-grpo");
  EXPECT_EQ(run->config["group_size"], 4);
  EXPECT_EQ(run->config["loss"]["beta"], 0.04);

  auto steps = store.run_train_steps(run->id);
  ASSERT_EQ(steps.size(), 2u);
  for (const auto& s : steps) {
    for (const char* k : {"loss", "lr", "grad_norm", "tokens", "seconds", "reward_mean", "reward_std", "accuracy",
                          "format_rate", "kl", "entropy", "clip_frac", "response_len_mean", "truncated_frac",
                          "filtered_groups", "seconds_rollout", "seconds_update"}) {
      EXPECT_TRUE(s.metrics.contains(k)) << "step " << s.step << " lacks " << k;
    }
  }
  // The generation step measures the sampler/trainer mismatch on the same weights.
  ASSERT_TRUE(steps[0].metrics.contains("mismatch_kl"));
  EXPECT_LE(steps[0].metrics["mismatch_abs_max"].get<double>(), 1e-4) << steps[0].metrics.dump();
  EXPECT_GT(steps[0].metrics["entropy"].get<double>(), 0.0);
  // mu = 2: the second step trains on the first step's rollouts without generating (no mismatch measured again).
  // (stories260K never answers, so every advantage is 0 and the policy need not move: the loss arithmetic itself is
  // tested against TRL in test_grpo_loss.cpp, learning in the SmolLM2 run of benchmarks/RESULTS.md.)
  EXPECT_FALSE(steps[1].metrics.contains("mismatch_kl"));
  EXPECT_EQ(steps[1].metrics["seconds_rollout"].get<double>(), 0.0);
  EXPECT_GE(steps[1].metrics["kl"].get<double>(), 0.0);

  auto samples = store.run_samples(run->id);
  ASSERT_EQ(samples.size(), 8u);  // one generation batch: 2 prompts x 4 samples
  for (const auto& s : samples) {
    ASSERT_TRUE(s.detail.contains("grpo")) << s.detail.dump();
    const auto& rw = s.detail["grpo"]["reward"];
    for (const char* k : {"accuracy", "format", "overlong", "total"}) EXPECT_TRUE(rw.contains(k)) << rw.dump();
    EXPECT_TRUE(s.verdict.has_value());
    EXPECT_GT(s.completion_tokens, 0);
  }
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/step-1")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("out/step-2")));
}

void write_prompts(const std::string& path) {
  std::ofstream f(path);
  f << R"({"id": "a", "prompt": "Lily had 2 cats and got 3 more. How many cats?", "answer": "5"})" << "\n"
    << R"({"id": "b", "prompt": "Tom had 7 balls and lost 4. How many balls?", "answer": "3"})" << "\n"
    << R"({"id": "c", "prompt": "One day a bird saw 4 trees and then 4 more. How many trees?", "answer": "8"})" << "\n"
    << R"({"id": "d", "prompt": "Sue had 9 pens and gave away 2. How many pens?", "answer": "7"})" << "\n";
}

// DAPO dynamic sampling: stories260K never answers, so every group is flat: each round drops its groups and draws
// new prompts, up to --max-refill-rounds, and the step trains on nothing (still one train_steps row, no crash).
TEST(GrpoCli, DynamicSamplingDropsFlatGroupsAndRefillsUpToTheBound) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_prompts(dir.file("prompts.jsonl"));
  const auto db = dir.file("c.db");
  auto r = run_command({crucible_binary(), "--json", "--db", db, "train", "grpo", "--model", stories("stories260K.bin"),
                        "--tokenizer", stories("tok512.bin"), "--prompts", dir.file("prompts.jsonl"), "--out",
                        dir.file("out"), "--steps", "1", "--prompts-per-step", "2", "--group-size", "3",
                        "--max-tokens", "6", "--beta", "0", "--dynamic-sampling", "--max-refill-rounds", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto out = nlohmann::json::parse(r.out);
  auto store = Store::open_read_only(db);
  auto steps = store.run_train_steps(out["run_id"].get<int64_t>());
  ASSERT_EQ(steps.size(), 1u);
  // Round 0 draws 2 prompts, rounds 1 and 2 refill the 2 missing groups each: 6 flat groups dropped.
  EXPECT_EQ(steps[0].metrics["filtered_groups"].get<int64_t>(), 6) << steps[0].metrics.dump();
  EXPECT_EQ(steps[0].metrics["tokens"].get<double>(), 0.0);
  EXPECT_NE(r.err.find("every group had equal rewards after 2 refills"), std::string::npos) << r.err;
}

// --save-only-model: every step folder is the HF model alone, --keep-last prunes them, and no run resumes from them.
TEST(GrpoCli, SaveOnlyModelWritesHfFoldersThatKeepLastPrunes) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  testing::TempDir dir;
  write_prompts(dir.file("prompts.jsonl"));
  std::vector<std::string> cmd = {crucible_binary(), "--json", "--db", dir.file("c.db"), "train", "grpo", "--model",
                                  stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "--prompts",
                                  dir.file("prompts.jsonl"), "--out", dir.file("out"), "--steps", "3",
                                  "--prompts-per-step", "1", "--group-size", "2", "--max-tokens", "4", "--save-every",
                                  "1", "--keep-last", "2", "--save-only-model"};
  auto r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  namespace fs = std::filesystem;
  EXPECT_FALSE(fs::exists(dir.file("out/step-1"))) << "pruned by --keep-last 2";
  for (const char* step : {"out/step-2", "out/step-3"}) {
    EXPECT_TRUE(fs::exists(dir.file(step) + "/model.safetensors")) << step;
    EXPECT_FALSE(fs::exists(dir.file(step) + "/trainer_state")) << step;
  }
  cmd.insert(cmd.end(), {"--resume", "auto"});
  auto resume = run_command(cmd);
  EXPECT_EQ(resume.exit_code, 2) << resume.err;
  EXPECT_NE(resume.err.find("--resume"), std::string::npos) << resume.err;
}

// Curriculum: --solve-rate LO:HI --from-run RUN keeps the problems whose pass rate in a stored eval lies in [LO, HI].
TEST(GrpoCli, SolveRateCurriculumPicksFromAStoredEval) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  const auto data = testing::shared_dir() + "/data";
  if (!std::filesystem::exists(data + "/gsm8k")) GTEST_SKIP() << "../shared/data/gsm8k missing";
  testing::TempDir dir;
  const auto db = dir.file("c.db");
  auto e = run_command({crucible_binary(), "--json", "--db", db, "eval", "--model", stories("stories260K.bin"),
                        "--tokenizer", stories("tok512.bin"), "--suite", "gsm8k", "--data-dir", data, "--limit", "3",
                        "--samples", "2", "--max-tokens", "6", "--name", "base-eval"});
  ASSERT_EQ(e.exit_code, 0) << e.out << e.err;
  auto grpo = [&](const std::string& range) {
    return run_command({crucible_binary(), "--json", "--db", db, "train", "grpo", "--model",
                        stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "--suite", "gsm8k",
                        "--data-dir", data, "--limit", "3", "--out", dir.file("out-" + range), "--steps", "1",
                        "--prompts-per-step", "2", "--group-size", "2", "--max-tokens", "4", "--beta", "0",
                        "--solve-rate", range, "--from-run", "base-eval"});
  };
  // Every problem was missed (pass rate 0): 0:0 keeps them all and trains.
  auto r = grpo("0:0");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto store = Store::open_read_only(db);
  auto samples = store.run_samples(nlohmann::json::parse(r.out)["run_id"].get<int64_t>());
  EXPECT_EQ(samples.size(), 4u);
  // None lies in [0.5, 1]: a clear error naming the run, exit 2, nothing trained.
  r = grpo("0.5:1");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("base-eval"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("solve rate"), std::string::npos) << r.err;
}

TEST(GrpoCli, BadFlagsNameTheFlag) {
  auto r = run_command({crucible_binary(), "train", "grpo", "--model", "x.bin", "--prompts", "p.jsonl", "--out", "o",
                        "--group-size", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--group-size"), std::string::npos) << r.err;
  r = run_command({crucible_binary(), "train", "grpo", "--model", "x.bin", "--prompts", "p.jsonl", "--out", "o",
                   "--loss-type", "ppo"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--loss-type"), std::string::npos) << r.err;
  // --eval-every evaluates HF step folders: a llama2.c start has no HF tokenizer to give them; refused up front.
  r = run_command({crucible_binary(), "train", "grpo", "--model", "x.bin", "--prompts", "p.jsonl", "--out", "o",
                   "--eval-every", "1", "--eval-suite", "gsm8k"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--eval-every"), std::string::npos) << r.err;
  r = run_command({crucible_binary(), "train", "grpo", "--model", "x.bin", "--prompts", "p.jsonl", "--out", "o",
                   "--logprob-chunk", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--logprob-chunk"), std::string::npos) << r.err;
}

// --logprob-chunk in the --dry-run plan: 1,024 completion positions of a 151,936-token vocabulary do not fit the
// 64 Mi logits token_logprobs keeps, so one chunk's logits are counted (recomputed in backward); the flag shrinks it,
// and a chunk of 0 is refused by the plan too.
TEST(GrpoCli, DryRunCountsOneLogprobChunk) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.file("m"));
  std::filesystem::copy_file(testing::source_dir() + "/tests/trainer/fixtures/qwen2.5-1.5b-config.json",
                             dir.file("m/config.json"));
  auto plan = [&](const std::string& chunk) {
    return run_command({crucible_binary(), "train", "grpo", "--model", dir.file("m"), "--suite", "gsm8k", "--out",
                        dir.file("o"), "--steps", "1", "--prompts-per-step", "8", "--group-size", "8",
                        "--max-tokens", "128", "--micro-batch", "8", "--logprob-chunk", chunk, "--dry-run"});
  };
  auto r = plan("1024");  // 8 x 128 = 1,024 scored positions x 151,936 > 64 Mi: one chunk held
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1024 scored positions, 1024 at a time x vocab, recomputed in backward"), std::string::npos)
      << r.out;
  r = plan("128");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("128 at a time"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::to_string(int64_t{128} * 151936 * 4)), std::string::npos) << r.out;
  r = plan("0");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--logprob-chunk"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace crucible
