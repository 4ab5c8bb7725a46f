#include "verifiers/choice/choice_verifier.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "core/sha256.h"
#include "verifiers/math/math_verifier.h"
#include "verifiers/response.h"

namespace crucible::verifiers {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

struct Letters {
  int n;
  bool valid(char c) const { return c >= 'A' && c < 'A' + n; }
};

// Returned by letter_at for a hedge ("A or B", "A, C", "(A) and (D)"): two choices offered as the answer are no
// single choice, and grading the first would credit a response that names every option.
constexpr char kHedge = '?';

// True when another standalone choice letter is joined to the one that ended at `j` by "or", "and", ",", "/" or "&".
// The second letter must be written as the first was (upper or lower case); "A" and "I" followed by a lower-case
// word are English ("Answer: B, a classic result"; "D, I think").
bool another_letter_follows(std::string_view s, size_t j, Letters L, bool lower_case) {
  auto skip_any = [&](std::string_view chars) {
    while (j < s.size() && chars.find(s[j]) != std::string_view::npos) ++j;
  };
  skip_any(")*$}] \t");
  bool joined = false;
  for (std::string_view sep : {"or ", "and ", "OR ", ",", "/", "&"}) {
    if (s.compare(j, sep.size(), sep) == 0) {
      j += sep.size();
      joined = true;
      break;
    }
  }
  if (!joined) return false;
  skip_any(" \t");
  for (std::string_view deco : {"**", "$", "(", "\\text{", "\\textbf{", "option ", "Option "})
    if (s.compare(j, deco.size(), deco) == 0) j += deco.size();
  if (j >= s.size()) return false;
  bool is_lower = std::islower(static_cast<unsigned char>(s[j])) != 0;
  char c = static_cast<char>(std::toupper(static_cast<unsigned char>(s[j])));
  if (!L.valid(c) || is_lower != lower_case) return false;
  if (j + 1 < s.size() && (std::isalnum(static_cast<unsigned char>(s[j + 1])) || s[j + 1] == '\'')) return false;
  if ((c == 'A' || c == 'I') && j + 2 < s.size() && s[j + 1] == ' ' &&
      std::islower(static_cast<unsigned char>(s[j + 2])))
    return false;
  return true;
}

// A letter standing alone at `i` (after optional decoration), followed by no further letter: "C", "(C)", "**C**",
// "$C$", "\text{C}". Returns the letter, kHedge when a second choice letter is offered with it, or 0.
char letter_at(std::string_view s, size_t i, Letters L) {
  auto skip = [&](std::string_view t) {
    if (s.compare(i, t.size(), t) == 0) {
      i += t.size();
      return true;
    }
    return false;
  };
  for (int round = 0; round < 6; ++round) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (!(skip("**") || skip("$") || skip("(") || skip("\\text{") || skip("\\textbf{") || skip("\\boxed{") ||
          skip("\\mathrm{") || skip("[") || skip("option ") || skip("Option ") || skip("choice ") || skip("Choice ")))
      break;
  }
  if (i >= s.size()) return 0;
  char c = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
  // Lower-case letters only when decorated or alone; "a" in "answer is a prime" must not count.
  if (!L.valid(c)) return 0;
  if (s[i] != c && !(i + 1 >= s.size() || s[i + 1] == ')' || s[i + 1] == '.' || s[i + 1] == '*')) return 0;
  if (i + 1 < s.size() && (std::isalnum(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '\'')) return 0;
  if (another_letter_follows(s, i + 1, L, s[i] != c)) return kHedge;
  return c;
}

// The last match of `phrase` (case-insensitive) followed by a standalone letter.
char last_after(std::string_view s, const std::string& low, std::string_view phrase, Letters L, bool need_colon) {
  char found = 0;
  size_t pos = 0;
  while ((pos = low.find(phrase, pos)) != std::string::npos) {
    size_t i = pos + phrase.size();
    if (need_colon) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '*')) ++i;
      if (i >= s.size() || s[i] != ':') {
        ++pos;
        continue;
      }
      ++i;
    } else {
      while (i < s.size() && (s[i] == ' ' || s[i] == ':' || s[i] == '*')) ++i;
    }
    if (char c = letter_at(s, i, L)) found = c;
    ++pos;
  }
  return found;
}

size_t match_brace(std::string_view s, size_t open) {
  int depth = 1;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == '{') ++depth;
    else if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

// Only a list separator between two choices ("", ",", "or", "and", "/", "&", with spaces, `$` and `**`): "\boxed{A}
// \boxed{B}", "(A) or (B)" offer two letters as the answer.
bool list_gap(std::string_view gap) {
  std::string g;
  for (char c : gap)
    if (!is_space(c) && c != '$' && c != '*') g += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return g.empty() || g == "," || g == "or" || g == "and" || g == "/" || g == "&" || g == ",or" || g == ",and";
}

char only_letter(std::string_view t, Letters L);

// The box before the last one when only a list separator stands between them (both boxes' contents), else nullopt.
std::optional<std::pair<std::string, std::string>> last_two_boxes_together(std::string_view s) {
  size_t last = s.rfind("\\boxed{");
  if (last == std::string_view::npos || last == 0) return std::nullopt;
  size_t prev = s.rfind("\\boxed{", last - 1);
  if (prev == std::string_view::npos) return std::nullopt;
  size_t prev_close = match_brace(s, prev + 7), last_close = match_brace(s, last + 7);
  if (prev_close == std::string_view::npos || last_close == std::string_view::npos || prev_close > last) return std::nullopt;
  if (!list_gap(s.substr(prev_close + 1, last - prev_close - 1))) return std::nullopt;
  return std::make_pair(std::string(trim(s.substr(prev + 7, prev_close - prev - 7))),
                        std::string(trim(s.substr(last + 7, last_close - last - 7))));
}

std::optional<std::string> last_boxed(std::string_view s) {
  size_t pos = s.rfind("\\boxed{");
  if (pos == std::string_view::npos) return std::nullopt;
  size_t close = match_brace(s, pos + 7);
  if (close == std::string_view::npos) return std::nullopt;
  return std::string(trim(s.substr(pos + 7, close - pos - 7)));
}

// A text that is nothing but one letter with decoration: "C", "(C)", "C.", "**C**", "\text{C}".
char only_letter(std::string_view t, Letters L) {
  std::string core;
  for (char c : t) {
    if (std::isalnum(static_cast<unsigned char>(c))) core += c;
  }
  // \text{C} leaves "textC"
  for (std::string_view cmd : {"textbf", "text", "mathrm", "boxed"}) {
    if (core.size() == cmd.size() + 1 && core.compare(0, cmd.size(), cmd) == 0) core = core.substr(cmd.size());
  }
  if (core.size() != 1) return 0;
  char c = static_cast<char>(std::toupper(static_cast<unsigned char>(core[0])));
  return L.valid(c) ? c : 0;
}

// The text with spacing, dollar signs, emphasis and sentence full stops removed, lower case. A decimal point between
// two digits stays: "1.5 m" and "15 m" are different options.
std::string squeeze(std::string_view s) {
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.' && i > 0 && i + 1 < s.size() && digit(s[i - 1]) && digit(s[i + 1])) {
      out += c;
      continue;
    }
    if (!is_space(c) && c != '$' && c != '.' && c != '*') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string_view choice_rule_name(ChoiceRule rule) {
  switch (rule) {
    case ChoiceRule::answer_colon: return "answer_colon";
    case ChoiceRule::boxed: return "boxed";
    case ChoiceRule::answer_is: return "answer_is";
    case ChoiceRule::parenthesized: return "parenthesized";
    case ChoiceRule::bare_letter: return "bare_letter";
    case ChoiceRule::option_text: return "option_text";
    case ChoiceRule::none: return "none";
  }
  return "none";
}

std::string_view choice_outcome_name(ChoiceOutcome outcome) {
  switch (outcome) {
    case ChoiceOutcome::correct: return "correct";
    case ChoiceOutcome::wrong: return "wrong";
    case ChoiceOutcome::unparsed: return "unparsed";
    case ChoiceOutcome::unfinished: return "unfinished";
  }
  return "unparsed";
}

std::optional<ChoiceExtraction> extract_choice(std::string_view text, int n_options,
                                               const std::vector<std::string>& options) {
  Letters L{std::clamp(n_options, 1, 26)};
  std::string low = lower(text);
  if (char c = last_after(text, low, "answer", L, true)) {
    if (c == kHedge) return std::nullopt;
    return ChoiceExtraction{c, ChoiceRule::answer_colon};
  }
  if (auto boxed = last_boxed(text)) {
    if (char c = only_letter(*boxed, L)) {
      // "\boxed{A}\boxed{B}": two letters boxed together are a hedge, no choice (as "A or B" is).
      if (auto two = last_two_boxes_together(text); two && only_letter(two->first, L) && only_letter(two->first, L) != c)
        return std::nullopt;
      return ChoiceExtraction{c, ChoiceRule::boxed};
    }
  }
  {
    char best = 0;
    size_t best_pos = 0;
    for (std::string_view phrase : {"answer is", "option is", "choice is", "answer would be", "answer should be",
                                    "answer must be", "i choose", "i'll choose", "i will choose", "i pick"}) {
      size_t pos = 0;
      while ((pos = low.find(phrase, pos)) != std::string::npos) {
        size_t i = pos + phrase.size();
        while (i < text.size() && (text[i] == ' ' || text[i] == ':' || text[i] == '*')) ++i;
        if (char c = letter_at(text, i, L); c && (best == 0 || pos >= best_pos)) {
          best = c;
          best_pos = pos;
        }
        ++pos;
      }
    }
    if (best == kHedge) return std::nullopt;
    if (best) return ChoiceExtraction{best, ChoiceRule::answer_is};
  }
  {
    char found = 0, before = 0;
    size_t at = 0, before_end = 0;
    for (size_t i = 0; i + 2 < text.size(); ++i) {
      if (text[i] == '(' && text[i + 2] == ')' && L.valid(text[i + 1])) {
        if (found) {
          before = found;
          before_end = at + 3;
        }
        found = text[i + 1];
        at = i;
      }
    }
    // "(A) (B) (C) (D)", "(A) or (C)": the last letter was offered together with another one, so no choice.
    if (found && before && before != found && list_gap(text.substr(before_end, at - before_end))) return std::nullopt;
    if (found) return ChoiceExtraction{found, ChoiceRule::parenthesized};
  }
  {
    std::string_view t = trim(text);
    if (char c = only_letter(t, L); c && t.size() <= 20) return ChoiceExtraction{c, ChoiceRule::bare_letter};
    size_t nl = t.rfind('\n');
    std::string_view last = trim(nl == std::string_view::npos ? t : t.substr(nl + 1));
    if (char c = only_letter(last, L); c && last.size() <= 20) return ChoiceExtraction{c, ChoiceRule::bare_letter};
  }
  if (!options.empty()) {
    // The final answer as the model wrote it: a box, an "answer" phrase, or the last line. The math extractor may
    // trim words off an "Answer:" line (it reads prose for a value), so the line's own text after the colon is a
    // candidate too: an option written out in words must match as written.
    std::vector<std::string> candidates;
    if (auto b = last_boxed(text)) {
      candidates.push_back(*b);
    } else {
      if (auto e = extract_answer(text, {ExtractRule::answer_line, ExtractRule::final_answer}))
        candidates.push_back(e->text);
      std::string_view t = trim(text);
      size_t nl = t.rfind('\n');
      std::string_view last = trim(nl == std::string_view::npos ? t : t.substr(nl + 1));
      const std::string last_low = lower(last);
      for (std::string_view lead : {"final answer:", "answer:", "**answer:**", "**final answer:**"}) {
        if (last_low.rfind(lead, 0) == 0) {
          last = trim(last.substr(lead.size()));
          break;
        }
      }
      candidates.emplace_back(last);
    }
    // The option written out as shown wins first; the math-aware comparison only when no option's text matches,
    // since it reads trailing words as units ("a nonsense mutation" and "a silent mutation" are both "a").
    MathGradeOptions mo;
    mo.budget = std::chrono::milliseconds(20);
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& candidate : candidates) {
        if (candidate.empty() || candidate.size() > 500) continue;
        int match = -1, matches = 0;
        for (size_t k = 0; k < options.size() && static_cast<int>(k) < L.n; ++k) {
          bool same = pass == 0 ? squeeze(candidate) == squeeze(options[k])
                                : options[k].size() <= 200 && answers_equivalent(candidate, options[k], mo);
          if (same) {
            match = static_cast<int>(k);
            ++matches;
          }
        }
        if (matches == 1) return ChoiceExtraction{static_cast<char>('A' + match), ChoiceRule::option_text};
        if (matches > 1) return std::nullopt;  // the answer fits several options: no single choice
      }
    }
  }
  return std::nullopt;
}

ChoiceVerdict grade_choice(std::string_view response, char gold_letter, const std::vector<std::string>& options,
                           const ChoiceGradeOptions& o) {
  ChoiceVerdict v;
  SplitResponse split = split_response(response, o.assume_think_open);
  if (split.unfinished && !o.grade_unfinished) {
    v.outcome = ChoiceOutcome::unfinished;
    v.reason = "the reasoning never closed (no </think>)";
    return v;
  }
  auto found = extract_choice(split.unfinished ? split.reasoning : split.answer, o.n_options, options);
  if (!found) {
    v.outcome = ChoiceOutcome::unparsed;
    v.reason = "no choice found";
    return v;
  }
  char gold = static_cast<char>(std::toupper(static_cast<unsigned char>(gold_letter)));
  v.extracted = found->letter;
  v.rule = found->rule;
  v.correct = found->letter == gold;
  v.outcome = v.correct ? ChoiceOutcome::correct : ChoiceOutcome::wrong;
  v.reason = std::string(choice_rule_name(found->rule)) + ": " + std::string(1, found->letter) +
             (v.correct ? " is the gold choice" : " is not the gold choice");
  return v;
}

std::vector<int> choice_permutation(std::string_view question_id, int repeat_index, int n_options) {
  std::vector<int> perm(static_cast<size_t>(std::max(n_options, 0)));
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int>(i);
  Sha256 h;
  h.update(question_id);
  h.update("\x1f", 1);
  h.update(std::to_string(repeat_index));
  auto d = h.digest();
  uint64_t state = 0;
  for (int i = 0; i < 8; ++i) state = (state << 8) | d[static_cast<size_t>(i)];
  // splitmix64: a small, well-mixed generator whose output is the same on every platform (unlike std:: engines
  // combined with std::uniform_int_distribution).
  auto next = [&state]() {
    state += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  for (size_t i = perm.size(); i > 1; --i) {
    size_t j = static_cast<size_t>(next() % i);  // modulo bias < 2^-60 for tiny n
    std::swap(perm[i - 1], perm[j]);
  }
  return perm;
}

}  // namespace crucible::verifiers
