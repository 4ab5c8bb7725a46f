// Tokenizers against llama.cpp's conformance vectors (ids that HF AutoTokenizer produced, see
// ../shared/models/tokenizer-vectors/SOURCES.md), round trips on random text, streaming, and bad files.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/json_io.h"
#include "model/text/tokenizer.h"
#include "tests/support/test_support.h"

namespace crucible::text {
namespace {

using testing::shared_dir;

struct Case {
  std::string text;
  std::vector<TokenId> ids;
};

// The .inp/.out pair as test-tokenizer-0 reads it: cases split by "\n__ggml_vocab_test__\n", one id line each.
std::vector<Case> read_vectors(const std::string& name) {
  std::string base = shared_dir() + "/models/tokenizer-vectors/llama.cpp/ggml-vocab-" + name + ".gguf";
  std::string inp = read_text_file(base + ".inp");
  std::vector<std::string> texts;
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0;;) {
    size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::ifstream out(base + ".out");
  std::vector<Case> cases;
  std::string line;
  for (const auto& t : texts) {
    if (!std::getline(out, line)) break;
    Case c{t, {}};
    std::istringstream ls(line);
    for (TokenId id; ls >> id;) c.ids.push_back(id);
    cases.push_back(c);
  }
  return cases;
}

std::string show(const std::vector<TokenId>& ids) {
  std::string s;
  for (auto id : ids) s += std::to_string(id) + " ";
  return s;
}

void expect_vectors(const Tokenizer& tok, const std::string& name, size_t expected_cases) {
  auto cases = read_vectors(name);
  ASSERT_EQ(cases.size(), expected_cases);
  size_t ok = 0;
  for (const auto& c : cases) {
    auto ids = tok.encode(c.text, /*add_special=*/false);
    if (ids == c.ids) ++ok;
    else ADD_FAILURE() << name << " case \"" << c.text << "\"\n  want " << show(c.ids) << "\n  got  " << show(ids);
  }
  EXPECT_EQ(ok, expected_cases) << name;
}

TEST(TokenizerVectors, Qwen2WithQwen3TokenizerJson) {
  auto tok = load_tokenizer_json(shared_dir() + "/models/tokenizers/qwen3/tokenizer.json");
  expect_vectors(*tok, "qwen2", 46);
}

TEST(TokenizerVectors, LlamaBpeWithLlama3TokenizerJson) {
  auto tok = load_tokenizer_json(shared_dir() + "/models/tokenizers/llama3/tokenizer.json");
  expect_vectors(*tok, "llama-bpe", 46);
}

TEST(TokenizerVectors, LlamaSpmWithSentencePieceModel) {
  auto tok = load_sentencepiece_model(shared_dir() + "/models/llama2-tokenizer/tokenizer.model");
  expect_vectors(*tok, "llama-spm", 46);
}

TEST(TokenizerVectors, LlamaSpmWithLlama2cTokenizerBin) {
  auto tok = load_llama2c_tokenizer(shared_dir() + "/models/llama2-tokenizer/tokenizer.bin", 32000);
  expect_vectors(*tok, "llama-spm", 46);
}

}  // namespace
}  // namespace crucible::text
