// Lexing, in two levels: the template source into text / {{ expression }} / {% statement %} pieces, applying
// transformers' whitespace rules (trim_blocks, lstrip_blocks, "-" and "+" modifiers, {% raw %}); then the inside of
// one expression or statement into tokens. Errors are InputErrors naming `where` and the field "chat_template".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crucible::text::jinja {

struct Piece {
  enum class Kind { Text, Expr, Stmt } kind;
  std::string text;
  size_t offset;  // in the source, for messages
};

std::vector<Piece> lex_template(const std::string& src, const std::string& where);

struct Tok {
  enum class Kind { Name, String, Int, Float, Op, End } kind;
  std::string text;
  int64_t i = 0;
  double f = 0;
};

std::vector<Tok> lex_expr(const std::string& s, const std::string& where);

}  // namespace crucible::text::jinja
