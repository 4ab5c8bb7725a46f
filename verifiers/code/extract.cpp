#include "verifiers/code/extract.h"

#include <vector>

namespace crucible::verifiers::code {
namespace {

struct Block {
  std::string lang;
  std::string body;
};

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

std::vector<Block> fenced_blocks(std::string_view text) {
  std::vector<Block> blocks;
  bool inside = false;
  Block current;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    std::string_view t = trim(line);
    if (t.rfind("```", 0) == 0) {
      if (!inside) {
        inside = true;
        current = Block{};
        std::string_view lang = trim(t.substr(3));
        for (char c : lang) current.lang.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      } else if (trim(t.substr(3)).empty()) {
        inside = false;
        blocks.push_back(std::move(current));
      } else {
        // "```python" while inside a block: the previous one was never closed; start over from here.
        current = Block{};
        std::string_view lang = trim(t.substr(3));
        for (char c : lang) current.lang.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
    } else if (inside) {
      current.body.append(line);
      current.body.push_back('\n');
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return blocks;
}

bool is_python_tag(const std::string& lang) { return lang == "python" || lang == "python3" || lang == "py"; }

// Holds at least one line that is neither blank nor a comment.
bool has_code(const std::string& body) {
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    std::string_view line = trim(std::string_view(body).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (!line.empty() && line[0] != '#') return true;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return false;
}

}  // namespace

std::optional<std::string> extract_code(std::string_view answer) {
  std::vector<Block> blocks = fenced_blocks(answer);
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    if (is_python_tag(it->lang) && has_code(it->body)) return it->body;
  }
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    if (has_code(it->body)) return it->body;
  }
  return std::nullopt;
}

}  // namespace crucible::verifiers::code
