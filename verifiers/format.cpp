#include "verifiers/format.h"

#include <cstdint>
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

// True when `s` holds at least one visible character. Invalid UTF-8 bytes count as visible (they are not blank).
bool has_visible(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (!is_ascii_space(static_cast<char>(b)) && b >= 0x20 && b != 0x7F) return true;
      ++i;
      continue;
    }
    size_t n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    if (n == 1 || i + n > s.size()) return true;
    uint32_t cp = b & (0xFF >> (n + 1));
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    if (!is_invisible(cp)) return true;
    i += n;
  }
  return false;
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
  }
  return "unknown";
}

}  // namespace crucible::verifiers
