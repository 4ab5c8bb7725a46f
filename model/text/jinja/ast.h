// The syntax tree the parser builds and the renderer walks.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/text/jinja/value.h"

namespace crucible::text::jinja {

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

}  // namespace crucible::text::jinja
