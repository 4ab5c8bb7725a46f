// Per-token logprobs against transformers' log_softmax (fp32, tolerance 1e-4): generated tokens (greedy and
// sampled with temperature/top-k/top-p: the model's logprob, the sampling distribution's, the top-5 set) and scored
// prompt tokens, on random Qwen2 / Qwen3 / Llama-3 configs (tests/model/oracles/hf_logprobs.py) and on the demo
// SmolLM2 GGUF. The engine writes what it reports, the oracle recomputes it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/engine.h"
#include "model/text/tokenizer.h"
#include "tests/support/oracle.h"

namespace crucible::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string demo_gguf() { return testing::cache_dir() + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"; }

json top_json(const std::vector<TopLogprob>& top) {
  json out = json::array();
  for (const auto& t : top) out.push_back({t.token_id, t.logprob});
  return out;
}

// Generates from `model` with logprobs (top 5) and the prompt scored; one case per sample for the oracle.
void add_cases(json& cases, const std::string& path, Transformer model, const std::vector<TokenId>& prompt,
               double temperature, int64_t top_k, double top_p, int64_t n_samples) {
  Engine engine(model, nullptr, EngineOptions{4, 0});
  GenerationRequest r;
  r.prompt = prompt;
  r.n_samples = n_samples;
  r.score_prompt = true;
  r.params.temperature = temperature;
  r.params.top_k = top_k;
  r.params.top_p = top_p;
  r.params.max_new_tokens = 12;
  r.params.ignore_eos = true;
  r.params.seed = 11;
  r.params.logprobs = true;
  r.params.top_logprobs = 5;
  for (const auto& o : engine.generate({r})) {
    ASSERT_EQ(o.logprobs.size(), o.tokens.size());
    ASSERT_EQ(o.prompt_logprobs.size(), prompt.size() - 1);
    json c = {{"model", path}, {"prompt", prompt}, {"tokens", o.tokens}, {"temperature", temperature},
              {"top_k", top_k}, {"top_p", top_p}};
    for (size_t t = 0; t < o.tokens.size(); ++t) {
      const auto& lp = o.logprobs[t];
      EXPECT_EQ(lp.token_id, o.tokens[t]);
      ASSERT_TRUE(lp.sampling_logprob.has_value());
      ASSERT_EQ(lp.top.size(), 5u);
      if (temperature == 0) {
        EXPECT_EQ(lp.top[0].token_id, lp.token_id) << "greedy picks the most likely token";
      }
      EXPECT_LE(lp.logprob, 0.0);
      c["logprobs"].push_back(lp.logprob);
      c["sampling_logprobs"].push_back(*lp.sampling_logprob);
      c["top"].push_back(top_json(lp.top));
    }
    for (size_t t = 0; t < o.prompt_logprobs.size(); ++t) {
      EXPECT_EQ(o.prompt_logprobs[t].token_id, prompt[t + 1]);
      c["prompt_logprobs"].push_back(o.prompt_logprobs[t].logprob);
      c["prompt_top"].push_back(top_json(o.prompt_logprobs[t].top));
    }
    cases.push_back(std::move(c));
  }
}

TEST(Logprobs, WithinTolOfTransformersOnQwen2Qwen3Llama3AndSmolLM2) {
  CRUCIBLE_REQUIRE_ORACLE();
  testing::TempDir dir;
  auto made = testing::run_oracle("tests/model/oracles/hf_logprobs.py", {"make", dir.path()});
  ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  json cases = json::array();
  for (const char* name : {"qwen2", "qwen3", "llama3"}) {
    const std::string folder = dir.file(name);
    auto model = load_model(folder);
    const auto V = static_cast<TokenId>(model->config().vocab_size);
    std::vector<TokenId> prompt;
    for (TokenId i = 0; i < 9; ++i) prompt.push_back((i * 37 + 5) % V);
    add_cases(cases, folder, model, prompt, 0.0, 0, 1.0, 1);    // greedy
    add_cases(cases, folder, model, prompt, 0.8, 20, 0.9, 2);   // sampled, filtered
  }
  if (fs::exists(demo_gguf())) {
    auto model = load_model(demo_gguf());
    auto tok = text::load_tokenizer(demo_gguf());
    auto prompt = tok->encode("<|im_start|>user\nWhat is 12 times 7?<|im_end|>\n<|im_start|>assistant\n", false);
    add_cases(cases, demo_gguf(), model, prompt, 0.0, 0, 1.0, 1);
    add_cases(cases, demo_gguf(), model, prompt, 0.7, 0, 0.95, 1);
  } else {
    std::cerr << "demo SmolLM2 GGUF missing (scripts/setup): checked the random configs only\n";
  }
  const std::string path = dir.file("cases.json");
  std::ofstream(path) << cases.dump();
  auto r = testing::run_oracle("tests/model/oracles/hf_logprobs.py", {"check", path});
  std::cerr << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace crucible::model
