// Recursive-descent parser for LaTeX and plain-text answers. Two passes: a lexer that already settles the
// number-shaped ambiguities (thousands separators, scientific notation, degrees, unicode symbols) and drops layout
// commands, then a parser over the tokens. Every loop checks the budget; depth and node counts are capped so that
// adversarial input (100 KB of braces) fails fast instead of exhausting the stack.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <unordered_set>

#include "verifiers/math/answer.h"

namespace crucible::verifiers::math {
namespace {

struct ParseFail {
  const char* why;
};

enum class T { num, ident, cmd, text, punct, rel, deg, percent, end };

struct Token {
  T type = T::end;
  std::string s;        // ident letters, command name (without backslash), punct char, text content
  Rational q;           // num value
  bool decimal = false; // num written with '.' or an exponent
  int digits = 0;       // num: digits after the point
  std::string raw;      // num: the digits as written (for bases), without separators
  Rel rel = Rel::eq;
  bool space_before = false;
};

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// boost reads a leading 0 as octal ("0015" would be 13): strip leading zeros first.
BigInt big_from_digits(const std::string& digits) {
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return BigInt(0);
  return BigInt(digits.substr(first));
}

Rational pow10(int n) {
  BigInt p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return Rational(p);
}

const std::unordered_set<std::string_view>& ignored_commands() {
  static const std::unordered_set<std::string_view> s{
      "left",  "right", "big",     "Big",      "bigg",     "Bigg",      "bigl",       "bigr",  "Bigl",
      "Bigr",  "biggl", "biggr",   "Biggl",    "Biggr",    "displaystyle", "textstyle", "scriptstyle",
      ",",     ";",     ":",       "!",        " ",        "quad",      "qquad",      "limits", "nolimits",
      "middle", "hfill", "enspace", "thinspace", "medspace", "thickspace", "negthinspace", "$", "ensuremath",
      "mathopen", "mathclose", "relax", "newline", "noindent", "phantom", "hspace", "vspace", "label", "tag"};
  return s;
}
// Commands whose braced argument is read as if the command were not there.
const std::unordered_set<std::string_view>& transparent_commands() {
  static const std::unordered_set<std::string_view> s{"mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathcal",
                                                      "boldsymbol", "bm", "boxed", "fbox", "mathbb", "pmb",
                                                      "underline", "emph", "textcolor", "color", "mathnormal"};
  return s;
}
const std::unordered_set<std::string_view>& text_commands() {
  static const std::unordered_set<std::string_view> s{"text", "textbf", "textit", "textrm", "mbox", "textnormal",
                                                      "textsf", "texttt", "hbox", "textup"};
  return s;
}

class Lexer {
 public:
  Lexer(std::string_view src, Budget& budget) : s_(src), budget_(budget) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    bool space = false;
    while (i_ < s_.size()) {
      budget_.check();
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '~' || c == '$') {
        space = true;
        ++i_;
        continue;
      }
      Token t;
      t.space_before = space;
      space = false;
      if (is_digit(c) || (c == '.' && i_ + 1 < s_.size() && is_digit(s_[i_ + 1]))) {
        lex_number(t);
      } else if (is_alpha(c)) {
        size_t j = i_;
        while (j < s_.size() && is_alpha(s_[j])) ++j;
        t.type = T::ident;
        t.s = std::string(s_.substr(i_, j - i_));
        i_ = j;
        if (t.s == "percent" || t.s == "pct") t.type = T::percent;
        // Code-style answers: np.arcsin(x), math.sqrt(2).
        if ((t.s == "np" || t.s == "math" || t.s == "sympy" || t.s == "sp") && i_ < s_.size() && s_[i_] == '.' &&
            i_ + 1 < s_.size() && is_alpha(s_[i_ + 1])) {
          ++i_;
          continue;
        }
      } else if (c == '\\') {
        if (!lex_command(t)) continue;  // an ignored command
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        if (!lex_unicode(t)) continue;
      } else if (c == '^' && degree_ahead()) {
        t.type = T::deg;
      } else if (c == '<' || c == '>' || c == '=' || (c == '!' && peek(1) == '=' && !factorial_before())) {
        t.type = T::rel;
        char n = peek(1);
        if (c == '<') t.rel = (n == '=') ? Rel::le : Rel::lt;
        else if (c == '>') t.rel = (n == '=') ? Rel::ge : Rel::gt;
        else if (c == '!') t.rel = Rel::ne;
        else t.rel = Rel::eq;
        i_ += (n == '=' && c != '=') ? 2 : 1;
        if (c == '=' && n == '=') ++i_;  // "==" from code-style answers
      } else if (c == ':' && peek(1) == '=') {
        t.type = T::rel;
        t.rel = Rel::eq;
        i_ += 2;
      } else if (c == '%') {
        t.type = T::percent;
        ++i_;
      } else {
        t.type = T::punct;
        t.s = std::string(1, c);
        ++i_;
      }
      if ((t.type == T::punct || t.type == T::cmd) && (t.s == "(" || t.s == "[" || t.s == "{")) ++depth_;
      if ((t.type == T::punct || t.type == T::cmd) && (t.s == ")" || t.s == "]" || t.s == "}")) --depth_;
      out.push_back(std::move(t));
    }
    Token end;
    end.type = T::end;
    out.push_back(end);
    return out;
  }

 private:
  char peek(size_t k) const { return i_ + k < s_.size() ? s_[i_ + k] : '\0'; }
  // "5!=120" is a factorial and an equals sign; "x != 3" (code style) is "not equal".
  bool factorial_before() const { return i_ > 0 && (is_digit(s_[i_ - 1]) || s_[i_ - 1] == ')' || s_[i_ - 1] == '}'); }

  void skip_spaces(size_t& j) const {
    while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t')) ++j;
  }

  // "^\circ", "^{\circ}", "^{ \circ }", "^\degree": the whole superscript is a degree sign.
  bool degree_ahead() {
    size_t j = i_ + 1;
    skip_spaces(j);
    bool brace = j < s_.size() && s_[j] == '{';
    if (brace) ++j;
    skip_spaces(j);
    size_t k = j;
    if (s_.compare(k, 5, "\\circ") == 0) k += 5;
    else if (s_.compare(k, 7, "\\degree") == 0) k += 7;
    else return false;
    if (k < s_.size() && is_alpha(s_[k])) return false;
    skip_spaces(k);
    if (brace) {
      if (k >= s_.size() || s_[k] != '}') return false;
      ++k;
    }
    i_ = k;
    return true;
  }

  // Reads digits with thousands separators ("1,000", "10,\!080", "1{,}000", "1 000") when every group after the
  // first has exactly three digits; a decimal part; an exponent ("1.5e-3", "2E5"). Anything else stops the number.
  void lex_number(Token& t) {
    std::string intpart;
    while (i_ < s_.size() && is_digit(s_[i_])) intpart += s_[i_++];
    // Comma groups only outside brackets: "(1,000)" is rarely a thousand, "1,000" at top level nearly always is.
    // A bare-comma chain that is followed by yet another ",<digit>" is a list ("10,100,1000"), not a number.
    if (intpart.size() <= 3 && intpart != "0") {  // "0,111" is a decimal comma or a list, never 111
      std::string grouped = intpart;
      size_t k = i_;
      bool bare_comma = false;
      for (;;) {
        size_t j = k;
        bool explicit_sep = false, space_sep = false;
        if (s_.compare(j, 3, "{,}") == 0) {
          j += 3;
          explicit_sep = true;
        } else if (j < s_.size() && s_[j] == ',') {
          ++j;
          if (s_.compare(j, 2, "\\!") == 0) {
            j += 2;
            explicit_sep = true;
            while (j < s_.size() && s_[j] == ' ') ++j;  // "11,\! 111"
          }
        } else if (j < s_.size() && s_[j] == ' ') {
          ++j;
          space_sep = true;
        } else {
          break;
        }
        if (!explicit_sep && !space_sep && depth_ != 0) break;
        if (j + 3 > s_.size() || !is_digit(s_[j]) || !is_digit(s_[j + 1]) || !is_digit(s_[j + 2])) break;
        if (j + 3 < s_.size() && (is_digit(s_[j + 3]) || (space_sep && s_[j + 3] == '/'))) break;
        if (!explicit_sep && !space_sep) bare_comma = true;
        grouped += s_.substr(j, 3);
        k = j + 3;
      }
      if (bare_comma && k + 1 < s_.size() && s_[k] == ',' && is_digit(s_[k + 1])) {
        // a list after all
      } else {
        intpart = grouped;
        i_ = k;
      }
    }
    std::string frac;
    bool decimal = false;
    if (i_ < s_.size() && s_[i_] == '.' && !(i_ + 1 < s_.size() && s_[i_ + 1] == '.')) {
      decimal = true;
      ++i_;
      while (i_ < s_.size() && is_digit(s_[i_])) frac += s_[i_++];
    }
    int exponent = 0;
    bool has_exp = false;
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      size_t j = i_ + 1;
      bool negative = false;
      if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) negative = s_[j++] == '-';
      size_t k = j;
      while (k < s_.size() && is_digit(s_[k]) && k - j < 6) ++k;
      if (k > j && !(k < s_.size() && (is_alpha(s_[k]) || is_digit(s_[k])))) {
        exponent = std::stoi(std::string(s_.substr(j, k - j)));
        if (exponent > 400) throw ParseFail{"exponent too large"};
        if (negative) exponent = -exponent;
        has_exp = true;
        i_ = k;
      }
    }
    if (intpart.empty()) intpart = "0";
    if (intpart.size() + frac.size() > 2000) throw ParseFail{"number too long"};
    BigInt mant = big_from_digits(intpart + frac);
    Rational v(mant);
    v /= pow10(static_cast<int>(frac.size()));
    if (has_exp) v = exponent >= 0 ? v * pow10(exponent) : v / pow10(-exponent);
    t.type = T::num;
    t.q = v;
    t.decimal = decimal || has_exp;
    t.digits = static_cast<int>(frac.size()) - exponent;
    t.raw = intpart + frac;
  }

  // Returns false when the command is layout only and produces no token.
  bool lex_command(Token& t) {
    size_t j = i_ + 1;
    if (j >= s_.size()) {
      ++i_;
      return false;
    }
    std::string name;
    if (is_alpha(s_[j])) {
      while (j < s_.size() && is_alpha(s_[j])) name += s_[j++];
    } else {
      name = std::string(1, s_[j++]);
    }
    i_ = j;
    if ((name == "right" || name == "left") && i_ < s_.size() && s_[i_] == '.') ++i_;  // \right. closes nothing
    if (ignored_commands().count(name)) {
      if (name == "phantom" || name == "hspace" || name == "vspace" || name == "label" || name == "tag") skip_group();
      return false;
    }
    if (name == "%") {
      t.type = T::percent;
      return true;
    }
    if (name == "circ" || name == "degree") {
      t.type = T::deg;
      return true;
    }
    if (name == "\\") {
      t.type = T::punct;
      t.s = "\\\\";
      return true;
    }
    static const std::pair<std::string_view, Rel> rels[] = {
        {"le", Rel::le},     {"leq", Rel::le},   {"leqslant", Rel::le}, {"ge", Rel::ge},     {"geq", Rel::ge},
        {"geqslant", Rel::ge}, {"lt", Rel::lt},  {"gt", Rel::gt},       {"ne", Rel::ne},     {"neq", Rel::ne},
        {"approx", Rel::eq}, {"equiv", Rel::eq}, {"simeq", Rel::eq}};
    for (const auto& [n, r] : rels)
      if (name == n) {
        t.type = T::rel;
        t.rel = r;
        return true;
      }
    if (text_commands().count(name)) {
      std::string content = read_group_raw();
      t.type = T::text;
      t.s = content;
      std::string squeezed;
      for (char ch : content)
        if (ch != ' ' && ch != '~') squeezed += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (squeezed == "%" || squeezed == "\\%" || squeezed == "percent" || squeezed == "pct") t.type = T::percent;
      return true;
    }
    if (name == "operatorname") {
      std::string content = read_group_raw();
      t.type = T::ident;
      t.s = content;
      return true;
    }
    t.type = T::cmd;
    t.s = name;
    return true;
  }

  void skip_group() {
    size_t j = i_;
    skip_spaces(j);
    if (j < s_.size() && s_[j] == '{') {
      i_ = j;
      read_group_raw();
    }
  }

  // The raw text of a {…} group (nested braces), or of a single following character.
  std::string read_group_raw() {
    size_t j = i_;
    skip_spaces(j);
    if (j >= s_.size()) {
      i_ = j;
      return {};
    }
    if (s_[j] != '{') {
      i_ = j + 1;
      return std::string(1, s_[j]);
    }
    int depth = 0;
    size_t start = j + 1;
    for (; j < s_.size(); ++j) {
      budget_.check();
      if (s_[j] == '\\' && j + 1 < s_.size()) {
        ++j;
        continue;
      }
      if (s_[j] == '{') ++depth;
      else if (s_[j] == '}' && --depth == 0) break;
    }
    if (j >= s_.size()) throw ParseFail{"unbalanced braces"};
    i_ = j + 1;
    return std::string(s_.substr(start, j - start));
  }

  bool lex_unicode(Token& t) {
    struct U {
      std::string_view bytes;
      T type;
      std::string_view s;
      Rel rel;
    };
    static const U table[] = {
        {"\xc2\xb0", T::deg, "", Rel::eq},          {"\xe2\x89\xa4", T::rel, "", Rel::le},
        {"\xe2\x89\xa5", T::rel, "", Rel::ge},      {"\xe2\x89\xa0", T::rel, "", Rel::ne},
        {"\xe2\x88\x92", T::punct, "-", Rel::eq},   {"\xc3\x97", T::punct, "*", Rel::eq},
        {"\xc2\xb7", T::punct, "*", Rel::eq},       {"\xe2\x8b\x85", T::punct, "*", Rel::eq},
        {"\xc3\xb7", T::punct, "/", Rel::eq},       {"\xcf\x80", T::cmd, "pi", Rel::eq},
        {"\xe2\x88\x9e", T::cmd, "infty", Rel::eq}, {"\xe2\x88\x9a", T::cmd, "sqrt", Rel::eq},
        {"\xc2\xb1", T::cmd, "pm", Rel::eq},        {"\xe2\x88\xaa", T::cmd, "cup", Rel::eq},
        {"\xe2\x88\x88", T::cmd, "in", Rel::eq},
        {"\xe2\x80\x89", T::end, "", Rel::eq},      {"\xc2\xa0", T::end, "", Rel::eq},
        {"\xe2\x80\xaf", T::end, "", Rel::eq},      {"\xe2\x80\x8b", T::end, "", Rel::eq},
    };
    for (const auto& u : table) {
      if (s_.compare(i_, u.bytes.size(), u.bytes) == 0) {
        i_ += u.bytes.size();
        if (u.type == T::end) return false;  // a space of some kind
        t.type = u.type;
        t.s = std::string(u.s);
        t.rel = u.rel;
        return true;
      }
    }
    // Any other non-ASCII character is read as a letter of a word (names, units in other scripts).
    size_t j = i_ + 1;
    while (j < s_.size() && (static_cast<unsigned char>(s_[j]) & 0xC0) == 0x80) ++j;
    t.type = T::ident;
    t.s = "\x01" + std::string(s_.substr(i_, j - i_));
    i_ = j;
    return true;
  }

  std::string_view s_;
  Budget& budget_;
  size_t i_ = 0;
  int depth_ = 0;
};

const std::unordered_set<std::string_view>& function_names() {
  static const std::unordered_set<std::string_view> s{
      "sin",  "cos",    "tan",    "cot",    "sec",  "csc",  "arcsin", "arccos", "arctan", "asin", "acos",
      "atan", "sinh",   "cosh",   "tanh",   "ln",   "log",  "exp",    "sqrt",   "abs",    "lg",   "arccot",
      "arcsec", "arccsc", "floor", "ceil",  "det",  "gcd",  "lcm",    "max",    "min",    "deg"};
  return s;
}
const std::unordered_set<std::string_view>& greek_letters() {
  static const std::unordered_set<std::string_view> s{
      "alpha", "beta",  "gamma", "delta", "epsilon", "varepsilon", "zeta",  "eta",   "theta", "vartheta",
      "iota",  "kappa", "lambda", "mu",   "nu",      "xi",         "rho",   "sigma", "tau",   "upsilon",
      "phi",   "varphi", "chi",  "psi",   "omega",   "Gamma",      "Delta", "Theta", "Lambda", "Xi",
      "Pi",    "Sigma", "Upsilon", "Phi", "Psi",     "Omega",      "ell",   "hbar"};
  return s;
}
// Short words that are units or filler, not products of variables ("cm" is not c*m).
const std::unordered_set<std::string_view>& unit_words() {
  static const std::unordered_set<std::string_view> s{
      "cm", "mm", "km", "m", "kg", "mg", "g", "lb", "lbs", "oz", "ft", "in", "yd", "mi", "mph", "kph", "sec", "min",
      "hr", "hrs", "h", "s", "ms", "ns", "ml", "mL", "L", "l", "kJ", "J", "kW", "W", "V", "A", "Hz", "kHz", "MHz",
      "GHz", "eV", "keV", "MeV", "GeV", "K", "N", "Pa", "atm", "mol", "nm", "pc", "kpc", "Mpc", "AU", "ly", "yr",
      "yrs", "day", "days", "th", "st", "nd", "rd", "sq", "cu", "rad", "deg", "am", "pm", "AM", "PM", "of", "is",
      "the", "a", "an", "to", "per", "are", "at", "by", "for", "on", "it", "be", "as", "we"};
  return s;
}
bool is_filler_word(std::string_view w) { return unit_words().count(w) > 0; }

class Parser {
 public:
  Parser(std::vector<Token> toks, Budget& budget, int depth) : t_(std::move(toks)), budget_(budget), depth_(depth) {}

  // "a, b, c" is a list; "a=1, b=2; a=3, b=4" (semicolons between comma groups) a list of tuples.
  Node parse_top() {
    std::vector<std::vector<Node>> groups(1);
    groups.back().push_back(parse_item());
    while (at_separator()) {
      bool semicolon = at_punct(";");
      advance();
      while (at_separator()) advance();  // "19, 46, and 82"
      if (at(T::end)) break;  // trailing comma
      if (semicolon) groups.emplace_back();
      groups.back().push_back(parse_item());
    }
    if (!at(T::end)) throw ParseFail{"trailing input"};
    bool grouped = groups.size() > 1 && std::any_of(groups.begin(), groups.end(), [](const auto& g) { return g.size() > 1; });
    std::vector<Node> items;
    for (auto& g : groups) {
      if (grouped && g.size() > 1) items.push_back(make(Kind::tuple, std::move(g)));
      else
        for (auto& x : g) items.push_back(std::move(x));
    }
    if (items.size() == 1) return std::move(items[0]);
    return make(Kind::list, std::move(items));
  }

 private:
  const Token& cur() const { return t_[p_]; }
  const Token& ahead(size_t k) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  bool at(T type) const { return cur().type == type; }
  bool at_punct(std::string_view c) const { return cur().type == T::punct && cur().s == c; }
  bool at_cmd(std::string_view c) const { return cur().type == T::cmd && cur().s == c; }
  bool at_ident(std::string_view w) const { return cur().type == T::ident && cur().s == w; }
  void advance() {
    budget_.check();
    if (p_ + 1 < t_.size()) ++p_;
  }
  void expect_punct(std::string_view c) {
    if (!at_punct(c)) throw ParseFail{"expected a closing bracket"};
    advance();
  }

  Node make(Kind k, std::vector<Node> kids = {}, std::string text = {}) {
    if (++nodes_ > kMaxNodes) throw ParseFail{"answer too large"};
    return Node::make(k, std::move(kids), std::move(text));
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) throw ParseFail{"nested too deeply"};
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  bool at_separator() const {
    if (at_punct(",") || at_punct(";")) return true;
    if (cur().type == T::ident && (cur().s == "and" || cur().s == "or")) return true;
    if (cur().type == T::text) {
      std::string w = trim_lower(cur().s);
      return w == "and" || w == "or" || w == "," || w == ", and" || w == "and/or";
    }
    return false;
  }

  static std::string trim_lower(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '~') continue;
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  }

  // a ∪ b ∪ c; "x \in [1, 2]" reads as its right-hand side.
  Node parse_item() {
    DepthGuard g(*this);
    Node first = parse_relation();
    if (at_cmd("in") && (first.kind == Kind::symbol)) {
      advance();
      return parse_item();
    }
    if (!(at_cmd("cup") || at_ident("U"))) return first;
    std::vector<Node> parts;
    parts.push_back(std::move(first));
    while (at_cmd("cup") || at_ident("U")) {
      advance();
      parts.push_back(parse_relation());
    }
    return make(Kind::union_, std::move(parts));
  }

  Node parse_relation() {
    Node first = parse_expr();
    if (!at(T::rel)) return first;
    Node chain = make(Kind::relation);
    chain.kids.push_back(std::move(first));
    while (at(T::rel)) {
      chain.ops.push_back(cur().rel);
      advance();
      chain.kids.push_back(parse_expr());
    }
    return chain;
  }

  Node parse_expr() {
    DepthGuard g(*this);
    Node left = parse_term();
    for (;;) {
      if (at_punct("+")) {
        advance();
        left = make(Kind::add, {std::move(left), parse_term()});
      } else if (at_punct("-")) {
        advance();
        left = make(Kind::add, {std::move(left), make(Kind::neg, {parse_term()})});
      } else if (at_cmd("pm") || at_cmd("mp")) {
        advance();
        left = make(Kind::pm, {std::move(left), parse_term()});
      } else {
        return left;
      }
    }
  }

  bool starts_primary() const {
    const Token& c = cur();
    switch (c.type) {
      case T::num: return true;
      case T::text: return !at_separator();
      case T::ident: return c.s != "and" && c.s != "or" && c.s != "U";
      case T::punct: return c.s == "(" || c.s == "{" || c.s == "[";
      case T::cmd: {
        // Every command starts a value except operators, closers and separators.
        static const std::unordered_set<std::string_view> not_primary{
            "cdot", "times", "div", "ast", "over", "pm", "mp", "cup", "cap", "in", "notin", "rfloor", "rceil",
            "rvert", "rangle", "}", "end", "to", "rightarrow", "Rightarrow", "implies", "iff", "quad", "setminus",
            "mid", "colon", "rbrack", "rparen", "\\", "|", "vert", "ldots", "cdots", "dots", "subset", "subseteq",
            "wedge", "vee", "land", "lor", "text", "qquad", "circ", "mod", "bmod", "pmod", "neg", "lnot"};
        return !not_primary.count(c.s);
      }
      default: return false;
    }
  }

  Node parse_term() {
    DepthGuard g(*this);
    Node left = parse_unary();
    for (;;) {
      if (at_punct("*") || at_cmd("cdot") || at_cmd("times") || at_cmd("ast") || at_cmd("cap")) {
        advance();
        left = make(Kind::mul, {std::move(left), parse_unary()});
      } else if (at_punct("/") && ends_in_text(left) && ahead(1).type == T::ident) {
        // "bits/s", "km/h": a unit per a unit.
        advance();
        Node per = make(Kind::text, {}, cur().s);
        advance();
        left = make(Kind::mul, {std::move(left), make(Kind::pow, {std::move(per), Node::num(-1)})});
      } else if (at_punct("/") || at_cmd("div") || at_cmd("over") || (at_punct(":") && ratio_follows())) {
        advance();
        Node d = parse_unary();
        left = make(Kind::mul, {std::move(left), make(Kind::pow, {std::move(d), Node::num(-1)})});
      } else if (starts_primary()) {
        left = make(Kind::mul, {std::move(left), parse_power()});
      } else {
        return left;
      }
    }
  }

  static bool ends_in_text(const Node& n) {
    if (n.kind == Kind::text) return true;
    return n.kind == Kind::mul && !n.kids.empty() && n.kids.back().kind == Kind::text;
  }

  // "2:5", "S_1:S_2": a ratio, read as the quotient (2:5 = 4:10 = 2/5).
  bool ratio_follows() const {
    const Token& n = ahead(1);
    return n.type == T::num || n.type == T::ident || (n.type == T::cmd && n.s != "end") ||
           (n.type == T::punct && (n.s == "(" || n.s == "{"));
  }

  Node parse_unary() {
    DepthGuard g(*this);
    if (at_punct("-")) {
      advance();
      return make(Kind::neg, {parse_unary()});
    }
    if (at_punct("+")) {
      advance();
      return parse_unary();
    }
    if (at_cmd("pm") || at_cmd("mp")) {
      advance();
      return make(Kind::pm, {Node::num(0), parse_unary()});
    }
    return parse_power();
  }

  Node parse_power() {
    DepthGuard g(*this);
    Node base = parse_postfix();
    if (at_punct("^")) {
      advance();
      Node e = parse_exponent();
      // 3^{\text{rd}}, 21^{st}: an ordinal suffix, not a power.
      if (is_ordinal_suffix(e)) return parse_postfix_ops(std::move(base));
      // (2, -1)^T, M^{\top}: a transpose (a row vector written for a column one).
      if ((base.kind == Kind::tuple || base.kind == Kind::matrix) &&
          ((e.kind == Kind::symbol && (e.text == "T" || e.text == "\\top" || e.text == "\\intercal")))) {
        if (base.kind == Kind::matrix) {
          Node t = base;
          for (int r = 0; r < base.rows; ++r)
            for (int c = 0; c < base.cols; ++c)
              t.kids[static_cast<size_t>(c * base.rows + r)] = base.kids[static_cast<size_t>(r * base.cols + c)];
          std::swap(t.rows, t.cols);
          return parse_postfix_ops(std::move(t));
        }
        base.maybe_interval = false;
        return parse_postfix_ops(std::move(base));
      }
      base = make(Kind::pow, {std::move(base), std::move(e)});
      return parse_postfix_ops(std::move(base));
    }
    return base;
  }

  static bool is_ordinal_suffix(const Node& e) {
    std::string w;
    if (e.kind == Kind::text) w = e.text;
    else if (e.kind == Kind::mul && e.kids.size() == 2 && e.kids[0].kind == Kind::symbol &&
             e.kids[1].kind == Kind::symbol)
      w = e.kids[0].text + e.kids[1].text;
    return w == "st" || w == "nd" || w == "rd" || w == "th";
  }

  Node parse_exponent() {
    DepthGuard g(*this);
    if (at_punct("{")) return parse_braced_expr();
    if (at_punct("-")) {
      advance();
      return make(Kind::neg, {parse_exponent()});
    }
    if (at_punct("+")) {
      advance();
      return parse_exponent();
    }
    if (at(T::num)) {
      Node n = number_node(cur());
      advance();
      return n;
    }
    return parse_primary();
  }

  Node parse_braced_expr() {
    expect_punct("{");
    if (at_punct("}")) throw ParseFail{"empty group"};
    Node inner = parse_group_list("}");
    expect_punct("}");
    return inner;
  }

  // Inside a group: "a" or "a, b, c" (a list), up to `close`.
  Node parse_group_list(std::string_view close) {
    std::vector<Node> items;
    items.push_back(parse_item());
    while (at_separator()) {
      advance();
      while (at_separator()) advance();
      if (at_punct(close)) break;
      items.push_back(parse_item());
    }
    if (items.size() == 1) return std::move(items[0]);
    return make(Kind::list, std::move(items));
  }

  Node parse_postfix() { return parse_postfix_ops(parse_primary()); }

  Node parse_postfix_ops(Node n) {
    for (;;) {
      budget_.check();
      if (at_punct("!")) {
        advance();
        n = make(Kind::factorial, {std::move(n)});
      } else if (at(T::deg)) {
        advance();
        n = make(Kind::degree, {std::move(n)});
      } else if (at(T::percent)) {
        advance();
        n = make(Kind::percent, {std::move(n)});
      } else if (at_punct("'") && n.kind == Kind::symbol) {
        advance();
        n.text += "'";
      } else if (at_punct("_")) {
        advance();
        n = subscript(std::move(n));
      } else {
        return n;
      }
    }
  }

  // x_1, a_{10}: part of a symbol's name; 1011_2, 12_{10}: a number in that base.
  Node subscript(Node n) {
    std::string sub;
    if (at_punct("{")) {
      advance();
      int depth = 1;
      while (!at(T::end)) {
        if (at_punct("{")) ++depth;
        if (at_punct("}") && --depth == 0) break;
        sub += token_text(cur());
        advance();
      }
      expect_punct("}");
    } else {
      sub = token_text(cur());
      advance();
    }
    if (n.kind == Kind::number && !n.decimal && !sub.empty() &&
        std::all_of(sub.begin(), sub.end(), [](char c) { return is_digit(c); }) && sub.size() <= 2) {
      int base = std::stoi(sub);
      if (base >= 2 && base <= 36) {
        BigInt v = 0;
        for (char c : n.text) {
          int d = c - '0';
          if (d >= base) throw ParseFail{"digit out of range for its base"};
          v = v * base + d;
        }
        Node b = make(Kind::based, {}, n.text);
        b.q = Rational(v);
        b.digits = base;
        return b;
      }
    }
    if (n.kind == Kind::symbol) {
      n.text += "_" + sub;
      return n;
    }
    return n;  // other subscripts (units, labels) carry no value; \log_b is read by parse_function
  }

  static std::string token_text(const Token& t) {
    switch (t.type) {
      case T::num: return t.raw;
      case T::ident: return t.s;
      case T::cmd: return "\\" + t.s;
      case T::punct: return t.s;
      default: return {};
    }
  }

  Node number_node(const Token& t) {
    Node n = Node::num(t.q);
    ++nodes_;
    n.decimal = t.decimal;
    n.digits = t.digits;
    n.text = t.raw;
    return n;
  }

  // One argument of \frac, \sqrt, \binom: a {group} or a single token ("\frac12" -> 1 and 2).
  Node parse_arg() {
    DepthGuard g(*this);
    if (at_punct("{")) return parse_braced_expr();
    if (at(T::num)) {
      // "\frac12": only the first digit belongs to the numerator.
      const Token& t = cur();
      if (!t.decimal && t.raw.size() > 1) {
        Node n = Node::num(Rational(t.raw[0] - '0'));
        ++nodes_;
        Token rest = t;
        rest.raw = t.raw.substr(1);
        rest.q = Rational(big_from_digits(rest.raw));
        rest.space_before = false;
        t_[p_] = rest;
        return n;
      }
      Node n = number_node(t);
      advance();
      return n;
    }
    if (at(T::ident) && cur().s.size() > 1 && cur().s[0] != '\x01') {
      Node n = make(Kind::symbol, {}, cur().s.substr(0, 1));
      t_[p_].s = cur().s.substr(1);
      return n;
    }
    return parse_primary();
  }

  Node parse_primary() {
    DepthGuard g(*this);
    const Token& c = cur();
    switch (c.type) {
      case T::num: return parse_number();
      case T::ident: return parse_word();
      case T::text: return parse_text();
      case T::cmd: return parse_command();
      case T::punct:
        if (c.s == "(" || c.s == "[") return parse_bracket();
        if (c.s == "{") return parse_braced_expr();
        if (c.s == "|") {
          advance();
          Node inner = parse_expr();
          expect_punct("|");
          return make(Kind::func, {std::move(inner)}, "abs");
        }
        throw ParseFail{"unexpected symbol"};
      default: throw ParseFail{"unexpected token"};
    }
  }

  Node parse_number() {
    Token t = cur();
    advance();
    Node n = number_node(t);
    // A repeating decimal: 0.\overline{3} = 1/3.
    if (t.decimal && at_cmd("overline")) {
      advance();
      std::string rep;
      if (at_punct("{")) {
        advance();
        while (at(T::num)) {
          rep += cur().raw;
          advance();
        }
        expect_punct("}");
      } else if (at(T::num)) {
        rep = cur().raw;
        advance();
      }
      if (rep.empty() || rep.size() > 50) throw ParseFail{"bad repeating decimal"};
      // value = written + rep / (10^len - 1) / 10^digits
      Rational r{big_from_digits(rep)};
      r /= (pow10(static_cast<int>(rep.size())) - 1);
      r /= pow10(t.digits);
      n.q += r;
      n.decimal = false;  // exact
      return n;
    }
    // Mixed numbers: "2\frac{1}{2}", "2 1/2" (integer, then a proper fraction of integers).
    if (!t.decimal && (at_cmd("frac") || at_cmd("dfrac") || at_cmd("tfrac")) && ahead(1).type == T::punct && ahead(1).s == "{" && ahead(2).type == T::num &&
        !ahead(2).decimal && ahead(3).s == "}" && ahead(4).s == "{" && ahead(5).type == T::num &&
        !ahead(5).decimal && ahead(6).s == "}" && ahead(2).q < ahead(5).q && ahead(5).q != 0) {
      Rational f = ahead(2).q / ahead(5).q;
      for (int k = 0; k < 7; ++k) advance();
      n.q += f;
      return n;
    }
    if (!t.decimal && at(T::num) && cur().space_before && !cur().decimal && ahead(1).type == T::punct &&
        ahead(1).s == "/" && ahead(2).type == T::num && !ahead(2).decimal && cur().q < ahead(2).q &&
        ahead(2).q != 0 && ahead(3).type != T::punct) {
      Rational f = cur().q / ahead(2).q;
      advance();
      advance();
      advance();
      n.q += f;
      return n;
    }
    return n;
  }

  Node parse_text() {
    std::string content = cur().s;
    advance();
    // \text{13}, \text{(C)}, \text{ cm}: read the content as an answer when it is one, else keep it as words.
    bool has_digit = std::any_of(content.begin(), content.end(), [](char ch) { return is_digit(ch); });
    std::string low = trim_lower(content);
    size_t letters = static_cast<size_t>(std::count_if(low.begin(), low.end(), [](char ch) { return is_alpha(ch); }));
    // A one-letter unit after a value ("5\text{ m}", "3\text{ s}") is a unit, not the letter answer \text{C}.
    static const std::string_view unit_letters[] = {"m", "g", "s", "h", "l", "L", "K", "N", "J", "W", "V"};
    std::string bare;
    for (char ch : content)
      if (ch != ' ' && ch != '~') bare += ch;
    if (std::find(std::begin(unit_letters), std::end(unit_letters), bare) != std::end(unit_letters))
      return make(Kind::text, {}, normalise_words(content));
    if (has_digit || letters <= 1) {
      try {
        Lexer lx(content, budget_);
        Parser sub(lx.run(), budget_, depth_ + 1);
        Node n = sub.parse_top();
        nodes_ += sub.nodes_;
        return n;
      } catch (const ParseFail&) {
      }
    }
    std::string words = normalise_words(content);
    if (auto m = multiplier_word(words)) return Node::num(*m);
    if (auto m = number_words(words)) return Node::num(*m);
    return make(Kind::text, {}, words);
  }

  // "two", "twelve", "twenty five" / "twenty-five" (words of one answer, already lower case, spaces between).
  static std::optional<Rational> number_words(const std::string& text) {
    static const std::pair<std::string_view, int> units[] = {
        {"zero", 0},     {"one", 1},        {"two", 2},       {"three", 3},    {"four", 4},      {"five", 5},
        {"six", 6},      {"seven", 7},      {"eight", 8},     {"nine", 9},     {"ten", 10},      {"eleven", 11},
        {"twelve", 12},  {"thirteen", 13},  {"fourteen", 14}, {"fifteen", 15}, {"sixteen", 16},  {"seventeen", 17},
        {"eighteen", 18}, {"nineteen", 19}, {"twenty", 20},   {"thirty", 30},  {"forty", 40},    {"fifty", 50},
        {"sixty", 60},   {"seventy", 70},   {"eighty", 80},   {"ninety", 90}};
    auto value = [&](std::string_view w) -> int {
      for (const auto& [name, v] : units)
        if (w == name) return v;
      return -1;
    };
    int total = 0, words = 0;
    size_t i = 0;
    while (i < text.size()) {
      size_t j = text.find(' ', i);
      if (j == std::string::npos) j = text.size();
      int v = value(std::string_view(text).substr(i, j - i));
      if (v < 0) return std::nullopt;
      if (words == 1 && !(total >= 20 && total % 10 == 0 && v > 0 && v < 10)) return std::nullopt;
      total += v;
      ++words;
      i = j + 1;
    }
    if (words == 0 || words > 2) return std::nullopt;
    return Rational(total);
  }

  // "2\text{ thousand}", "3 million": a factor.
  static std::optional<Rational> multiplier_word(const std::string& w) {
    if (w == "hundred") return Rational(100);
    if (w == "thousand") return Rational(1000);
    if (w == "million") return Rational(1'000'000);
    if (w == "billion") return Rational(1'000'000'000);
    return std::nullopt;
  }

  static std::string normalise_words(std::string_view s) {
    std::string out;
    bool space = false;
    for (char ch : s) {
      unsigned char u = static_cast<unsigned char>(ch);
      if (std::isalnum(u) || u >= 0x80) {
        if (space && !out.empty()) out += ' ';
        space = false;
        out += static_cast<char>(std::tolower(u));
      } else {
        space = true;
      }
    }
    return out;
  }

  Node parse_word() {
    std::string w = cur().s;
    advance();
    if (w[0] == '\x01') {  // non-ASCII letters: a word of text
      std::string text = w.substr(1);
      while (at(T::ident) && cur().s[0] == '\x01') {
        text += cur().s.substr(1);
        advance();
      }
      return make(Kind::text, {}, text);
    }
    if (auto m = multiplier_word(lower(w))) return Node::num(*m);
    if (auto m = number_words(lower(w))) {
      // "twenty-five": a tens word, a hyphen, a unit word.
      if (*m >= 20 && at_punct("-") && ahead(1).type == T::ident)
        if (auto u = number_words(lower(ahead(1).s)); u && *u > 0 && *u < 10) {
          advance();
          advance();
          return Node::num(*m + *u);
        }
      return Node::num(*m);
    }
    if (w == "pi") return make(Kind::pi);
    if (w == "e") return make(Kind::euler);
    if (w == "i") return make(Kind::imag);
    if (w == "inf" || w == "infty" || w == "infinity" || w == "oo" || w == "Infinity") return make(Kind::infinity);
    if (function_names().count(w)) return parse_function(w);
    if (w == "sqrt") return parse_function("sqrt");
    if (w.size() == 1) return make(Kind::symbol, {}, w);
    if (is_filler_word(w) || w.size() >= 4) {
      // Consecutive words are one text item: "square units", "Evelyn".
      std::string text = lower(w);
      while (at(T::ident) && cur().s[0] != '\x01' && !at_separator() && !function_names().count(cur().s) &&
             (is_filler_word(cur().s) || cur().s.size() >= 4)) {
        text += " " + lower(cur().s);
        advance();
      }
      return make(Kind::text, {}, text);
    }
    // "xy", "abc": a product of single-letter variables; a power binds to the last letter only ("xe^x" = x e^x).
    Node prod = make(Kind::symbol, {}, w.substr(0, 1));
    for (size_t k = 1; k < w.size(); ++k) {
      Node s = make(Kind::symbol, {}, w.substr(k, 1));
      if (w[k] == 'e') s = make(Kind::euler);
      if (k + 1 == w.size() && at_punct("^")) {
        advance();
        s = make(Kind::pow, {std::move(s), parse_exponent()});
      }
      prod = make(Kind::mul, {std::move(prod), std::move(s)});
    }
    prod.text = "word";  // letters of one written word: maybe a product, maybe prose ("so" in "so 40 + 2 = 42")
    return prod;
  }

  static std::string lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }

  // sin x, \sin(x), \sin^2 x, \sin^{-1} x, \log_2 8, \ln x, \sqrt[3]{x}.
  Node parse_function(const std::string& name_in) {
    DepthGuard g(*this);
    std::string name = name_in;
    if (name == "sqrt") {
      Node index;
      bool has_index = false;
      if (at_punct("[")) {
        advance();
        index = parse_expr();
        expect_punct("]");
        has_index = true;
      }
      Node arg = parse_arg();
      if (!has_index) return make(Kind::func, {std::move(arg)}, "sqrt");
      Node inv = make(Kind::pow, {std::move(index), Node::num(-1)});
      return make(Kind::pow, {std::move(arg), std::move(inv)});
    }
    Node power;
    bool has_power = false;
    Node base;
    bool has_base = false;
    for (int k = 0; k < 2; ++k) {
      if (at_punct("^")) {
        advance();
        power = parse_exponent();
        has_power = true;
      } else if (at_punct("_")) {
        advance();
        base = parse_exponent();
        has_base = true;
      }
    }
    if (has_power && power.kind == Kind::neg && power.kids[0].kind == Kind::number && power.kids[0].q == 1 &&
        (name == "sin" || name == "cos" || name == "tan")) {
      name = "arc" + name;
      has_power = false;
    }
    if (name == "lg") {
      name = "log";
      base = Node::num(10);
      has_base = true;
    }
    Node arg;
    if (at_punct("(")) {
      advance();
      arg = parse_group_list(")");
      expect_punct(")");
    } else if (at_punct("{")) {
      arg = parse_braced_expr();
    } else {
      // \sin 2x reads as sin(2x): the argument runs over implicitly multiplied factors, not over + or -.
      arg = parse_power();
      while (starts_primary() && !at(T::text) && !(cur().type == T::cmd && function_names().count(cur().s)) &&
             !(cur().type == T::ident && function_names().count(cur().s)))
        arg = make(Kind::mul, {std::move(arg), parse_power()});
    }
    Node f = make(Kind::func, {}, name);
    if (arg.kind == Kind::list && name != "gcd" && name != "lcm" && name != "max" && name != "min")
      throw ParseFail{"function with several arguments"};
    if (arg.kind == Kind::list) f.kids = std::move(arg.kids);
    else f.kids.push_back(std::move(arg));
    if (has_base) f.kids.push_back(std::move(base));
    if (has_power) return make(Kind::pow, {std::move(f), std::move(power)});
    return f;
  }

  Node parse_command() {
    std::string name = cur().s;
    if (name == "frac" || name == "dfrac" || name == "tfrac" || name == "cfrac") {
      advance();
      Node a = parse_arg();
      Node b = parse_arg();
      return make(Kind::mul, {std::move(a), make(Kind::pow, {std::move(b), Node::num(-1)})});
    }
    if (name == "binom" || name == "dbinom" || name == "tbinom") {
      advance();
      Node a = parse_arg();
      Node b = parse_arg();
      return make(Kind::func, {std::move(a), std::move(b)}, "binom");
    }
    if (name == "sqrt" || function_names().count(name)) {
      advance();
      return parse_function(name);
    }
    if (name == "pi") {
      advance();
      return make(Kind::pi);
    }
    if (name == "infty" || name == "infinity") {
      advance();
      return make(Kind::infinity);
    }
    if (name == "imath") {
      advance();
      return make(Kind::imag);
    }
    if (name == "AA" || name == "angstrom") {  // Minerva writes ångströms as \AA after a value
      advance();
      return make(Kind::text, {}, "angstrom");
    }
    if (name == "emptyset" || name == "varnothing") {
      advance();
      return make(Kind::set);
    }
    if (greek_letters().count(name)) {
      advance();
      return make(Kind::symbol, {}, "\\" + name);
    }
    if (name == "{") {
      advance();
      Node s = make(Kind::set);
      if (at_cmd("}")) {
        advance();
        return s;
      }
      Node inner = parse_group_list("");
      if (!at_cmd("}")) throw ParseFail{"unclosed set"};
      advance();
      if (inner.kind == Kind::list) s.kids = std::move(inner.kids);
      else s.kids.push_back(std::move(inner));
      return s;
    }
    if (name == "lfloor" || name == "lceil") {
      advance();
      Node inner = parse_expr();
      if (!(at_cmd("rfloor") || at_cmd("rceil"))) throw ParseFail{"unclosed floor"};
      advance();
      return make(Kind::func, {std::move(inner)}, name == "lfloor" ? "floor" : "ceil");
    }
    if (name == "lvert" || name == "vert" || name == "|") {
      advance();
      Node inner = parse_expr();
      if (!(at_cmd("rvert") || at_cmd("vert") || at_cmd("|") || at_punct("|"))) throw ParseFail{"unclosed abs"};
      advance();
      return make(Kind::func, {std::move(inner)}, "abs");
    }
    if (name == "langle") {
      advance();
      Node inner = parse_group_list("");
      if (!at_cmd("rangle")) throw ParseFail{"unclosed angle bracket"};
      advance();
      Node t = make(Kind::tuple);
      if (inner.kind == Kind::list) t.kids = std::move(inner.kids);
      else t.kids.push_back(std::move(inner));
      return t;
    }
    if (name == "begin") return parse_environment();
    if ((name == "mathrm" || name == "rm") && upright_unit_ahead()) {
      // \mathrm{~m}, \mathrm{kg}: upright letters after a value are units (Minerva writes every unit this way).
      advance();
      std::string unit;
      expect_punct("{");
      while (!at_punct("}") && !at(T::end)) {
        unit += token_text(cur());
        advance();
      }
      expect_punct("}");
      return make(Kind::text, {}, unit);
    }
    if (transparent_commands().count(name)) {
      advance();
      if (name == "textcolor" || name == "color") {
        if (at_punct("{")) skip_braced();
      }
      if (at_punct("{")) return parse_braced_expr();
      return parse_primary();
    }
    if (name == "overline" || name == "hat" || name == "vec" || name == "bar" || name == "widehat" ||
        name == "tilde" || name == "dot" || name == "ddot" || name == "acute" || name == "check" || name == "breve" ||
        name == "widetilde" || name == "overrightarrow" || name == "mathring") {
      advance();
      std::string label = "\\" + name + "{";
      if (at_punct("{")) {
        advance();
        while (!at(T::end) && !at_punct("}")) {
          label += token_text(cur());
          advance();
        }
        expect_punct("}");
      } else {
        label += token_text(cur());
        advance();
      }
      return make(Kind::symbol, {}, label + "}");
    }
    if (name == "ldots" || name == "cdots" || name == "dots") {
      advance();
      return make(Kind::text, {}, "...");
    }
    if (name == "lbrack") {
      cur_as_punct("[");
      return parse_bracket();
    }
    if (name == "lparen") {
      cur_as_punct("(");
      return parse_bracket();
    }
    // Any other command: a named symbol (\triangle, \angle ABC stays comparable as text-ish symbols).
    advance();
    return make(Kind::symbol, {}, "\\" + name);
  }

  // {letters} with no operator, and not a lone e/i/d (upright constants and differentials).
  bool upright_unit_ahead() const {
    if (!(ahead(1).type == T::punct && ahead(1).s == "{")) return false;
    size_t k = 2;
    std::string letters;
    while (ahead(k).type == T::ident) letters += ahead(k++).s;
    if (!(ahead(k).type == T::punct && ahead(k).s == "}")) return false;
    return !letters.empty() && letters != "e" && letters != "i" && letters != "d";
  }

  void cur_as_punct(const char* c) {
    t_[p_].type = T::punct;
    t_[p_].s = c;
  }

  void skip_braced() {
    int depth = 0;
    do {
      if (at_punct("{")) ++depth;
      if (at_punct("}")) --depth;
      if (at(T::end)) throw ParseFail{"unbalanced braces"};
      advance();
    } while (depth > 0);
  }

  std::string read_env_name() {
    expect_punct("{");
    std::string n;
    while (!at(T::end) && !at_punct("}")) {
      n += token_text(cur());
      advance();
    }
    expect_punct("}");
    return n;
  }

  // \begin{pmatrix} a & b \\ c & d \end{pmatrix}; also bmatrix, vmatrix (determinant kept as a matrix), array,
  // cases (a list), aligned.
  Node parse_environment() {
    advance();  // \begin
    std::string env = read_env_name();
    if (env == "array" && at_punct("{")) skip_braced();
    std::vector<std::vector<Node>> rows(1);
    for (;;) {
      budget_.check();
      if (at_cmd("end")) {
        advance();
        read_env_name();
        break;
      }
      if (at(T::end)) throw ParseFail{"unclosed environment"};
      if (at_punct("&")) {
        advance();
        continue;
      }
      if (at_punct("\\\\")) {
        advance();
        rows.emplace_back();
        continue;
      }
      rows.back().push_back(parse_item());
      if (at_punct(",") && env.find("matrix") == std::string::npos) advance();
    }
    while (!rows.empty() && rows.back().empty()) rows.pop_back();
    if (rows.empty()) throw ParseFail{"empty environment"};
    if (env == "cases" || env == "aligned" || env == "align" || env == "align*" || env == "gathered") {
      Node l = make(Kind::list);
      for (auto& r : rows)
        for (auto& x : r) l.kids.push_back(std::move(x));
      return l.kids.size() == 1 ? std::move(l.kids[0]) : l;
    }
    size_t cols = rows[0].size();
    for (const auto& r : rows)
      if (r.size() != cols) throw ParseFail{"ragged matrix"};
    Node m = make(Kind::matrix);
    m.rows = static_cast<int>(rows.size());
    m.cols = static_cast<int>(cols);
    for (auto& r : rows)
      for (auto& x : r) m.kids.push_back(std::move(x));
    return m;
  }

  // ( … ), [ … ], with any closing bracket: (a, b] is a half-open interval, (a, b) a pair or an open interval.
  Node parse_bracket() {
    DepthGuard g(*this);
    bool open_round = at_punct("(");
    advance();
    std::vector<Node> items;
    if (!(at_punct(")") || at_punct("]"))) {
      items.push_back(parse_item());
      while (at_separator()) {
        advance();
        items.push_back(parse_item());
      }
    }
    bool close_round;
    if (at_punct(")")) close_round = true;
    else if (at_punct("]")) close_round = false;
    else if (at_cmd("rbrack")) close_round = false;
    else if (at_cmd("rparen")) close_round = true;
    else throw ParseFail{"unclosed bracket"};
    advance();
    if (items.empty()) return make(Kind::tuple);
    if (items.size() == 1 && open_round == close_round) return std::move(items[0]);
    if (items.size() == 2) {
      bool infinite = items[0].kind == Kind::infinity || items[1].kind == Kind::infinity ||
                      (items[0].kind == Kind::neg && items[0].kids[0].kind == Kind::infinity);
      if (open_round && close_round && !infinite) {
        Node t = make(Kind::tuple, std::move(items));
        t.maybe_interval = true;
        return t;
      }
      Node iv = make(Kind::interval, std::move(items));
      iv.left_closed = !open_round;
      iv.right_closed = !close_round;
      return iv;
    }
    if (items.size() == 1) throw ParseFail{"mismatched brackets"};
    return make(Kind::tuple, std::move(items));
  }

  std::vector<Token> t_;
  Budget& budget_;
  int depth_;
  size_t p_ = 0;
  size_t nodes_ = 0;
};

// Text that wraps an answer without being part of it: "x = " prefixes are kept (they are meaningful for equations);
// a trailing full stop, "\text{ }" spacing and surrounding $…$ go.
std::string_view trim_answer(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  for (;;) {
    size_t before = s.size();
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    // A full stop goes, an ellipsis ("1, 2, 3, ...") stays: it says the list goes on.
    while (!s.empty() && (is_space(s.back()) || s.back() == '$' ||
                          (s.back() == '.' && !(s.size() >= 2 && s[s.size() - 2] == '.'))))
      s.remove_suffix(1);
    while (!s.empty() && s.front() == '$') s.remove_prefix(1);
    if (s.size() >= 2 && s.substr(0, 2) == "\\[") s.remove_prefix(2);
    if (s.size() >= 2 && s.substr(s.size() - 2) == "\\]") s.remove_suffix(2);
    if (s.size() >= 2 && s.substr(0, 2) == "\\(") s.remove_prefix(2);
    if (s.size() >= 2 && s.substr(s.size() - 2) == "\\)") s.remove_suffix(2);
    // "The answer is C", "Final answer: 5" handed over as a bare answer: the phrase is not part of it.
    for (std::string_view phrase : {"the final answer is", "final answer:", "the answer is", "answer:"}) {
      if (s.size() > phrase.size() &&
          std::equal(phrase.begin(), phrase.end(), s.begin(), [](char p, char c) {
            return p == std::tolower(static_cast<unsigned char>(c));
          }))
        s.remove_prefix(phrase.size());
    }
    if (s.size() == before) return s;
  }
}

}  // namespace

std::optional<Node> parse_answer(std::string_view text, Budget& budget) {
  text = trim_answer(text);
  if (text.empty() || text.size() > kMaxAnswerChars) return std::nullopt;
  try {
    Lexer lx(text, budget);
    Parser p(lx.run(), budget, 0);
    return p.parse_top();
  } catch (const ParseFail&) {
    return std::nullopt;
  }
}

std::string render(const Node& n) {
  auto kids = [&](std::string_view sep) {
    std::string s;
    for (size_t i = 0; i < n.kids.size(); ++i) {
      if (i) s += sep;
      s += render(n.kids[i]);
    }
    return s;
  };
  switch (n.kind) {
    case Kind::number: return n.q.str() + (n.decimal ? "~" : "");
    case Kind::symbol: return n.text;
    case Kind::pi: return "pi";
    case Kind::euler: return "e";
    case Kind::imag: return "i";
    case Kind::infinity: return "oo";
    case Kind::add: return "(" + kids(" + ") + ")";
    case Kind::mul: return "(" + kids(" * ") + ")";
    case Kind::pow: return "(" + kids("^") + ")";
    case Kind::neg: return "-" + render(n.kids[0]);
    case Kind::func: return n.text + "(" + kids(", ") + ")";
    case Kind::factorial: return render(n.kids[0]) + "!";
    case Kind::pm: return "(" + kids(" +- ") + ")";
    case Kind::percent: return render(n.kids[0]) + "%";
    case Kind::degree: return render(n.kids[0]) + "deg";
    case Kind::based: return n.text + "_" + std::to_string(n.digits);
    case Kind::text: return "\"" + n.text + "\"";
    case Kind::tuple: return "tuple(" + kids(", ") + ")";
    case Kind::list: return "list(" + kids(", ") + ")";
    case Kind::set: return "set(" + kids(", ") + ")";
    case Kind::interval:
      return std::string(n.left_closed ? "[" : "(") + kids(", ") + (n.right_closed ? "]" : ")");
    case Kind::union_: return "union(" + kids(", ") + ")";
    case Kind::matrix: return "matrix" + std::to_string(n.rows) + "x" + std::to_string(n.cols) + "(" + kids(", ") + ")";
    case Kind::relation: {
      static const char* names[] = {"=", "<", "<=", ">", ">=", "!="};
      std::string s = render(n.kids[0]);
      for (size_t i = 0; i < n.ops.size(); ++i) s += std::string(" ") + names[static_cast<int>(n.ops[i])] + " " + render(n.kids[i + 1]);
      return "rel(" + s + ")";
    }
  }
  return "?";
}

}  // namespace crucible::verifiers::math
