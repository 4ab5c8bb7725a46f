// Rendering walks the tree with a stack of scopes (globals, the template's top level, one per loop iteration or
// macro call). Its methods live in two files: render.cpp (statements, expressions, operators, calls, global
// functions) and filters.cpp (filters, tests, and the str/dict/list methods templates call).
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "model/text/jinja/ast.h"

namespace crucible::text::jinja {

enum class Flow { Normal, Break, Continue };

class Renderer {
 public:
  Renderer(const std::string& where, std::string& out) : where_(where), out_(&out) {}
  // A template can store a namespace inside itself ({% set ns.me = ns %}): a shared_ptr cycle. Namespaces never
  // outlive the render (its result is a string), so emptying them here frees every cycle, on errors too.
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  std::vector<std::unordered_map<std::string, Value>> frames;

  [[noreturn]] void fail(const std::string& m) const { throw InputError(where_, "chat_template", m); }

  // render.cpp
  Value lookup(const std::string& name) const;
  Flow render(const Body& body);
  Flow render(const Node& n);
  static void assign_key(Dict& d, const std::string& key, Value v);
  List iterate(const Value& v);
  Flow render_for(const Node& n);
  void bind_targets(const Node& n, const Value& item);
  void define_macro(const Node& n);

  Value eval(const Expr& e);
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  Value slice(const Expr& e);
  void eval_args(const Expr& e, Args& args, Kwargs& kwargs);
  static const Value* kwarg(const Kwargs& kw, const char* name);
  static const Value* arg(const Args& args, const Kwargs& kw, size_t pos, const char* name);
  Value call(const Expr& e);
  Value global_function(const std::string& name, Args& args, Kwargs& kwargs);
  Value attribute_path(const Value& v, const std::string& path);
  bool less(const Value& a, const Value& b);
  bool contains(const Value& hay, const Value& needle);
  Value arith(const std::string& op, const Value& a, const Value& b);
  Value binary(const Expr& e);
  bool test(const Expr& e);

  // filters.cpp
  Value string_method(const std::string& s, const std::string& m, Args& args, Kwargs& kw);
  Value dict_method(const Value& d, const std::string& m, Args& args, Kwargs& kw);
  Value list_method(const Value& l, const std::string& m, Args& args);
  Value filter(const Expr& e);
  Value apply_filter(const std::string& f, const Value& v, Args& args, Kwargs& kw);
  bool run_test(const std::string& t, const Value& v, const Args& args);

 private:
  const std::string& where_;
  std::string* out_;
  std::vector<std::shared_ptr<Dict>> namespaces_;
};

}  // namespace crucible::text::jinja
