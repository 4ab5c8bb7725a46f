#include "model/text/jinja/parser.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "model/text/jinja/lexer.h"

namespace crucible::text::jinja {
namespace {

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
    // Nesting is bounded so a hostile template fails with a message instead of exhausting the stack.
    if (++depth_ > 200) fail("expression nested too deeply");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
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
  int depth_ = 0;
  std::string where_, src_;
};

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
    if (a == std::string::npos) return "";
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
    if (++depth_ > 100) throw InputError(where_, "chat_template", "blocks nested too deeply");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
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
  int depth_ = 0;
  std::string where_;
};

}  // namespace

Body parse_template(const std::string& source, const std::string& where) {
  return TemplateParser(lex_template(source, where), where).parse_all();
}

}  // namespace crucible::text::jinja
