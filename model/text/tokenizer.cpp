// The parts of the tokenizer interface shared by every kind: streaming decode, GGUF vocabularies, path dispatch.
#include "model/text/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "model/text/bpe.h"
#include "model/text/gguf.h"
#include "model/text/text_util.h"

namespace crucible::text {

namespace detail {
std::unique_ptr<Tokenizer> make_score_bpe_from_vocab(const VocabSpec& spec);
}

void StreamDecoder::prime(const std::vector<TokenId>& context) {
  for (TokenId id : context)
    if (!tok_.is_special(id) && !tok_.token_bytes(id).empty()) at_start_ = false;
}

std::string StreamDecoder::push(TokenId id) {
  if (skip_special_ && tok_.is_special(id)) return {};
  std::string b = tok_.token_bytes(id);
  if (b.empty()) return {};
  if (at_start_ && tok_.drops_leading_space() && b[0] == ' ') b.erase(0, 1);
  at_start_ = false;
  pending_ += b;
  size_t k = detail::complete_utf8_prefix(pending_);
  if (k == 0) return {};
  std::string out = detail::sanitize_utf8(std::string_view(pending_).substr(0, k));
  pending_.erase(0, k);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = detail::sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

detail::BpeSpec detail::bpe_spec_from_vocab(const VocabSpec& spec) {
  if (spec.tokens.empty()) throw InputError(spec.source, "tokenizer.ggml.tokens", "empty vocabulary");
  if (spec.model != "gpt2")
    throw InputError(spec.source, "tokenizer.ggml.model",
                     "unsupported tokenizer model '" + spec.model + "' (supported: gpt2, llama)");
  detail::BpeSpec b;
  b.source = spec.source;
  b.split_patterns = detail::pre_tokenizer_patterns(spec.pre.empty() ? "default" : spec.pre);
  if (b.split_patterns.empty())
    throw InputError(spec.source, "tokenizer.ggml.pre", "unknown pre-tokenizer '" + spec.pre + "'");
  // Qwen2's tokenizer.json normalises to NFC; llama.cpp skips it, so GGUF text already in NFC (nearly all) agrees.
  b.nfc = spec.pre == "qwen2" || spec.pre == "deepseek-r1-qwen";
  b.ignore_merges = spec.pre == "llama-bpe" || spec.pre == "llama3";
  b.vocab.resize(spec.tokens.size());
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    int32_t type = i < spec.token_types.size() ? spec.token_types[i] : 1;
    if (type == 3 || type == 4) {  // control and user-defined tokens are matched whole in the text
      b.added.push_back({spec.tokens[i], static_cast<TokenId>(i), type == 3, false, false});
    } else {
      b.vocab[i] = spec.tokens[i];
    }
  }
  for (size_t r = 0; r < spec.merges.size(); ++r) {
    const std::string& m = spec.merges[r];
    auto sp = m.find(' ', 1);
    if (sp == std::string::npos)
      throw InputError(spec.source, "tokenizer.ggml.merges[" + std::to_string(r) + "]", "expected \"a b\"");
    b.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  b.bos = spec.bos_id;
  if (spec.add_bos.value_or(false) && spec.bos_id) b.prefix_ids.push_back(*spec.bos_id);
  if (spec.add_eos.value_or(false) && spec.eos_id) b.suffix_ids.push_back(*spec.eos_id);
  for (auto id : {spec.eos_id, spec.eot_id})
    if (id && std::find(b.eos.begin(), b.eos.end(), *id) == b.eos.end()) b.eos.push_back(*id);
  for (const auto& a : b.added)
    if (a.special && detail::is_end_of_generation_token(a.content) &&
        std::find(b.eos.begin(), b.eos.end(), a.id) == b.eos.end())
      b.eos.push_back(a.id);
  return b;
}

std::unique_ptr<Tokenizer> tokenizer_from_vocab(const VocabSpec& spec) {
  if (spec.tokens.empty()) throw InputError(spec.source, "tokenizer.ggml.tokens", "empty vocabulary");
  if (spec.model == "llama") return detail::make_score_bpe_from_vocab(spec);
  return detail::make_bpe_tokenizer(detail::bpe_spec_from_vocab(spec));
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    fs::path json = fs::path(path) / "tokenizer.json", model = fs::path(path) / "tokenizer.model";
    bool has_model = fs::exists(model, ec);
    if (fs::exists(json, ec)) {
      try {
        return load_tokenizer_json(json.string());
      } catch (const InputError& e) {
        // SentencePiece-style tokenizer.json (Metaspace, byte_fallback: Llama 2, Mistral) ships with its .model.
        if (!has_model) throw;
        log::info("{}; using {}", e.what(), model.string());
      }
    }
    if (has_model) return load_sentencepiece_model(model.string());
    throw InputError(path, "tokenizer", "folder has neither tokenizer.json nor tokenizer.model");
  }
  if (!fs::exists(path, ec)) throw InputError(path, "(file)", "no such file or folder");
  std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return load_tokenizer_json(path);
  if (ext == ".model") return load_sentencepiece_model(path);
  if (ext == ".gguf") return tokenizer_from_vocab(GgufFile::open(path).vocab());
  throw InputError(path, "(file)",
                   "cannot tell the tokenizer kind: expected tokenizer.json, a folder, a SentencePiece .model or a "
                   ".gguf (llama2.c tokenizer.bin needs --vocab-size)");
}

}  // namespace crucible::text
