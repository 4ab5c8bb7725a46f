// SentencePiece .model through libsentencepiece (Llama 2, Mistral, TinyLlama…). Control pieces written in the text
// ("<s>") are matched as single tokens, as transformers does; sentencepiece itself would spell them out.
#include <sentencepiece_processor.h>

#include <algorithm>

#include "core/error.h"
#include "model/text/bpe.h"
#include "model/text/text_util.h"
#include "model/text/tokenizer.h"

namespace crucible::text {
namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : path_(path) {
    auto status = sp_.Load(path);
    if (!status.ok()) throw InputError(path, "(model proto)", "not a SentencePiece model: " + status.ToString());
    const int n = sp_.GetPieceSize();
    bytes_.resize(n);
    special_.assign(n, 0);
    for (int id = 0; id < n; ++id) {
      std::string piece = sp_.IdToPiece(id);
      if (sp_.IsByte(id) && piece.size() == 6) {
        bytes_[id] = std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
      } else if (sp_.IsControl(id) || sp_.IsUnknown(id)) {
        bytes_[id] = piece;
        special_[id] = 1;
        if (sp_.IsControl(id) && !piece.empty()) controls_.emplace_back(piece, id);
      } else {
        std::string raw;
        for (size_t i = 0; i < piece.size();) {
          if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {  // U+2581 stands for a space
            raw += ' ';
            i += 3;
          } else {
            raw += piece[i++];
          }
        }
        bytes_[id] = raw;
      }
      if (detail::is_end_of_generation_token(piece) && sp_.IsControl(id)) eos_.push_back(id);
    }
    std::sort(controls_.begin(), controls_.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    if (sp_.eos_id() >= 0 && std::find(eos_.begin(), eos_.end(), sp_.eos_id()) == eos_.end())
      eos_.insert(eos_.begin(), sp_.eos_id());
  }

  std::vector<TokenId> encode(std::string_view text, bool add_special) const override {
    std::vector<TokenId> out;
    if (add_special && sp_.bos_id() >= 0) out.push_back(sp_.bos_id());
    size_t seg = 0;
    for (size_t i = 0; i < text.size();) {
      const std::pair<std::string, TokenId>* hit = nullptr;
      if (text[i] == '<')
        for (const auto& c : controls_)
          if (text.compare(i, c.first.size(), c.first) == 0) {
            hit = &c;
            break;
          }
      if (!hit) {
        ++i;
        continue;
      }
      encode_segment(text.substr(seg, i - seg), out);
      out.push_back(hit->second);
      i += hit->first.size();
      seg = i;
    }
    encode_segment(text.substr(seg), out);
    return out;
  }

  std::string decode(const std::vector<TokenId>& ids, bool skip_special) const override {
    std::string out;
    for (TokenId id : ids) {
      if (id < 0 || id >= vocab_size())
        throw InputError(path_, "id", "token id " + std::to_string(id) + " is outside the vocabulary");
      if (skip_special && special_[id]) continue;
      out += bytes_[id];
    }
    if (!out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }
  std::string token_bytes(TokenId id) const override {
    return id >= 0 && id < vocab_size() ? bytes_[id] : std::string();
  }
  TokenId vocab_size() const override { return static_cast<TokenId>(bytes_.size()); }
  std::optional<TokenId> token_to_id(std::string_view token) const override {
    int id = sp_.PieceToId(std::string(token));
    if (id == sp_.unk_id() && sp_.IdToPiece(id) != token) return std::nullopt;
    return id;
  }
  std::optional<std::string> id_to_token(TokenId id) const override {
    if (id < 0 || id >= vocab_size()) return std::nullopt;
    return sp_.IdToPiece(id);
  }
  bool is_special(TokenId id) const override { return id >= 0 && id < vocab_size() && special_[id]; }
  std::optional<TokenId> bos_id() const override {
    return sp_.bos_id() >= 0 ? std::optional<TokenId>(sp_.bos_id()) : std::nullopt;
  }
  std::vector<TokenId> eos_ids() const override { return eos_; }
  bool drops_leading_space() const override { return true; }

 private:
  void encode_segment(std::string_view s, std::vector<TokenId>& out) const {
    if (s.empty()) return;
    std::vector<int> ids;
    auto status = sp_.Encode(std::string(s), &ids);
    if (!status.ok()) throw RunError(path_ + ": sentencepiece encode failed: " + status.ToString());
    out.insert(out.end(), ids.begin(), ids.end());
  }

  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
  std::vector<std::string> bytes_;
  std::vector<char> special_;
  std::vector<std::pair<std::string, TokenId>> controls_;
  std::vector<TokenId> eos_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::string& path) {
  return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace crucible::text
