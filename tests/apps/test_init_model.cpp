// `crucible init-model`: the same seed writes the same bytes, another seed other weights, a bad shape exits 2 naming
// the flag, and the folder loads in crucible (generate, tokenize) and in transformers with the same prompt ids and
// the same logprobs (tests/apps/oracles/init_model_check.py).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/json_io.h"
#include "tests/support/oracle.h"
#include "tests/support/test_support.h"

using crucible::read_text_file;
using crucible::testing::crucible_binary;
using crucible::testing::run_command;
using crucible::testing::TempDir;

namespace {
std::vector<std::string> init_args(const std::string& out, const std::string& seed) {
  return {crucible_binary(), "init-model", "--out", out, "--layers", "2", "--dim", "32", "--heads", "4", "--kv-heads",
          "2", "--ffn", "64", "--seed", seed};
}
}  // namespace

TEST(InitModel, SeededBytesAndShapeErrors) {
  TempDir dir;
  for (const char* name : {"a", "b", "c"}) {
    auto r = run_command(init_args(dir.file(name), name[0] == 'c' ? "8" : "7"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  for (const char* f : {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
                        "generation_config.json"})
    EXPECT_EQ(read_text_file(dir.file("a/") + f), read_text_file(dir.file("b/") + f)) << f;
  EXPECT_NE(read_text_file(dir.file("a/model.safetensors")), read_text_file(dir.file("c/model.safetensors")));
  auto config = nlohmann::json::parse(read_text_file(dir.file("a/config.json")));
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["vocab_size"], 261);
  EXPECT_EQ(config["num_key_value_heads"], 2);

  auto bad = run_command({crucible_binary(), "init-model", "--out", dir.file("d"), "--dim", "30", "--heads", "4"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--heads"), std::string::npos) << bad.err;
}

TEST(InitModel, LoadsInCrucibleAndTransformersAlike) {
  TempDir dir;
  ASSERT_EQ(run_command(init_args(dir.file("m"), "3")).exit_code, 0);
  const std::string message = "Compute 7+5-3.";
  auto tok = run_command({crucible_binary(), "tokenize", "--model", dir.file("m"), "--render", "--chat"}, message);
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  const std::string rendered = "<|im_start|>user\n" + message + "<|im_end|>\n<|im_start|>assistant\n";
  EXPECT_EQ(tok.out.substr(0, rendered.size()), rendered);
  auto gen = run_command({crucible_binary(), "--json", "generate", "--model", dir.file("m"), "--chat", message,
                          "--temperature", "0", "--max-tokens", "12", "--logprobs", "--ignore-eos"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto j = nlohmann::json::parse(gen.out);
  ASSERT_EQ(j["samples"][0]["tokens"].size(), 12u);
  CRUCIBLE_REQUIRE_ORACLE();
  crucible::write_text_file_atomic(dir.file("gen.json"), gen.out);
  auto check = crucible::testing::run_oracle("tests/apps/oracles/init_model_check.py",
                                             {dir.file("m"), dir.file("gen.json"), message});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}
