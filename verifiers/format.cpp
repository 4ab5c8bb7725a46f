#include "verifiers/format.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace crucible::verifiers {
namespace {

struct Tag {
  size_t begin = 0;
  size_t end = 0;  // one past '>'
  bool close = false;
};

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Every `<think>` / `</think>` in any spelling a reader (or a lenient parser) would take for one: case-insensitive,
// spaces allowed around the slash and before '>'.
std::vector<Tag> find_tags(std::string_view s) {
  constexpr std::string_view kWord = "think";
  std::vector<Tag> tags;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '<') continue;
    size_t j = i + 1;
    while (j < s.size() && is_ascii_space(s[j])) ++j;
    bool close = false;
    if (j < s.size() && s[j] == '/') {
      close = true;
      ++j;
      while (j < s.size() && is_ascii_space(s[j])) ++j;
    }
    if (s.size() - j < kWord.size()) continue;
    bool word = true;
    for (size_t k = 0; k < kWord.size(); ++k) word = word && lower(s[j + k]) == kWord[k];
    if (!word) continue;
    j += kWord.size();
    while (j < s.size() && is_ascii_space(s[j])) ++j;
    if (j < s.size() && s[j] == '>') {
      tags.push_back({i, j + 1, close});
      i = j;
    }
  }
  return tags;
}

// Code points a reader cannot see: a zero-width space is as empty an answer as a blank line.
bool is_invisible(uint32_t cp) {
  return cp == 0x00A0 || cp == 0x1680 || cp == 0x180E || (cp >= 0x2000 && cp <= 0x200F) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x2060 || cp == 0x3000 || cp == 0xFEFF;
}

// Letters of the scripts a model's reasoning is written in, beyond ASCII: Latin-1 and Latin Extended (less × and ÷),
// Greek through Arabic, the Indic scripts, kana, CJK ideographs, Hangul, and fullwidth digits and letters. Symbols,
// arrows, math operators and punctuation (U+2000–U+2BFF, U+3000–U+303F) are not words. Not the full Unicode letter
// table (which is a data file of its own); a letter of a script not listed fails `reasoning_without_words`, which costs
// the format reward of a model reasoning only in that script, never lets punctuation through.
bool is_word_code_point(uint32_t cp) {
  if (cp < 0x80) {
    const auto c = static_cast<char>(cp);
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }
  static constexpr std::pair<uint32_t, uint32_t> kLetters[] = {
      {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x02AF}, {0x0370, 0x03FF}, {0x0400, 0x052F},
      {0x0531, 0x0587}, {0x05D0, 0x05EA}, {0x0620, 0x064A}, {0x0660, 0x0669}, {0x0900, 0x0DFF},
      {0x0E01, 0x0E30}, {0x3041, 0x30FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
      {0xFF10, 0xFF19}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}};
  for (auto [lo, hi] : kLetters)
    if (cp >= lo && cp <= hi) return true;
  return false;
}

// Calls `f(code_point)` for each UTF-8 sequence of `s` until it returns true; an invalid or truncated sequence is
// passed as `kInvalid`, one byte at a time. Returns whether `f` ever returned true.
constexpr uint32_t kInvalid = 0xFFFFFFFF;
template <class F>
bool any_code_point(std::string_view s, F f) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    bool valid = n != 0 && i + n <= s.size();
    for (size_t k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (!valid) {  // one byte at a time, so an ASCII letter after a stray lead byte is still seen
      if (f(kInvalid)) return true;
      ++i;
      continue;
    }
    uint32_t cp = n == 1 ? b : b & (0xFF >> (n + 1));
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    if (f(cp)) return true;
    i += n;
  }
  return false;
}

// True when `s` holds at least one visible character. Invalid UTF-8 bytes count as visible (they are not blank).
bool has_visible(std::string_view s) {
  return any_code_point(s, [](uint32_t cp) {
    if (cp == kInvalid) return true;
    if (cp < 0x80) return !is_ascii_space(static_cast<char>(cp)) && cp >= 0x20 && cp != 0x7F;
    return !is_invisible(cp);
  });
}

bool has_word(std::string_view s) {
  return any_code_point(s, [](uint32_t cp) { return cp != kInvalid && is_word_code_point(cp); });
}

FormatIssue find_issue(std::string_view s, const FormatOptions& options) {
  std::vector<Tag> tags = find_tags(s);
  const Tag* open = nullptr;
  const Tag* close = nullptr;
  size_t opens = 0, closes = 0;
  for (const Tag& t : tags) {
    if (t.close) {
      ++closes;
      if (!close) close = &t;
    } else {
      ++opens;
      if (!open) open = &t;
    }
  }
  size_t reasoning_begin = 0;
  if (options.think_opened_by_prompt) {
    if (opens > 0) return FormatIssue::duplicate_open;
    if (closes == 0) return FormatIssue::no_close_tag;
  } else {
    if (opens == 0) return FormatIssue::no_open_tag;
    if (opens > 1) return FormatIssue::duplicate_open;
    if (closes == 0) return FormatIssue::no_close_tag;
    if (closes > 1) return FormatIssue::duplicate_close;
    if (close->begin < open->begin) return FormatIssue::close_before_open;
    if (has_visible(s.substr(0, open->begin))) return FormatIssue::text_before_open;
    reasoning_begin = open->end;
  }
  if (closes > 1) return FormatIssue::duplicate_close;
  if (!has_visible(s.substr(reasoning_begin, close->begin - reasoning_begin))) return FormatIssue::empty_reasoning;
  if (!has_visible(s.substr(close->end))) return FormatIssue::empty_answer;
  if (options.rule == FormatRule::answer) {
    if (!has_word(s.substr(reasoning_begin, close->begin - reasoning_begin)))
      return FormatIssue::reasoning_without_words;
    if (!options.final_answer_extracted) return FormatIssue::no_final_answer;
  }
  return FormatIssue::ok;
}

}  // namespace

FormatVerdict check_format(std::string_view completion, const FormatOptions& options) {
  return FormatVerdict{find_issue(completion, options)};
}

double format_reward(std::string_view completion, const FormatOptions& options) {
  return check_format(completion, options).well_formed() ? 1.0 : 0.0;
}

std::string_view format_issue_name(FormatIssue issue) {
  switch (issue) {
    case FormatIssue::ok: return "ok";
    case FormatIssue::no_close_tag: return "no_close_tag";
    case FormatIssue::no_open_tag: return "no_open_tag";
    case FormatIssue::text_before_open: return "text_before_open";
    case FormatIssue::duplicate_open: return "duplicate_open";
    case FormatIssue::duplicate_close: return "duplicate_close";
    case FormatIssue::close_before_open: return "close_before_open";
    case FormatIssue::empty_reasoning: return "empty_reasoning";
    case FormatIssue::empty_answer: return "empty_answer";
    case FormatIssue::reasoning_without_words: return "reasoning_without_words";
    case FormatIssue::no_final_answer: return "no_final_answer";
  }
  return "unknown";
}

std::string_view format_rule_name(FormatRule rule) {
  switch (rule) {
    case FormatRule::r1: return "r1";
    case FormatRule::answer: return "answer";
  }
  return "unknown";
}

std::optional<FormatRule> parse_format_rule(std::string_view name) {
  for (FormatRule r : {FormatRule::r1, FormatRule::answer})
    if (format_rule_name(r) == name) return r;
  return std::nullopt;
}

}  // namespace crucible::verifiers
