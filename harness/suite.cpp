#include "harness/suite.h"

#include <fmt/format.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/json_io.h"
#include "core/sha256.h"

namespace crucible::harness {

const char* grader_name(GraderKind g) {
  switch (g) {
    case GraderKind::math: return "math";
    case GraderKind::choice: return "choice";
    case GraderKind::code: return "code";
  }
  return "?";
}

namespace {

const std::vector<std::string> kBoxedFirst = {"boxed", "final_answer", "answer_line", "bold"};
const std::vector<std::string> kWithLastNumber = {"boxed", "final_answer", "answer_line", "bold", "last_number"};

// A JSON number as an answer string: 27.0 -> "27", 0.25 -> "0.25".
std::string number_to_answer(const Json& v, const std::string& where, const std::string& field) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return std::to_string(static_cast<int64_t>(d));
    return fmt::format("{}", d);
  }
  if (v.is_string()) return v.get<std::string>();
  throw InputError(where, field, std::string("expected a number or a string, got ") + v.type_name());
}

// AIME answers are integers 0..999 written with leading zeros in some copies ("025"): compare as integers.
std::string strip_leading_zeros(std::string s) {
  size_t i = 0;
  while (i + 1 < s.size() && s[i] == '0') ++i;
  return s.substr(i);
}

const std::string kR1Suffix = "\nPlease reason step by step, and put your final answer within \\boxed{}.";

using Loader = std::function<void(const Json&, const std::string&, Problem&)>;

void load_aime24(const Json& r, const std::string& where, Problem& p) {
  p.key = "aime24-" + std::to_string(require_int(r, "id", where));
  p.question = require_string(r, "problem", where);
  p.gold = strip_leading_zeros(number_to_answer(require_field(r, "answer", where), where, "answer"));
  if (auto url = optional_string(r, "url", where)) p.meta["url"] = *url;
}

void load_aime25(const Json& r, const std::string& where, Problem& p) {
  // The QwQ copy is the clean text (no form-feed damage); its prompt carries the R1 suffix, which we strip so the
  // preset decides the prompt.
  std::string prompt = require_string(r, "prompt", where);
  if (prompt.size() >= kR1Suffix.size() && prompt.compare(prompt.size() - kR1Suffix.size(), kR1Suffix.size(), kR1Suffix) == 0)
    prompt.resize(prompt.size() - kR1Suffix.size());
  p.key = "aime25-" + std::to_string(p.idx);
  p.question = prompt;
  p.gold = strip_leading_zeros(number_to_answer(require_field(r, "answer", where), where, "answer"));
}

void load_math500(const Json& r, const std::string& where, Problem& p) {
  p.key = require_string(r, "unique_id", where);
  p.question = require_string(r, "problem", where);
  p.gold = require_string(r, "answer", where);
  p.meta["subject"] = require_string(r, "subject", where);
  p.meta["level"] = require_int(r, "level", where);
}

void load_gsm8k(const Json& r, const std::string& where, Problem& p) {
  p.key = "gsm8k-" + std::to_string(p.idx);
  p.question = require_string(r, "question", where);
  std::string answer = require_string(r, "answer", where);
  auto pos = answer.rfind("####");
  if (pos == std::string::npos) throw InputError(where, "answer", "no '####' final answer marker");
  std::string gold;
  for (char c : answer.substr(pos + 4))
    if (c != ',' && c != ' ' && c != '\n' && c != '\r') gold += c;
  if (gold.empty()) throw InputError(where, "answer", "empty final answer after '####'");
  p.gold = gold;
}

void load_amc23(const Json& r, const std::string& where, Problem& p) {
  p.key = "amc23-" + std::to_string(require_int(r, "id", where));
  p.question = require_string(r, "problem", where);
  p.gold = number_to_answer(require_field(r, "answer", where), where, "answer");
}

void load_minerva(const Json& r, const std::string& where, Problem& p) {
  p.key = "minerva-" + std::to_string(require_int(r, "idx", where));
  p.question = require_string(r, "problem", where);
  std::string solution = require_string(r, "solution", where);
  p.gold = last_boxed(solution);
  if (!p.gold) throw InputError(where, "solution", "no \\boxed{} answer in the reference solution");
  p.meta["type"] = require_string(r, "type", where);
}

void load_olympiadbench(const Json& r, const std::string& where, Problem& p) {
  p.key = "olympiadbench-" + std::to_string(require_int(r, "id", where));
  std::string question = require_string(r, "question", where);
  if (auto ctx = optional_string(r, "context", where); ctx && !ctx->empty()) question = *ctx + "\n" + question;
  p.question = question;
  const Json& finals = require_field(r, "final_answer", where);
  if (!finals.is_array() || finals.empty() || !finals[0].is_string())
    throw InputError(where, "final_answer", "expected a non-empty list of strings");
  std::string gold = finals[0].get<std::string>();
  // Qwen2.5-Math's grader uses final_answer[0].strip("$").
  size_t b = gold.find_first_not_of('$'), e = gold.find_last_not_of('$');
  p.gold = b == std::string::npos ? std::string() : gold.substr(b, e - b + 1);
  p.meta["answer_type"] = r.value("answer_type", "");
  p.meta["is_multiple_answer"] = r.value("is_multiple_answer", false);
  if (r.contains("unit") && r["unit"].is_string()) p.meta["unit"] = r["unit"];
}

void load_gpqa(const Json& r, const std::string& where, Problem& p) {
  p.key = require_string(r, "record_id", where);
  p.question = require_string(r, "question", where);
  p.gold = require_string(r, "correct_answer", where);
  const Json& wrong = require_field(r, "incorrect_answers", where);
  if (!wrong.is_array() || wrong.size() != 3) throw InputError(where, "incorrect_answers", "expected 3 strings");
  for (const auto& w : wrong)
    if (!w.is_string()) throw InputError(where, "incorrect_answers", "expected 3 strings");
  // Options in the file's fixed order [correct, wrong1, wrong2, wrong3]; prompts permute them per (question, sample).
  p.meta["options"] = Json::array({*p.gold, wrong[0], wrong[1], wrong[2]});
  p.meta["domain"] = r.value("high_level_domain", "");
}

void load_humaneval(const Json& r, const std::string& where, Problem& p) {
  p.key = require_string(r, "task_id", where);
  p.question = require_string(r, "prompt", where);
  p.meta["entry_point"] = require_string(r, "entry_point", where);
  p.meta["test"] = require_string(r, "test", where);
  p.meta["canonical_solution"] = require_string(r, "canonical_solution", where);
}

void load_mbpp(const Json& r, const std::string& where, Problem& p) {
  int64_t id = require_int(r, "task_id", where);
  p.key = "mbpp-" + std::to_string(id);
  p.question = require_string(r, "text", where);
  const Json& tests = require_field(r, "test_list", where);
  if (!tests.is_array() || tests.empty()) throw InputError(where, "test_list", "expected a non-empty list of asserts");
  p.meta["test_list"] = tests;
  p.meta["test_setup_code"] = r.value("test_setup_code", "");
  p.meta["code"] = require_string(r, "code", where);
  p.meta["task_id"] = id;
}

void load_livecodebench(const Json& r, const std::string& where, Problem& p) {
  p.key = require_string(r, "question_id", where);
  p.question = require_string(r, "question_content", where);
  p.meta["starter_code"] = r.value("starter_code", "");
  p.meta["contest_date"] = r.value("contest_date", "");
  const Json& tests = require_field(r, "public_test_cases", where);
  if (!tests.is_array()) throw InputError(where, "public_test_cases", "expected a list");
  Json normalised = Json::array();
  for (const auto& t : tests) {
    if (!t.is_object()) throw InputError(where, "public_test_cases", "expected objects");
    normalised.push_back({{"input", require_string(t, "input", where)},
                          {"output", require_string(t, "output", where)},
                          {"testtype", require_string(t, "testtype", where)}});
  }
  p.meta["tests"] = normalised;
  if (r.contains("metadata") && r["metadata"].is_object() && r["metadata"].contains("func_name"))
    p.meta["fn_name"] = r["metadata"]["func_name"];
}

struct Registered {
  SuiteInfo info;
  Loader loader;
  std::function<bool(const Json&)> keep = [](const Json&) { return true; };
};

const std::vector<Registered>& registry() {
  static const std::vector<Registered> suites = {
      {{"aime24", "AIME 2024 (I and II), 30 problems, integer answers", "aime24/test.jsonl", "1", GraderKind::math,
        64, false, kBoxedFirst},
       load_aime24},
      {{"aime25", "AIME 2025 (I and II), 30 problems; the clean QwQ copy", "aime25/qwq_aime25.jsonl", "1",
        GraderKind::math, 64, false, kBoxedFirst},
       load_aime25},
      {{"math500", "MATH-500 (PRM800K test split)", "math500/test.jsonl", "1", GraderKind::math, 4, false, kBoxedFirst},
       load_math500},
      {{"gsm8k", "GSM8K test, 1,319 problems", "gsm8k/test.jsonl", "1", GraderKind::math, 4, false, kWithLastNumber},
       load_gsm8k},
      {{"amc23", "AMC 2023, 40 problems", "amc23/test.jsonl", "1", GraderKind::math, 4, false, kBoxedFirst},
       load_amc23},
      {{"minerva_math", "Minerva math (MIT OCW), 272 problems; gold is the solution's boxed answer",
        "minerva_math/test.jsonl", "1", GraderKind::math, 4, false, kBoxedFirst},
       load_minerva},
      {{"olympiadbench", "OlympiadBench OE text math EN competition, 675 problems", "olympiadbench/test.jsonl", "1",
        GraderKind::math, 4, false, kBoxedFirst},
       load_olympiadbench},
      {{"gpqa_diamond", "GPQA Diamond, 198 questions, 4 options shuffled per question and sample",
        "gpqa_diamond/gpqa_diamond.jsonl", "1", GraderKind::choice, 8, true, {}},
       load_gpqa},
      {{"humaneval", "HumanEval, 164 function completions", "humaneval/HumanEval.jsonl", "1", GraderKind::code, 4,
        false, {}},
       load_humaneval},
      {{"mbpp", "MBPP, the 500 test tasks (task_id 11-510)", "mbpp/mbpp.jsonl", "1", GraderKind::code, 4, false, {}},
       load_mbpp,
       [](const Json& r) {
         int64_t id = r.value("task_id", int64_t(0));
         return id >= 11 && id <= 510;
       }},
      {{"livecodebench", "LiveCodeBench v5 (2408-2501), 279 problems, public tests",
        "livecodebench/lcb_v5_2408_2501_public.jsonl", "1", GraderKind::code, 16, false, {}},
       load_livecodebench},
  };
  return suites;
}

const Registered& find_registered(const std::string& name) {
  for (const auto& r : registry())
    if (r.info.name == name) return r;
  std::string known;
  for (const auto& r : registry()) known += (known.empty() ? "" : ", ") + r.info.name;
  throw InputError("--suite", "", fmt::format("unknown suite '{}' (known: {})", name, known));
}

}  // namespace

const std::vector<SuiteInfo>& all_suites() {
  static const std::vector<SuiteInfo> infos = [] {
    std::vector<SuiteInfo> v;
    for (const auto& r : registry()) v.push_back(r.info);
    return v;
  }();
  return infos;
}

const SuiteInfo& find_suite(const std::string& name) { return find_registered(name).info; }

std::string resolve_data_dir(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return *flag;
  if (const char* env = std::getenv("CRUCIBLE_DATA"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/crucible/data";
}

LoadedSuite load_suite(const SuiteInfo& suite, const std::string& data_dir,
                       const std::optional<std::string>& file_override) {
  const Registered& reg = find_registered(suite.name);
  LoadedSuite out;
  out.info = suite;
  out.path = file_override ? *file_override : data_dir + "/" + suite.default_file;
  std::string bytes;
  try {
    bytes = read_text_file(out.path);
  } catch (const InputError&) {
    throw InputError(out.path, "",
                     fmt::format("cannot read the {} data (pass --data-dir, set CRUCIBLE_DATA, or run `crucible data "
                                 "pull {}`)", suite.name, suite.name));
  }
  out.sha256 = sha256_hex(bytes);
  std::istringstream in(bytes);
  int64_t idx = 0;
  std::map<std::string, std::string> seen;
  for_each_jsonl(in, out.path, [&](const Json& record, const std::string& where) {
    int64_t this_idx = idx++;
    if (!reg.keep(record)) return;
    Problem p;
    p.idx = this_idx;
    reg.loader(record, where, p);
    if (auto [it, fresh] = seen.emplace(p.key, where); !fresh)
      throw InputError(where, "id", fmt::format("duplicate problem id '{}' (first at {})", p.key, it->second));
    out.problems.push_back(std::move(p));
  });
  if (out.problems.empty()) throw InputError(out.path, "", "no problems in the file");
  return out;
}

std::optional<std::string> last_boxed(const std::string& text) {
  size_t best = std::string::npos;
  size_t macro_len = 0;
  for (std::string macro : {"\\boxed", "\\fbox"}) {
    size_t pos = text.rfind(macro);
    if (pos != std::string::npos && (best == std::string::npos || pos > best)) {
      best = pos;
      macro_len = macro.size();
    }
  }
  while (best != std::string::npos) {
    size_t i = best + macro_len;
    while (i < text.size() && text[i] == ' ') ++i;
    if (i < text.size() && text[i] == '{') {
      int depth = 0;
      for (size_t j = i; j < text.size(); ++j) {
        if (text[j] == '\\' && j + 1 < text.size()) { ++j; continue; }
        if (text[j] == '{') ++depth;
        else if (text[j] == '}' && --depth == 0) return text.substr(i + 1, j - i - 1);
      }
    }
    // Unbalanced or not followed by a brace: look at the previous occurrence.
    if (best == 0) break;
    size_t prev_boxed = text.rfind("\\boxed", best - 1), prev_fbox = text.rfind("\\fbox", best - 1);
    if (prev_boxed == std::string::npos && prev_fbox == std::string::npos) break;
    if (prev_fbox == std::string::npos || (prev_boxed != std::string::npos && prev_boxed > prev_fbox)) {
      best = prev_boxed;
      macro_len = 6;
    } else {
      best = prev_fbox;
      macro_len = 5;
    }
  }
  return std::nullopt;
}

}  // namespace crucible::harness
