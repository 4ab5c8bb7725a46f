// SentencePiece-style BPE driven by piece scores, for vocabularies that come without a .model file: llama2.c's
// tokenizer.bin and GGUF "llama" vocabularies. Same algorithm as llama.cpp's SPM tokenizer and llama2.c's run.c:
// repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece; characters left without a
// piece fall back to byte tokens.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "model/text/bpe.h"
#include "model/text/text_util.h"
#include "model/text/tokenizer.h"

namespace crucible::text {
namespace detail {

struct ScorePiece {
  std::string raw;  // bytes the piece stands for ("▁" already turned into a space)
  float score = 0;
  int32_t type = 1;  // GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
};

class ScoreBpeTokenizer final : public Tokenizer {
 public:
  ScoreBpeTokenizer(std::string source, std::vector<ScorePiece> pieces, std::vector<std::string> written,
                    std::optional<TokenId> bos, std::optional<TokenId> eos, std::optional<TokenId> unk, bool add_bos)
      : source_(std::move(source)), pieces_(std::move(pieces)), written_(std::move(written)), bos_(bos), unk_(unk),
        add_bos_(add_bos) {
    byte_ids_.fill(-1);
    for (size_t id = 0; id < pieces_.size(); ++id) {
      const auto& p = pieces_[id];
      written_ids_.emplace(written_[id], static_cast<TokenId>(id));
      if (p.type == 6) {
        if (p.raw.size() == 1) byte_ids_[static_cast<unsigned char>(p.raw[0])] = static_cast<TokenId>(id);
        continue;
      }
      if (p.type == 3 || p.type == 2) continue;  // control and unknown pieces are never produced by merging text
      raw_ids_.emplace(p.raw, static_cast<TokenId>(id));
    }
    if (eos) eos_.push_back(*eos);
    for (size_t id = 0; id < pieces_.size(); ++id)
      if (pieces_[id].type == 3 && is_end_of_generation_token(written_[id]) &&
          std::find(eos_.begin(), eos_.end(), static_cast<TokenId>(id)) == eos_.end())
        eos_.push_back(static_cast<TokenId>(id));
  }

  std::vector<TokenId> encode(std::string_view text, bool add_special) const override {
    std::vector<TokenId> out;
    if (add_special && add_bos_ && bos_) out.push_back(*bos_);
    if (text.empty()) return out;
    std::string s = " ";  // the dummy prefix SentencePiece adds (add_dummy_prefix)
    s.append(text);
    struct Sym {
      size_t begin, len;
      int32_t prev, next;
    };
    struct Cand {
      float score;
      int32_t left, right;
      size_t len;
      bool operator<(const Cand& o) const { return score != o.score ? score < o.score : left > o.left; }
    };
    std::vector<Sym> syms;
    for (size_t i = 0; i < s.size();) {
      size_t n = std::min(detail::utf8_len(static_cast<unsigned char>(s[i])), s.size() - i);
      syms.push_back({i, n, static_cast<int32_t>(syms.size()) - 1, static_cast<int32_t>(syms.size()) + 1});
      i += n;
    }
    syms.back().next = -1;
    std::priority_queue<Cand> heap;
    auto try_push = [&](int32_t l, int32_t r) {
      if (l < 0 || r < 0) return;
      size_t len = syms[l].len + syms[r].len;
      auto it = raw_ids_.find(s.substr(syms[l].begin, len));
      if (it == raw_ids_.end()) return;
      heap.push({pieces_[it->second].score, l, r, len});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_push(i - 1, i);
    while (!heap.empty()) {
      Cand c = heap.top();
      heap.pop();
      Sym& l = syms[c.left];
      Sym& r = syms[c.right];
      if (l.len == 0 || r.len == 0 || l.len + r.len != c.len || l.next != c.right) continue;
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = c.left;
      try_push(l.prev, c.left);
      try_push(c.left, l.next);
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next) {
      std::string_view piece(s.data() + syms[i].begin, syms[i].len);
      auto it = raw_ids_.find(std::string(piece));
      if (it != raw_ids_.end()) {
        out.push_back(it->second);
        continue;
      }
      for (char b : piece) {
        TokenId id = byte_ids_[static_cast<unsigned char>(b)];
        if (id >= 0) out.push_back(id);
        else if (unk_) out.push_back(*unk_);
        else throw InputError(source_, "tokens", "no byte piece and no unknown piece for a character of the input");
      }
    }
    return out;
  }

  // The dummy-prefix space goes from the first text piece and from a piece right after BOS (llama2.c's run.c and
  // llama.cpp both drop it there).
  std::string decode(const std::vector<TokenId>& ids, bool skip_special) const override {
    std::string out;
    bool drop_space = true;
    for (TokenId id : ids) {
      if (id < 0 || id >= vocab_size())
        throw InputError(source_, "id", "token id " + std::to_string(id) + " is outside the vocabulary");
      const std::string& raw = pieces_[id].raw;
      if (is_special(id)) {
        if (!skip_special) out += raw;
        drop_space = drop_space || (bos_ && id == *bos_);
        continue;
      }
      out.append(raw, drop_space && !raw.empty() && raw[0] == ' ' ? 1 : 0);
      drop_space = false;
    }
    return out;
  }
  std::string token_bytes(TokenId id) const override {
    return id >= 0 && id < vocab_size() ? pieces_[id].raw : std::string();
  }
  TokenId vocab_size() const override { return static_cast<TokenId>(pieces_.size()); }
  std::optional<TokenId> token_to_id(std::string_view token) const override {
    auto it = written_ids_.find(std::string(token));
    if (it == written_ids_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> id_to_token(TokenId id) const override {
    if (id < 0 || id >= vocab_size()) return std::nullopt;
    return written_[id];
  }
  bool is_special(TokenId id) const override {
    return id >= 0 && id < vocab_size() && (pieces_[id].type == 3 || pieces_[id].type == 2);
  }
  std::optional<TokenId> bos_id() const override { return bos_; }
  std::vector<TokenId> eos_ids() const override { return eos_; }
  bool drops_leading_space() const override { return true; }

 private:
  std::string source_;
  std::vector<ScorePiece> pieces_;
  std::vector<std::string> written_;
  std::unordered_map<std::string, TokenId> raw_ids_, written_ids_;
  std::array<TokenId, 256> byte_ids_{};
  std::optional<TokenId> bos_, unk_;
  std::vector<TokenId> eos_;
  bool add_bos_;
};

// "<0x0A>" -> 0x0A; -1 if `s` is not a byte piece.
int parse_byte_piece(const std::string& s) {
  if (s.size() != 6 || s.compare(0, 3, "<0x") != 0 || s[5] != '>') return -1;
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) ? std::stoi(std::string(1, c), nullptr, 16) : -1; };
  int hi = hex(s[3]), lo = hex(s[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::unique_ptr<Tokenizer> make_score_bpe_from_vocab(const VocabSpec& spec) {
  std::vector<ScorePiece> pieces(spec.tokens.size());
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    const std::string& t = spec.tokens[i];
    pieces[i].type = i < spec.token_types.size() ? spec.token_types[i] : 1;
    pieces[i].score = i < spec.scores.size() ? spec.scores[i] : 0.0f;
    int b = parse_byte_piece(t);
    if (pieces[i].type == 6 && b < 0)
      throw InputError(spec.source, "tokenizer.ggml.tokens[" + std::to_string(i) + "]", "byte token is not <0xXX>");
    if (pieces[i].type == 6) {
      pieces[i].raw = std::string(1, static_cast<char>(b));
      continue;
    }
    if (pieces[i].type == 3) {
      pieces[i].raw = t;
      continue;
    }
    for (size_t k = 0; k < t.size();) {
      if (t.compare(k, 3, "\xE2\x96\x81") == 0) {
        pieces[i].raw += ' ';
        k += 3;
      } else {
        pieces[i].raw += t[k++];
      }
    }
  }
  return std::make_unique<ScoreBpeTokenizer>(spec.source, std::move(pieces), spec.tokens, spec.bos_id, spec.eos_id,
                                             spec.unk_id, spec.add_bos.value_or(true));
}

}  // namespace detail

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, TokenId vocab_size) {
  if (vocab_size <= 0) throw InputError(path, "vocab_size", "must be positive (the model header's vocab_size)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "(file)", "cannot open");
  int32_t max_len = 0;
  if (!in.read(reinterpret_cast<char*>(&max_len), 4) || max_len <= 0 || max_len > (1 << 16))
    throw InputError(path, "max_token_length", "missing or implausible header");
  std::vector<detail::ScorePiece> pieces(static_cast<size_t>(vocab_size));
  std::vector<std::string> written(static_cast<size_t>(vocab_size));
  for (TokenId i = 0; i < vocab_size; ++i) {
    float score = 0;
    int32_t len = 0;
    if (!in.read(reinterpret_cast<char*>(&score), 4) || !in.read(reinterpret_cast<char*>(&len), 4))
      throw InputError(path, "token[" + std::to_string(i) + "]",
                       "file ends before vocab_size=" + std::to_string(vocab_size) + " tokens");
    if (len < 0 || len > max_len || !std::isfinite(score))
      throw InputError(path, "token[" + std::to_string(i) + "].len", "length " + std::to_string(len) + " is out of range");
    std::string s(static_cast<size_t>(len), '\0');
    if (!in.read(s.data(), len)) throw InputError(path, "token[" + std::to_string(i) + "]", "file ends inside the token");
    written[i] = s;
    pieces[i].score = score;
    int b = detail::parse_byte_piece(s);
    if (b >= 0) {
      pieces[i].type = 6;
      pieces[i].raw = std::string(1, static_cast<char>(b));
    } else {
      // llama2.c's export writes "▁" as a space already and frames BOS/EOS as "\n<s>\n" / "\n</s>\n".
      pieces[i].type = i == 0 ? 2 : (i == 1 || i == 2) ? 3 : 1;
      pieces[i].raw = s;
    }
  }
  return std::make_unique<detail::ScoreBpeTokenizer>(path, std::move(pieces), std::move(written), TokenId{1},
                                                     TokenId{2}, TokenId{0}, true);
}

}  // namespace crucible::text
