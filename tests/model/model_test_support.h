// Pieces the model tests share (torch-linked tests only): the stories260K fixture and the replay of a recorded
// transformers greedy run.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "model/checkpoint.h"
#include "model/engine.h"
#include "model/text/chat_template.h"
#include "model/text/tokenizer.h"
#include "tests/support/test_support.h"

namespace crucible::model {

// ../shared/models/stories260K: the llama2.c checkpoint and its 512-token tokenizer.
inline std::string stories(const std::string& f) { return testing::shared_dir() + "/models/stories260K/" + f; }

// Loads stories260K and its tokenizer for each test; skips, loudly, where ../shared lacks them.
class StoriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "../shared/models/stories260K missing";
    model = load_model(stories("stories260K.bin"));
    tok = text::load_llama2c_tokenizer(stories("tok512.bin"), 512);
  }
  Transformer model{nullptr};
  std::unique_ptr<text::Tokenizer> tok;
};

// k samples of `prompt` with every filter on (temperature 0.9, top-p 0.95, top-k 50), at most n new tokens.
inline GenerationRequest sampled_request(std::vector<TokenId> prompt, int64_t k, uint64_t seed, int64_t n = 40) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.n_samples = k;
  r.params.temperature = 0.9;
  r.params.top_p = 0.95;
  r.params.top_k = 50;
  r.params.max_new_tokens = n;
  r.params.seed = seed;
  return r;
}

// The requests that replay a greedy run recorded by tests/model/oracles/gguf_greedy.py: each recorded prompt through
// the model's own chat template and tokenizer (both checked against what transformers made of it), n_tokens forced
// (the oracle ran with min_new_tokens = n_tokens, so every prompt compares all of them).
inline std::vector<GenerationRequest> recorded_greedy_requests(const std::string& gguf, const nlohmann::json& oracle,
                                                               const text::Tokenizer& tok, int64_t n_tokens) {
  const auto tmpl = text::ChatTemplate::for_model(gguf);
  std::vector<GenerationRequest> reqs;
  for (const auto& o : oracle) {
    const auto templated = tmpl.apply({{"user", o["prompt"].get<std::string>()}}, true);
    EXPECT_EQ(templated, o["templated"].get<std::string>());
    GenerationRequest q;
    q.prompt = tok.encode(templated, false);
    EXPECT_EQ(q.prompt, o["prompt_ids"].get<std::vector<TokenId>>());
    q.params.max_new_tokens = n_tokens;
    q.params.min_new_tokens = n_tokens;
    reqs.push_back(q);
  }
  return reqs;
}

}  // namespace crucible::model
