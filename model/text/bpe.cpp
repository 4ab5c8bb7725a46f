#include "model/text/bpe.h"

#include <algorithm>
#include <array>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "model/text/text_util.h"

namespace crucible::text::detail {

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::vector<std::string> pre_tokenizer_patterns(const std::string& name) {
  // Names and regexes as in llama.cpp's llama-vocab.cpp, which mirror the HF tokenizer.json of each family.
  if (name == "gpt-2" || name == "default" || name == "phi-2" || name == "olmo" || name == "jais") return {kGpt2Pattern};
  if (name == "llama-bpe" || name == "llama3" || name == "smaug-bpe" || name == "falcon3" || name == "dbrx")
    return {kLlama3Pattern};
  if (name == "qwen2" || name == "deepseek-r1-qwen" || name == "qwen35") return {kQwen2Pattern};
  if (name == "smollm" || name == "starcoder" || name == "refact" || name == "command-r" || name == "codeshell")
    return {R"(\p{N})", kGpt2Pattern};
  if (name == "deepseek-v3")
    return {R"(\p{N}{1,3})", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
            R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  return {};
}

bool is_end_of_generation_token(const std::string& c) {
  static const char* const kNames[] = {"<|im_end|>",  "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>",
                                       "<|end|>",     "</s>",          "<end_of_turn>", "<｜end▁of▁sentence｜>",
                                       "<|END_OF_TURN_TOKEN|>"};
  for (const char* n : kNames)
    if (c == n) return true;
  return false;
}

namespace {

struct Merge {
  int32_t rank;
  TokenId result;
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeSpec spec);

  std::vector<TokenId> encode(std::string_view text, bool add_special) const override;
  std::string decode(const std::vector<TokenId>& ids, bool skip_special) const override;
  std::string token_bytes(TokenId id) const override {
    return id >= 0 && id < vocab_size() ? bytes_[id] : std::string();
  }
  TokenId vocab_size() const override { return static_cast<TokenId>(tokens_.size()); }
  std::optional<TokenId> token_to_id(std::string_view token) const override {
    auto it = token_ids_.find(std::string(token));
    if (it == token_ids_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> id_to_token(TokenId id) const override {
    if (id < 0 || id >= vocab_size() || !present_[id]) return std::nullopt;
    return tokens_[id];
  }
  bool is_special(TokenId id) const override { return id >= 0 && id < vocab_size() && special_[id]; }
  std::optional<TokenId> bos_id() const override { return spec_bos_; }
  std::vector<TokenId> eos_ids() const override { return eos_; }

 private:
  void encode_text(std::string_view text, std::vector<TokenId>& out) const;
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;

  std::string source_;
  std::vector<std::string> tokens_;  // as written
  std::vector<std::string> bytes_;   // raw bytes
  std::vector<char> present_, special_;
  std::unordered_map<std::string, TokenId> token_ids_;
  std::unordered_map<std::string, TokenId> raw_ids_;  // raw bytes -> id, base vocabulary only
  std::array<TokenId, 256> byte_ids_{};
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<RegexSplitter> splitters_;
  bool nfc_, ignore_merges_, add_prefix_space_;
  // Added tokens bucketed by first byte, longest first, for leftmost-longest matching.
  std::array<std::vector<AddedToken>, 256> added_by_byte_;
  std::vector<TokenId> prefix_ids_, suffix_ids_, eos_;
  std::optional<TokenId> spec_bos_;
};

uint64_t pair_key(TokenId a, TokenId b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

BpeTokenizer::BpeTokenizer(BpeSpec spec)
    : source_(spec.source),
      nfc_(spec.nfc),
      ignore_merges_(spec.ignore_merges),
      add_prefix_space_(spec.add_prefix_space),
      prefix_ids_(spec.prefix_ids),
      suffix_ids_(spec.suffix_ids),
      eos_(spec.eos),
      spec_bos_(spec.bos) {
  size_t n = spec.vocab.size();
  for (const auto& a : spec.added) n = std::max(n, static_cast<size_t>(a.id) + 1);
  tokens_.assign(n, std::string());
  bytes_.assign(n, std::string());
  present_.assign(n, 0);
  special_.assign(n, 0);
  byte_ids_.fill(-1);
  token_ids_.reserve(n);
  raw_ids_.reserve(n);
  for (size_t id = 0; id < spec.vocab.size(); ++id) {
    const std::string& t = spec.vocab[id];
    if (t.empty()) continue;  // a hole in the id space
    tokens_[id] = t;
    present_[id] = 1;
    token_ids_.emplace(t, static_cast<TokenId>(id));
    std::string raw;
    if (!unicode_to_bytes(t, raw)) raw = t;  // not byte-level text (rare, e.g. a control token in the base vocab)
    bytes_[id] = raw;
    raw_ids_.emplace(raw, static_cast<TokenId>(id));
    if (raw.size() == 1) {
      auto b = static_cast<unsigned char>(raw[0]);
      if (byte_ids_[b] < 0) byte_ids_[b] = static_cast<TokenId>(id);
    }
  }
  for (const auto& a : spec.added) {
    if (a.content.empty()) throw InputError(source_, "added_tokens", "empty token content for id " + std::to_string(a.id));
    tokens_[a.id] = a.content;
    bytes_[a.id] = a.content;
    present_[a.id] = 1;
    special_[a.id] = a.special ? 1 : 0;
    token_ids_[a.content] = a.id;
    added_by_byte_[static_cast<unsigned char>(a.content[0])].push_back(a);
  }
  for (auto& bucket : added_by_byte_)
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const AddedToken& x, const AddedToken& y) { return x.content.size() > y.content.size(); });
  merges_.reserve(spec.merges.size());
  for (size_t r = 0; r < spec.merges.size(); ++r) {
    const auto& [a, b] = spec.merges[r];
    auto ia = token_ids_.find(a), ib = token_ids_.find(b), ic = token_ids_.find(a + b);
    // HF tokenizers refuses to load such a file too (MergeTokenOutOfVocabulary).
    if (ia == token_ids_.end() || ib == token_ids_.end() || ic == token_ids_.end()) {
      throw InputError(source_, "model.merges[" + std::to_string(r) + "]",
                       "merge '" + a + " " + b + "' uses a token that is not in the vocabulary");
    }
    merges_.emplace(pair_key(ia->second, ib->second), Merge{static_cast<int32_t>(r), ic->second});
  }
  for (const auto& p : spec.split_patterns) splitters_.emplace_back(p, source_);
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (ignore_merges_ || word.size() == 1) {
    auto it = raw_ids_.find(std::string(word));
    if (it != raw_ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  struct Sym {
    TokenId id;
    int32_t prev, next;
  };
  struct Cand {
    int32_t rank, left, right;
    TokenId id_left, id_right, result;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  thread_local std::vector<Sym> syms;
  syms.clear();
  const auto n = static_cast<int32_t>(word.size());
  for (int32_t i = 0; i < n; ++i) {
    TokenId id = byte_ids_[static_cast<unsigned char>(word[i])];
    if (id < 0)
      throw InputError(source_, "model.vocab",
                       "byte " + std::to_string(static_cast<unsigned char>(word[i])) + " has no token (not a byte-level vocabulary?)");
    syms.push_back({id, i - 1, i + 1 < n ? i + 1 : -1});
  }
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto try_push = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    auto it = merges_.find(pair_key(syms[l].id, syms[r].id));
    if (it != merges_.end()) heap.push({it->second.rank, l, r, syms[l].id, syms[r].id, it->second.result});
  };
  for (int32_t i = 0; i + 1 < n; ++i) try_push(i, i + 1);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    // Stale candidates (a side was merged away since) are detected by comparing the ids they were built from.
    if (syms[c.left].id != c.id_left || syms[c.left].next != c.right || syms[c.right].id != c.id_right) continue;
    syms[c.left].id = c.result;
    int32_t nx = syms[c.right].next;
    syms[c.left].next = nx;
    if (nx >= 0) syms[nx].prev = c.left;
    syms[c.right].id = -1;
    try_push(syms[c.left].prev, c.left);
    try_push(c.left, nx);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

void BpeTokenizer::encode_text(std::string_view text, std::vector<TokenId>& out) const {
  if (text.empty()) return;
  std::string normalized;
  std::string_view t = text;
  if (nfc_) {
    normalized = nfc(text);
    t = normalized;
  }
  if (add_prefix_space_ && !t.empty() && t[0] != ' ') {
    normalized = " " + std::string(t);
    t = normalized;
  }
  thread_local std::vector<std::pair<size_t, size_t>> pieces, next;
  pieces.clear();
  pieces.emplace_back(0, t.size());
  for (const auto& s : splitters_) {
    next.clear();
    for (auto [b, e] : pieces) {
      size_t before = next.size();
      s.split(t.substr(b, e - b), next);
      for (size_t k = before; k < next.size(); ++k) {
        next[k].first += b;
        next[k].second += b;
      }
    }
    pieces.swap(next);
  }
  for (auto [b, e] : pieces) encode_word(t.substr(b, e - b), out);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special) out.insert(out.end(), prefix_ids_.begin(), prefix_ids_.end());
  size_t seg = 0, i = 0;
  while (i < text.size()) {
    const auto& bucket = added_by_byte_[static_cast<unsigned char>(text[i])];
    const AddedToken* hit = nullptr;
    for (const auto& a : bucket)
      if (text.compare(i, a.content.size(), a.content) == 0) {
        hit = &a;
        break;
      }
    if (!hit) {
      ++i;
      continue;
    }
    size_t seg_end = i;
    if (hit->lstrip)
      while (seg_end > seg && is_space(text[seg_end - 1])) --seg_end;
    encode_text(text.substr(seg, seg_end - seg), out);
    out.push_back(hit->id);
    i += hit->content.size();
    if (hit->rstrip)
      while (i < text.size() && is_space(text[i])) ++i;
    seg = i;
  }
  encode_text(text.substr(seg), out);
  if (add_special) out.insert(out.end(), suffix_ids_.begin(), suffix_ids_.end());
  return out;
}

std::string BpeTokenizer::decode(const std::vector<TokenId>& ids, bool skip_special) const {
  std::string out;
  for (TokenId id : ids) {
    if (id < 0 || id >= vocab_size() || !present_[id])
      throw InputError(source_, "id", "token id " + std::to_string(id) + " is outside the vocabulary");
    if (skip_special && special_[id]) continue;
    out += bytes_[id];
  }
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeSpec spec) { return std::make_unique<BpeTokenizer>(std::move(spec)); }

}  // namespace crucible::text::detail
