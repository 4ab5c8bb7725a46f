#include "model/text/jinja/render.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

#include "model/text/text_util.h"

namespace crucible::text::jinja {

// A template can store a namespace inside itself ({% set ns.me = ns %}): a shared_ptr cycle. Namespaces never
// outlive the render (its result is a string), so emptying them here frees every cycle, on errors too.
Renderer::~Renderer() {
  for (auto& ns : namespaces_) ns->clear();
}

Value Renderer::lookup(const std::string& name) const {
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    auto f = it->find(name);
    if (f != it->end()) return f->second;
  }
  return {};
}

Flow Renderer::render(const Body& body) {
  for (const auto& n : body) {
    Flow f = render(*n);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Flow Renderer::render(const Node& n) {
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

void Renderer::assign_key(Dict& d, const std::string& key, Value v) {
  for (auto& [k, x] : d)
    if (k == key) {
      x = std::move(v);
      return;
    }
  d.emplace_back(key, std::move(v));
}

List Renderer::iterate(const Value& v) {
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

Flow Renderer::render_for(const Node& n) {
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

void Renderer::bind_targets(const Node& n, const Value& item) {
  if (n.targets.size() == 1) {
    frames.back()[n.targets[0]] = item;
    return;
  }
  List parts = iterate(item);
  if (parts.size() != n.targets.size())
    fail("for: cannot unpack " + std::to_string(parts.size()) + " values into " + std::to_string(n.targets.size()));
  for (size_t k = 0; k < parts.size(); ++k) frames.back()[n.targets[k]] = parts[k];
}

void Renderer::define_macro(const Node& n) {
  const Node* node = &n;
  Renderer* self = this;
  frames.back()[n.targets[0]] = Value::function([self, node](Args& args, Kwargs& kwargs) {
    if (self->frames.size() > 256) self->fail("macro '" + node->targets[0] + "' recurses too deeply");
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

Value Renderer::eval(const Expr& e) {
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
      if (v.kind != Value::Kind::Float && v.as_int() == INT64_MIN) fail("integer overflow");
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

Value Renderer::get_attr(const Value& obj, const std::string& name) {
  if (obj.kind == Value::Kind::Dict) {
    if (const Value* v = obj.find(name)) return *v;
    return {};
  }
  if (obj.kind == Value::Kind::List && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])))
    return get_item(obj, Value::integer(std::stoll(name)));
  return {};
}

Value Renderer::get_item(const Value& obj, const Value& key) {
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

Value Renderer::slice(const Expr& e) {
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

void Renderer::eval_args(const Expr& e, Args& args, Kwargs& kwargs) {
  for (size_t k = 1; k < e.kids.size(); ++k) args.push_back(eval(*e.kids[k]));
  for (const auto& [n, x] : e.kwargs) kwargs.emplace_back(n, eval(*x));
}

const Value* Renderer::kwarg(const Kwargs& kw, const char* name) {
  for (const auto& [n, v] : kw)
    if (n == name) return &v;
  return nullptr;
}

const Value* Renderer::arg(const Args& args, const Kwargs& kw, size_t pos, const char* name) {
  if (pos < args.size()) return &args[pos];
  return kwarg(kw, name);
}

Value Renderer::call(const Expr& e) {
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

Value Renderer::global_function(const std::string& name, Args& args, Kwargs& kwargs) {
  if (name == "raise_exception") fail(args.empty() ? "raise_exception()" : to_str(args[0]));
  if (name == "namespace") {
    Value ns = Value::make_dict();
    ns.is_namespace = true;
    namespaces_.push_back(ns.dict);
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
    long double span = (static_cast<long double>(stop) - start) / step;
    if (span > 1e6) fail("range() of more than a million items");
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

Value Renderer::attribute_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t b = 0;
  for (;;) {
    size_t dot = path.find('.', b);
    cur = get_attr(cur, path.substr(b, dot == std::string::npos ? std::string::npos : dot - b));
    if (dot == std::string::npos) return cur;
    b = dot + 1;
  }
}

bool Renderer::less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() < b.as_double();
  if (a.kind == Value::Kind::String && b.kind == Value::Kind::String) return a.s < b.s;
  fail("cannot compare " + repr(a) + " and " + repr(b));
}

bool Renderer::contains(const Value& hay, const Value& needle) {
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

Value Renderer::arith(const std::string& op, const Value& a, const Value& b) {
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
      if (num->as_int() > 0 && str->s.size() * static_cast<uint64_t>(std::min<int64_t>(num->as_int(), 1 << 30)) > (64u << 20))
        fail("string repetition beyond 64 MiB");
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
    if (p == INT64_MIN && q == -1) fail("integer overflow");
    int64_t d = p / q;
    if ((p % q != 0) && ((p < 0) != (q < 0))) --d;  // Python floors
    return Value::integer(op == "//" ? d : p - d * q);
  }
  // Python integers do not overflow; ours are 64-bit, so an overflow is an error rather than a wrong number.
  if (op == "**") {
    double r = std::pow(x, y);
    if (fl || y < 0) return Value::real(r);
    if (!(std::fabs(r) < 9.2e18)) fail("integer overflow");
    return Value::integer(static_cast<int64_t>(r));
  }
  if (fl) return Value::real(op == "+" ? x + y : op == "-" ? x - y : x * y);
  int64_t p = a.as_int(), q = b.as_int(), r = 0;
  bool overflow = op == "+" ? __builtin_add_overflow(p, q, &r) : op == "-" ? __builtin_sub_overflow(p, q, &r)
                                                                        : __builtin_mul_overflow(p, q, &r);
  if (overflow) fail("integer overflow");
  return Value::integer(r);
}

Value Renderer::binary(const Expr& e) {
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

bool Renderer::test(const Expr& e) {
  Value v = eval(*e.kids[0]);
  Args args;
  Kwargs kwargs;
  eval_args(e, args, kwargs);
  return run_test(e.name, v, args);
}

}  // namespace crucible::text::jinja
