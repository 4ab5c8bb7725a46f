// Filters, tests and the methods of str, dict and list that real chat templates call, with Python's results.
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "model/text/jinja/render.h"

namespace crucible::text::jinja {
namespace {

std::string strip_chars(const std::string& s, const Value* chars, bool left, bool right) {
  std::string set = chars && chars->kind == Value::Kind::String ? chars->s : std::string(" \t\n\r\f\v");
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && set.find(s[b]) != std::string::npos) ++b;
  if (right)
    while (e > b && set.find(s[e - 1]) != std::string::npos) --e;
  return s.substr(b, e - b);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to, int64_t count) {
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

std::string html_escape(const std::string& s) {
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

}  // namespace

Value Renderer::string_method(const std::string& s, const std::string& m, Args& args, Kwargs& kw) {
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

Value Renderer::dict_method(const Value& d, const std::string& m, Args& args, Kwargs& kw) {
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

Value Renderer::list_method(const Value& l, const std::string& m, Args& args) {
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

Value Renderer::filter(const Expr& e) {
  Value v = eval(*e.kids[0]);
  Args args;
  Kwargs kwargs;
  eval_args(e, args, kwargs);
  return apply_filter(e.name, v, args, kwargs);
}

Value Renderer::apply_filter(const std::string& f, const Value& v, Args& args, Kwargs& kw) {
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
    write_json(out, v, ind && !ind->is_none() ? static_cast<int>(ind->as_int()) : -1, sk && truthy(*sk), 0, where_);
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
  if (f == "abs") return v.kind == Value::Kind::Float ? Value::real(std::fabs(v.f)) : Value::integer(v.as_int() == INT64_MIN ? INT64_MAX : std::llabs(v.as_int()));
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
    int64_t width = std::min<int64_t>(a0 ? a0->as_int() : 4, 1000);
    const Value* first = arg(args, kw, 1, "first");
    std::string pad(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
    std::string s = to_str(v), out;
    for (size_t k = 0; k < s.size(); ++k) {
      out += s[k];
      if (s[k] == '\n' && k + 1 < s.size() && s[k + 1] != '\n') out += pad;
    }
    return Value::str(first && truthy(*first) ? pad + out : out);
  }
  if (f == "wordcount") {  // Jinja counts runs of \w (Unicode letters, digits, underscore)
    std::string s = to_str(v);
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(s);
    int64_t words = 0;
    bool in_word = false;
    for (int32_t k = 0; k < u.length(); k = u.moveIndex32(k, 1)) {
      UChar32 c = u.char32At(k);
      bool w = c == '_' || u_isalnum(c);
      if (w && !in_word) ++words;
      in_word = w;
    }
    return Value::integer(words);
  }
  if (f == "round") {
    int64_t prec = a0 ? a0->as_int() : 0;
    double scale = std::pow(10.0, static_cast<double>(prec));
    return Value::real(std::nearbyint(v.as_double() * scale) / scale);
  }
  fail("unsupported filter '" + f + "'");
}

bool Renderer::run_test(const std::string& t, const Value& v, const Args& args) {
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
  if (t == "divisibleby") {
    int64_t q = args[0].as_int();
    return q == -1 || (q != 0 && v.as_int() % q == 0);
  }
  fail("unsupported test '" + t + "'");
}

}  // namespace crucible::text::jinja
