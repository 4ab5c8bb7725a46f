// `crucible generate` end to end: the stories260K golden (run.c's stdout byte for byte), JSON output, samples,
// the demo GGUF with its own chat template, and exit code 2 naming the file and field on bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/test_support.h"

namespace {

using crucible::testing::crucible_binary;
using crucible::testing::run_command;
using crucible::testing::shared_dir;

std::string stories(const std::string& f) { return shared_dir() + "/models/stories260K/" + f; }

std::string demo_gguf() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(GenerateCli, Stories260KGreedyEqualsRunC) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  auto r = run_command({crucible_binary(), "generate", "--model", stories("stories260K.bin"), "--tokenizer",
                        stories("tok512.bin"), "--temperature", "0", "--max-tokens", "200"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(stories("expected_greedy_t0_n200.run_c_stdout.txt"), std::ios::binary);
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(r.out, want.str());
}

TEST(GenerateCli, JsonSamplesAndCounts) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  auto r = run_command({crucible_binary(), "--json", "generate", "--model", stories("stories260K.bin"), "--tokenizer",
                        stories("tok512.bin"), "--prompt", "Once upon a time", "--samples", "3", "--temperature",
                        "0.8", "--top-k", "40", "--seed", "5", "--max-tokens", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["samples"].size(), 3u);
  for (const auto& s : j["samples"]) {
    EXPECT_EQ(s["prompt_tokens"], 5);  // BOS + 4
    EXPECT_LE(s["completion_tokens"].get<int>(), 30);
    EXPECT_EQ(s["completion_tokens"].get<size_t>(), s["tokens"].size());
    EXPECT_TRUE(s["finish_reason"] == "length" || s["finish_reason"] == "stop");
  }
  EXPECT_NE(j["samples"][0]["tokens"], j["samples"][1]["tokens"]);
  EXPECT_EQ(j["stats"]["prefill_tokens"], 5);  // one prefill shared by the three samples
}

TEST(GenerateCli, JsonLogprobsPerTokenWithTopN) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  auto r = run_command({crucible_binary(), "--json", "generate", "--model", stories("stories260K.bin"), "--tokenizer",
                        stories("tok512.bin"), "--prompt", "Once upon a time", "--temperature", "1", "--top-k", "5",
                        "--seed", "3", "--max-tokens", "20", "--top-logprobs", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const auto& s = j["samples"][0];
  ASSERT_GE(s["logprobs"].size(), s["tokens"].size());
  for (size_t t = 0; t < s["tokens"].size(); ++t) {
    const auto& e = s["logprobs"][t];
    EXPECT_EQ(e["id"], s["tokens"][t]);
    ASSERT_EQ(e["top_logprobs"].size(), 4u);
    // top-k 5 at temperature 1 renormalises over 5 tokens: the sampled token is at least as likely there.
    EXPECT_GE(e["sampling_logprob"].get<double>(), e["logprob"].get<double>());
    EXPECT_GE(e["top_logprobs"][0]["logprob"].get<double>(), e["logprob"].get<double>());
  }
  r = run_command({crucible_binary(), "generate", "--model", stories("stories260K.bin"), "--tokenizer",
                   stories("tok512.bin"), "--logprobs"});
  EXPECT_EQ(r.exit_code, 2) << "logprobs need --json";
  EXPECT_NE(r.err.find("--json"), std::string::npos) << r.err;
}

TEST(GenerateCli, DemoGgufChat) {
  if (!std::filesystem::exists(demo_gguf())) GTEST_SKIP() << "demo model missing (scripts/setup)";
  auto r = run_command({crucible_binary(), "--json", "generate", "--model", demo_gguf(), "--chat",
                        "What is the capital of France?", "--max-tokens", "12"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  // transformers' greedy continuation of the same templated prompt starts "The capital of France is Paris."
  EXPECT_EQ(j["samples"][0]["text"].get<std::string>().rfind("The capital of France is Paris.", 0), 0u) << r.out;
  EXPECT_EQ(j["samples"][0]["prompt_tokens"], 37);
}

TEST(GenerateCli, BadInputExitsTwoNamingFileAndField) {
  crucible::testing::TempDir dir;
  {
    std::ofstream(dir.file("config.json")) << R"({"model_type": "bloom", "vocab_size": 5})";
  }
  auto r = run_command({crucible_binary(), "generate", "--model", dir.path(), "--prompt", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model_type"), std::string::npos) << r.err;

  r = run_command({crucible_binary(), "generate", "--model", dir.file("nope.gguf")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nope.gguf"), std::string::npos) << r.err;

  if (std::filesystem::exists(stories("stories260K.bin"))) {
    r = run_command({crucible_binary(), "generate", "--model", stories("stories260K.bin")});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
    r = run_command({crucible_binary(), "generate", "--model", stories("stories260K.bin"), "--tokenizer",
                     stories("tok512.bin"), "--top-p", "1.5"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--top-p"), std::string::npos) << r.err;
  }
}

}  // namespace
