// GGUF against its oracles: every block format dequantised as gguf-py does, and SmolLM2-135M-Instruct (Q4_1, the
// demo model) decoding greedily exactly as transformers does when it loads the same GGUF: 64 tokens, 5 chat prompts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/engine.h"
#include "model/safetensors.h"
#include "model/text/chat_template.h"
#include "model/text/gguf.h"
#include "model/text/tokenizer.h"
#include "tests/support/oracle.h"

namespace crucible::model {
namespace {

namespace fs = std::filesystem;

std::string demo_gguf() { return testing::cache_dir() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"; }

TEST(GgmlDequant, MatchesGgufPy) {
  CRUCIBLE_REQUIRE_ORACLE();
  testing::TempDir dir;
  auto r = testing::run_oracle("tests/model/oracles/ggml_blocks.py", {dir.file("b.safetensors")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  MappedFile f(dir.file("b.safetensors"));
  auto h = parse_safetensors_header(f.data(), f.size(), "blocks");
  std::map<std::string, const SafetensorsEntry*> by_name;
  for (const auto& e : h.entries) by_name[e.name] = &e;
  const std::map<std::string, uint32_t> types = {{"F16", 1},   {"BF16", 30}, {"Q8_0", 8},  {"Q4_0", 2},    {"Q4_1", 3},
                                                 {"Q5_0", 6},  {"Q5_1", 7},  {"Q2_K", 10}, {"Q3_K", 11},   {"Q4_K", 12},
                                                 {"Q5_K", 13}, {"Q6_K", 14}, {"IQ4_NL", 20}};
  for (const auto& [name, type] : types) {
    const auto* raw = by_name.at(name + ".raw");
    const auto* want = by_name.at(name + ".want");
    const uint64_t n = static_cast<uint64_t>(want->shape[0]);
    std::vector<float> got(n);
    dequantize_ggml(type, f.data() + h.data_offset + raw->begin, got.data(), n, name);
    const float* w = reinterpret_cast<const float*>(f.data() + h.data_offset + want->begin);
    float worst = 0;
    for (uint64_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(got[i] - w[i]));
    EXPECT_LE(worst, 1e-6f) << name;
  }
}

TEST(GgufCheckpoint, SmolLM2ConfigFromMetadata) {
  if (!fs::exists(demo_gguf())) GTEST_SKIP() << "demo model missing (scripts/setup)";
  auto ck = load_checkpoint(demo_gguf());
  EXPECT_EQ(ck.format, "gguf");
  EXPECT_EQ(ck.config.model_type, "llama");
  EXPECT_EQ(ck.config.hidden_size, 576);
  EXPECT_EQ(ck.config.num_hidden_layers, 30);
  EXPECT_EQ(ck.config.num_attention_heads, 9);
  EXPECT_EQ(ck.config.num_key_value_heads, 3);
  EXPECT_EQ(ck.config.vocab_size, 49152);
  EXPECT_TRUE(ck.config.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(ck.config.rope_theta, 100000.0);
  EXPECT_EQ(ck.tensors.count("model.layers.29.mlp.down_proj.weight"), 1u);
}

// Live: re-runs transformers (minutes on a 2-core machine), so opt-in with CRUCIBLE_LIVE_ORACLE=1. The unit suite
// (test_model_engine, SmolLM2.*) checks the same against this script's recorded output on every run.
TEST(GgufParity, SmolLM2GreedyMatchesTransformers) {
  const char* live = std::getenv("CRUCIBLE_LIVE_ORACLE");
  if (!live || std::string(live) != "1") GTEST_SKIP() << "set CRUCIBLE_LIVE_ORACLE=1 to re-run transformers live";
  CRUCIBLE_REQUIRE_ORACLE();
  if (!fs::exists(demo_gguf())) GTEST_SKIP() << "demo model missing (scripts/setup)";
  testing::TempDir dir;
  auto r = testing::run_oracle("tests/model/oracles/gguf_greedy.py", {demo_gguf(), "64", dir.file("o.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir.file("o.json"));
  auto oracle = nlohmann::json::parse(in);
  ASSERT_EQ(oracle.size(), 5u);
  std::vector<GenerationRequest> reqs;
  for (const auto& o : oracle) {
    GenerationRequest q;
    q.prompt = o["prompt_ids"].get<std::vector<TokenId>>();
    q.params.max_new_tokens = 64;
    q.params.min_new_tokens = 64;
    reqs.push_back(q);
  }
  Engine engine(load_model(demo_gguf()), nullptr);
  auto outs = engine.generate(reqs);
  for (size_t i = 0; i < outs.size(); ++i) {
    const auto want = oracle[i]["output_ids"].get<std::vector<TokenId>>();
    ASSERT_EQ(want.size(), 64u);
    EXPECT_EQ(outs[i].tokens, want) << "prompt " << i << ": " << oracle[i]["prompt"];
    EXPECT_EQ(outs[i].finish, FinishReason::length);
  }
}


// crucible saves the GGUF-loaded demo model as an HF folder, tokenizer included (written from the GGUF vocabulary):
// crucible reads the folder's tokenizer and chat template back identically, and transformers loads the folder
// unchanged (AutoTokenizer + AutoModelForCausalLM), tokenises as crucible does, renders and tokenises the chat
// prompts as it did from the GGUF itself, and decodes the same greedy tokens (tests/model/oracles/hf_saved_check.py).
TEST(GgufSave, TransformersLoadsTheSavedFolderWithItsTokenizer) {
  if (!fs::exists(demo_gguf())) GTEST_SKIP() << "demo model missing (scripts/setup)";
  testing::TempDir dir;
  const std::string folder = dir.file("smollm2");
  {
    auto model = load_model(demo_gguf());
    save_hf_folder(model, folder, torch::kFloat32, demo_gguf());
  }
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                        "tokenizer_config.json", "special_tokens_map.json"})
    EXPECT_TRUE(fs::exists(folder + "/" + f)) << f;
  auto from_gguf = text::load_tokenizer(demo_gguf());
  auto from_folder = text::load_tokenizer(folder);
  const std::vector<std::string> texts = {
      "Hello, world!", "  two  spaces and\ttabs\n\nnew lines", "digits 1234567 and 3.14159", "naïve café — ünïcödé 日本語 🙂",
      "<|im_start|>user\nHi<|im_end|>\n", "don't we'll they're", "x=f(y)**2; // code", ""};
  nlohmann::json cases = {{"texts", nlohmann::json::array()}};
  for (const auto& t : texts) {
    const auto ids = from_gguf->encode(t, false);
    EXPECT_EQ(from_folder->encode(t, false), ids) << t;
    EXPECT_EQ(from_folder->encode(t, true), from_gguf->encode(t, true)) << t;
    EXPECT_EQ(from_folder->decode(ids), from_gguf->decode(ids)) << t;
    cases["texts"].push_back({{"text", t}, {"ids", ids}});
  }
  EXPECT_EQ(from_folder->eos_ids(), from_gguf->eos_ids());
  EXPECT_EQ(from_folder->bos_id(), from_gguf->bos_id());
  auto tmpl_gguf = text::ChatTemplate::for_model(demo_gguf()), tmpl_folder = text::ChatTemplate::for_model(folder);
  EXPECT_EQ(tmpl_folder.apply({{"user", "What is 2+2?"}}, true), tmpl_gguf.apply({{"user", "What is 2+2?"}}, true));

  CRUCIBLE_REQUIRE_ORACLE();
  std::ifstream in("tests/model/data/smollm2_q4_1_greedy64_transformers.json");
  cases["greedy"] = nlohmann::json::parse(in);
  std::ofstream(dir.file("cases.json")) << cases.dump();
  auto r = testing::run_oracle("tests/model/oracles/hf_saved_check.py", {folder, dir.file("cases.json")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cerr << r.out;
}

}  // namespace
}  // namespace crucible::model
