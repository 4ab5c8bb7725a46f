// Finding the answer in a response. Plain scanning, no regex engine: responses are long (tens of KB of reasoning
// can leak past </think>), and every rule here is a linear pass (or a few).
//
// The rules split in two: markers the model wrote on purpose (a box, "the final answer is", an "Answer:" line, a bold
// answer, GSM8K's ####) and fallbacks for responses without one (the last display math, the last inline math, the
// last number or expression). A fallback guesses, so it never runs on a response that was cut off: that one is
// `unfinished` (see grade.cpp).
#include <algorithm>
#include <cctype>

#include "verifiers/math/answer.h"
#include "verifiers/math/math_verifier.h"

namespace crucible::verifiers {
namespace {

struct Found {
  std::string text;
  size_t begin = 0, end = 0;  // the span of the response the answer came from
};

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

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

// ---- boxes -----------------------------------------------------------------------------------------------------
struct Box {
  size_t begin, end;
  std::string content;
};

// Every closed \boxed{…} / \fbox{…} / "\boxed 7", left to right; a box inside a box is part of the outer one.
std::vector<Box> all_boxes(std::string_view s) {
  std::vector<Box> out;
  size_t i = 0;
  // The next \boxed and \fbox at or after i, searched again only once passed (a search per box for a command
  // that never comes would make 20 000 boxes quadratic).
  size_t b = s.find("\\boxed"), f = s.find("\\fbox");
  while (i < s.size()) {
    if (b != std::string_view::npos && b < i) b = s.find("\\boxed", i);
    if (f != std::string_view::npos && f < i) f = s.find("\\fbox", i);
    size_t pos = std::min(b, f);
    if (pos == std::string_view::npos) break;
    size_t j = pos + (pos == b ? 6 : 5);
    if (j < s.size() && is_alpha(s[j])) {  // \boxedsomething is another command
      i = j;
      continue;
    }
    size_t k = j;
    while (k < s.size() && s[k] == ' ') ++k;
    if (k < s.size() && s[k] == '{') {
      size_t close = match_brace(s, k + 1);
      if (close == std::string_view::npos) {
        i = k + 1;  // unclosed: not an answer, keep looking (an earlier box stays the answer)
        continue;
      }
      std::string_view inner = trim(s.substr(k + 1, close - k - 1));
      if (!inner.empty()) out.push_back({pos, close + 1, std::string(inner)});
      i = close + 1;
    } else if (k > j && k < s.size()) {
      // "\boxed 5": the next token
      size_t e = k;
      while (e < s.size() && !is_space(s[e]) && s[e] != '$') ++e;
      while (e > k && (s[e - 1] == '.' || s[e - 1] == ',')) --e;
      if (e > k) out.push_back({pos, e, std::string(s.substr(k, e - k))});
      i = std::max(e, k + 1);
    } else {
      i = j;
    }
  }
  return out;
}

// Text between two boxes of one answer: punctuation, math, "and"/"or", names ("$ or $x = "), not prose
// ("First \boxed{10}, corrected: \boxed{12}" is a correction, and only the last box counts).
bool connector_only(std::string_view gap) {
  for (size_t i = 0; i < gap.size();) {
    if (gap[i] == '\\') {
      size_t j = i + 1;
      while (j < gap.size() && is_alpha(gap[j])) ++j;
      std::string_view name = gap.substr(i + 1, j - i - 1);
      if (name == "text" || name == "mbox" || name == "textrm") {
        i = j;
        continue;
      }
      i = std::max(j, i + 1);
      continue;
    }
    if (is_alpha(gap[i])) {
      size_t j = i;
      while (j < gap.size() && is_alpha(gap[j])) ++j;
      std::string w = to_lower(gap.substr(i, j - i));
      if (w.size() > 2 && w != "and") return false;
      i = j;
      continue;
    }
    ++i;
  }
  return true;
}

// The last box, or the last group of boxes written together (no blank line and at most a short phrase between
// them: "$x = \boxed{2}$ or $x = \boxed{3}$"), as one answer: the group is a list, compared as a set (or in order
// against a tuple). Boxes far apart are work and answer, and only the last counts. Repeats of one answer collapse.
std::optional<Found> boxed_answer(std::string_view s) {
  std::vector<Box> boxes = all_boxes(s);
  if (boxes.empty()) return std::nullopt;
  size_t first = boxes.size() - 1;
  // More than 64 boxes written together is no answer anyone grades; the cap keeps this linear on hostile input
  // (the list stays a list, so it is still wrong against one value).
  while (first > 0 && boxes.size() - first < 64) {
    const Box& prev = boxes[first - 1];
    std::string_view gap = s.substr(prev.end, boxes[first].begin - prev.end);
    if (gap.size() > 120 || gap.find("\n\n") != std::string_view::npos || !connector_only(gap)) break;
    --first;
  }
  // "\boxed{\text{(B) } 12}": a choice label in front of the value.
  auto drop_choice_label = [](std::string c) {
    std::string_view v = c;
    for (std::string_view cmd : {"\\text{", "\\textbf{", "\\mathrm{"})
      if (v.substr(0, cmd.size()) == cmd && v.size() > cmd.size() + 3 && v[cmd.size()] == '(' &&
          v[cmd.size() + 1] >= 'A' && v[cmd.size() + 1] <= 'E' && v[cmd.size() + 2] == ')') {
        size_t close = match_brace(v, cmd.size());
        if (close != std::string_view::npos && close + 1 < v.size()) {
          std::string_view inner = trim(v.substr(cmd.size() + 3, close - cmd.size() - 3));
          std::string rest(trim(v.substr(close + 1)));
          if (!rest.empty()) return inner.empty() ? rest : std::string(inner) + " " + rest;
        }
      }
    if (v.size() > 4 && v[0] == '(' && v[1] >= 'A' && v[1] <= 'E' && v[2] == ')' && v[3] == ' ')
      return std::string(trim(v.substr(4)));
    return c;
  };
  std::vector<std::string> parts, seen;
  for (size_t k = first; k < boxes.size(); ++k) {
    boxes[k].content = drop_choice_label(boxes[k].content);
    std::string squeezed;
    for (char c : boxes[k].content)
      if (!is_space(c)) squeezed += c;
    if (std::find(seen.begin(), seen.end(), squeezed) != seen.end()) continue;
    seen.push_back(squeezed);
    parts.push_back(boxes[k].content);
  }
  std::string joined;
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) joined += "; ";
    joined += parts[k];
  }
  size_t end = boxes.back().end;
  // "$\boxed{45}$ radians": a known unit written right after the box belongs to the answer (45 radians is not
  // 45 degrees).
  if (parts.size() == 1 && std::none_of(joined.begin(), joined.end(), [](char c) { return is_alpha(c); })) {
    size_t k = end;
    while (k < s.size() && (s[k] == ' ' || s[k] == '$' || s[k] == '~')) ++k;
    if (s.compare(k, 2, "\\)") == 0 || s.compare(k, 2, "\\]") == 0) k += 2;
    while (k < s.size() && (s[k] == ' ' || s[k] == '$')) ++k;
    std::string word;
    for (std::string_view cmd : {"\\text{", "\\mathrm{", "\\,\\text{", "\\ \\text{"}) {
      if (s.compare(k, cmd.size(), cmd) == 0) {
        size_t close = match_brace(s, k + cmd.size());
        if (close != std::string_view::npos) word = std::string(trim(s.substr(k + cmd.size(), close - k - cmd.size())));
        break;
      }
    }
    if (word.empty()) {
      size_t e = k;
      while (e < s.size() && is_alpha(s[e])) ++e;
      word = std::string(s.substr(k, e - k));
    }
    while (!word.empty() && word.front() == '~') word.erase(0, 1);
    if (!word.empty() && !math::canonical_unit(word).empty() && word != "in" && word != "s" && word != "a")
      joined += " \\text{ " + word + "}";
  }
  return Found{joined, boxes[first].begin, end};
}

// ---- math spans ----------------------------------------------------------------------------------------------
struct Span {
  size_t begin, end;  // the whole span with its delimiters
  std::string_view inner;
  bool display;
};

// Two words of prose in a row ("for apples"), outside commands and \text{…}: a `$…$` holding that is two dollar
// signs of currency, not math.
bool has_prose(std::string_view s) {
  int words_in_row = 0;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\\') {
      size_t j = i + 1;
      while (j < s.size() && is_alpha(s[j])) ++j;
      std::string_view name = s.substr(i + 1, j - i - 1);
      if ((name == "text" || name == "mathrm" || name == "textbf" || name == "mbox") && j < s.size() && s[j] == '{') {
        size_t close = match_brace(s, j + 1);
        j = close == std::string_view::npos ? s.size() : close + 1;
      }
      i = std::max(j, i + 1);
      words_in_row = 0;
      continue;
    }
    if (is_alpha(c)) {
      size_t j = i;
      while (j < s.size() && is_alpha(s[j])) ++j;
      if (j - i >= 2) {
        if (++words_in_row >= 2) return true;
      } else {
        words_in_row = 0;
      }
      i = j;
      continue;
    }
    if (c != ' ' && c != ',') words_in_row = 0;
    ++i;
  }
  return false;
}

// Every math span, left to right: $$…$$ and \[…\] (display), $…$ and \(…\) (inline). A lone `$` that does not open
// a math span is currency ("$5 for apples and $7 for pears"): the pairing restarts from the next `$`.
std::vector<Span> math_spans(std::string_view s) {
  std::vector<Span> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '[' || s[i + 1] == '(')) {
      std::string_view close = s[i + 1] == '[' ? "\\]" : "\\)";
      size_t e = s.find(close, i + 2);
      if (e == std::string_view::npos) {
        i += 2;
        continue;
      }
      out.push_back({i, e + 2, s.substr(i + 2, e - i - 2), s[i + 1] == '['});
      i = e + 2;
      continue;
    }
    if (c == '\\' && s.compare(i, 7, "\\begin{") == 0) {
      // A top-level align / equation / gather environment is display math.
      size_t close = s.find('}', i + 7);
      if (close != std::string_view::npos) {
        std::string_view env = s.substr(i + 7, close - i - 7);
        if (env.rfind("align", 0) == 0 || env.rfind("equation", 0) == 0 || env.rfind("gather", 0) == 0 ||
            env.rfind("eqnarray", 0) == 0 || env.rfind("multline", 0) == 0) {
          std::string end_tag = "\\end{" + std::string(env) + "}";
          size_t e = s.find(end_tag, close);
          if (e != std::string_view::npos) {
            out.push_back({i, e + end_tag.size(), s.substr(close + 1, e - close - 1), true});
            i = e + end_tag.size();
            continue;
          }
        }
      }
    }
    if (c == '\\') {
      i += 2;  // \$ is a literal dollar
      continue;
    }
    if (c != '$') {
      ++i;
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '$') {
      size_t e = s.find("$$", i + 2);
      if (e == std::string_view::npos) {
        i += 2;
        continue;
      }
      out.push_back({i, e + 2, s.substr(i + 2, e - i - 2), true});
      i = e + 2;
      continue;
    }
    // Single $: find the closing one on the same paragraph.
    size_t e = i + 1;
    while (e < s.size() && s[e] != '$') {
      if (s[e] == '\\') ++e;
      ++e;
    }
    if (e >= s.size()) {
      ++i;  // a lone dollar (currency): keep looking for \[…\] and $$…$$ after it
      continue;
    }
    std::string_view inner = s.substr(i + 1, e - i - 1);
    bool currency = trim(inner).empty() || has_prose(inner) || inner.find("\n\n") != std::string_view::npos ||
                    (e + 1 < s.size() && is_digit(s[e + 1])) || (i > 0 && is_digit(s[i - 1]));
    if (currency) {
      i = e;  // the closing candidate may open the next span
      continue;
    }
    out.push_back({i, e + 1, inner, false});
    i = e + 1;
  }
  return out;
}

// A math span with content worth grading: not a lone letter such as "$x$" in "the value of $x$".
bool substantial(std::string_view inner) {
  std::string_view t = trim(inner);
  if (t.empty()) return false;
  if (t.size() == 1 && is_alpha(t[0])) return false;
  return true;
}

std::string last_row(std::string_view inner);

// Text between two inline spans of one list answer: only a comma, "or", "and", "/" (and spaces): "$1$, $2$ or $3$",
// "$x = 1$ or $x = 2$". Stricter than connector_only (boxes), since prose between inline spans ("$a$ is $5$") is
// common and must not make a list.
bool list_connector(std::string_view gap) {
  std::string g;
  for (char c : gap)
    if (!is_space(c)) g += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return g == "," || g == "or" || g == "and" || g == ",or" || g == ",and" || g == "/";
}

// The inline spans written together with spans[k] as one list ("$x = 1$ or $x = 2$"), as [first, last] indices.
// A hedge over several values in separate spans is one answer, a list, as boxes written together are: it equals
// a gold that is that set, never one of its elements. At most 64 spans, like boxes.
std::pair<size_t, size_t> inline_group(std::string_view s, const std::vector<Span>& spans, size_t k) {
  size_t first = k, last = k;
  auto joined = [&](size_t a, size_t b) {
    return !spans[a].display && !spans[b].display && substantial(spans[b].inner) && spans[b].begin >= spans[a].end &&
           spans[b].begin - spans[a].end <= 12 && list_connector(s.substr(spans[a].end, spans[b].begin - spans[a].end));
  };
  while (first > 0 && last - first < 63 && joined(first - 1, first)) --first;
  while (last + 1 < spans.size() && last - first < 63 && joined(last, last + 1)) ++last;
  return {first, last};
}

// The rows of spans[first..last] joined as a list ("1; 2"), repeats collapsed; empty when any row is empty.
std::string joined_rows(const std::vector<Span>& spans, size_t first, size_t last) {
  std::string out;
  std::vector<std::string> seen;
  for (size_t k = first; k <= last; ++k) {
    std::string row = last_row(spans[k].inner);
    if (row.empty()) return {};
    std::string squeezed;
    for (char c : row)
      if (!is_space(c)) squeezed += c;
    if (std::find(seen.begin(), seen.end(), squeezed) != seen.end()) continue;
    seen.push_back(squeezed);
    if (!out.empty()) out += "; ";
    out += row;
  }
  return out;
}

// A formula without a number ("$\theta = \lambda/d$"): the method, not the result.
bool formula_only(std::string_view inner) {
  return inner.find('=') != std::string_view::npos &&
         std::none_of(inner.begin(), inner.end(), [](char c) { return is_digit(c); });
}

// The final row of an aligned display ("x &= 2 + 3 \\ &= 5") or of a chain: what it ends on. Matrices stay whole.
std::string last_row(std::string_view inner) {
  std::string s(trim(inner));
  bool matrix = s.find("matrix") != std::string::npos || s.find("{array}") != std::string::npos ||
                s.find("{cases}") != std::string::npos;
  if (!matrix && s.find("\\\\") != std::string::npos) {
    for (std::string_view env : {"\\begin{aligned}", "\\end{aligned}", "\\begin{align*}", "\\end{align*}",
                                 "\\begin{align}", "\\end{align}", "\\begin{gathered}", "\\end{gathered}",
                                 "\\begin{split}", "\\end{split}"}) {
      size_t p;
      while ((p = s.find(env)) != std::string::npos) s.erase(p, env.size());
    }
    std::string_view v = s;
    v = trim(v);
    while (v.size() >= 2 && v.substr(v.size() - 2) == "\\\\") v = trim(v.substr(0, v.size() - 2));
    size_t br = v.rfind("\\\\");
    if (br != std::string_view::npos) v = v.substr(br + 2);
    s = std::string(trim(v));
  }
  if (!matrix) s.erase(std::remove(s.begin(), s.end(), '&'), s.end());
  // "\sqrt{8} \approx 2.83": the exact value, not its approximation; but "24000 \cdot 1.01^{30} \approx 32348"
  // is a computation with decimals, and what it comes to is the answer.
  if (size_t ap = s.find("\\approx"); ap != std::string::npos && ap > 0 && !trim(std::string_view(s).substr(0, ap)).empty()) {
    std::string_view before = std::string_view(s).substr(0, ap);
    bool decimals = false;
    for (size_t k = 1; k + 1 < before.size(); ++k)
      decimals = decimals || (before[k] == '.' && is_digit(before[k - 1]) && is_digit(before[k + 1]));
    if (!decimals) s = s.substr(0, ap);
  }
  // "m = M + 25 \Rightarrow m = 10": what the row concludes.
  for (std::string_view arrow : {"\\Rightarrow", "\\implies", "\\therefore", "\\Longrightarrow", "\\to"}) {
    size_t p = s.rfind(arrow);
    if (p != std::string::npos && !(p + arrow.size() < s.size() && is_alpha(s[p + arrow.size()])) && arrow != "\\to")
      s = s.substr(p + arrow.size());
  }
  std::string_view v = trim(s);
  // "= 5" on a continuation row: the value.
  while (!v.empty() && (v.front() == '=')) v = trim(v.substr(1));
  while (!v.empty() && (v.back() == ',' || (v.back() == '.' && !(v.size() >= 2 && v[v.size() - 2] == '.'))))
    v = trim(v.substr(0, v.size() - 1));
  return std::string(v);
}

// A number written in plain text after `pos` (outside math spans, not inside a word): the response went on to state
// a result in prose ("Therefore … increases by 100%."), which the last-number rule reads.
// `sentence_ended`: pos already ends a sentence (after a display), so any later number counts.
bool plain_number_after(std::string_view s, size_t pos, const std::vector<Span>& spans, bool sentence_ended) {
  // Numbers in the same sentence describe the answer ("$9$ divisors of 196"); a later sentence restates it. A
  // display ends its sentence.
  size_t next = pos;
  while (!sentence_ended && next < s.size() && s[next] != '\n' &&
         !((s[next] == '.' || s[next] == '!' || s[next] == '?') && (next + 1 == s.size() || is_space(s[next + 1]))))
    ++next;
  size_t k = 0;
  for (size_t i = next; i < s.size(); ++i) {
    while (k < spans.size() && spans[k].end <= i) ++k;
    if (k < spans.size() && spans[k].begin <= i) {
      i = spans[k].end - 1;
      continue;
    }
    if (is_digit(s[i]) && !(i > 0 && (is_alpha(s[i - 1]) || s[i - 1] == '_' || s[i - 1] == '^'))) return true;
  }
  return false;
}

std::optional<Found> display_math(std::string_view s) {
  std::vector<Span> spans = math_spans(s);
  for (size_t k = spans.size(); k-- > 0;) {
    if (!spans[k].display) continue;
    if (last_row(spans[k].inner).empty()) continue;
    if (plain_number_after(s, spans[k].end, spans, true)) return std::nullopt;
    // An inline answer written after the last display ("So $x = 5$.") is the later, and so the final, word.
    for (size_t j = k + 1; j < spans.size(); ++j)
      if (!spans[j].display && substantial(spans[j].inner) &&
          std::any_of(spans[j].inner.begin(), spans[j].inner.end(), [](char c) { return is_digit(c); }))
        return std::nullopt;
    std::string row = last_row(spans[k].inner);
    if (row.empty()) continue;
    return Found{row, spans[k].begin, spans[k].end};
  }
  return std::nullopt;
}

std::optional<Found> inline_math(std::string_view s) {
  std::vector<Span> spans = math_spans(s);
  size_t k = spans.size();
  while (k-- > 0)
    if (!spans[k].display && substantial(spans[k].inner)) break;
  if (k >= spans.size()) return std::nullopt;
  const Span* pick = &spans[k];
  if (plain_number_after(s, pick->end, spans, false)) return std::nullopt;
  // "namely $\theta = \lambda/d$, gives 1.2 arcseconds": the number the formula gives.
  if (formula_only(pick->inner) && plain_number_after(s, pick->end, spans, true)) return std::nullopt;
  auto [first, last] = inline_group(s, spans, k);
  std::string row = first == last ? last_row(pick->inner) : joined_rows(spans, first, last);
  if (row.empty()) return std::nullopt;
  return Found{row, spans[first].begin, pick->end};
}

// ---- phrases, lines, bold ------------------------------------------------------------------------------------
std::optional<Found> last_number(std::string_view s);

// The answer inside a sentence of prose ("The volume of $ABCDEFGH$ is 120", "Jane started 3 hours ago"): what
// follows the last "is"/"are"/"equals"/"=" when that is not prose, else the last math span with content, else the
// last number.
std::string answer_in_sentence(const std::string& sentence) {
  std::string low = to_lower(sentence);
  size_t best = std::string::npos, len = 0;
  for (std::string_view verb : {" is ", " are ", " equals ", " was ", " be ", " = ", " of "}) {
    if (verb == " of ") continue;
    size_t p = low.rfind(verb);
    if (p != std::string::npos && (best == std::string::npos || p > best)) {
      best = p;
      len = verb.size();
    }
  }
  if (best != std::string::npos) {
    std::string rest(trim(std::string_view(sentence).substr(best + len)));
    if (!rest.empty() && !has_prose(rest)) return rest;
  }
  std::vector<Span> spans = math_spans(sentence);
  for (size_t k = spans.size(); k-- > 0;)
    if (!spans[k].display && substantial(spans[k].inner)) return std::string(trim(spans[k].inner));
  if (auto n = last_number(sentence)) return n->text;
  return {};
}
// The answer that starts at `i`: a $…$ / \(…\) / \[…\] / **…** span, or the rest of the sentence.
std::optional<Found> answer_at(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == ':' || s[i] == '\t')) ++i;
  // "The final answer is\n\n$$ 5 $$": the answer on the next line.
  if (i < s.size() && (s[i] == '\n' || s[i] == '\r')) {
    size_t j = i;
    while (j < s.size() && is_space(s[j])) ++j;
    if (j - i < 8) i = j;
  }
  // "**Final Answer:** 42": the bold closes the label.
  if (s.compare(i, 2, "**") == 0 && (i + 2 >= s.size() || is_space(s[i + 2]))) {
    i += 2;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  if (s.compare(i, 2, "**") == 0) {
    size_t close = s.find("**", i + 2);
    if (close != std::string_view::npos && close - i < 400) {
      std::string inner(trim(s.substr(i + 2, close - i - 2)));
      while (!inner.empty() && (inner.back() == '.' || inner.back() == ':')) inner.pop_back();
      if (!inner.empty()) return Found{inner, i, close + 2};
    }
  }
  auto span = [&](std::string_view open, std::string_view close) -> std::optional<Found> {
    if (s.compare(i, open.size(), open) != 0) return std::nullopt;
    size_t end = s.find(close, i + open.size());
    if (end == std::string_view::npos) return std::nullopt;
    std::string inner = last_row(s.substr(i + open.size(), end - i - open.size()));
    if (inner.empty()) return std::nullopt;
    return Found{inner, i, end + close.size()};
  };
  if (auto r = span("$$", "$$")) return r;
  // "The answer is $1$, $2$, $3$ or $4$.": inline spans written together are one list answer, not their first.
  if (s.compare(i, 1, "$") == 0 || s.compare(i, 2, "\\(") == 0) {
    std::vector<Span> spans = math_spans(s);
    for (size_t k = 0; k < spans.size(); ++k) {
      if (spans[k].begin != i || spans[k].display) continue;
      auto [first, last] = inline_group(s, spans, k);
      if (last > k) {
        std::string rows = joined_rows(spans, k, last);
        if (!rows.empty()) return Found{rows, i, spans[last].end};
      }
      break;
    }
  }
  if (auto r = span("$", "$")) return r;
  if (auto r = span("\\(", "\\)")) return r;
  if (auto r = span("\\[", "\\]")) return r;
  size_t end = i;
  while (end < s.size() && s[end] != '\n') {
    // A full stop followed by a space or the end of the line ends the sentence; "3.5" does not.
    if (s[end] == '.' && (end + 1 == s.size() || is_space(s[end + 1]))) break;
    // ", which is …", ", so …": the answer ended at the comma ("1, 2, and 3" goes on).
    if (s[end] == ',' && end + 2 < s.size() && s[end + 1] == ' ') {
      size_t w = end + 2, we = w;
      while (we < s.size() && is_alpha(s[we])) ++we;
      std::string word = to_lower(s.substr(w, we - w));
      if (we - w >= 3 && word != "and") break;
    }
    // " because", " since", " as ", " which": the explanation after the answer.
    if (s[end] == ' ') {
      size_t w = end + 1, we = w;
      while (we < s.size() && is_alpha(s[we])) ++we;
      std::string word = to_lower(s.substr(w, we - w));
      if (end > i && (word == "because" || word == "since" || word == "which" || word == "where" ||
                      word == "when" || word == "so" || word == "hence" || word == "therefore"))
        break;
    }
    ++end;
  }
  std::string out(trim(s.substr(i, end - i)));
  while (!out.empty() && (out.back() == '.' || out.back() == '*' || out.back() == ',')) out.pop_back();
  out = std::string(trim(out));
  if (out.empty()) return std::nullopt;
  // "The final answer is \"$12$ and $13$\"": quotes around the answer.
  if (out.size() >= 2 && (out.front() == '"' || out.front() == '\'') && out.back() == out.front())
    out = std::string(trim(std::string_view(out).substr(1, out.size() - 2)));
  else if (out.size() >= 4 && out.compare(0, 2, "\\\"") == 0 && out.compare(out.size() - 2, 2, "\\\"") == 0)
    out = std::string(trim(std::string_view(out).substr(2, out.size() - 4)));
  // "3 (three)", "12 (in cm)": a parenthetical of words after the answer restates or qualifies it.
  if (out.size() > 3 && out.back() == ')') {
    size_t open = out.rfind(" (");
    if (open != std::string::npos && open > 0) {
      std::string_view inside = std::string_view(out).substr(open + 2, out.size() - open - 3);
      if (!inside.empty() && std::all_of(inside.begin(), inside.end(), [](char c) { return is_alpha(c) || c == ' '; }))
        out = std::string(trim(std::string_view(out).substr(0, open)));
    }
  }
  if (has_prose(out)) out = answer_in_sentence(out);
  if (out.empty()) return std::nullopt;
  return Found{out, i, end};
}

std::optional<Found> final_answer_phrase(std::string_view s) {
  std::string low = to_lower(s);
  static const std::string_view phrases[] = {"final answer is",  "the answer is",  "answer is",
                                             "final answer:",    "answer would be", "answer should be",
                                             "final answer would be", "answer will be", "answer:"};
  size_t best = std::string::npos, best_len = 0;
  for (auto p : phrases) {
    size_t pos = low.rfind(p);
    if (pos != std::string::npos && (best == std::string::npos || pos > best)) {
      best = pos;
      best_len = p.size();
    }
  }
  if (best == std::string::npos) return std::nullopt;
  return answer_at(s, best + best_len);
}

std::optional<Found> answer_line(std::string_view s) {
  std::optional<Found> found;
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
        while (i < low.size() && low[i] == ' ') ++i;
        size_t at = start + i;
        bool rest_empty = trim(line.substr(std::min(i, line.size()))).empty() ||
                          trim(line.substr(std::min(i, line.size()))) == "**";
        if (rest_empty && nl != std::string_view::npos) {
          if (auto a = answer_at(s, nl + 1)) found = a;
        } else if (auto a = answer_at(s, at)) {
          if (a->end > nl && nl != std::string_view::npos && s.compare(at, 1, "$") != 0 &&
              s.compare(at, 2, "\\[") != 0)
            a->end = nl;
          found = a;
        }
      } else if (trim(low.substr(i)).empty() || trim(low.substr(i)) == "**" || trim(low.substr(i)) == ":**") {
        // "**Final Answer**" / "## Final Answer" as a heading: the answer follows on the next lines.
        if (nl != std::string_view::npos)
          if (auto a = answer_at(s, nl + 1)) found = a;
      }
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return found;
}

// A bold span that titles a section ("**Step 3: Compare the profits**", "**Solution:**") is not an answer.
bool is_heading(std::string_view inner) {
  std::string low = to_lower(trim(inner));
  if (low.empty()) return true;
  if (low.back() == ':') return true;
  static const std::string_view starts[] = {"step",     "part",     "case",        "solution",  "problem",
                                            "question", "method",   "approach",    "note",      "conclusion",
                                            "summary",  "verification", "explanation", "calculation", "given",
                                            "analysis", "check",    "understanding", "setting",  "finding",
                                            "determin", "calculat", "compar",      "comput",    "identify",
                                            "simplif",  "substitut", "solv"};
  for (auto p : starts)
    if (low.rfind(p, 0) == 0) return true;
  // Four words of prose with no number or math in them: a title.
  bool math = std::any_of(low.begin(), low.end(), [](char c) { return is_digit(c) || c == '$' || c == '\\'; });
  int words = 0;
  for (size_t i = 0; i < low.size();) {
    if (is_alpha(low[i])) {
      ++words;
      while (i < low.size() && is_alpha(low[i])) ++i;
    } else {
      ++i;
    }
  }
  return !math && words >= 4;
}

std::optional<Found> last_bold(std::string_view s) {
  // Pair the ** marks left to right; keep the spans on one line.
  std::vector<std::pair<size_t, size_t>> spans;
  size_t i = 0;
  while (true) {
    size_t open = s.find("**", i);
    if (open == std::string_view::npos) break;
    size_t close = s.find("**", open + 2);
    if (close == std::string_view::npos) break;
    spans.push_back({open, close});
    i = close + 2;
  }
  for (size_t k = spans.size(); k-- > 0;) {
    auto [open, close] = spans[k];
    std::string_view inner = trim(s.substr(open + 2, close - open - 2));
    if (inner.empty() || inner.size() > 300 || inner.find('\n') != std::string_view::npos) continue;
    std::string out(inner);
    std::string low = to_lower(out);
    // "**Answer: 5**" is the answer line written in bold; "**Total profit: $120**" a label and its value.
    bool labelled = false;
    for (std::string_view p : {"final answer:", "answer:"}) {
      if (low.rfind(p, 0) == 0) {
        out = std::string(trim(std::string_view(out).substr(p.size())));
        labelled = true;
      }
    }
    if (!labelled && is_heading(out)) continue;
    if (!labelled) {
      size_t colon = out.rfind(": ");
      if (colon != std::string::npos) {
        std::string_view label = std::string_view(out).substr(0, colon);
        bool wordy = std::count_if(label.begin(), label.end(), [](char c) { return is_alpha(c); }) >= 3 &&
                     label.find('$') == std::string_view::npos;
        if (wordy) out = std::string(trim(std::string_view(out).substr(colon + 2)));
      }
    }
    while (!out.empty() && (out.back() == '.' || out.back() == ':')) out.pop_back();
    if (out.size() >= 2 && out.front() == '$' && out.back() == '$') out = out.substr(1, out.size() - 2);
    out = std::string(trim(out));
    if (out.empty()) continue;
    return Found{out, open, close + 2};
  }
  return std::nullopt;
}

std::optional<Found> hash_marks(std::string_view s) {
  size_t pos = s.rfind("####");
  if (pos == std::string_view::npos) return std::nullopt;
  size_t i = pos + 4;
  size_t nl = s.find('\n', i);
  size_t end = nl == std::string_view::npos ? s.size() : nl;
  std::string out(trim(s.substr(i, end - i)));
  if (out.empty()) return std::nullopt;
  return Found{out, pos, end};
}

// ---- the last number or expression ------------------------------------------------------------------------------
// Words that may sit in a bare answer line without making it prose.
bool answer_word(std::string_view w) {
  static const std::string_view ok[] = {"and", "or", "sqrt", "frac", "pi", "infty", "cm", "mm", "km", "kg", "mg",
                                        "ft", "in", "m", "s", "units", "unit", "degrees", "percent", "pct", "sin",
                                        "cos", "tan", "log", "ln"};
  std::string low = to_lower(w);
  return std::find(std::begin(ok), std::end(ok), low) != std::end(ok);
}

// A line that is an answer by itself ("-12", "\frac34", "x = 5", "(1, 2)", "2 500", "1,250.50$"): math only, at most
// a unit word, no prose.
bool bare_answer_line(std::string_view line) {
  line = trim(line);
  if (line.empty() || line.size() > 160) return false;
  if (line.size() >= 2 && is_alpha(line[0]) && is_alpha(line[1])) {  // "And 240-235=5." is prose; "sin 45°" is not
    size_t w = 0;
    while (w < line.size() && is_alpha(line[w])) ++w;
    std::string first = to_lower(line.substr(0, w));
    if (first == "and" || first == "or" || !answer_word(first)) return false;
  }
  bool substance = std::any_of(line.begin(), line.end(), [](char c) { return is_digit(c) || c == '\\'; });
  if (!substance) return false;
  for (size_t i = 0; i < line.size();) {
    char c = line[i];
    if (c == '\\') {
      size_t j = i + 1;
      while (j < line.size() && is_alpha(line[j])) ++j;
      std::string_view name = line.substr(i + 1, j - i - 1);
      if ((name == "text" || name == "mathrm") && j < line.size() && line[j] == '{') {
        size_t close = match_brace(line, j + 1);
        j = close == std::string_view::npos ? line.size() : close + 1;
      }
      i = std::max(j, i + 1);
      continue;
    }
    if (is_alpha(c)) {
      size_t j = i;
      while (j < line.size() && is_alpha(line[j])) ++j;
      if (j - i >= 2 && !answer_word(line.substr(i, j - i))) return false;
      i = j;
      continue;
    }
    ++i;
  }
  return true;
}

// The number whose last digit is at end - 1: digits with thousands commas or space groups ("2 500"), a decimal
// part, ".5", a fraction a/b, a leading minus, a trailing percent; inside \frac{…}{…}, the whole fraction.
std::pair<size_t, size_t> number_ending_at(std::string_view s, size_t end) {
  size_t start = end;
  while (start > 0) {
    char c = s[start - 1];
    if (is_digit(c)) {
      --start;
    } else if ((c == ',' || c == '.' || c == '/') && start >= 2 && is_digit(s[start - 2])) {
      --start;
    } else if (c == ' ' && start >= 2 && is_digit(s[start - 2]) && end >= start + 3 &&
               std::all_of(s.begin() + static_cast<long>(start), s.begin() + static_cast<long>(start) + 3,
                           [](char d) { return is_digit(d); }) &&
               (start + 3 == end || !is_digit(s[start + 3]))) {
      // "2 500": a space between thousands groups (1-3 digits before, exactly 3 after).
      size_t k = start - 1;
      size_t d = k;
      while (d > 0 && is_digit(s[d - 1])) --d;
      if (k - d >= 1 && k - d <= 3 && (d == 0 || !(is_digit(s[d - 1]) || s[d - 1] == '.' || s[d - 1] == ',')))
        start = d;
      break;
    } else if (c == '.' && start >= 1) {
      --start;  // ".5"
      break;
    } else {
      break;
    }
  }
  if (start > 0 && s[start - 1] == '-' && (start == 1 || !(is_digit(s[start - 2]) || is_alpha(s[start - 2]))))
    --start;
  size_t stop = end;
  if (stop < s.size() && s[stop] == '%') ++stop;
  else if (s.compare(stop, 2, "\\%") == 0) stop += 2;
  // Inside \frac{…}{…}: the whole construct.
  size_t frac = s.rfind("\\frac", start);
  if (frac != std::string_view::npos && start - frac < 40 && stop < s.size() && s[stop] == '}') {
    size_t b = frac + 5;
    if (b < s.size() && s[b] == '{') {
      size_t c1 = match_brace(s, b + 1);
      if (c1 != std::string_view::npos && c1 + 1 < s.size() && s[c1 + 1] == '{') {
        size_t c2 = match_brace(s, c1 + 2);
        if (c2 == stop) {
          start = frac;
          stop = c2 + 1;
          if (start > 0 && s[start - 1] == '-') --start;
        }
      }
    }
  }
  return {start, stop};
}

std::optional<Found> last_number(std::string_view s) {
  // A last line that is an answer by itself is the whole answer.
  {
    std::string_view t = s;
    while (!t.empty() && is_space(t.back())) t.remove_suffix(1);
    size_t nl = t.rfind('\n');
    size_t ls = nl == std::string_view::npos ? 0 : nl + 1;
    std::string_view line = t.substr(ls);
    size_t lead = 0;
    while (lead < line.size() && is_space(line[lead])) ++lead;
    if (bare_answer_line(line)) {
      std::string out(trim(line));
      while (!out.empty() && (out.back() == '.' || out.back() == ',')) out.pop_back();
      if (!out.empty()) return Found{out, ls + lead, t.size()};
    }
  }
  // The last sentence's conclusion when it is a bare answer: "Factoring gives …, so x = 2 or x = -3", "The angle
  // is π/3", "So the range is [2, ∞)", "Hence x ∈ (−∞, 1]".
  {
    std::string_view t = s;
    while (!t.empty() && (is_space(t.back()) || t.back() == '.')) t.remove_suffix(1);
    size_t sentence = t.size();
    while (sentence > 0 && !(t[sentence - 1] == '\n' || ((t[sentence - 1] == '.' || t[sentence - 1] == '!' ||
                                                           t[sentence - 1] == '?') &&
                                                          sentence < t.size() && is_space(t[sentence]))))
      --sentence;
    std::string low = " " + to_lower(t.substr(sentence));
    size_t best = std::string::npos, len = 0;
    for (std::string_view c : {" so ", " thus ", " hence ", " therefore ", " therefore, ", " so, ", " thus, ",
                               " hence, ", " gives ", " get ", " is ", " are ", " equals "}) {
      size_t p = low.rfind(c);
      if (p != std::string::npos && (best == std::string::npos || p > best)) {
        best = p;
        len = c.size();
      }
    }
    if (best != std::string::npos) {
      size_t from = sentence + best + len - 1;  // the leading space added above
      std::string_view rest = trim(t.substr(std::min(from, t.size())));
      if (bare_answer_line(rest)) return Found{std::string(rest), static_cast<size_t>(rest.data() - s.data()),
                                               static_cast<size_t>(rest.data() - s.data()) + rest.size()};
    }
  }
  // In the last sentence, the result of the last computation: "9 + 6 = 15 liters of water out of the 24 liters",
  // "he scored 4+5=9 points in the 40 minutes": the number after the last "=", not the distractor after it.
  {
    std::string_view t = s;
    while (!t.empty() && (is_space(t.back()) || t.back() == '.')) t.remove_suffix(1);
    size_t sentence = 0;
    for (size_t k = t.size(); k-- > 0;) {
      if (t[k] == '\n' || ((t[k] == '.' || t[k] == '!' || t[k] == '?') && k + 1 < t.size() && t[k + 1] == ' ')) {
        sentence = k + 1;
        break;
      }
    }
    size_t eq = t.rfind('=');
    if (eq != std::string_view::npos && eq >= sentence && !(eq > 0 && (t[eq - 1] == '<' || t[eq - 1] == '>' ||
                                                                          t[eq - 1] == '!'))) {
      size_t k = eq + 1;
      while (k < t.size() && (t[k] == ' ' || t[k] == '$' || (t[k] == '\\' && k + 1 < t.size() && t[k + 1] == '$'))) ++k;
      size_t b = k;
      if (k < t.size() && t[k] == '-') ++k;
      size_t digits = k;
      while (k < t.size() && (is_digit(t[k]) || ((t[k] == ',' || t[k] == '.' || t[k] == '/') && k + 1 < t.size() &&
                                                  is_digit(t[k + 1]) && k > digits)))
        ++k;
      // "= $118 000": thousands groups separated by spaces (a lead of 1-3 digits, groups of exactly three).
      if (k - digits <= 3 && k > digits)
        while (k + 3 < t.size() && t[k] == ' ' && is_digit(t[k + 1]) && is_digit(t[k + 2]) && is_digit(t[k + 3]) &&
               (k + 4 == t.size() || !is_digit(t[k + 4])))
          k += 4;
      if (k > digits && (k == t.size() || !is_alpha(t[k]) || t[k - 1] != '.')) {
        size_t e = k;
        if (e < t.size() && t[e] == '%') ++e;
        std::string out(t.substr(b, e - b));
        // a thousands comma ("1,250") is the lexer's to read; a trailing one is punctuation
        while (!out.empty() && (out.back() == ',' || out.back() == '.')) out.pop_back();
        if (!out.empty() && out != "-") return Found{out, b, b + out.size()};
      }
    }
  }
  // The last number that is not glued into a word ("AZYUK2A" holds no answer).
  size_t start = 0, stop = 0;
  size_t i = s.size();
  for (;;) {
    while (i > 0 && !is_digit(s[i - 1])) --i;
    if (i == 0) return std::nullopt;
    auto span = number_ending_at(s, i);
    start = span.first;
    stop = span.second;
    bool glued = start > 0 && is_alpha(s[start - 1]) && stop < s.size() && is_alpha(s[stop]);
    if (!glued) break;
    i = start;
  }
  std::string out(s.substr(start, stop - start));
  if (out.find("\\frac") == std::string::npos) {
    size_t commas = static_cast<size_t>(std::count(out.begin(), out.end(), ','));
    size_t comma = out.find(',');
    bool decimal_comma = false;
    if (commas == 1 && out.find('.') == std::string::npos) {
      // "3,75 euros", "0,111": a decimal comma (a thousands group has exactly three digits after a nonzero lead).
      size_t after = out.size() - comma - 1;
      while (after > 0 && !is_digit(out[comma + after])) --after;
      std::string_view lead = std::string_view(out).substr(0, comma);
      while (!lead.empty() && lead.front() == '-') lead.remove_prefix(1);
      decimal_comma = after != 3 || lead == "0";
    }
    if (decimal_comma) out[comma] = '.';
    else out.erase(std::remove(out.begin(), out.end(), ','), out.end());
  }
  // "The possible values are 2 and 3", "1, 4, and 9": the numbers listed together at the end are one answer.
  std::vector<std::string> items{out};
  size_t list_start = start;
  for (;;) {
    std::string_view before = s.substr(0, list_start);
    size_t cut = 0;
    for (std::string_view sep : {", and ", " and ", ", "}) {
      if (before.size() >= sep.size() && before.substr(before.size() - sep.size()) == sep) {
        cut = sep.size();
        break;
      }
    }
    if (cut == 0 || before.size() <= cut || !is_digit(before[before.size() - cut - 1])) break;
    auto prev = number_ending_at(s, before.size() - cut);
    if (prev.first > 0 && is_alpha(s[prev.first - 1])) break;
    std::string p(s.substr(prev.first, prev.second - prev.first));
    if (p.find(',') != std::string::npos || p.find('/') != std::string::npos) break;
    items.insert(items.begin(), p);
    list_start = prev.first;
    if (items.size() > 20) break;
  }
  if (items.size() > 1) {
    out.clear();
    for (size_t k = 0; k < items.size(); ++k) out += (k ? ", " : "") + items[k];
    start = list_start;
  }
  return Found{out, start, stop};
}

// A response that stops mid-sentence (cut by the length limit): after enough text for that not to be a bare
// answer, it ends on an operator, a comma or an opening bracket, on a word that cannot end a sentence ("the",
// "and", "of"), or inside an open math span, box, bold or group. A finished answer without a full stop ("… = 5 more
// oranges") ends on a noun or a number and is not cut.
bool looks_cut(std::string_view text) {
  std::string_view t = trim(text);
  // A response whose last line is a section heading ("**Step 2: Compare the profits**", "### Step 3") stopped
  // before the section's content.
  {
    size_t nl = t.rfind('\n');
    std::string_view last = trim(t.substr(nl == std::string_view::npos ? 0 : nl + 1));
    if (nl != std::string_view::npos && last.size() > 4 && last.substr(0, 2) == "**" &&
        last.substr(last.size() - 2) == "**" && last.find("**", 2) == last.size() - 2 &&
        is_heading(last.substr(2, last.size() - 4)))
      return true;
    if (nl != std::string_view::npos && !last.empty() && last[0] == '#' && last.substr(0, 4) != "####" &&
        to_lower(last).find("answer") == std::string::npos)
      return true;
  }
  if (t.size() < 80) return false;
  char c = t.back();
  static const std::string_view open_enders = ",:;+-*/=(\\^_{[&<";
  if (open_enders.find(c) != std::string_view::npos) return true;
  if (is_alpha(c)) {
    size_t w = t.size();
    while (w > 0 && is_alpha(t[w - 1])) --w;
    std::string word = to_lower(t.substr(w));
    static const std::string_view stop[] = {"the", "a", "an", "and", "or", "of", "to", "in", "is", "are", "was",
                                            "for", "by", "with", "from", "that", "which", "we", "then", "so", "as",
                                            "at", "on", "be", "this", "it", "its", "our", "per", "than",
                                            "if", "since", "because", "but", "into", "get", "gives", "equals",
                                            "has", "have", "will", "can", "let", "would", "their", "his", "her"};
    if (std::find(std::begin(stop), std::end(stop), word) != std::end(stop)) return true;
    // Ending on a word with no computation in the last sentence ("earns 10 dollars and the second"); a finished
    // line without its full stop states a result ("20 - 15 = 5 more oranges").
    size_t sentence = t.size();
    while (sentence > 0 && !(t[sentence - 1] == '\n' || ((t[sentence - 1] == '.' || t[sentence - 1] == '!' ||
                                                           t[sentence - 1] == '?') &&
                                                          sentence < t.size() && is_space(t[sentence]))))
      --sentence;
    std::string_view last = t.substr(sentence);
    // …or a number near its end ("reduce his intake by 16 cups", "needs 100 cases of shingles").
    bool result_near_end = false;
    int words_after = 0;
    for (size_t k = last.size(); k-- > 0;) {
      if (is_digit(last[k])) {
        result_near_end = true;
        break;
      }
      if (is_alpha(last[k]) && (k == 0 || !is_alpha(last[k - 1])) && ++words_after > 3) break;
    }
    if (last.find('=') == std::string_view::npos && !result_near_end) return true;
  }
  // Open spans: an odd number of "$$" or "**", more "\[" than "\]", more "{" than "}" in the last 2000 bytes.
  auto count = [&](std::string_view needle) {
    size_t n = 0;
    for (size_t p = t.find(needle); p != std::string_view::npos; p = t.find(needle, p + needle.size())) ++n;
    return n;
  };
  size_t last_dd = t.rfind("$$");
  bool open_display = count("$$") % 2 == 1 && !(last_dd + 2 < t.size() && is_digit(t[last_dd + 2]));  // "$$43" is money
  if (open_display || count("**") % 2 == 1) return true;
  if (count("\\[") > count("\\]")) return true;
  std::string_view tail = t.substr(t.size() > 2000 ? t.size() - 2000 : 0);
  int depth = 0;
  for (size_t i = 0; i < tail.size(); ++i) {
    if (tail[i] == '\\') {
      ++i;
      continue;
    }
    if (tail[i] == '{') ++depth;
    else if (tail[i] == '}' && depth > 0) --depth;
  }
  return depth > 0;
}

// The text with section headings blanked out (same length, so spans keep their offsets): bold headings
// ("**Step 3: Compare the profits**") and markdown heading lines ("### Step 2"). The fallbacks read this, so the 3
// of "Step 3" is never an answer.
std::string without_headings(std::string_view s) {
  std::string out(s);
  size_t i = 0;
  while (true) {
    size_t open = s.find("**", i);
    if (open == std::string_view::npos) break;
    size_t close = s.find("**", open + 2);
    if (close == std::string_view::npos) break;
    std::string_view inner = trim(s.substr(open + 2, close - open - 2));
    std::string low = to_lower(inner);
    bool answer = low.rfind("answer", 0) == 0 || low.rfind("final answer", 0) == 0;
    if (!answer && inner.find('\n') == std::string_view::npos && is_heading(inner))
      std::fill(out.begin() + static_cast<long>(open), out.begin() + static_cast<long>(close + 2), ' ');
    i = close + 2;
  }
  // Asymptote figures ([asy] … [/asy]) hold labels and coordinates, never the answer.
  for (size_t a = s.find("[asy]"); a != std::string_view::npos; a = s.find("[asy]", a + 5)) {
    size_t e = s.find("[/asy]", a);
    size_t stop = e == std::string_view::npos ? s.size() : e + 6;
    std::fill(out.begin() + static_cast<long>(a), out.begin() + static_cast<long>(stop), ' ');
  }
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    size_t end = nl == std::string_view::npos ? s.size() : nl;
    size_t k = start;
    while (k < end && (s[k] == ' ' || s[k] == '\t')) ++k;
    if (k < end && s[k] == '#' && s.compare(k, 4, "####") != 0) {
      std::string low = to_lower(s.substr(k, end - k));
      if (low.find("answer") == std::string::npos)
        std::fill(out.begin() + static_cast<long>(start), out.begin() + static_cast<long>(end), ' ');
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

bool response_looks_cut(std::string_view answer_text) { return looks_cut(answer_text); }

bool is_marker_rule(ExtractRule rule) {
  switch (rule) {
    case ExtractRule::boxed:
    case ExtractRule::final_answer:
    case ExtractRule::answer_line:
    case ExtractRule::hash_marks:
    case ExtractRule::whole: return true;
    default: return false;
  }
}

std::optional<Extraction> extract_answer(std::string_view text, const std::vector<ExtractRule>& rules) {
  std::optional<std::string> masked;  // built on the first fallback rule
  auto fallback_text = [&]() -> std::string_view {
    if (!masked) masked = without_headings(text);
    return *masked;
  };
  for (ExtractRule rule : rules) {
    std::optional<Found> got;
    switch (rule) {
      case ExtractRule::boxed: {
        got = boxed_answer(text);
        // Minerva-style "Final Answer: The final answer is $10,455$." after boxes of intermediate results: the
        // phrase is the later, final word.
        bool phrase_rule = std::find(rules.begin(), rules.end(), ExtractRule::final_answer) != rules.end();
        if (got && phrase_rule)
          if (auto phrase = final_answer_phrase(text); phrase && phrase->begin > got->end &&
                                                        std::any_of(phrase->text.begin(), phrase->text.end(),
                                                                    [](char c) { return is_digit(c) || c == '\\'; }))
            got.reset();
        break;
      }
      case ExtractRule::final_answer: got = final_answer_phrase(text); break;
      case ExtractRule::answer_line: got = answer_line(text); break;
      case ExtractRule::bold: got = last_bold(text); break;
      case ExtractRule::display_math: got = display_math(fallback_text()); break;
      case ExtractRule::inline_math: got = inline_math(fallback_text()); break;
      case ExtractRule::hash_marks: got = hash_marks(text); break;
      case ExtractRule::last_number: got = last_number(fallback_text()); break;
      case ExtractRule::whole: {
        std::string_view t = trim(text);
        if (!t.empty()) got = Found{std::string(t), static_cast<size_t>(t.data() - text.data()),
                                    static_cast<size_t>(t.data() - text.data()) + t.size()};
        break;
      }
      case ExtractRule::none: break;
    }
    if (got && !got->text.empty()) {
      // An answer phrase that itself holds a box ("the answer is $\boxed{5}$") yields the box's content.
      if (rule != ExtractRule::boxed)
        if (auto inner = boxed_answer(got->text)) got->text = inner->text;
      return Extraction{std::move(got->text), rule, got->begin, got->end};
    }
  }
  return std::nullopt;
}

}  // namespace crucible::verifiers
