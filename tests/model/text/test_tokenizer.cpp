// Tokenizers against llama.cpp's conformance vectors (ids that HF AutoTokenizer produced, see
// ../shared/models/tokenizer-vectors/SOURCES.md), round trips on random text, streaming, and bad files.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <fstream>
#include <functional>
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
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_tokenizer_json(shared_dir() + "/models/tokenizers/qwen3/tokenizer.json");
  expect_vectors(*tok, "qwen2", 46);
}

TEST(TokenizerVectors, LlamaBpeWithLlama3TokenizerJson) {
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_tokenizer_json(shared_dir() + "/models/tokenizers/llama3/tokenizer.json");
  expect_vectors(*tok, "llama-bpe", 46);
}

TEST(TokenizerVectors, LlamaSpmWithSentencePieceModel) {
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_sentencepiece_model(shared_dir() + "/models/llama2-tokenizer/tokenizer.model");
  expect_vectors(*tok, "llama-spm", 46);
}

// Phi-3 reuses Llama 2's 32000 SentencePiece pieces (its extra chat tokens sit above them and do not occur here).
TEST(TokenizerVectors, Phi3WithLlama2SentencePieceModel) {
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_sentencepiece_model(shared_dir() + "/models/llama2-tokenizer/tokenizer.model");
  expect_vectors(*tok, "phi-3", 46);
}

TEST(TokenizerVectors, LlamaSpmWithLlama2cTokenizerBin) {
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_llama2c_tokenizer(shared_dir() + "/models/llama2-tokenizer/tokenizer.bin", 32000);
  expect_vectors(*tok, "llama-spm", 46);
}

}  // namespace
}  // namespace crucible::text

namespace crucible::text {
namespace {

using testing::shared_dir;

TEST(TokenizerVectors, Gpt2WithVocabOnlyGguf) {
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_tokenizer(shared_dir() + "/models/tokenizer-vectors/llama.cpp/ggml-vocab-gpt-2.gguf");
  expect_vectors(*tok, "gpt-2", 46);
}

TEST(TokenizerVectors, LlamaSpmWithVocabOnlyGguf) {
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_tokenizer(shared_dir() + "/models/tokenizer-vectors/llama.cpp/ggml-vocab-llama-spm.gguf");
  expect_vectors(*tok, "llama-spm", 46);
}

// Random text from pieces that stress the pre-tokenizers and the byte mapping: ASCII words, digits runs,
// whitespace runs, punctuation, contractions, multi-byte scripts, emoji (4-byte), and special-token spellings.
std::string random_text(std::mt19937& rng, bool allow_combining, bool allow_invalid, bool allow_specials) {
  static const std::vector<std::string> atoms = {
      "a", "Hello", " world", "the", "'s", "'LL", "don't", "0", "12", "345", "6789", " ", "  ", "\t", "\n", "\n\n",
      "\r\n", " \n ", ".", "!!", "?", "...", "```", "\"", "(", ")", "{", "}", "$", "€", "£", "é", "ñ", "ü", "ß",
      "Ж", "жизнь", "αβγ", "中文", "日本語", "한국어", "ไทย", "עברית", "العربية", "🙂", "🦙", "👍🏽", "∑", "√2",
      "\u00a0", "\u3000", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<s>", "</s>"};
  static const std::vector<std::string> combining = {"e\xCC\x81", "a\xCC\x88\xCC\x81", "\xCC\x81"};
  std::string s;
  int n = std::uniform_int_distribution<int>(0, 24)(rng);
  for (int i = 0; i < n; ++i) {
    int r = std::uniform_int_distribution<int>(0, 99)(rng);
    if (allow_combining && r < 4) s += combining[rng() % combining.size()];
    else if (allow_invalid && r < 7) s += static_cast<char>(0x80 + rng() % 0x80);
    else {
      const std::string& a = atoms[rng() % atoms.size()];
      if (allow_specials || a[0] != '<') s += a;
    }
  }
  return s;
}

// SentencePiece-style tokenizers start every text run after a special token with the dummy-prefix space, as
// transformers does ("<s>a" -> <s> ▁a -> "<s> a"), so their round trip is checked on text without special tokens.
void expect_round_trip(const Tokenizer& tok, bool allow_combining, bool allow_invalid, int n_cases,
                       bool allow_specials = true) {
  std::mt19937 rng(1234);
  int failures = 0;
  for (int k = 0; k < n_cases; ++k) {
    std::string x = random_text(rng, allow_combining, allow_invalid, allow_specials);
    auto ids = tok.encode(x, /*add_special=*/false);
    std::string y = tok.decode(ids);
    if (y != x && failures++ < 5) ADD_FAILURE() << "round trip of \"" << x << "\" gave \"" << y << "\"";
  }
  EXPECT_EQ(failures, 0);
}

TEST(TokenizerRoundTrip, ByteLevelBpeKeepsEveryByte) {
  CRUCIBLE_REQUIRE_SHARED();
  // Llama-3 has no normaliser: even invalid UTF-8 and combining marks come back unchanged.
  expect_round_trip(*load_tokenizer(shared_dir() + "/models/tokenizers/llama3"), true, true, 3000);
  expect_round_trip(*load_tokenizer(shared_dir() + "/models/tokenizers/deepseek_v3"), true, true, 3000);
  // Qwen normalises to NFC, so decode(encode(x)) == x holds for text already in NFC.
  expect_round_trip(*load_tokenizer(shared_dir() + "/models/tokenizers/qwen3"), false, false, 3000);
  expect_round_trip(*load_tokenizer(shared_dir() + "/models/tokenizer-vectors/llama.cpp/ggml-vocab-gpt-2.gguf"), true,
                    true, 3000);
}

TEST(TokenizerRoundTrip, SentencePieceStyle) {
  CRUCIBLE_REQUIRE_SHARED();
  expect_round_trip(*load_sentencepiece_model(shared_dir() + "/models/llama2-tokenizer/tokenizer.model"), true, false,
                    3000, false);
  expect_round_trip(*load_llama2c_tokenizer(shared_dir() + "/models/llama2-tokenizer/tokenizer.bin", 32000), true,
                    false, 3000, false);
  expect_round_trip(*load_tokenizer(shared_dir() + "/models/tokenizer-vectors/llama.cpp/ggml-vocab-llama-spm.gguf"),
                    true, false, 3000, false);
}

TEST(Tokenizer, SpecialTokensAndBos) {
  CRUCIBLE_REQUIRE_SHARED();
  auto qwen = load_tokenizer(shared_dir() + "/models/tokenizers/qwen3");
  auto ids = qwen->encode("<|im_start|>user\nhi<|im_end|>", true);
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[0], *qwen->token_to_id("<|im_start|>"));
  EXPECT_EQ(ids[4], *qwen->token_to_id("<|im_end|>"));
  EXPECT_TRUE(qwen->is_special(ids[0]));
  EXPECT_EQ(qwen->decode(ids, /*skip_special=*/true), "user\nhi");
  auto eos = qwen->eos_ids();
  EXPECT_NE(std::find(eos.begin(), eos.end(), *qwen->token_to_id("<|im_end|>")), eos.end());
  EXPECT_NE(std::find(eos.begin(), eos.end(), *qwen->token_to_id("<|endoftext|>")), eos.end());
  auto spm = load_sentencepiece_model(shared_dir() + "/models/llama2-tokenizer/tokenizer.model");
  EXPECT_EQ(spm->encode("Hello", true), (std::vector<TokenId>{1, 15043}));
  EXPECT_EQ(spm->encode("<s>Hello", false), (std::vector<TokenId>{1, 15043}));
  EXPECT_EQ(spm->decode({1, 15043, 2}, true), "Hello");
  auto l2c = load_llama2c_tokenizer(shared_dir() + "/models/stories260K/tok512.bin", 512);
  EXPECT_EQ(l2c->encode("", true), (std::vector<TokenId>{1}));
  EXPECT_EQ(l2c->decode(l2c->encode("Once upon a time", false)), "Once upon a time");
}

// encode() is const and shared by eval's worker threads: same ids from several threads at once.
TEST(Tokenizer, ConcurrentEncodeIsConsistent) {
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_tokenizer(shared_dir() + "/models/tokenizers/qwen3");
  std::mt19937 rng(7);
  std::vector<std::string> texts;
  for (int k = 0; k < 200; ++k) texts.push_back(random_text(rng, false, false, true));
  std::vector<std::vector<TokenId>> want;
  for (const auto& t : texts) want.push_back(tok->encode(t, false));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&] {
      for (int rep = 0; rep < 5; ++rep)
        for (size_t k = 0; k < texts.size(); ++k)
          if (tok->encode(texts[k], false) != want[k]) ++bad;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(StreamDecoder, HoldsSplitCharactersUntilWhole) {
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_tokenizer(shared_dir() + "/models/tokenizers/qwen3");
  // A character the vocabulary has no single token for, so its bytes arrive in several tokens.
  std::string rare;
  for (const char* c : {"𓀀", "𝔘", "🫠", "ᚠ", "𐎀"})
    if (tok->encode(c, false).size() > 1) {
      rare = c;
      break;
    }
  ASSERT_FALSE(rare.empty());
  const std::string text = "Grüße 🦙🙂 " + rare + " 中文 done";
  auto ids = tok->encode(text, false);
  StreamDecoder dec(*tok);
  std::string all;
  int held = 0;
  for (TokenId id : ids) {
    std::string piece = dec.push(id);
    if (piece.empty()) ++held;
    for (size_t i = 0; i < piece.size(); ++i)  // never half a character
      EXPECT_FALSE(i == 0 && (static_cast<unsigned char>(piece[i]) & 0xC0) == 0x80) << "piece starts mid-character";
    all += piece;
  }
  all += dec.flush();
  EXPECT_EQ(all, text);
  EXPECT_GT(held, 0) << "expected at least one emoji split across byte tokens";
  // A character that never completes is flushed as U+FFFD.
  StreamDecoder partial(*tok);
  auto emoji = tok->encode(rare, false);
  ASSERT_GT(emoji.size(), 1u);
  EXPECT_EQ(partial.push(emoji[0]), "");
  EXPECT_EQ(partial.flush(), "\xEF\xBF\xBD");
}

// What llama2.c's run.c printed for stories260K: encoding it and streaming the tokens after BOS back gives the same
// bytes (the space of the first piece after BOS is dropped, as run.c does).
TEST(StreamDecoder, Llama2cStreamsRunCOutput) {
  CRUCIBLE_REQUIRE_SHARED();
  const std::string dir = shared_dir() + "/models/stories260K/";
  auto tok = load_llama2c_tokenizer(dir + "tok512.bin", 512);
  std::string expected = read_text_file(dir + "expected_greedy_t0_n200.run_c_stdout.txt");
  auto ids = tok->encode(expected, true);
  ASSERT_EQ(ids.front(), 1);
  StreamDecoder dec(*tok);
  dec.prime({ids.front()});
  std::string out;
  for (size_t i = 1; i < ids.size(); ++i) out += dec.push(ids[i]);
  EXPECT_EQ(out + dec.flush(), expected);
  EXPECT_EQ(tok->decode(ids, /*skip_special=*/true), expected);
}

TEST(StreamDecoder, SentencePieceLeadingSpace) {
  CRUCIBLE_REQUIRE_SHARED();
  auto tok = load_sentencepiece_model(shared_dir() + "/models/llama2-tokenizer/tokenizer.model");
  auto ids = tok->encode("Hello world", true);
  StreamDecoder from_start(*tok);
  std::string s;
  for (TokenId id : ids) s += from_start.push(id);
  EXPECT_EQ(s + from_start.flush(), "Hello world");
  StreamDecoder continuation(*tok);
  continuation.prime(tok->encode("Say", true));
  EXPECT_EQ(continuation.push(ids.back()), " world");
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

TEST(TokenizerErrors, BadTokenizerJsonNamesFileAndField) {
  CRUCIBLE_REQUIRE_SHARED();
  testing::TempDir dir;
  auto write_and_load = [&](const std::string& name, const std::string& body) {
    write_text_file_atomic(dir.file(name), body);
    return error_of([&] { load_tokenizer_json(dir.file(name)); });
  };
  const std::string byte_level = R"("pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
  std::string e = write_and_load("a.json", "{ not json");
  EXPECT_NE(e.find(dir.file("a.json")), std::string::npos) << e;
  e = write_and_load("b.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
  EXPECT_NE(e.find("model.type"), std::string::npos) << e;
  e = write_and_load("c.json", "{" + byte_level + R"(, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})");
  EXPECT_NE(e.find("model.merges[0]"), std::string::npos) << e;
  e = write_and_load("d.json", "{" + byte_level + "}");
  EXPECT_NE(e.find("'model'"), std::string::npos) << e;
  e = write_and_load("e.json", "{" + byte_level + R"(, "model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})");
  EXPECT_NE(e.find("model.vocab.a"), std::string::npos) << e;
  e = write_and_load("f.json", R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  EXPECT_NE(e.find("pre_tokenizer"), std::string::npos) << e;
  e = write_and_load("g.json", R"({"normalizer": {"type": "Lowercase"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  EXPECT_NE(e.find("normalizer.type"), std::string::npos) << e;
  e = write_and_load("h.json", "{" + byte_level + R"(, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "added_tokens": [{"content": "<x>"}]})");
  EXPECT_NE(e.find("added_tokens[0]"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { load_tokenizer(dir.file("missing.json")); }).find("missing.json"), std::string::npos);
  write_text_file_atomic(dir.file("t.bin"), std::string("\x07\x00\x00\x00", 4));
  EXPECT_NE(error_of([&] { load_llama2c_tokenizer(dir.file("t.bin"), 10); }).find("token[0]"), std::string::npos);
  write_text_file_atomic(dir.file("x.model"), "garbage");
  EXPECT_NE(error_of([&] { load_sentencepiece_model(dir.file("x.model")); }).find("x.model"), std::string::npos);
  auto tok = load_tokenizer(shared_dir() + "/models/tokenizers/qwen3");
  EXPECT_NE(error_of([&] { tok->decode({-1}); }).find("id"), std::string::npos);
}

}  // namespace
}  // namespace crucible::text
