// A small Jinja interpreter for chat templates. It covers what real checkpoint templates use (if/elif/else, for with
// loop.*, set incl. namespace attributes and block set, macros, break/continue, filters, tests, string/dict methods,
// slices, raise_exception, strftime_now) with the environment transformers renders with: trim_blocks=True,
// lstrip_blocks=True, and a tojson that is json.dumps(ensure_ascii=False) rather than Jinja's HTML-safe one.
//
// Flow: lex the source into text/expression/statement pieces (applying the whitespace rules) -> parse statements
// into a tree with a precedence-climbing expression parser (Jinja's own precedence) -> render by walking the tree.
#include "model/text/chat_template.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <functional>
#include <unordered_map>

#include "core/error.h"
#include "core/json_io.h"
#include "model/text/gguf.h"
#include "model/text/text_util.h"

namespace crucible::text {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Values (Python semantics where templates can tell the difference)

struct Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<std::string, Value>>;  // insertion order, as Python dicts
using Args = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;
using Func = std::function<Value(Args&, Kwargs&)>;

struct Value {
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Func };
  Kind kind = Kind::Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;  // shared: a namespace() is mutated through every copy, as in Jinja
  std::shared_ptr<Func> func;
  bool is_namespace = false;

  static Value none() { return with(Kind::None); }
  static Value boolean(bool v) { Value x = with(Kind::Bool); x.b = v; return x; }
  static Value integer(int64_t v) { Value x = with(Kind::Int); x.i = v; return x; }
  static Value real(double v) { Value x = with(Kind::Float); x.f = v; return x; }
  static Value str(std::string v) { Value x = with(Kind::String); x.s = std::move(v); return x; }
  static Value make_list(List v = {}) { Value x = with(Kind::List); x.list = std::make_shared<List>(std::move(v)); return x; }
  static Value make_dict(Dict v = {}) { Value x = with(Kind::Dict); x.dict = std::make_shared<Dict>(std::move(v)); return x; }
  static Value function(Func fn) { Value x = with(Kind::Func); x.func = std::make_shared<Func>(std::move(fn)); return x; }
  static Value with(Kind k) { Value x; x.kind = k; return x; }

  bool undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  double as_double() const { return kind == Kind::Float ? f : kind == Kind::Bool ? (b ? 1 : 0) : static_cast<double>(i); }
  int64_t as_int() const { return kind == Kind::Float ? static_cast<int64_t>(f) : kind == Kind::Bool ? (b ? 1 : 0) : i; }
  const Value* find(const std::string& key) const {
    if (kind != Kind::Dict) return nullptr;
    for (const auto& [k, v] : *dict)
      if (k == key) return &v;
    return nullptr;
  }
};

Value from_json(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return Value::integer(j.get<int64_t>());
    case nlohmann::json::value_t::number_float: return Value::real(j.get<double>());
    case nlohmann::json::value_t::string: return Value::str(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      List l;
      for (const auto& x : j) l.push_back(from_json(x));
      return Value::make_list(std::move(l));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (const auto& [k, v] : j.items()) d.emplace_back(k, from_json(v));
      return Value::make_dict(std::move(d));
    }
    default: return Value::none();
  }
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return false;
    case Value::Kind::Bool: return v.b;
    case Value::Kind::Int: return v.i != 0;
    case Value::Kind::Float: return v.f != 0;
    case Value::Kind::String: return !v.s.empty();
    case Value::Kind::List: return !v.list->empty();
    case Value::Kind::Dict: return !v.dict->empty();
    case Value::Kind::Func: return true;
  }
  return false;
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == std::floor(d) && std::fabs(d) < 1e16) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.1f", d);
    return buf;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

std::string py_repr_string(const std::string& s) {
  char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (char c : s) {
    if (c == q || c == '\\') { out += '\\'; out += c; }
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  return out + q;
}

std::string repr(const Value& v);

// str(v) as Jinja prints it.
std::string to_str(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return v.b ? "True" : "False";
    case Value::Kind::Int: return std::to_string(v.i);
    case Value::Kind::Float: return format_float(v.f);
    case Value::Kind::String: return v.s;
    default: return repr(v);
  }
}

std::string repr(const Value& v) {
  switch (v.kind) {
    case Value::Kind::String: return py_repr_string(v.s);
    case Value::Kind::List: {
      std::string out = "[";
      for (size_t k = 0; k < v.list->size(); ++k) out += (k ? ", " : "") + repr((*v.list)[k]);
      return out + "]";
    }
    case Value::Kind::Dict: {
      if (v.is_namespace) return "<Namespace>";
      std::string out = "{";
      size_t k = 0;
      for (const auto& [key, val] : *v.dict) out += (k++ ? ", " : "") + py_repr_string(key) + ": " + repr(val);
      return out + "}";
    }
    case Value::Kind::Func: return "<function>";
    default: return to_str(v);
  }
}

void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Python's json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sort_keys).
void to_json(std::string& out, const Value& v, int indent, bool sort_keys, int level, const std::string& where) {
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * lvl), ' ');
  };
  const char* item_sep = indent < 0 ? ", " : ",";
  switch (v.kind) {
    case Value::Kind::Undefined:
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.b ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.i); return;
    case Value::Kind::Float: {
      if (std::isnan(v.f)) out += "NaN";
      else if (std::isinf(v.f)) out += v.f > 0 ? "Infinity" : "-Infinity";
      else out += format_float(v.f);
      return;
    }
    case Value::Kind::String: json_string(out, v.s); return;
    case Value::Kind::List: {
      if (v.list->empty()) { out += "[]"; return; }
      out += '[';
      for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += item_sep;
        newline(level + 1);
        to_json(out, (*v.list)[k], indent, sort_keys, level + 1, where);
      }
      newline(level);
      out += ']';
      return;
    }
    case Value::Kind::Dict: {
      if (v.dict->empty()) { out += "{}"; return; }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : *v.dict) items.push_back(&kv);
      if (sort_keys) std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) out += item_sep;
        newline(level + 1);
        json_string(out, items[k]->first);
        out += ": ";
        to_json(out, items[k]->second, indent, sort_keys, level + 1, where);
      }
      newline(level);
      out += '}';
      return;
    }
    case Value::Kind::Func: throw InputError(where, "chat_template", "tojson: a function is not JSON serialisable");
  }
}

bool equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Value::Kind::Float || b.kind == Value::Kind::Float) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.s == b.s;
    case Value::Kind::List:
      if (a.list->size() != b.list->size()) return false;
      for (size_t k = 0; k < a.list->size(); ++k)
        if (!equal((*a.list)[k], (*b.list)[k])) return false;
      return true;
    case Value::Kind::Dict:
      if (a.dict == b.dict) return true;
      if (a.dict->size() != b.dict->size()) return false;
      for (const auto& [k, v] : *a.dict) {
        const Value* o = b.find(k);
        if (!o || !equal(v, *o)) return false;
      }
      return true;
    default: return a.func == b.func;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Syntax tree

struct Expr;
using ExprPtr = std::shared_ptr<Expr>;
struct Expr {
  enum class Kind { Literal, Name, Attr, Item, Slice, Call, Filter, Test, Unary, Binary, Cond, ListLit, DictLit };
  Kind kind;
  std::string name;   // Name, Attr, Filter, Test, Unary/Binary operator
  Value literal;
  std::vector<ExprPtr> kids;  // operands; for Call/Filter/Test: [callee/object, positional args...]
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;  // "is not"
};

struct Node;
using Body = std::vector<std::shared_ptr<Node>>;
struct Node {
  enum class Kind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue, Block };
  Kind kind;
  std::string text;                                  // Text
  ExprPtr expr;                                      // Output, Set value, For iterable
  std::vector<std::pair<ExprPtr, Body>> branches;    // If (cond, body)...
  Body body, else_body;                              // For, SetBlock, Macro, Block, If else
  std::vector<std::string> targets;                  // For loop variables, Set names, Macro name
  std::string attr;                                  // Set ns.attr
  ExprPtr filter;                                    // For ... if cond
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro parameters with defaults (null = none)
};

// ---------------------------------------------------------------------------------------------------------------
// Lexing the template: text, {{ expressions }}, {% statements %}, with trim_blocks / lstrip_blocks / "-" rules

struct Piece {
  enum class Kind { Text, Expr, Stmt } kind;
  std::string text;
  size_t offset;  // in the source, for messages
};

std::vector<Piece> lex_template(const std::string& src, const std::string& where) {
  std::vector<Piece> pieces;
  size_t pos = 0;
  bool trim_next_newline = false, strip_next_ws = false;
  auto is_ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (pos <= src.size()) {
    size_t open = src.find('{', pos);
    while (open != std::string::npos && open + 1 < src.size() && src[open + 1] != '{' && src[open + 1] != '%' &&
           src[open + 1] != '#')
      open = src.find('{', open + 1);
    if (open != std::string::npos && open + 1 >= src.size()) open = std::string::npos;
    std::string text = src.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
    if (strip_next_ws) {
      size_t k = 0;
      while (k < text.size() && is_ws(text[k])) ++k;
      text.erase(0, k);
    } else if (trim_next_newline && !text.empty() && text[0] == '\n') {
      text.erase(0, 1);
    }
    trim_next_newline = strip_next_ws = false;
    if (open == std::string::npos) {
      if (!text.empty()) pieces.push_back({Piece::Kind::Text, text, pos});
      break;
    }
    char type = src[open + 1];
    char mod = open + 2 < src.size() ? src[open + 2] : '\0';
    if (mod == '-') {
      while (!text.empty() && is_ws(text.back())) text.pop_back();
    } else if (type != '{' && mod != '+') {
      // lstrip_blocks: spaces and tabs from the start of the line up to a block or comment tag go. Walking the
      // source (not `text`, which may already be trimmed) tells whether the blanks really start a line.
      size_t k = open;
      while (k > pos && (src[k - 1] == ' ' || src[k - 1] == '\t')) --k;
      if (k == 0 || src[k - 1] == '\n') text.erase(text.size() - std::min(text.size(), open - k));
    }
    if (!text.empty()) pieces.push_back({Piece::Kind::Text, text, pos});
    size_t body_start = open + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
    if (type == '#') {
      size_t close = src.find("#}", body_start);
      if (close == std::string::npos) throw InputError(where, "chat_template", "unterminated comment");
      strip_next_ws = close > 0 && src[close - 1] == '-';
      trim_next_newline = true;
      pos = close + 2;
      continue;
    }
    const char* closer = type == '{' ? "}}" : "%}";
    size_t k = body_start;
    char quote = 0;
    size_t close = std::string::npos;
    for (; k + 1 < src.size(); ++k) {
      char c = src[k];
      if (quote) {
        if (c == '\\') ++k;
        else if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == closer[0] && src[k + 1] == closer[1]) {
        close = k;
        break;
      }
    }
    if (close == std::string::npos)
      throw InputError(where, "chat_template",
                       std::string("unterminated ") + (type == '{' ? "{{ … }}" : "{% … %}") + " at offset " +
                           std::to_string(open));
    size_t body_end = close;
    if (body_end > body_start && src[body_end - 1] == '-') {
      strip_next_ws = true;
      --body_end;
    }
    if (type == '%') trim_next_newline = true;
    pieces.push_back({type == '{' ? Piece::Kind::Expr : Piece::Kind::Stmt, src.substr(body_start, body_end - body_start),
                      open});
    pos = close + 2;
    // {% raw %} … {% endraw %}: the text in between is output verbatim.
    std::string stmt = pieces.back().text;
    size_t a = stmt.find_first_not_of(" \t\n");
    if (type == '%' && a != std::string::npos && stmt.compare(a, 3, "raw") == 0 &&
        stmt.find_first_not_of(" \t\n", a + 3) == std::string::npos) {
      pieces.pop_back();
      size_t end = src.find("endraw", pos);
      if (end == std::string::npos) throw InputError(where, "chat_template", "{% raw %} without {% endraw %}");
      size_t tag = src.rfind("{%", end);
      std::string raw = src.substr(pos, tag - pos);
      if (src[tag + 2] == '-')
        while (!raw.empty() && is_ws(raw.back())) raw.pop_back();
      pieces.push_back({Piece::Kind::Text, raw, pos});
      size_t tag_close = src.find("%}", end);
      if (tag_close == std::string::npos) throw InputError(where, "chat_template", "unterminated {% endraw %}");
      strip_next_ws = src[tag_close - 1] == '-';
      trim_next_newline = true;
      pos = tag_close + 2;
    }
  }
  return pieces;
}

// ---------------------------------------------------------------------------------------------------------------
// Expression tokens and parser

struct Tok {
  enum class Kind { Name, String, Int, Float, Op, End } kind;
  std::string text;
  int64_t i = 0;
  double f = 0;
};

std::vector<Tok> lex_expr(const std::string& s, const std::string& where) {
  std::vector<Tok> toks;
  size_t k = 0;
  auto err = [&](const std::string& m) { throw InputError(where, "chat_template", m + " in '" + s + "'"); };
  while (k < s.size()) {
    char c = s[k];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') { ++k; continue; }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = k;
      while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
      toks.push_back({Tok::Kind::Name, s.substr(b, k - b)});
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t b = k;
      bool is_float = false;
      while (k < s.size() && (std::isdigit(static_cast<unsigned char>(s[k])) || s[k] == '_')) ++k;
      if (k + 1 < s.size() && s[k] == '.' && std::isdigit(static_cast<unsigned char>(s[k + 1]))) {
        is_float = true;
        ++k;
        while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) ++k;
      }
      std::string num = s.substr(b, k - b);
      num.erase(std::remove(num.begin(), num.end(), '_'), num.end());
      Tok t{is_float ? Tok::Kind::Float : Tok::Kind::Int, num};
      if (is_float) t.f = std::stod(num);
      else t.i = std::stoll(num);
      toks.push_back(t);
      continue;
    }
    if (c == '\'' || c == '"') {
      std::string out;
      ++k;
      bool closed = false;
      while (k < s.size()) {
        char d = s[k++];
        if (d == c) { closed = true; break; }
        if (d != '\\' || k >= s.size()) { out += d; continue; }
        char e = s[k++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '\\': out += '\\'; break;
          case '\'': out += '\''; break;
          case '"': out += '"'; break;
          case 'u': case 'x': {
            size_t n = e == 'u' ? 4 : 2;
            if (k + n > s.size()) err("bad escape");
            detail::append_utf8(out, static_cast<uint32_t>(std::stoul(s.substr(k, n), nullptr, 16)));
            k += n;
            break;
          }
          default: out += '\\'; out += e;
        }
      }
      if (!closed) err("unterminated string");
      toks.push_back({Tok::Kind::String, out});
      continue;
    }
    static const char* const kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                       "(", ")", "[", "]", "{", "}", ".", ",", ":", "|", "="};
    bool found = false;
    for (const char* op : kOps) {
      size_t n = strlen(op);
      if (s.compare(k, n, op) == 0) {
        toks.push_back({Tok::Kind::Op, op});
        k += n;
        found = true;
        break;
      }
    }
    if (!found) err(std::string("unexpected character '") + c + "'");
  }
  toks.push_back({Tok::Kind::End, ""});
  return toks;
}

class ExprParser {
 public:
  ExprParser(std::vector<Tok> toks, std::string where, std::string src)
      : t_(std::move(toks)), where_(std::move(where)), src_(std::move(src)) {}

  ExprPtr expression() { return condexpr(); }
  bool at_end() const { return t_[p_].kind == Tok::Kind::End; }
  bool is_name(const char* n) const { return t_[p_].kind == Tok::Kind::Name && t_[p_].text == n; }
  bool is_op(const char* o) const { return t_[p_].kind == Tok::Kind::Op && t_[p_].text == o; }
  std::string name() {
    if (t_[p_].kind != Tok::Kind::Name) fail("expected a name");
    return t_[p_++].text;
  }
  void expect_op(const char* o) {
    if (!is_op(o)) fail(std::string("expected '") + o + "'");
    ++p_;
  }
  void expect_name(const char* n) {
    if (!is_name(n)) fail(std::string("expected '") + n + "'");
    ++p_;
  }
  bool accept_op(const char* o) { return is_op(o) ? (++p_, true) : false; }
  bool accept_name(const char* n) { return is_name(n) ? (++p_, true) : false; }
  [[noreturn]] void fail(const std::string& m) const {
    throw InputError(where_, "chat_template", m + " near '" + t_[p_].text + "' in '" + src_ + "'");
  }
  ExprPtr or_expr() {
    ExprPtr l = and_expr();
    while (accept_name("or")) l = binary("or", l, and_expr());
    return l;
  }
  ExprPtr primary_postfix() { return postfix(primary()); }

 private:
  static ExprPtr make(Expr::Kind k) {
    auto e = std::make_shared<Expr>();
    e->kind = k;
    return e;
  }
  static ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r) {
    auto e = make(Expr::Kind::Binary);
    e->name = op;
    e->kids = {std::move(l), std::move(r)};
    return e;
  }
  ExprPtr condexpr() {
    ExprPtr e = or_expr();
    while (accept_name("if")) {
      auto c = make(Expr::Kind::Cond);
      ExprPtr cond = or_expr();
      ExprPtr other = accept_name("else") ? condexpr() : nullptr;
      c->kids = {cond, e, other};
      e = c;
    }
    return e;
  }
  ExprPtr and_expr() {
    ExprPtr l = not_expr();
    while (accept_name("and")) l = binary("and", l, not_expr());
    return l;
  }
  ExprPtr not_expr() {
    if (accept_name("not")) {
      auto e = make(Expr::Kind::Unary);
      e->name = "not";
      e->kids = {not_expr()};
      return e;
    }
    return compare();
  }
  ExprPtr compare() {
    ExprPtr l = math1();
    for (;;) {
      std::string op;
      if (t_[p_].kind == Tok::Kind::Op &&
          (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">="))) {
        op = t_[p_++].text;
      } else if (is_name("in")) {
        ++p_;
        op = "in";
      } else if (is_name("not") && t_[p_ + 1].kind == Tok::Kind::Name && t_[p_ + 1].text == "in") {
        p_ += 2;
        op = "not in";
      } else {
        return l;
      }
      l = binary(op, l, math1());
    }
  }
  ExprPtr math1() {
    ExprPtr l = concat();
    while (is_op("+") || is_op("-")) {
      std::string op = t_[p_++].text;
      l = binary(op, l, concat());
    }
    return l;
  }
  ExprPtr concat() {
    ExprPtr l = math2();
    while (accept_op("~")) l = binary("~", l, math2());
    return l;
  }
  ExprPtr math2() {
    ExprPtr l = power();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = t_[p_++].text;
      l = binary(op, l, power());
    }
    return l;
  }
  ExprPtr power() {
    ExprPtr l = unary(true);
    while (accept_op("**")) l = binary("**", l, unary(true));
    return l;
  }
  ExprPtr unary(bool with_filter) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      e = make(Expr::Kind::Unary);
      e->name = t_[p_++].text;
      e->kids = {unary(false)};
    } else {
      e = postfix(primary());
    }
    return with_filter ? filters(e) : e;
  }
  ExprPtr primary() {
    const Tok& t = t_[p_];
    if (t.kind == Tok::Kind::Name) {
      ++p_;
      auto e = make(Expr::Kind::Literal);
      if (t.text == "true" || t.text == "True") e->literal = Value::boolean(true);
      else if (t.text == "false" || t.text == "False") e->literal = Value::boolean(false);
      else if (t.text == "none" || t.text == "None") e->literal = Value::none();
      else {
        e->kind = Expr::Kind::Name;
        e->name = t.text;
      }
      return e;
    }
    if (t.kind == Tok::Kind::String) {
      std::string s;
      while (t_[p_].kind == Tok::Kind::String) s += t_[p_++].text;  // adjacent literals concatenate
      auto e = make(Expr::Kind::Literal);
      e->literal = Value::str(s);
      return e;
    }
    if (t.kind == Tok::Kind::Int || t.kind == Tok::Kind::Float) {
      ++p_;
      auto e = make(Expr::Kind::Literal);
      e->literal = t.kind == Tok::Kind::Int ? Value::integer(t.i) : Value::real(t.f);
      return e;
    }
    if (accept_op("(")) {
      if (accept_op(")")) return make(Expr::Kind::ListLit);  // empty tuple
      ExprPtr e = expression();
      if (is_op(",")) {
        auto tup = make(Expr::Kind::ListLit);
        tup->kids.push_back(e);
        while (accept_op(",")) {
          if (is_op(")")) break;
          tup->kids.push_back(expression());
        }
        e = tup;
      }
      expect_op(")");
      return e;
    }
    if (accept_op("[")) {
      auto e = make(Expr::Kind::ListLit);
      while (!is_op("]")) {
        e->kids.push_back(expression());
        if (!accept_op(",")) break;
      }
      expect_op("]");
      return e;
    }
    if (accept_op("{")) {
      auto e = make(Expr::Kind::DictLit);
      while (!is_op("}")) {
        e->kids.push_back(expression());
        expect_op(":");
        e->kids.push_back(expression());
        if (!accept_op(",")) break;
      }
      expect_op("}");
      return e;
    }
    fail("expected an expression");
  }
  void call_args(ExprPtr& e) {
    // after '(' : positional and keyword arguments up to ')'
    while (!is_op(")")) {
      if (t_[p_].kind == Tok::Kind::Name && t_[p_ + 1].kind == Tok::Kind::Op && t_[p_ + 1].text == "=") {
        std::string k = t_[p_].text;
        p_ += 2;
        e->kwargs.emplace_back(k, expression());
      } else {
        e->kids.push_back(expression());
      }
      if (!accept_op(",")) break;
    }
    expect_op(")");
  }
  ExprPtr postfix(ExprPtr e) {
    for (;;) {
      if (accept_op(".")) {
        auto a = make(Expr::Kind::Attr);
        if (t_[p_].kind == Tok::Kind::Int) a->name = std::to_string(t_[p_++].i);
        else a->name = name();
        a->kids = {e};
        e = a;
      } else if (accept_op("[")) {
        ExprPtr parts[3];
        int n_colons = 0;
        if (!is_op(":")) parts[0] = expression();
        while (accept_op(":")) {
          ++n_colons;
          if (n_colons > 2) fail("bad slice");
          if (!is_op(":") && !is_op("]")) parts[n_colons] = expression();
        }
        expect_op("]");
        auto s = make(n_colons ? Expr::Kind::Slice : Expr::Kind::Item);
        s->kids = {e, parts[0], parts[1], parts[2]};
        if (!n_colons) s->kids.resize(2);
        e = s;
      } else if (accept_op("(")) {
        auto c = make(Expr::Kind::Call);
        c->kids = {e};
        call_args(c);
        e = c;
      } else {
        return e;
      }
    }
  }
  ExprPtr filters(ExprPtr e) {
    for (;;) {
      if (accept_op("|")) {
        auto f = make(Expr::Kind::Filter);
        f->name = name();
        f->kids = {e};
        if (accept_op("(")) call_args(f);
        e = f;
      } else if (accept_name("is")) {
        auto t = make(Expr::Kind::Test);
        t->negated = accept_name("not");
        t->name = name();
        t->kids = {e};
        if (accept_op("(")) {
          call_args(t);
        } else {
          const Tok& n = t_[p_];
          bool arg = n.kind == Tok::Kind::String || n.kind == Tok::Kind::Int || n.kind == Tok::Kind::Float ||
                     (n.kind == Tok::Kind::Name && n.text != "else" && n.text != "or" && n.text != "and" &&
                      n.text != "if" && n.text != "in" && n.text != "not" && n.text != "is");
          if (arg) t->kids.push_back(primary_postfix());
        }
        e = t;
      } else {
        return e;
      }
    }
  }

  std::vector<Tok> t_;
  size_t p_ = 0;
  std::string where_, src_;
};

// ---------------------------------------------------------------------------------------------------------------
// Statement parser

class TemplateParser {
 public:
  TemplateParser(std::vector<Piece> pieces, std::string where) : pieces_(std::move(pieces)), where_(std::move(where)) {}

  Body parse_all() {
    std::string end;
    Body b = parse_body({}, end);
    return b;
  }

 private:
  static std::string first_word(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\n\r");
    if (a == std::string::npos) return "";
    size_t e = a;
    while (e < s.size() && (std::isalnum(static_cast<unsigned char>(s[e])) || s[e] == '_')) ++e;
    return s.substr(a, e - a);
  }
  std::string rest_after_word(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\n\r");
    size_t e = a;
    while (e < s.size() && (std::isalnum(static_cast<unsigned char>(s[e])) || s[e] == '_')) ++e;
    return s.substr(e);
  }
  ExprParser expr_parser(const std::string& s) { return ExprParser(lex_expr(s, where_), where_, s); }
  ExprPtr whole_expr(const std::string& s) {
    auto p = expr_parser(s);
    ExprPtr e = p.expression();
    if (!p.at_end()) p.fail("unexpected trailing tokens");
    return e;
  }

  // Parses until one of `enders` (statement keywords) is met; returns it in `end` ("" at the end of input).
  Body parse_body(const std::vector<std::string>& enders, std::string& end) {
    Body body;
    while (i_ < pieces_.size()) {
      const Piece& pc = pieces_[i_];
      if (pc.kind == Piece::Kind::Text) {
        auto n = std::make_shared<Node>();
        n->kind = Node::Kind::Text;
        n->text = pc.text;
        body.push_back(n);
        ++i_;
        continue;
      }
      if (pc.kind == Piece::Kind::Expr) {
        auto n = std::make_shared<Node>();
        n->kind = Node::Kind::Output;
        n->expr = whole_expr(pc.text);
        body.push_back(n);
        ++i_;
        continue;
      }
      std::string w = first_word(pc.text);
      if (std::find(enders.begin(), enders.end(), w) != enders.end()) {
        end = w;
        return body;
      }
      ++i_;
      body.push_back(statement(w, pc.text));
    }
    if (!enders.empty())
      throw InputError(where_, "chat_template", "missing {% " + enders.back() + " %} (template ends first)");
    end.clear();
    return body;
  }

  std::shared_ptr<Node> statement(const std::string& w, const std::string& text) {
    auto n = std::make_shared<Node>();
    std::string rest = rest_after_word(text);
    std::string end;
    if (w == "if") {
      n->kind = Node::Kind::If;
      ExprPtr cond = whole_expr(rest);
      for (;;) {
        Body b = parse_body({"elif", "else", "endif"}, end);
        n->branches.emplace_back(cond, std::move(b));
        std::string tag = pieces_[i_++].text;
        if (end == "elif") {
          cond = whole_expr(rest_after_word(tag));
          continue;
        }
        if (end == "else") {
          n->else_body = parse_body({"endif"}, end);
          ++i_;
        }
        break;
      }
    } else if (w == "for") {
      n->kind = Node::Kind::For;
      auto p = expr_parser(rest);
      n->targets.push_back(p.name());
      while (p.accept_op(",")) n->targets.push_back(p.name());
      p.expect_name("in");
      // The iterable may not contain a bare conditional expression: "if" after it filters the loop.
      n->expr = p.or_expr();
      if (p.accept_name("if")) n->filter = p.expression();
      p.accept_name("recursive");
      if (!p.at_end()) p.fail("unexpected tokens in for");
      n->body = parse_body({"else", "endfor"}, end);
      ++i_;
      if (end == "else") {
        n->else_body = parse_body({"endfor"}, end);
        ++i_;
      }
    } else if (w == "set") {
      auto p = expr_parser(rest);
      std::string target = p.name();
      if (p.accept_op(".")) n->attr = p.name();
      n->targets.push_back(target);
      while (p.accept_op(",")) n->targets.push_back(p.name());
      if (p.at_end()) {  // {% set x %}…{% endset %}
        n->kind = Node::Kind::SetBlock;
        n->body = parse_body({"endset"}, end);
        ++i_;
      } else {
        n->kind = Node::Kind::Set;
        p.expect_op("=");
        n->expr = p.expression();
        if (!p.at_end()) p.fail("unexpected trailing tokens in set");
      }
    } else if (w == "macro") {
      n->kind = Node::Kind::Macro;
      auto p = expr_parser(rest);
      n->targets.push_back(p.name());
      p.expect_op("(");
      while (!p.is_op(")")) {
        std::string param = p.name();
        ExprPtr def;
        if (p.accept_op("=")) def = p.expression();
        n->params.emplace_back(param, def);
        if (!p.accept_op(",")) break;
      }
      p.expect_op(")");
      n->body = parse_body({"endmacro"}, end);
      ++i_;
    } else if (w == "break" || w == "continue") {
      n->kind = w == "break" ? Node::Kind::Break : Node::Kind::Continue;
    } else if (w == "generation" || w == "block") {
      // transformers' {% generation %} marks assistant text for masks; it renders its body unchanged.
      n->kind = Node::Kind::Block;
      n->body = parse_body({"end" + w}, end);
      ++i_;
    } else {
      throw InputError(where_, "chat_template", "unsupported statement '{% " + w + " … %}'");
    }
    return n;
  }

  std::vector<Piece> pieces_;
  size_t i_ = 0;
  std::string where_;
};

// ---------------------------------------------------------------------------------------------------------------
// Rendering

enum class Flow { Normal, Break, Continue };

class Renderer {
 public:
  Renderer(const std::string& where, std::string& out) : where_(where), out_(&out) {}

  std::vector<std::unordered_map<std::string, Value>> frames;

  [[noreturn]] void fail(const std::string& m) const { throw InputError(where_, "chat_template", m); }

  Value lookup(const std::string& name) const {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return f->second;
    }
    return {};
  }

  Flow render(const Body& body) {
    for (const auto& n : body) {
      Flow f = render(*n);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow render(const Node& n) {
    switch (n.kind) {
      case Node::Kind::Text: *out_ += n.text; break;
      case Node::Kind::Output: *out_ += to_str(eval(*n.expr)); break;
      case Node::Kind::If:
        for (const auto& [cond, body] : n.branches)
          if (truthy(eval(*cond))) return render(body);
        return render(n.else_body);
      case Node::Kind::For: return render_for(n);
      case Node::Kind::Set: {
        Value v = eval(*n.expr);
        if (!n.attr.empty()) {
          Value ns = lookup(n.targets[0]);
          if (!ns.is_namespace) fail("cannot set attribute '" + n.attr + "' of '" + n.targets[0] + "' (not a namespace)");
          assign_key(*ns.dict, n.attr, v);
        } else if (n.targets.size() == 1) {
          frames.back()[n.targets[0]] = v;
        } else {
          List items = iterate(v);
          if (items.size() != n.targets.size()) fail("set: cannot unpack " + std::to_string(items.size()) + " values");
          for (size_t k = 0; k < items.size(); ++k) frames.back()[n.targets[k]] = items[k];
        }
        break;
      }
      case Node::Kind::SetBlock: {
        std::string buf;
        std::string* saved = out_;
        out_ = &buf;
        render(n.body);
        out_ = saved;
        frames.back()[n.targets[0]] = Value::str(buf);
        break;
      }
      case Node::Kind::Macro: define_macro(n); break;
      case Node::Kind::Break: return Flow::Break;
      case Node::Kind::Continue: return Flow::Continue;
      case Node::Kind::Block: return render(n.body);
    }
    return Flow::Normal;
  }

  static void assign_key(Dict& d, const std::string& key, Value v) {
    for (auto& [k, x] : d)
      if (k == key) {
        x = std::move(v);
        return;
      }
    d.emplace_back(key, std::move(v));
  }

  List iterate(const Value& v) {
    switch (v.kind) {
      case Value::Kind::List: return *v.list;
      case Value::Kind::Dict: {
        List keys;
        for (const auto& kv : *v.dict) keys.push_back(Value::str(kv.first));
        return keys;
      }
      case Value::Kind::String: {
        List chars;
        for (size_t k = 0; k < v.s.size();) {
          size_t n = detail::utf8_len(static_cast<unsigned char>(v.s[k]));
          chars.push_back(Value::str(v.s.substr(k, n)));
          k += n;
        }
        return chars;
      }
      case Value::Kind::Undefined:
      case Value::Kind::None: return {};
      default: fail("'" + to_str(v) + "' is not iterable");
    }
  }

  Flow render_for(const Node& n) {
    List items = iterate(eval(*n.expr));
    if (n.filter) {
      List kept;
      for (const auto& it : items) {
        frames.emplace_back();
        bind_targets(n, it);
        if (truthy(eval(*n.filter))) kept.push_back(it);
        frames.pop_back();
      }
      items.swap(kept);
    }
    if (items.empty()) return render(n.else_body);
    const auto len = static_cast<int64_t>(items.size());
    for (int64_t k = 0; k < len; ++k) {
      frames.emplace_back();
      bind_targets(n, items[k]);
      Dict loop = {{"index", Value::integer(k + 1)},
                   {"index0", Value::integer(k)},
                   {"revindex", Value::integer(len - k)},
                   {"revindex0", Value::integer(len - k - 1)},
                   {"first", Value::boolean(k == 0)},
                   {"last", Value::boolean(k == len - 1)},
                   {"length", Value::integer(len)},
                   {"previtem", k > 0 ? items[k - 1] : Value()},
                   {"nextitem", k + 1 < len ? items[k + 1] : Value()}};
      frames.back()["loop"] = Value::make_dict(std::move(loop));
      Flow f = render(n.body);
      frames.pop_back();
      if (f == Flow::Break) break;
    }
    return Flow::Normal;
  }

  void bind_targets(const Node& n, const Value& item) {
    if (n.targets.size() == 1) {
      frames.back()[n.targets[0]] = item;
      return;
    }
    List parts = iterate(item);
    if (parts.size() != n.targets.size())
      fail("for: cannot unpack " + std::to_string(parts.size()) + " values into " + std::to_string(n.targets.size()));
    for (size_t k = 0; k < parts.size(); ++k) frames.back()[n.targets[k]] = parts[k];
  }

  void define_macro(const Node& n) {
    const Node* node = &n;
    Renderer* self = this;
    frames.back()[n.targets[0]] = Value::function([self, node](Args& args, Kwargs& kwargs) {
      std::unordered_map<std::string, Value> scope;
      for (size_t k = 0; k < node->params.size(); ++k) {
        const auto& [pname, def] = node->params[k];
        Value v;
        if (k < args.size()) v = args[k];
        else if (def) v = self->eval(*def);
        for (auto& [kn, kv] : kwargs)
          if (kn == pname) v = kv;
        scope[pname] = v;
      }
      self->frames.push_back(std::move(scope));
      std::string buf;
      std::string* saved = self->out_;
      self->out_ = &buf;
      self->render(node->body);
      self->out_ = saved;
      self->frames.pop_back();
      return Value::str(buf);
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  Value eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.literal;
      case Expr::Kind::Name: return lookup(e.name);
      case Expr::Kind::Attr: return get_attr(eval(*e.kids[0]), e.name);
      case Expr::Kind::Item: return get_item(eval(*e.kids[0]), eval(*e.kids[1]));
      case Expr::Kind::Slice: return slice(e);
      case Expr::Kind::Call: return call(e);
      case Expr::Kind::Filter: return filter(e);
      case Expr::Kind::Test: {
        bool r = test(e);
        return Value::boolean(e.negated ? !r : r);
      }
      case Expr::Kind::Unary: {
        Value v = eval(*e.kids[0]);
        if (e.name == "not") return Value::boolean(!truthy(v));
        if (!v.is_number()) fail("unary " + e.name + " on a non-number");
        if (e.name == "+") return v;
        return v.kind == Value::Kind::Float ? Value::real(-v.f) : Value::integer(-v.as_int());
      }
      case Expr::Kind::Binary: return binary(e);
      case Expr::Kind::Cond: {
        if (truthy(eval(*e.kids[0]))) return eval(*e.kids[1]);
        return e.kids[2] ? eval(*e.kids[2]) : Value();
      }
      case Expr::Kind::ListLit: {
        List l;
        for (const auto& k : e.kids) l.push_back(eval(*k));
        return Value::make_list(std::move(l));
      }
      case Expr::Kind::DictLit: {
        Dict d;
        for (size_t k = 0; k + 1 < e.kids.size(); k += 2) assign_key(d, to_str(eval(*e.kids[k])), eval(*e.kids[k + 1]));
        return Value::make_dict(std::move(d));
      }
    }
    return {};
  }

  Value get_attr(const Value& obj, const std::string& name) {
    if (obj.kind == Value::Kind::Dict) {
      if (const Value* v = obj.find(name)) return *v;
      return {};
    }
    if (obj.kind == Value::Kind::List && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])))
      return get_item(obj, Value::integer(std::stoll(name)));
    return {};
  }

  Value get_item(const Value& obj, const Value& key) {
    if (obj.kind == Value::Kind::Dict) {
      if (const Value* v = obj.find(to_str(key))) return *v;
      return {};
    }
    if (obj.kind == Value::Kind::List || obj.kind == Value::Kind::String) {
      if (!key.is_number()) {
        if (key.kind == Value::Kind::String) return {};  // list.attr style lookups are undefined
        fail("index must be an integer");
      }
      List chars;
      const List* l = obj.kind == Value::Kind::List ? obj.list.get() : nullptr;
      if (!l) {
        chars = iterate(obj);
        l = &chars;
      }
      int64_t n = static_cast<int64_t>(l->size()), i = key.as_int();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return {};
      return (*l)[static_cast<size_t>(i)];
    }
    return {};
  }

  Value slice(const Expr& e) {
    Value obj = eval(*e.kids[0]);
    List src = obj.kind == Value::Kind::List ? *obj.list : iterate(obj);
    auto n = static_cast<int64_t>(src.size());
    int64_t step = e.kids[3] ? eval(*e.kids[3]).as_int() : 1;
    if (step == 0) fail("slice step cannot be zero");
    auto bound = [&](const ExprPtr& x, int64_t def) {
      if (!x) return def;
      Value v = eval(*x);
      if (v.is_none()) return def;
      int64_t i = v.as_int();
      if (i < 0) i += n;
      if (step > 0) return std::clamp<int64_t>(i, 0, n);
      return std::clamp<int64_t>(i, -1, n - 1);
    };
    int64_t start = bound(e.kids[1], step > 0 ? 0 : n - 1), stop = bound(e.kids[2], step > 0 ? n : -1);
    List out;
    if (step > 0)
      for (int64_t i = start; i < stop; i += step) out.push_back(src[static_cast<size_t>(i)]);
    else
      for (int64_t i = start; i > stop; i += step) out.push_back(src[static_cast<size_t>(i)]);
    if (obj.kind == Value::Kind::String) {
      std::string s;
      for (const auto& c : out) s += c.s;
      return Value::str(s);
    }
    return Value::make_list(std::move(out));
  }

  void eval_args(const Expr& e, Args& args, Kwargs& kwargs) {
    for (size_t k = 1; k < e.kids.size(); ++k) args.push_back(eval(*e.kids[k]));
    for (const auto& [n, x] : e.kwargs) kwargs.emplace_back(n, eval(*x));
  }
  static const Value* kwarg(const Kwargs& kw, const char* name) {
    for (const auto& [n, v] : kw)
      if (n == name) return &v;
    return nullptr;
  }
  static const Value* arg(const Args& args, const Kwargs& kw, size_t pos, const char* name) {
    if (pos < args.size()) return &args[pos];
    return kwarg(kw, name);
  }

  Value call(const Expr& e) {
    Args args;
    Kwargs kwargs;
    const Expr& callee = *e.kids[0];
    if (callee.kind == Expr::Kind::Attr) {
      Value obj = eval(*callee.kids[0]);
      eval_args(e, args, kwargs);
      if (obj.kind == Value::Kind::String) return string_method(obj.s, callee.name, args, kwargs);
      if (obj.kind == Value::Kind::Dict && !obj.is_namespace && !obj.find(callee.name))
        return dict_method(obj, callee.name, args, kwargs);
      if (obj.kind == Value::Kind::List) return list_method(obj, callee.name, args);
      Value fn = get_attr(obj, callee.name);
      if (fn.kind != Value::Kind::Func) fail("'" + callee.name + "' is not callable");
      return (*fn.func)(args, kwargs);
    }
    if (callee.kind == Expr::Kind::Name) {
      Value fn = lookup(callee.name);
      eval_args(e, args, kwargs);
      if (fn.kind == Value::Kind::Func) return (*fn.func)(args, kwargs);
      return global_function(callee.name, args, kwargs);
    }
    Value fn = eval(callee);
    eval_args(e, args, kwargs);
    if (fn.kind != Value::Kind::Func) fail("calling something that is not a function");
    return (*fn.func)(args, kwargs);
  }

  Value global_function(const std::string& name, Args& args, Kwargs& kwargs) {
    if (name == "raise_exception") fail(args.empty() ? "raise_exception()" : to_str(args[0]));
    if (name == "namespace") {
      Value ns = Value::make_dict();
      ns.is_namespace = true;
      for (auto& a : args)
        if (a.kind == Value::Kind::Dict)
          for (auto& kv : *a.dict) assign_key(*ns.dict, kv.first, kv.second);
      for (auto& [k, v] : kwargs) assign_key(*ns.dict, k, v);
      return ns;
    }
    if (name == "range") {
      int64_t start = 0, stop = 0, step = 1;
      if (args.size() == 1) stop = args[0].as_int();
      else if (args.size() >= 2) {
        start = args[0].as_int();
        stop = args[1].as_int();
        if (args.size() > 2) step = args[2].as_int();
      }
      if (step == 0) fail("range() step cannot be zero");
      List l;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) l.push_back(Value::integer(i));
      return Value::make_list(std::move(l));
    }
    if (name == "dict") {
      Dict d;
      for (auto& [k, v] : kwargs) assign_key(d, k, v);
      return Value::make_dict(std::move(d));
    }
    if (name == "strftime_now") {
      std::time_t t = std::time(nullptr);
      std::tm tm{};
      localtime_r(&t, &tm);
      char buf[256];
      std::string fmt = args.empty() ? "%Y-%m-%d" : to_str(args[0]);
      size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
      return Value::str(std::string(buf, n));
    }
    fail("'" + name + "' is undefined or not a function");
  }

  static std::string strip_chars(const std::string& s, const Value* chars, bool left, bool right) {
    std::string set = chars && chars->kind == Value::Kind::String ? chars->s : std::string(" \t\n\r\f\v");
    size_t b = 0, e = s.size();
    if (left)
      while (b < e && set.find(s[b]) != std::string::npos) ++b;
    if (right)
      while (e > b && set.find(s[e - 1]) != std::string::npos) --e;
    return s.substr(b, e - b);
  }

  Value string_method(const std::string& s, const std::string& m, Args& args, Kwargs& kw) {
    const Value* a0 = arg(args, kw, 0, "");
    if (m == "strip") return Value::str(strip_chars(s, a0, true, true));
    if (m == "lstrip") return Value::str(strip_chars(s, a0, true, false));
    if (m == "rstrip") return Value::str(strip_chars(s, a0, false, true));
    if (m == "upper" || m == "lower") {
      std::string r = s;
      for (char& c : r) c = static_cast<char>(m == "upper" ? std::toupper(static_cast<unsigned char>(c))
                                                           : std::tolower(static_cast<unsigned char>(c)));
      return Value::str(r);
    }
    if (m == "title" || m == "capitalize") return apply_filter(m, Value::str(s), args, kw);
    if (m == "startswith" || m == "endswith") {
      if (!a0) fail(m + "() needs an argument");
      List options = a0->kind == Value::Kind::List ? *a0->list : List{*a0};
      for (const auto& o : options) {
        const std::string& p = o.s;
        bool hit = m == "startswith" ? s.compare(0, p.size(), p) == 0 && s.size() >= p.size()
                                     : s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
        if (hit) return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    if (m == "split" || m == "rsplit") {
      const Value* maxv = arg(args, kw, 1, "maxsplit");
      int64_t maxsplit = maxv ? maxv->as_int() : -1;
      List parts;
      if (!a0 || a0->is_none()) {  // split on runs of whitespace, dropping empties
        size_t k = 0;
        while (k < s.size()) {
          while (k < s.size() && std::isspace(static_cast<unsigned char>(s[k]))) ++k;
          if (k >= s.size()) break;
          size_t b = k;
          if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
            parts.push_back(Value::str(strip_chars(s.substr(b), nullptr, false, true)));
            break;
          }
          while (k < s.size() && !std::isspace(static_cast<unsigned char>(s[k]))) ++k;
          parts.push_back(Value::str(s.substr(b, k - b)));
        }
        return Value::make_list(std::move(parts));
      }
      const std::string& sep = a0->s;
      if (sep.empty()) fail("split(): empty separator");
      if (m == "rsplit" && maxsplit >= 0) {
        std::vector<std::string> rev;
        size_t end = s.size();
        while (static_cast<int64_t>(rev.size()) < maxsplit) {
          size_t f = end >= sep.size() ? s.rfind(sep, end - sep.size()) : std::string::npos;
          if (f == std::string::npos) break;
          rev.push_back(s.substr(f + sep.size(), end - f - sep.size()));
          end = f;
        }
        parts.push_back(Value::str(s.substr(0, end)));
        for (auto it = rev.rbegin(); it != rev.rend(); ++it) parts.push_back(Value::str(*it));
        return Value::make_list(std::move(parts));
      }
      size_t b = 0;
      for (;;) {
        size_t f = s.find(sep, b);
        if (f == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) break;
        parts.push_back(Value::str(s.substr(b, f - b)));
        b = f + sep.size();
      }
      parts.push_back(Value::str(s.substr(b)));
      return Value::make_list(std::move(parts));
    }
    if (m == "replace") {
      if (args.size() < 2) fail("replace() needs two arguments");
      int64_t count = args.size() > 2 ? args[2].as_int() : -1;
      return Value::str(replace_all(s, to_str(args[0]), to_str(args[1]), count));
    }
    if (m == "find") {
      if (!a0) fail("find() needs an argument");
      size_t f = s.find(a0->s);
      return Value::integer(f == std::string::npos ? -1 : static_cast<int64_t>(f));
    }
    if (m == "count") {
      if (!a0 || a0->s.empty()) fail("count() needs a non-empty argument");
      int64_t c = 0;
      for (size_t f = s.find(a0->s); f != std::string::npos; f = s.find(a0->s, f + a0->s.size())) ++c;
      return Value::integer(c);
    }
    if (m == "join") {
      if (!a0) fail("join() needs an argument");
      std::string r;
      List items = iterate(*a0);
      for (size_t k = 0; k < items.size(); ++k) r += (k ? s : "") + to_str(items[k]);
      return Value::str(r);
    }
    if (m == "isdigit" || m == "isalpha" || m == "isspace") {
      if (s.empty()) return Value::boolean(false);
      for (unsigned char c : s) {
        bool ok = m == "isdigit" ? std::isdigit(c) : m == "isalpha" ? std::isalpha(c) : std::isspace(c);
        if (!ok) return Value::boolean(false);
      }
      return Value::boolean(true);
    }
    if (m == "splitlines") {
      List parts;
      size_t b = 0;
      for (size_t k = 0; k < s.size(); ++k)
        if (s[k] == '\n') {
          parts.push_back(Value::str(s.substr(b, k - b - (k > b && s[k - 1] == '\r' ? 1 : 0))));
          b = k + 1;
        }
      if (b < s.size()) parts.push_back(Value::str(s.substr(b)));
      return Value::make_list(std::move(parts));
    }
    fail("unsupported string method '" + m + "'");
  }

  Value dict_method(const Value& d, const std::string& m, Args& args, Kwargs& kw) {
    if (m == "items") {
      List l;
      for (const auto& [k, v] : *d.dict) l.push_back(Value::make_list({Value::str(k), v}));
      return Value::make_list(std::move(l));
    }
    if (m == "keys" || m == "values") {
      List l;
      for (const auto& [k, v] : *d.dict) l.push_back(m == "keys" ? Value::str(k) : v);
      return Value::make_list(std::move(l));
    }
    if (m == "get") {
      const Value* key = arg(args, kw, 0, "key");
      if (!key) fail("get() needs a key");
      if (const Value* v = d.find(to_str(*key))) return *v;
      const Value* def = arg(args, kw, 1, "default");
      return def ? *def : Value::none();
    }
    fail("unsupported dict method '" + m + "'");
  }

  Value list_method(const Value& l, const std::string& m, Args& args) {
    if (m == "index" && !args.empty()) {
      for (size_t k = 0; k < l.list->size(); ++k)
        if (equal((*l.list)[k], args[0])) return Value::integer(static_cast<int64_t>(k));
      fail("list.index(): value not in list");
    }
    if (m == "count" && !args.empty()) {
      int64_t c = 0;
      for (const auto& x : *l.list) c += equal(x, args[0]) ? 1 : 0;
      return Value::integer(c);
    }
    fail("unsupported list method '" + m + "' (templates render in an immutable sandbox)");
  }

  static std::string replace_all(std::string s, const std::string& from, const std::string& to, int64_t count) {
    if (from.empty()) return s;
    std::string out;
    size_t b = 0;
    int64_t n = 0;
    for (size_t f = s.find(from); f != std::string::npos && (count < 0 || n < count); f = s.find(from, b), ++n) {
      out.append(s, b, f - b);
      out += to;
      b = f + from.size();
    }
    out.append(s, b, std::string::npos);
    return out;
  }

  Value filter(const Expr& e) {
    Value v = eval(*e.kids[0]);
    Args args;
    Kwargs kwargs;
    eval_args(e, args, kwargs);
    return apply_filter(e.name, v, args, kwargs);
  }

  Value attribute_path(const Value& v, const std::string& path) {
    Value cur = v;
    size_t b = 0;
    for (;;) {
      size_t dot = path.find('.', b);
      cur = get_attr(cur, path.substr(b, dot == std::string::npos ? std::string::npos : dot - b));
      if (dot == std::string::npos) return cur;
      b = dot + 1;
    }
  }

  Value apply_filter(const std::string& f, const Value& v, Args& args, Kwargs& kw) {
    const Value* a0 = arg(args, kw, 0, "");
    if (f == "trim" || f == "strip") return Value::str(strip_chars(to_str(v), a0, true, true));
    if (f == "length" || f == "count") {
      if (v.kind == Value::Kind::String) {
        int64_t n = 0;
        for (unsigned char c : v.s) n += (c & 0xC0) != 0x80;
        return Value::integer(n);
      }
      if (v.kind == Value::Kind::List) return Value::integer(static_cast<int64_t>(v.list->size()));
      if (v.kind == Value::Kind::Dict) return Value::integer(static_cast<int64_t>(v.dict->size()));
      if (v.undefined()) return Value::integer(0);
      fail("length of a value that has none");
    }
    if (f == "tojson") {
      const Value* ind = arg(args, kw, 0, "indent");
      const Value* sk = kwarg(kw, "sort_keys");
      std::string out;
      to_json(out, v, ind && !ind->is_none() ? static_cast<int>(ind->as_int()) : -1, sk && truthy(*sk), 0, where_);
      return Value::str(out);
    }
    if (f == "upper" || f == "lower") return string_method(to_str(v), f, args, kw);
    if (f == "capitalize" || f == "title") {
      std::string s = to_str(v);
      bool start = true;
      for (size_t k = 0; k < s.size(); ++k) {
        auto c = static_cast<unsigned char>(s[k]);
        if (f == "capitalize") s[k] = static_cast<char>(k == 0 ? std::toupper(c) : std::tolower(c));
        else {
          s[k] = static_cast<char>(start ? std::toupper(c) : std::tolower(c));
          start = !std::isalnum(c);
        }
      }
      return Value::str(s);
    }
    if (f == "default" || f == "d") {
      const Value* boolean = arg(args, kw, 1, "boolean");
      bool use_default = v.undefined() || (boolean && truthy(*boolean) && !truthy(v));
      return use_default ? (a0 ? *a0 : Value::str("")) : v;
    }
    if (f == "first" || f == "last") {
      List l = iterate(v);
      if (l.empty()) return {};
      return f == "first" ? l.front() : l.back();
    }
    if (f == "join") {
      std::string sep = a0 ? to_str(*a0) : "";
      const Value* attr = kwarg(kw, "attribute");
      List l = iterate(v);
      std::string out;
      for (size_t k = 0; k < l.size(); ++k) out += (k ? sep : "") + to_str(attr ? attribute_path(l[k], attr->s) : l[k]);
      return Value::str(out);
    }
    if (f == "replace") {
      if (args.size() < 2) fail("replace needs two arguments");
      return Value::str(replace_all(to_str(v), to_str(args[0]), to_str(args[1]), args.size() > 2 ? args[2].as_int() : -1));
    }
    if (f == "string") return Value::str(to_str(v));
    if (f == "safe" || f == "e" || f == "escape") return f == "safe" ? v : Value::str(html_escape(to_str(v)));
    if (f == "int") {
      if (v.is_number()) return Value::integer(v.as_int());
      try {
        return Value::integer(std::stoll(to_str(v)));
      } catch (...) {
        return Value::integer(a0 ? a0->as_int() : 0);
      }
    }
    if (f == "float") {
      if (v.is_number()) return Value::real(v.as_double());
      try {
        return Value::real(std::stod(to_str(v)));
      } catch (...) {
        return Value::real(0.0);
      }
    }
    if (f == "abs") return v.kind == Value::Kind::Float ? Value::real(std::fabs(v.f)) : Value::integer(std::llabs(v.as_int()));
    if (f == "list") return Value::make_list(iterate(v));
    if (f == "items") return v.kind == Value::Kind::Dict ? dict_method(v, "items", args, kw) : Value::make_list();
    if (f == "reverse") {
      if (v.kind == Value::Kind::String) {
        List c = iterate(v);
        std::string s;
        for (auto it = c.rbegin(); it != c.rend(); ++it) s += it->s;
        return Value::str(s);
      }
      List l = iterate(v);
      std::reverse(l.begin(), l.end());
      return Value::make_list(std::move(l));
    }
    if (f == "unique") {
      List out;
      for (const auto& x : iterate(v))
        if (std::none_of(out.begin(), out.end(), [&](const Value& y) { return equal(x, y); })) out.push_back(x);
      return Value::make_list(std::move(out));
    }
    if (f == "sum") {
      Value acc = Value::integer(0);
      for (const auto& x : iterate(v)) acc = arith("+", acc, x);
      return acc;
    }
    if (f == "min" || f == "max") {
      List l = iterate(v);
      if (l.empty()) return {};
      Value best = l[0];
      for (const auto& x : l)
        if (f == "min" ? less(x, best) : less(best, x)) best = x;
      return best;
    }
    if (f == "sort" || f == "dictsort") {
      List l = f == "dictsort" ? *dict_method(v, "items", args, kw).list : iterate(v);
      const Value* attr = kwarg(kw, "attribute");
      const Value* rev = arg(args, kw, 0, "reverse");
      std::stable_sort(l.begin(), l.end(), [&](const Value& x, const Value& y) {
        if (f == "dictsort") return less((*x.list)[0], (*y.list)[0]);
        return attr ? less(attribute_path(x, attr->s), attribute_path(y, attr->s)) : less(x, y);
      });
      if (f == "sort" && rev && truthy(*rev)) std::reverse(l.begin(), l.end());
      return Value::make_list(std::move(l));
    }
    if (f == "map") {
      const Value* attr = kwarg(kw, "attribute");
      List out;
      for (const auto& x : iterate(v)) {
        if (attr) {
          Value r = attribute_path(x, attr->s);
          const Value* def = kwarg(kw, "default");
          out.push_back(r.undefined() && def ? *def : r);
        } else if (!args.empty()) {
          Args rest(args.begin() + 1, args.end());
          Kwargs none;
          out.push_back(apply_filter(to_str(args[0]), x, rest, none));
        }
      }
      return Value::make_list(std::move(out));
    }
    if (f == "selectattr" || f == "rejectattr" || f == "select" || f == "reject") {
      bool by_attr = f == "selectattr" || f == "rejectattr";
      bool keep_if = f == "selectattr" || f == "select";
      List out;
      for (const auto& x : iterate(v)) {
        size_t first_test_arg = by_attr ? 1 : 0;
        Value subject = by_attr ? (a0 ? attribute_path(x, to_str(*a0)) : Value()) : x;
        bool r;
        if (args.size() > first_test_arg) {
          Args rest(args.begin() + static_cast<long>(first_test_arg) + 1, args.end());
          r = run_test(to_str(args[first_test_arg]), subject, rest);
        } else {
          r = truthy(subject);
        }
        if (r == keep_if) out.push_back(x);
      }
      return Value::make_list(std::move(out));
    }
    if (f == "indent") {
      int64_t width = a0 ? a0->as_int() : 4;
      const Value* first = arg(args, kw, 1, "first");
      std::string pad(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
      std::string s = to_str(v), out;
      for (size_t k = 0; k < s.size(); ++k) {
        out += s[k];
        if (s[k] == '\n' && k + 1 < s.size() && s[k + 1] != '\n') out += pad;
      }
      return Value::str(first && truthy(*first) ? pad + out : out);
    }
    if (f == "wordcount") return Value::integer(static_cast<int64_t>(string_method(to_str(v), "split", args, kw).list->size()));
    if (f == "round") {
      int64_t prec = a0 ? a0->as_int() : 0;
      double scale = std::pow(10.0, static_cast<double>(prec));
      return Value::real(std::nearbyint(v.as_double() * scale) / scale);
    }
    fail("unsupported filter '" + f + "'");
  }

  static std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
      }
    }
    return out;
  }

  bool less(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) return a.as_double() < b.as_double();
    if (a.kind == Value::Kind::String && b.kind == Value::Kind::String) return a.s < b.s;
    fail("cannot compare " + repr(a) + " and " + repr(b));
  }

  bool contains(const Value& hay, const Value& needle) {
    switch (hay.kind) {
      case Value::Kind::String:
        if (needle.kind != Value::Kind::String) fail("'in <string>' requires a string on the left");
        return hay.s.find(needle.s) != std::string::npos;
      case Value::Kind::List:
        return std::any_of(hay.list->begin(), hay.list->end(), [&](const Value& x) { return equal(x, needle); });
      case Value::Kind::Dict: return hay.find(to_str(needle)) != nullptr;
      default: fail("'in' on a value that is not a container (" + repr(hay) + ")");
    }
  }

  Value arith(const std::string& op, const Value& a, const Value& b) {
    if (a.undefined() || b.undefined()) fail("'" + op + "' with an undefined value");
    if (op == "+") {
      if (a.kind == Value::Kind::String && b.kind == Value::Kind::String) return Value::str(a.s + b.s);
      if (a.kind == Value::Kind::List && b.kind == Value::Kind::List) {
        List l = *a.list;
        l.insert(l.end(), b.list->begin(), b.list->end());
        return Value::make_list(std::move(l));
      }
    }
    if (op == "*") {
      const Value* str = a.kind == Value::Kind::String ? &a : b.kind == Value::Kind::String ? &b : nullptr;
      const Value* num = str == &a ? &b : &a;
      if (str && num->is_number()) {
        std::string r;
        for (int64_t k = 0; k < num->as_int(); ++k) r += str->s;
        return Value::str(r);
      }
    }
    if (!a.is_number() || !b.is_number()) fail("unsupported operands for '" + op + "': " + repr(a) + " and " + repr(b));
    bool fl = a.kind == Value::Kind::Float || b.kind == Value::Kind::Float;
    double x = a.as_double(), y = b.as_double();
    if (op == "/") {
      if (y == 0) fail("division by zero");
      return Value::real(x / y);
    }
    if (op == "//" || op == "%") {
      if (y == 0) fail("division by zero");
      if (fl) return Value::real(op == "//" ? std::floor(x / y) : x - std::floor(x / y) * y);
      int64_t p = a.as_int(), q = b.as_int();
      int64_t d = p / q;
      if ((p % q != 0) && ((p < 0) != (q < 0))) --d;  // Python floors
      return Value::integer(op == "//" ? d : p - d * q);
    }
    if (op == "**") return fl ? Value::real(std::pow(x, y)) : Value::integer(static_cast<int64_t>(std::pow(x, y)));
    if (fl) return Value::real(op == "+" ? x + y : op == "-" ? x - y : x * y);
    int64_t p = a.as_int(), q = b.as_int();
    return Value::integer(op == "+" ? p + q : op == "-" ? p - q : p * q);
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value l = eval(*e.kids[0]);
      return truthy(l) ? eval(*e.kids[1]) : l;
    }
    if (op == "or") {
      Value l = eval(*e.kids[0]);
      return truthy(l) ? l : eval(*e.kids[1]);
    }
    Value a = eval(*e.kids[0]), b = eval(*e.kids[1]);
    if (op == "~") return Value::str(to_str(a) + to_str(b));
    if (op == "==") return Value::boolean(equal(a, b));
    if (op == "!=") return Value::boolean(!equal(a, b));
    if (op == "<") return Value::boolean(less(a, b));
    if (op == ">") return Value::boolean(less(b, a));
    if (op == "<=") return Value::boolean(!less(b, a));
    if (op == ">=") return Value::boolean(!less(a, b));
    if (op == "in") return Value::boolean(contains(b, a));
    if (op == "not in") return Value::boolean(!contains(b, a));
    return arith(op, a, b);
  }

  bool test(const Expr& e) {
    Value v = eval(*e.kids[0]);
    Args args;
    Kwargs kwargs;
    eval_args(e, args, kwargs);
    return run_test(e.name, v, args);
  }

  bool run_test(const std::string& t, const Value& v, const Args& args) {
    using K = Value::Kind;
    if (t == "defined") return !v.undefined();
    if (t == "undefined") return v.undefined();
    if (t == "none") return v.is_none();
    if (t == "boolean") return v.kind == K::Bool;
    if (t == "true") return v.kind == K::Bool && v.b;
    if (t == "false") return v.kind == K::Bool && !v.b;
    if (t == "integer") return v.kind == K::Int;
    if (t == "float") return v.kind == K::Float;
    if (t == "number") return v.kind == K::Int || v.kind == K::Float;
    if (t == "string") return v.kind == K::String;
    if (t == "mapping") return v.kind == K::Dict;
    if (t == "iterable") return v.kind == K::List || v.kind == K::Dict || v.kind == K::String;
    if (t == "sequence") return v.kind == K::List || v.kind == K::Dict || v.kind == K::String;
    if (t == "callable") return v.kind == K::Func;
    if (t == "odd" || t == "even") return (v.as_int() % 2 != 0) == (t == "odd");
    if (t == "lower" || t == "upper") {
      std::string s = to_str(v);
      return std::none_of(s.begin(), s.end(), [&](char c) {
        return t == "lower" ? std::isupper(static_cast<unsigned char>(c)) : std::islower(static_cast<unsigned char>(c));
      });
    }
    if (args.empty()) fail("test '" + t + "' is unsupported or needs an argument");
    if (t == "eq" || t == "equalto" || t == "==" || t == "sameas") return equal(v, args[0]);
    if (t == "ne" || t == "!=") return !equal(v, args[0]);
    if (t == "lt" || t == "lessthan" || t == "<") return less(v, args[0]);
    if (t == "gt" || t == "greaterthan" || t == ">") return less(args[0], v);
    if (t == "le" || t == "<=") return !less(args[0], v);
    if (t == "ge" || t == ">=") return !less(v, args[0]);
    if (t == "in") return contains(args[0], v);
    if (t == "divisibleby") return args[0].as_int() != 0 && v.as_int() % args[0].as_int() == 0;
    fail("unsupported test '" + t + "'");
  }

 private:
  const std::string& where_;
  std::string* out_;
};

}  // namespace

struct ChatTemplate::Impl {
  std::string source, origin;
  Body body;
  nlohmann::json defaults = nlohmann::json::object();  // special tokens from tokenizer_config.json
};

ChatTemplate::ChatTemplate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;
const std::string& ChatTemplate::source() const { return impl_->source; }

ChatTemplate ChatTemplate::parse(const std::string& source, const std::string& origin) {
  auto impl = std::make_unique<Impl>();
  impl->source = source;
  impl->origin = origin;
  impl->body = TemplateParser(lex_template(source, origin), origin).parse_all();
  return ChatTemplate(std::move(impl));
}

ChatTemplate ChatTemplate::from_tokenizer_config(const std::string& path) {
  Json config = read_json_file(path);
  if (!config.is_object() || !config.contains("chat_template"))
    throw InputError(path, "chat_template", "missing (this tokenizer_config.json has no chat template)");
  const Json& t = config["chat_template"];
  std::string source;
  if (t.is_string()) {
    source = t.get<std::string>();
  } else if (t.is_array()) {  // [{"name": "default", "template": …}, {"name": "tool_use", …}]
    for (const auto& entry : t)
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string())
        source = entry["template"].get<std::string>();
    if (source.empty()) throw InputError(path, "chat_template", "no template named 'default' in the list");
  } else {
    throw InputError(path, "chat_template", "expected a string or a list of {name, template}");
  }
  ChatTemplate tpl = parse(source, path);
  // transformers renders with the tokenizer's special tokens as variables (bos_token, eos_token, …).
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    if (!config.contains(key)) continue;
    const Json& v = config[key];
    if (v.is_string()) tpl.impl_->defaults[key] = v;
    else if (v.is_object() && v.contains("content") && v["content"].is_string()) tpl.impl_->defaults[key] = v["content"];
  }
  return tpl;
}

ChatTemplate ChatTemplate::for_model(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (p.extension() == ".gguf") {
    GgufFile gguf = GgufFile::open(path);
    auto src = gguf.chat_template();
    if (!src) throw InputError(path, "tokenizer.chat_template", "missing (this GGUF carries no chat template)");
    ChatTemplate tpl = parse(*src, path + ": tokenizer.chat_template");
    VocabSpec v = gguf.vocab();
    if (v.bos_id && static_cast<size_t>(*v.bos_id) < v.tokens.size()) tpl.impl_->defaults["bos_token"] = v.tokens[*v.bos_id];
    if (v.eos_id && static_cast<size_t>(*v.eos_id) < v.tokens.size()) tpl.impl_->defaults["eos_token"] = v.tokens[*v.eos_id];
    return tpl;
  }
  fs::path config;
  if (fs::is_directory(p, ec)) config = p / "tokenizer_config.json";
  else if (p.filename() == "tokenizer_config.json") config = p;
  else config = p.parent_path() / "tokenizer_config.json";
  if (!fs::exists(config, ec))
    throw InputError(path, "chat_template", "no tokenizer_config.json at " + config.string() + " to take it from");
  return from_tokenizer_config(config.string());
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                const nlohmann::json& extra) const {
  std::string out;
  Renderer r(impl_->origin, out);
  std::unordered_map<std::string, Value> globals;
  List msgs;
  for (const auto& m : messages)
    msgs.push_back(Value::make_dict({{"role", Value::str(m.role)}, {"content", Value::str(m.content)}}));
  globals["messages"] = Value::make_list(std::move(msgs));
  globals["add_generation_prompt"] = Value::boolean(add_generation_prompt);
  // transformers always passes these, as None when the caller gives none.
  globals["tools"] = Value::none();
  globals["documents"] = Value::none();
  for (const auto& [k, v] : impl_->defaults.items()) globals[k] = from_json(v);
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) globals[k] = from_json(v);
  r.frames.push_back(std::move(globals));
  r.frames.emplace_back();  // the template's own top-level scope
  r.render(impl_->body);
  return out;
}

}  // namespace crucible::text
