// Statements ({% if/for/set/macro/... %}) into a tree, expressions by precedence climbing in Jinja's own order
// (if-else < or < and < not < comparisons and in < + - < ~ < * / // % < ** < unary < filters and tests < postfix).
#pragma once
#include <string>

#include "model/text/jinja/ast.h"

namespace crucible::text::jinja {

// InputError naming `where` (field "chat_template") on a syntax error.
Body parse_template(const std::string& source, const std::string& where);

}  // namespace crucible::text::jinja
