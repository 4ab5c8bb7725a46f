#include "model/text/jinja/lexer.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include "core/error.h"
#include "model/text/text_util.h"

namespace crucible::text::jinja {

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
      // The first "{%[-] endraw" after the raw tag closes it.
      size_t tag = pos, end = std::string::npos;
      for (; (tag = src.find("{%", tag)) != std::string::npos; tag += 2) {
        size_t w = tag + 2 + (tag + 2 < src.size() && (src[tag + 2] == '-' || src[tag + 2] == '+') ? 1 : 0);
        while (w < src.size() && is_ws(src[w])) ++w;
        if (src.compare(w, 6, "endraw") == 0) {
          end = w;
          break;
        }
      }
      if (end == std::string::npos) throw InputError(where, "chat_template", "{% raw %} without {% endraw %}");
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
      try {
        if (is_float) t.f = std::stod(num);
        else t.i = std::stoll(num);
      } catch (const std::exception&) {
        err("number out of range");
      }
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
            uint32_t cp = 0;
            for (size_t h = 0; h < n; ++h) {
              char x = s[k + h];
              if (!std::isxdigit(static_cast<unsigned char>(x))) err("bad escape");
              cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(x)) ? x - '0' : (x | 0x20) - 'a' + 10);
            }
            detail::append_utf8(out, cp);
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

}  // namespace crucible::text::jinja
