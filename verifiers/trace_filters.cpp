#include "verifiers/trace_filters.h"

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_set>

namespace crucible::verifiers {

std::string_view script_name(Script s) {
  switch (s) {
    case Script::latin: return "latin";
    case Script::cyrillic: return "cyrillic";
    case Script::greek: return "greek";
    case Script::arabic: return "arabic";
    case Script::hebrew: return "hebrew";
    case Script::devanagari: return "devanagari";
    case Script::thai: return "thai";
    case Script::cjk: return "cjk";
    case Script::other: return "other";
  }
  return "other";
}

namespace {

// One decoded code point and its byte length; length 0 marks an invalid byte (read as a separator, length 1).
struct CodePoint {
  uint32_t value = 0;
  size_t length = 0;
};

CodePoint decode(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t need;
  uint32_t v;
  if (b < 0x80) return {b, 1};
  if ((b & 0xE0) == 0xC0) need = 1, v = b & 0x1F;
  else if ((b & 0xF0) == 0xE0) need = 2, v = b & 0x0F;
  else if ((b & 0xF8) == 0xF0) need = 3, v = b & 0x07;
  else return {0, 0};
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return {0, 0};
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return {0, 0};
    v = (v << 6) | (c & 0x3F);
  }
  return {v, need + 1};
}

enum class Kind { separator, digit, letter, cjk };

struct Class {
  Kind kind = Kind::separator;
  Script script = Script::other;
};

// Letters by block. Blocks rather than Unicode properties: no ICU, and the scripts a reasoning model mixes (Latin,
// CJK, Cyrillic) sit in these ranges; a letter of another block counts as `other`.
Class classify(uint32_t c) {
  if (c < 0x80) {
    if (c >= '0' && c <= '9') return {Kind::digit, Script::other};
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return {Kind::letter, Script::latin};
    return {};
  }
  if (c < 0x00C0) return {};  // Latin-1 punctuation and symbols (², °, ×: not letters)
  if ((c >= 0x00C0 && c <= 0x024F && c != 0x00D7 && c != 0x00F7) || (c >= 0x1E00 && c <= 0x1EFF))
    return {Kind::letter, Script::latin};
  if (c >= 0x0370 && c <= 0x03FF) return {Kind::letter, Script::greek};
  if (c >= 0x0400 && c <= 0x052F) return {Kind::letter, Script::cyrillic};
  if (c >= 0x0590 && c <= 0x05FF) return {Kind::letter, Script::hebrew};
  if (c >= 0x0600 && c <= 0x06FF) return {Kind::letter, Script::arabic};
  if (c >= 0x0900 && c <= 0x097F) return {Kind::letter, Script::devanagari};
  if (c >= 0x0E00 && c <= 0x0E7F) return {Kind::letter, Script::thai};
  if ((c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
      (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F))
    return {Kind::cjk, Script::cjk};
  if (c >= 0x2000 && c <= 0x2BFF) return {};  // punctuation, arithmetic and arrows, symbols
  if (c >= 0x3000 && c <= 0x303F) return {};  // CJK punctuation
  if (c >= 0xFF00 && c <= 0xFF65) return {};  // full-width forms (punctuation, digits: read as separators)
  return {Kind::letter, Script::other};
}

uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Hash of units [i, i + n): the units' hashes chained, so "ab c" and "a bc" differ.
std::vector<uint64_t> window_hashes(const std::vector<TextUnit>& units, size_t n) {
  std::vector<uint64_t> out;
  if (n == 0 || units.size() < n) return out;
  std::vector<uint64_t> h(units.size());
  for (size_t i = 0; i < units.size(); ++i) h[i] = fnv1a(units[i].text);
  out.reserve(units.size() - n + 1);
  for (size_t i = 0; i + n <= units.size(); ++i) {
    uint64_t v = 0x243F6A8885A308D3ull;
    for (size_t k = 0; k < n; ++k) v = splitmix(v ^ h[i + k]);
    out.push_back(v);
  }
  return out;
}

}  // namespace

std::vector<TextUnit> text_units(std::string_view text) {
  std::vector<TextUnit> out;
  TextUnit cur;
  bool open = false, only_digits = true;
  std::map<Script, int> letters;  // script votes within the current word
  auto close = [&] {
    if (!open) return;
    cur.numeric = only_digits;
    if (!only_digits) {
      Script best = Script::other;
      int most = -1;
      for (auto [s, n] : letters)
        if (n > most) best = s, most = n;
      cur.script = best;
    }
    out.push_back(std::move(cur));
    cur = TextUnit{};
    open = false;
    only_digits = true;
    letters.clear();
  };
  for (size_t i = 0; i < text.size();) {
    CodePoint cp = decode(text, i);
    size_t len = cp.length == 0 ? 1 : cp.length;
    Class c = cp.length == 0 ? Class{} : classify(cp.value);
    if (c.kind == Kind::separator) {
      close();
    } else if (c.kind == Kind::cjk) {
      close();
      out.push_back({std::string(text.substr(i, len)), Script::cjk, false});
    } else {
      open = true;
      if (c.kind == Kind::letter) only_digits = false, ++letters[c.script];
      std::string piece(text.substr(i, len));
      if (len == 1 && piece[0] >= 'A' && piece[0] <= 'Z') piece[0] = static_cast<char>(piece[0] - 'A' + 'a');
      cur.text += piece;
    }
    i += len;
  }
  close();
  return out;
}

Script dominant_script(std::string_view text) {
  std::map<Script, int64_t> votes;
  for (const auto& u : text_units(text))
    if (!u.numeric && u.script != Script::greek) ++votes[u.script];
  Script best = Script::other;
  int64_t most = 0;
  for (auto [s, n] : votes)
    if (n > most) best = s, most = n;
  return best;
}

double script_mix_share(std::string_view text, Script expected) {
  int64_t lettered = 0, foreign = 0;
  for (const auto& u : text_units(text)) {
    if (u.numeric) continue;
    ++lettered;
    if (u.script != expected && u.script != Script::greek) ++foreign;
  }
  return lettered == 0 ? 0.0 : static_cast<double>(foreign) / static_cast<double>(lettered);
}

double ngram_repeat_ratio(std::string_view text, int n) {
  auto hashes = window_hashes(text_units(text), static_cast<size_t>(std::max(n, 1)));
  if (hashes.empty()) return 0.0;
  std::unordered_set<uint64_t> distinct(hashes.begin(), hashes.end());
  return 1.0 - static_cast<double>(distinct.size()) / static_cast<double>(hashes.size());
}

std::vector<uint64_t> minhash_signature(std::string_view text, int shingle, int size) {
  auto units = text_units(text);
  size_t n = std::min(static_cast<size_t>(std::max(shingle, 1)), std::max<size_t>(units.size(), 1));
  auto shingles = window_hashes(units, n);
  std::vector<uint64_t> sig(static_cast<size_t>(std::max(size, 1)), std::numeric_limits<uint64_t>::max());
  for (uint64_t s : shingles)
    for (size_t i = 0; i < sig.size(); ++i) sig[i] = std::min(sig[i], splitmix(s ^ splitmix(i + 1)));
  return sig;
}

double minhash_similarity(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  if (a.empty() || a.size() != b.size()) return 0.0;
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / static_cast<double>(a.size());
}

std::vector<uint64_t> ngram_hashes(std::string_view text, int n) {
  return window_hashes(text_units(text), static_cast<size_t>(std::max(n, 1)));
}

std::string normalized_units(std::string_view text) {
  std::string out;
  for (const auto& u : text_units(text)) {
    if (!out.empty()) out += ' ';
    out += u.text;
  }
  return out;
}

}  // namespace crucible::verifiers
