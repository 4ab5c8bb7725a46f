// Internal helpers shared by the tokenizers (not part of the public interface): UTF-8, the GPT-2 byte<->unicode
// mapping, NFC, and a PCRE2 splitter.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crucible::text::detail {

// Length of the UTF-8 sequence starting with byte `c` (1 for a stray continuation or invalid lead byte, so a
// scanner always advances).
inline size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}
void append_utf8(std::string& out, uint32_t cp);
// Bytes of the longest prefix of `s` that does not end inside a multi-byte character that could still be completed.
size_t complete_utf8_prefix(std::string_view s);
// Replaces every invalid UTF-8 sequence by U+FFFD (as Python's bytes.decode(errors="replace") does).
std::string sanitize_utf8(std::string_view s);
bool is_valid_utf8(std::string_view s);

// GPT-2's reversible byte -> printable code point mapping used by byte-level BPE vocabularies.
const std::string& byte_to_unicode(unsigned char b);  // UTF-8 of the mapped code point
// Inverse: the raw bytes a byte-level token string stands for; false if a character is not in the mapping.
bool unicode_to_bytes(std::string_view token, std::string& out);

// Unicode NFC (ICU). Invalid UTF-8 is passed through unchanged (transformers would have failed earlier).
std::string nfc(std::string_view s);

// A compiled PCRE2 pattern (UTF + Unicode properties, JIT when available) splitting text the way HF tokenizers'
// Split pre-tokenizer does with behavior "Isolated": every match and every gap between matches becomes a piece.
class RegexSplitter {
 public:
  RegexSplitter(const std::string& pattern, const std::string& where);
  RegexSplitter(RegexSplitter&&) noexcept;
  ~RegexSplitter();
  // Appends [begin, end) byte ranges of `text` (relative to `text`) to `out`.
  void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crucible::text::detail
