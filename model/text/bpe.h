// Byte-level BPE (GPT-2 family: Qwen2/3, Llama-3, DeepSeek-V3, SmolLM2), internal to crucible_text. Filled either
// from an HF tokenizer.json or from a GGUF "gpt2" vocabulary; both become one BpeSpec.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/text/tokenizer.h"

namespace crucible::text::detail {

struct AddedToken {
  std::string content;
  TokenId id = 0;
  bool special = true;
  bool lstrip = false;  // absorbs whitespace on its left (HF AddedToken semantics)
  bool rstrip = false;
};

struct BpeSpec {
  std::string source;                                          // file, for messages
  std::vector<std::string> vocab;                              // id -> token as written (byte-level characters)
  std::vector<std::pair<std::string, std::string>> merges;     // rank order
  std::vector<std::string> split_patterns;                     // PCRE2, applied one after another, "Isolated"
  bool nfc = false;
  bool ignore_merges = false;  // a pre-token that is a whole vocabulary entry is taken as is (Llama-3)
  bool add_prefix_space = false;
  std::vector<AddedToken> added;
  std::vector<TokenId> prefix_ids, suffix_ids;  // what add_special adds (post-processor)
  std::optional<TokenId> bos;
  std::vector<TokenId> eos;
};

std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeSpec spec);
// A GGUF "gpt2" vocabulary as a BpeSpec (InputError for another tokenizer model or an unknown pre-tokenizer).
BpeSpec bpe_spec_from_vocab(const VocabSpec& spec);

// The regexes llama.cpp and HF use per pre-tokenizer name (GGUF tokenizer.ggml.pre); empty if unknown.
std::vector<std::string> pre_tokenizer_patterns(const std::string& name);
extern const char* const kGpt2Pattern;
extern const char* const kLlama3Pattern;
extern const char* const kQwen2Pattern;

// Well-known end-of-turn / end-of-text tokens: generation stops on these whatever the config names as EOS.
bool is_end_of_generation_token(const std::string& content);

}  // namespace crucible::text::detail
