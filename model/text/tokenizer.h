// Tokenizers, torch-free: HF tokenizer.json byte-level BPE (Qwen2/3, Llama-3, DeepSeek-V3, GPT-2), SentencePiece
// .model, llama2.c tokenizer.bin, and GGUF vocabularies. One interface for all of them.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crucible::text {

using TokenId = int32_t;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // `add_special`: prepend BOS (and whatever the tokenizer's post-processor adds) as transformers' default
  // `add_special_tokens=True` does. Special/added tokens written in the text (e.g. "<|im_start|>") are matched as
  // single tokens, as transformers does.
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special) const = 0;
  // Bytes of the ids joined; invalid UTF-8 at the edges is kept as is (use StreamDecoder for streaming).
  virtual std::string decode(const std::vector<TokenId>& ids, bool skip_special = false) const = 0;
  // The raw bytes one token stands for (after byte-level / sentencepiece mapping), for streaming.
  virtual std::string token_bytes(TokenId id) const = 0;
  virtual TokenId vocab_size() const = 0;
  virtual std::optional<TokenId> token_to_id(std::string_view token) const = 0;  // exact vocabulary entry
  virtual std::optional<std::string> id_to_token(TokenId id) const = 0;          // vocabulary entry as written
  virtual bool is_special(TokenId id) const = 0;
  virtual std::optional<TokenId> bos_id() const = 0;
  virtual std::vector<TokenId> eos_ids() const = 0;  // generation stops on any of these
  // SentencePiece-style vocabularies carry the space the encoder prepended ("▁Hello"): decoding from the start of a
  // sequence drops that one space, as sentencepiece, llama.cpp and llama2.c do. Byte-level BPE keeps every byte.
  virtual bool drops_leading_space() const { return false; }
};

// UTF-8-safe incremental decoding: feed tokens one at a time, get only complete characters back; a multi-byte
// character split across tokens is held until it is whole.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = true) : tok_(tok), skip_special_(skip_special) {}
  // The tokens already in the sequence (the prompt) when streaming a continuation: the first streamed token is then
  // not the start of the text, so a SentencePiece leading space is kept.
  void prime(const std::vector<TokenId>& context);
  std::string push(TokenId id);  // text that became complete with this token (may be empty)
  std::string flush();           // whatever is left (invalid bytes replaced by U+FFFD)

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  bool at_start_ = true;
  std::string pending_;
};

// Loaders. Each throws InputError naming the file and the field on bad input.
std::unique_ptr<Tokenizer> load_tokenizer_json(const std::string& path);           // HF tokenizer.json
std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::string& path);      // SentencePiece .model
std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, TokenId vocab_size);  // llama2.c .bin
// By what `path` is: a tokenizer.json, a folder holding tokenizer.json (or else tokenizer.model), a SentencePiece
// .model, or a .gguf (its vocabulary). llama2.c's tokenizer.bin carries no vocab size: use load_llama2c_tokenizer.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// A vocabulary as GGUF metadata carries it (tokenizer.ggml.*), filled by the GGUF reader.
struct VocabSpec {
  std::string source;   // file name, for error messages
  std::string model;    // tokenizer.ggml.model: "gpt2" (byte-level BPE), "llama" (SentencePiece-style), …
  std::string pre;      // tokenizer.ggml.pre: "qwen2", "llama-bpe", "gpt-2", "smollm", "deepseek-llm", "default", …
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> token_types;  // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<std::string> merges;   // "a b"
  std::optional<TokenId> bos_id, eos_id, unk_id, pad_id, eot_id;
  std::optional<bool> add_bos, add_eos;
};
std::unique_ptr<Tokenizer> tokenizer_from_vocab(const VocabSpec& spec);

// Writes what transformers' AutoTokenizer reads for a GGUF byte-level BPE ("gpt2") vocabulary into the folder `dir`:
// tokenizer.json (vocabulary, merges, the pre-tokenizer's regexes as Split steps, added tokens, BOS template),
// tokenizer_config.json (BOS/EOS/pad, added_tokens_decoder, `chat_template` when given) and special_tokens_map.json.
// crucible's load_tokenizer(dir) reads the same files back into the same tokenizer. InputError for SentencePiece-style
// ("llama") vocabularies, which would need a tokenizer.model.
void write_hf_tokenizer_files(const VocabSpec& spec, const std::optional<std::string>& chat_template,
                              const std::string& dir);

}  // namespace crucible::text
