#include "tests/verifiers/math/suite_golds.h"

#include <filesystem>

#include "core/json_io.h"
#include "tests/support/test_support.h"
#include "verifiers/math/math_verifier.h"

namespace crucible::testing {
namespace {

std::optional<std::string> boxed_of(const std::string& solution) {
  auto e = verifiers::extract_answer(solution, {verifiers::ExtractRule::boxed});
  if (!e) return std::nullopt;
  return e->text;
}

std::string field_text(const Json& j, const std::string& name) {
  if (!j.contains(name)) return {};
  const Json& v = j[name];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// OlympiadBench stores lists as Python reprs: "['$69$,$84$']", "['$\\\\frac{1}{2}$']".
std::vector<std::string> python_list(const std::string& s) {
  std::vector<std::string> out;
  if (s.size() < 4 || s.front() != '[' || s.back() != ']') return {s};
  std::string body = s.substr(1, s.size() - 2);
  size_t pos = 0;
  while (pos < body.size()) {
    char q = body[pos];
    if (q != '\'' && q != '"') break;
    size_t end = body.find(std::string(1, q) + ", " + q, pos + 1);
    if (end == std::string::npos) end = body.rfind(q);
    if (end == std::string::npos || end <= pos) break;
    // Python's repr doubles backslashes: "\\\\frac" stands for "\\frac".
    std::string item = body.substr(pos + 1, end - pos - 1), unescaped;
    for (size_t k = 0; k < item.size(); ++k) {
      if (item[k] == '\\' && k + 1 < item.size() && item[k + 1] == '\\') ++k;
      unescaped += item[k];
    }
    out.push_back(unescaped);
    pos = end + 3;
  }
  return out;
}

std::string strip_dollars(std::string s) {
  std::string out;
  for (char c : s)
    if (c != '$') out += c;
  return out;
}

}  // namespace

std::vector<GoldCase> load_gold_cases() {
  std::vector<GoldCase> out;
  std::string d = shared_dir() + "/data/";
  auto each = [&](const std::string& rel, const auto& fn) {
    if (!std::filesystem::exists(d + rel)) return;
    size_t i = 0;
    for_each_jsonl_file(d + rel, [&](const Json& j, const std::string&) { fn(j, i++); });
  };
  each("math500/test.jsonl", [&](const Json& j, size_t) {
    out.push_back({"math500", field_text(j, "unique_id"), field_text(j, "answer"), boxed_of(field_text(j, "solution"))});
  });
  each("aime24/test.jsonl", [&](const Json& j, size_t) {
    out.push_back({"aime24", field_text(j, "id"), field_text(j, "answer"), boxed_of(field_text(j, "solution"))});
  });
  each("aime25/test.jsonl", [&](const Json& j, size_t) {
    out.push_back({"aime25", field_text(j, "id"), field_text(j, "answer"), std::nullopt});
  });
  each("amc23/test.jsonl", [&](const Json& j, size_t) {
    out.push_back({"amc23", field_text(j, "id"), field_text(j, "answer"), std::nullopt});
  });
  each("minerva_math/test.jsonl", [&](const Json& j, size_t) {
    // Minerva's gold is the boxed answer of its solution (as in Qwen2.5-Math's evaluation): self-agreement only.
    auto b = boxed_of(field_text(j, "solution"));
    out.push_back({"minerva", field_text(j, "idx"), b.value_or(""), std::nullopt});
  });
  each("olympiadbench/test.jsonl", [&](const Json& j, size_t) {
    std::string joined;
    for (const auto& a : python_list(field_text(j, "final_answer"))) {
      if (!joined.empty()) joined += ", ";
      joined += strip_dollars(a);
    }
    out.push_back({"olympiadbench", field_text(j, "id"), joined, std::nullopt});
  });
  each("gsm8k/test.jsonl", [&](const Json& j, size_t i) {
    std::string a = field_text(j, "answer");
    size_t h = a.rfind("####");
    std::string gold = h == std::string::npos ? "" : a.substr(h + 4);
    while (!gold.empty() && gold.front() == ' ') gold.erase(0, 1);
    out.push_back({"gsm8k", std::to_string(i), gold, a});
  });
  return out;
}

}  // namespace crucible::testing
