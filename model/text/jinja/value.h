// Template values with Python's semantics where a template can tell the difference (truthiness, str(), repr(),
// ==, json.dumps). Lists and dicts are shared on copy, as Python's are: a namespace() mutated in a loop is seen by
// every reference to it.
#pragma once
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace crucible::text::jinja {

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
  int64_t as_int() const {
    if (kind == Kind::Float) {  // saturate: casting an out-of-range double is undefined behaviour
      if (std::isnan(f)) return 0;
      if (f >= 9.2e18) return INT64_MAX;
      if (f <= -9.2e18) return INT64_MIN;
      return static_cast<int64_t>(f);
    }
    return kind == Kind::Bool ? (b ? 1 : 0) : i;
  }
  const Value* find(const std::string& key) const {
    if (kind != Kind::Dict) return nullptr;
    for (const auto& [k, v] : *dict)
      if (k == key) return &v;
    return nullptr;
  }
};

Value from_json(const nlohmann::json& j);  // objects keep nlohmann's (sorted) key order
bool truthy(const Value& v);
std::string to_str(const Value& v);  // str(v) as Jinja prints it
std::string repr(const Value& v);
// Python's json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sort_keys) appended to `out`; a function
// value is an InputError naming `where`. indent < 0: one line, ", " and ": " separators.
void write_json(std::string& out, const Value& v, int indent, bool sort_keys, int level, const std::string& where);
bool equal(const Value& a, const Value& b);

}  // namespace crucible::text::jinja
