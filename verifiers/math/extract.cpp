// Finding the answer in a response. Plain scanning, no regex engine: responses are long (tens of KB of reasoning
// can leak past </think>), and every rule here is a linear pass.
#include <algorithm>
#include <cctype>

#include "verifiers/math/math_verifier.h"

namespace crucible::verifiers {
namespace {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// From `open` (just past an opening brace) to its matching close; npos when unbalanced. Escaped braces (\{ \})
// do not count.
size_t match_brace(std::string_view s, size_t open) {
  int depth = 1;
  for (size_t i = open; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (c == '{') ++depth;
    else if (c == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

std::optional<std::string> last_boxed(std::string_view s) {
  size_t end = s.size();
  for (;;) {
    size_t b = s.rfind("\\boxed", end);
    size_t f = s.rfind("\\fbox", end);
    size_t pos;
    size_t len;
    if (b == std::string_view::npos && f == std::string_view::npos) return std::nullopt;
    if (f == std::string_view::npos || (b != std::string_view::npos && b > f)) {
      pos = b;
      len = 6;
    } else {
      pos = f;
      len = 5;
    }
    size_t i = pos + len;
    while (i < s.size() && s[i] == ' ') ++i;
    if (i < s.size() && s[i] == '{') {
      size_t close = match_brace(s, i + 1);
      if (close != std::string_view::npos) {
        std::string_view inner = trim(s.substr(i + 1, close - i - 1));
        if (!inner.empty()) return std::string(inner);
      }
    } else if (i > pos + len && i < s.size()) {
      // "\boxed 5": the next token
      size_t j = i;
      while (j < s.size() && !is_space(s[j]) && s[j] != '$') ++j;
      if (j > i) return std::string(s.substr(i, j - i));
    }
    if (pos == 0) return std::nullopt;
    end = pos - 1;
  }
}

// The answer that starts at `i`: a $…$ / \(…\) / \[…\] span, or the rest of the sentence on that line.
std::string answer_at(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == ':' || s[i] == '\t')) ++i;
  // Markdown bold around the answer: "is **42**".
  if (s.compare(i, 2, "**") == 0) {
    size_t close = s.find("**", i + 2);
    if (close != std::string_view::npos && close - i < 400) return std::string(trim(s.substr(i + 2, close - i - 2)));
  }
  auto span = [&](std::string_view open, std::string_view close) -> std::optional<std::string> {
    if (s.compare(i, open.size(), open) != 0) return std::nullopt;
    size_t end = s.find(close, i + open.size());
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(trim(s.substr(i + open.size(), end - i - open.size())));
  };
  if (auto r = span("$$", "$$")) return *r;
  if (auto r = span("$", "$")) return *r;
  if (auto r = span("\\(", "\\)")) return *r;
  if (auto r = span("\\[", "\\]")) return *r;
  size_t end = i;
  while (end < s.size() && s[end] != '\n') {
    // A full stop followed by a space or the end of the line ends the sentence; "3.5" does not.
    if (s[end] == '.' && (end + 1 == s.size() || is_space(s[end + 1]))) break;
    ++end;
  }
  std::string out(trim(s.substr(i, end - i)));
  while (!out.empty() && (out.back() == '.' || out.back() == '*')) out.pop_back();
  return std::string(trim(out));
}

std::optional<std::string> final_answer_phrase(std::string_view s) {
  std::string low = to_lower(s);
  static const std::string_view phrases[] = {"final answer is", "the answer is", "answer is", "final answer:"};
  size_t best = std::string::npos, best_len = 0;
  for (auto p : phrases) {
    size_t pos = low.rfind(p);
    if (pos != std::string::npos && (best == std::string::npos || pos > best)) {
      best = pos;
      best_len = p.size();
    }
  }
  if (best == std::string::npos) return std::nullopt;
  std::string a = answer_at(s, best + best_len);
  if (a.empty()) return std::nullopt;
  return a;
}

std::optional<std::string> answer_line(std::string_view s) {
  std::optional<std::string> found;
  size_t start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    std::string_view line = s.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    std::string low = to_lower(line);
    size_t i = 0;
    auto skip = [&](std::string_view t) {
      while (i < low.size() && (low[i] == ' ' || low[i] == '\t' || low[i] == '#' || low[i] == '>')) ++i;
      if (low.compare(i, t.size(), t) == 0) {
        i += t.size();
        return true;
      }
      return false;
    };
    skip("**");
    skip("final ");
    if (skip("answer")) {
      skip("**");
      while (i < low.size() && low[i] == ' ') ++i;
      // "Answer: 5", or "Answer $5$" / "Answer \\[ 5 \\]" (a math span right after the word).
      bool colon = i < low.size() && low[i] == ':';
      bool math_span = !colon && (low.compare(i, 1, "$") == 0 || low.compare(i, 2, "\\(") == 0 ||
                                  low.compare(i, 2, "\\[") == 0);
      if (colon || math_span) {
        if (colon) ++i;
        if (low.compare(i, 2, "**") == 0) i += 2;
        std::string a = answer_at(line, i);
        if (!a.empty()) found = a;
      }
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return found;
}

std::optional<std::string> last_bold(std::string_view s) {
  size_t close = s.rfind("**");
  if (close == std::string_view::npos || close == 0) return std::nullopt;
  size_t open = s.rfind("**", close - 1);
  if (open == std::string_view::npos || close - open < 3) return std::nullopt;
  std::string_view inner = trim(s.substr(open + 2, close - open - 2));
  if (inner.empty() || inner.size() > 300 || inner.find('\n') != std::string_view::npos) return std::nullopt;
  std::string out(inner);
  while (!out.empty() && (out.back() == '.' || out.back() == ':')) out.pop_back();
  // "**Answer: 5**" is the answer line written in bold.
  std::string low = to_lower(out);
  for (std::string_view p : {"final answer:", "answer:"}) {
    if (low.rfind(p, 0) == 0) out = std::string(trim(std::string_view(out).substr(p.size())));
  }
  if (out.size() >= 2 && out.front() == '$' && out.back() == '$') out = out.substr(1, out.size() - 2);
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> hash_marks(std::string_view s) {
  size_t pos = s.rfind("####");
  if (pos == std::string_view::npos) return std::nullopt;
  size_t i = pos + 4;
  size_t nl = s.find('\n', i);
  std::string out(trim(s.substr(i, nl == std::string_view::npos ? std::string_view::npos : nl - i)));
  if (out.empty()) return std::nullopt;
  return out;
}

// The last number: optional minus, digits with thousands commas, an optional decimal part, or a fraction a/b.
std::optional<std::string> last_number(std::string_view s) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = s.size();
  while (i > 0 && !digit(s[i - 1])) --i;
  if (i == 0) return std::nullopt;
  size_t end = i;
  size_t start = end;
  while (start > 0) {
    char c = s[start - 1];
    if (digit(c)) {
      --start;
    } else if ((c == ',' || c == '.' || c == '/') && start >= 2 && digit(s[start - 2])) {
      --start;
    } else if (c == '.' && start >= 1) {
      --start;  // ".5"
      break;
    } else {
      break;
    }
  }
  if (start > 0 && s[start - 1] == '-') --start;
  std::string out(s.substr(start, end - start));
  out.erase(std::remove(out.begin(), out.end(), ','), out.end());
  return out;
}

}  // namespace

std::optional<Extraction> extract_answer(std::string_view text, const std::vector<ExtractRule>& rules) {
  for (ExtractRule rule : rules) {
    std::optional<std::string> got;
    switch (rule) {
      case ExtractRule::boxed: got = last_boxed(text); break;
      case ExtractRule::final_answer: got = final_answer_phrase(text); break;
      case ExtractRule::answer_line: got = answer_line(text); break;
      case ExtractRule::bold: got = last_bold(text); break;
      case ExtractRule::hash_marks: got = hash_marks(text); break;
      case ExtractRule::last_number: got = last_number(text); break;
      case ExtractRule::whole: {
        std::string_view t = trim(text);
        if (!t.empty()) got = std::string(t);
        break;
      }
      case ExtractRule::none: break;
    }
    if (got && !got->empty()) {
      // An answer phrase that itself holds a box ("the answer is $\boxed{5}$") yields the box's content.
      if (rule != ExtractRule::boxed)
        if (auto inner = last_boxed(*got)) got = inner;
      return Extraction{std::move(*got), rule};
    }
  }
  return std::nullopt;
}

}  // namespace crucible::verifiers
