#include "model/llama2c_vocab.h"

#include <cstring>
#include <fstream>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace crucible::model {
namespace {

using text::TokenId;

class Llama2cVocab final : public text::Tokenizer {
 public:
  Llama2cVocab(std::vector<std::string> pieces, std::vector<float> scores)
      : pieces_(std::move(pieces)), scores_(std::move(scores)) {
    for (size_t i = 0; i < pieces_.size(); ++i) index_.emplace(pieces_[i], static_cast<TokenId>(i));
  }

  std::vector<TokenId> encode(std::string_view text, bool add_special) const override {
    std::vector<TokenId> ids;
    if (add_special) ids.push_back(1);
    std::vector<TokenId> toks;
    if (!text.empty())
      if (auto sp = index_.find(" "); sp != index_.end()) toks.push_back(sp->second);
    for (size_t i = 0; i < text.size();) {
      size_t len = 1;
      const auto c = static_cast<unsigned char>(text[i]);
      if ((c & 0xE0) == 0xC0) len = 2;
      else if ((c & 0xF0) == 0xE0) len = 3;
      else if ((c & 0xF8) == 0xF0) len = 4;
      len = std::min(len, text.size() - i);
      auto it = index_.find(std::string(text.substr(i, len)));
      if (it != index_.end()) toks.push_back(it->second);
      else
        for (size_t b = 0; b < len; ++b) toks.push_back(static_cast<unsigned char>(text[i + b]) + 3);  // byte fallback
      i += len;
    }
    while (true) {
      float best = -1e10f;
      int best_id = -1, best_at = -1;
      for (size_t i = 0; i + 1 < toks.size(); ++i) {
        auto it = index_.find(pieces_[toks[i]] + pieces_[toks[i + 1]]);
        if (it != index_.end() && scores_[it->second] > best) {
          best = scores_[it->second];
          best_id = it->second;
          best_at = static_cast<int>(i);
        }
      }
      if (best_at < 0) break;
      toks[best_at] = best_id;
      toks.erase(toks.begin() + best_at + 1);
    }
    ids.insert(ids.end(), toks.begin(), toks.end());
    return ids;
  }

  std::string decode(const std::vector<TokenId>& ids, bool skip_special) const override {
    std::string out;
    TokenId prev = -1;
    for (auto id : ids) {
      if (skip_special && is_special(id)) {
        prev = id;
        continue;
      }
      std::string piece = token_bytes(id);
      if (prev == 1 && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
      out += piece;
      prev = id;
    }
    return out;
  }

  std::string token_bytes(TokenId id) const override {
    if (id < 0 || id >= vocab_size()) return {};
    const auto& p = pieces_[id];
    unsigned byte = 0;
    if (p.size() == 6 && std::sscanf(p.c_str(), "<0x%02X>", &byte) == 1) return std::string(1, static_cast<char>(byte));
    return p;
  }
  TokenId vocab_size() const override { return static_cast<TokenId>(pieces_.size()); }
  std::optional<TokenId> token_to_id(std::string_view t) const override {
    auto it = index_.find(std::string(t));
    return it == index_.end() ? std::nullopt : std::optional(it->second);
  }
  std::optional<std::string> id_to_token(TokenId id) const override {
    if (id < 0 || id >= vocab_size()) return std::nullopt;
    return pieces_[id];
  }
  bool is_special(TokenId id) const override { return id >= 0 && id <= 2; }
  std::optional<TokenId> bos_id() const override { return 1; }
  std::vector<TokenId> eos_ids() const override { return {2}; }

 private:
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, TokenId> index_;
};

}  // namespace

std::unique_ptr<text::Tokenizer> load_llama2c_vocab(const std::string& path, TokenId vocab_size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "(file)", "cannot open");
  int32_t max_len = 0;
  if (!in.read(reinterpret_cast<char*>(&max_len), 4)) throw InputError(path, "max_token_length", "file too short");
  std::vector<std::string> pieces;
  std::vector<float> scores;
  for (TokenId i = 0; i < vocab_size; ++i) {
    float score;
    int32_t len;
    if (!in.read(reinterpret_cast<char*>(&score), 4) || !in.read(reinterpret_cast<char*>(&len), 4))
      throw InputError(path, "token " + std::to_string(i), "file truncated (vocab_size " + std::to_string(vocab_size) + ")");
    if (len < 0 || len > 1024) throw InputError(path, "token " + std::to_string(i) + ".len", "out of range");
    std::string piece(static_cast<size_t>(len), '\0');
    if (!in.read(piece.data(), len)) throw InputError(path, "token " + std::to_string(i), "file truncated");
    pieces.push_back(std::move(piece));
    scores.push_back(score);
  }
  return std::make_unique<Llama2cVocab>(std::move(pieces), std::move(scores));
}

}  // namespace crucible::model
