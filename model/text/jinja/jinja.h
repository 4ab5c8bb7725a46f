// A small Jinja interpreter for chat templates: the folder's front door. It covers what real checkpoint templates
// use (if/elif/else, for with loop.*, set incl. namespace attributes and block set, macros, break/continue, filters,
// tests, string/dict methods, slices, raise_exception, strftime_now) with the environment transformers renders with:
// trim_blocks=True, lstrip_blocks=True, and a tojson that is json.dumps(ensure_ascii=False) rather than Jinja's
// HTML-safe one.
//
// Flow: lexer (source -> text/expression/statement pieces, whitespace rules applied) -> parser (pieces -> tree,
// expressions by precedence climbing) -> render (walk the tree; filters.cpp holds filters, tests and methods), over
// the Python-like values of value.h.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/text/jinja/value.h"

namespace crucible::text::jinja {

struct Node;
using Globals = std::unordered_map<std::string, Value>;

class Template {
 public:
  // Parses once; InputError naming `where` (field "chat_template") on a syntax error.
  static Template parse(const std::string& source, const std::string& where);
  // Renders with `globals` as the outermost scope; runtime errors (raise_exception included) are InputErrors naming
  // `where`. Rendering does not change the template: one parse serves any number of renders.
  std::string render(Globals globals) const;

 private:
  std::shared_ptr<const std::vector<std::shared_ptr<Node>>> body_;
  std::string where_;
};

}  // namespace crucible::text::jinja
