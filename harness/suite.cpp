#include "harness/suite.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/json_io.h"
#include "core/sha256.h"
#include "harness/lcb_data.h"
#include "verifiers/math/math_verifier.h"

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

// Every math suite grades with the verifier's default chain (markers first, then the last display math, inline
// math and number: verifiers/math/README.md). An empty order means that chain, so suites follow the grader as it
// improves instead of pinning an older, narrower one.
const std::vector<std::string> kDefaultChain = {};

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
  // preset decides the prompt. The hub copy (math-ai/aime25, the same bytes as AReaL's test.jsonl) has `problem`,
  // where two records lost the "\f" of "\frac" to a JSON unescape (a form feed, 0x0C): a form feed never belongs in
  // a problem, so it is turned back into "\f". (Its record 10 also lost a "\\" row separator; that is not repaired.)
  std::string prompt;
  if (r.contains("prompt")) {
    prompt = require_string(r, "prompt", where);
  } else {
    for (char c : require_string(r, "problem", where)) prompt += c == '\x0c' ? std::string("\\f") : std::string(1, c);
  }
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

// Generated by `crucible data gen arith` (arith.h): the solver's reasoning rides along for SFT data and reports.
void load_arith(const Json& r, const std::string& where, Problem& p) {
  p.key = require_string(r, "id", where);
  p.question = require_string(r, "question", where);
  p.gold = require_string(r, "answer", where);
  if (auto reasoning = optional_string(r, "reasoning", where)) p.meta["reasoning"] = *reasoning;
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

// Tests as {input, output, testtype}, from a list (the derived public file) or from official-release JSON text.
Json lcb_tests(const Json& tests, const std::string& where, const std::string& field) {
  if (!tests.is_array()) throw InputError(where, field, "expected a list of tests");
  Json normalised = Json::array();
  for (const auto& t : tests) {
    if (!t.is_object()) throw InputError(where, field, "expected objects");
    std::string type = require_string(t, "testtype", where);
    if (type != "stdin" && type != "functional")
      throw InputError(where, field, "testtype '" + type + "' is neither 'stdin' nor 'functional'");
    normalised.push_back({{"input", require_string(t, "input", where)},
                          {"output", require_string(t, "output", where)},
                          {"testtype", type}});
  }
  return normalised;
}

Json parse_json_text(const std::string& text, const std::string& where, const std::string& field) {
  auto j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw InputError(where, field, "expected JSON text");
  return j;
}

// Two formats, told apart per record: the derived public file (public_test_cases a list, no private tests) and the
// official release (public_test_cases JSON text, private_test_cases JSON text or base64/zlib/pickle, metadata JSON
// text with func_name). A problem passes only if it passes every test, public and private, as in lcb_runner.
void load_livecodebench(const Json& r, const std::string& where, Problem& p) {
  p.key = require_string(r, "question_id", where);
  p.question = require_string(r, "question_content", where);
  p.meta["starter_code"] = r.value("starter_code", "");
  p.meta["contest_date"] = r.value("contest_date", "");
  const Json& pub = require_field(r, "public_test_cases", where);
  if (!pub.is_string()) {  // derived public file
    p.meta["tests"] = lcb_tests(pub, where, "public_test_cases");
    p.meta["n_private_tests"] = 0;
    if (r.contains("metadata") && r["metadata"].is_object() && r["metadata"].contains("func_name"))
      p.meta["fn_name"] = r["metadata"]["func_name"];
    return;
  }
  Json tests = lcb_tests(parse_json_text(pub.get<std::string>(), where, "public_test_cases"), where, "public_test_cases");
  Json priv = lcb_tests(decode_lcb_private_tests(require_string(r, "private_test_cases", where), where), where,
                        "private_test_cases");
  p.meta["n_private_tests"] = priv.size();
  for (auto& t : priv) tests.push_back(std::move(t));
  if (tests.empty()) throw InputError(where, "public_test_cases", "the problem has no tests at all");
  p.meta["tests"] = std::move(tests);
  for (const char* f : {"platform", "difficulty", "contest_id", "question_title"})
    if (r.contains(f) && r[f].is_string()) p.meta[f] = r[f];
  if (auto meta = optional_string(r, "metadata", where); meta && !meta->empty()) {
    Json m = parse_json_text(*meta, where, "metadata");
    if (m.is_object() && m.contains("func_name") && m["func_name"].is_string() && !m["func_name"].get<std::string>().empty())
      p.meta["fn_name"] = m["func_name"];
  }
}

// R1's LiveCodeBench window: v5 problems from contests in [2024-08-01, 2025-02-01) ("2408-2501"). contest_date is
// ISO 8601 ("2024-08-03T00:00:00"), so string order is date order.
constexpr const char* kLcbFrom = "2024-08-01";
constexpr const char* kLcbUntil = "2025-02-01";

struct Registered {
  SuiteInfo info;
  Loader loader;
  std::function<bool(const Json&)> keep = [](const Json&) { return true; };
};

// Public copies on the hub that the loaders read as they are (JSONL with the loader's fields). The pins were
// checked against the files in ../shared/data (SOURCES.md: the same bytes) and an independent pin of the same
// URLs; the LiveCodeBench files are unpinned (no copy here to hash) and recorded in the manifest when pulled.
HubSource math500_hub() {
  return {"HuggingFaceH4/MATH-500", "6e4ed1a2a79af7d8630a6b768ec859cb5af4d3be",
          {{"test.jsonl", "math500/test.jsonl", "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132"}}};
}
HubSource aime25_hub() {
  return {"math-ai/aime25", "563bb8404243c5f09de6ec262f2db674fe5bce9b",
          {{"test.jsonl", "aime25/test.jsonl", "b4e273c02d3e7fe1b74b59eae768fc8230bfb0f79539890cb56f4361caac0331"}}};
}
// release_v5 is test.jsonl … test5.jsonl (v1 and its four increments); the date window picks 2408-2501 from them.
const std::vector<std::string> kLcbReleaseFiles = {"test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl",
                                                   "test5.jsonl"};
HubSource livecodebench_hub() {
  HubSource h{"livecodebench/code_generation_lite", "0fe84c3912ea0c4d4a78037083943e8f0c4dd505", {}};
  for (const auto& f : kLcbReleaseFiles) h.files.push_back({f, "livecodebench/code_generation_lite/" + f, ""});
  return h;
}
std::vector<std::string> local_files(const HubSource& h) {
  std::vector<std::string> v;
  for (const auto& f : h.files) v.push_back(f.local);
  return v;
}

// Fills the layouts (default: the one default file) and the hub fields of a registered suite.
Registered with_data(Registered r, std::vector<std::vector<std::string>> layouts, std::optional<HubSource> hub,
                     std::string hub_note) {
  r.info.layouts = layouts.empty() ? std::vector<std::vector<std::string>>{{r.info.default_file}} : std::move(layouts);
  r.info.hub = std::move(hub);
  r.info.hub_note = std::move(hub_note);
  return r;
}

Registered train_split(Registered r) {
  r.info.train_split = true;
  return r;
}

constexpr const char* kArithNote = "generated, not downloaded: `crucible data gen arith --data-dir DIR`";

const std::vector<Registered>& registry() {
  // Why a suite has no hub source: its public copies on the hub are parquet (or a gated CSV) and its loader reads
  // JSONL; crucible has no parquet reader, and a conversion that no one can check against the original is not made.
  const std::string parquet = "the hub copy ({}) is parquet and the loader reads JSONL; use the files of SOURCES.md "
                              "via --data-dir";
  static const std::vector<Registered> suites = {
      with_data({{"aime24", "AIME 2024 (I and II), 30 problems, integer answers", "aime24/test.jsonl", "1",
                  GraderKind::math, 64, false, kDefaultChain},
                 load_aime24},
                {}, std::nullopt, fmt::format(fmt::runtime(parquet), "math-ai/aime24, HuggingFaceH4/aime_2024")),
      with_data({{"aime25", "AIME 2025 (I and II), 30 problems; the clean QwQ copy when present",
                  "aime25/qwq_aime25.jsonl", "1", GraderKind::math, 64, false, kDefaultChain},
                 load_aime25},
                {{"aime25/qwq_aime25.jsonl"}, local_files(aime25_hub())}, aime25_hub(), ""),
      with_data({{"math500", "MATH-500 (PRM800K test split)", "math500/test.jsonl", "1", GraderKind::math, 4, false,
                  kDefaultChain},
                 load_math500},
                {}, math500_hub(), ""),
      with_data({{"gsm8k", "GSM8K test, 1,319 problems", "gsm8k/test.jsonl", "1", GraderKind::math, 4, false,
                  kDefaultChain},
                 load_gsm8k},
                {}, std::nullopt, fmt::format(fmt::runtime(parquet), "openai/gsm8k")),
      with_data({{"amc23", "AMC 2023, 40 problems", "amc23/test.jsonl", "1", GraderKind::math, 4, false, kDefaultChain},
                 load_amc23},
                {}, std::nullopt, fmt::format(fmt::runtime(parquet), "math-ai/amc23")),
      with_data({{"minerva_math", "Minerva math (MIT OCW), 272 problems; gold is the solution's boxed answer",
                  "minerva_math/test.jsonl", "1", GraderKind::math, 4, false, kDefaultChain},
                 load_minerva},
                {}, std::nullopt, "no hub copy with this file's bytes or fields is known; use --data-dir"),
      with_data({{"olympiadbench", "OlympiadBench OE text math EN competition, 675 problems",
                  "olympiadbench/test.jsonl", "1", GraderKind::math, 4, false, kDefaultChain},
                 load_olympiadbench},
                {}, std::nullopt, "no hub copy with this file's bytes or fields is known; use --data-dir"),
      with_data({{"gpqa_diamond", "GPQA Diamond, 198 questions, 4 options shuffled per question and sample",
                  "gpqa_diamond/gpqa_diamond.jsonl", "1", GraderKind::choice, 8, true, {}},
                 load_gpqa},
                {}, std::nullopt,
                "the hub copy (Idavidrein/gpqa) is a gated CSV and the loader reads the JSONL derived from it "
                "(SOURCES.md); use --data-dir"),
      with_data({{"humaneval", "HumanEval, 164 function completions", "humaneval/HumanEval.jsonl", "1",
                  GraderKind::code, 4, false, {}},
                 load_humaneval},
                {}, std::nullopt, fmt::format(fmt::runtime(parquet), "openai/openai_humaneval")),
      with_data({{"mbpp", "MBPP, the 500 test tasks (task_id 11-510)", "mbpp/mbpp.jsonl", "1", GraderKind::code, 4,
                  false, {}},
                 load_mbpp,
                 [](const Json& r) {
                   int64_t id = r.value("task_id", int64_t(0));
                   return id >= 11 && id <= 510;
                 }},
                {}, std::nullopt, fmt::format(fmt::runtime(parquet), "google-research-datasets/mbpp")),
      // MBPP's own train split (the paper's 601-974), read from the same full file: traces and training, not eval.
      train_split(with_data({{"mbpp_train", "MBPP, the 374 train tasks (task_id 601-974)", "mbpp/mbpp.jsonl", "1",
                              GraderKind::code, 4, false, {}},
                             load_mbpp,
                             [](const Json& r) {
                               int64_t id = r.value("task_id", int64_t(0));
                               return id >= 601 && id <= 974;
                             }},
                            {}, std::nullopt,
                            fmt::format(fmt::runtime(parquet), "google-research-datasets/mbpp"))),
      with_data({{"livecodebench",
                  "LiveCodeBench v5 (2408-2501), 279 problems; public + private tests from the official release "
                  "when pulled, public tests only from the derived file",
                  "livecodebench/code_generation_lite/test.jsonl", "1", GraderKind::code, 16, false, {}},
                 load_livecodebench,
                 [](const Json& r) {
                   std::string date = r.value("contest_date", "");
                   return date >= kLcbFrom && date < kLcbUntil;
                 }},
                {local_files(livecodebench_hub()), {"livecodebench/lcb_v5_2408_2501_public.jsonl"}},
                livecodebench_hub(), ""),
      // The two splits of the generated task family (arith.h), one suite each so that `eval --suite` and
      // `train grpo --suite` name a split as they name any benchmark.
      with_data({{"arith", "generated integer chains (Compute 7+5-3.), the test split", "arith/test.jsonl", "1",
                  GraderKind::math, 4, false, kDefaultChain},
                 load_arith},
                {}, std::nullopt, kArithNote),
      train_split(with_data({{"arith_train", "generated integer chains, the train split (disjoint from arith)",
                              "arith/train.jsonl", "1", GraderKind::math, 4, false, kDefaultChain},
                             load_arith},
                            {}, std::nullopt, kArithNote)),
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

namespace {

std::vector<std::string> split_paths(const std::string& joined) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = joined.find(kPathSeparator, start);
    out.push_back(joined.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

}  // namespace

LoadedSuite load_suite(const SuiteInfo& suite, const std::string& data_dir,
                       const std::optional<std::string>& file_override) {
  const Registered& reg = find_registered(suite.name);
  LoadedSuite out;
  out.info = suite;
  std::vector<std::string> files;
  if (file_override) {
    files = split_paths(*file_override);
  } else {
    for (const auto& layout : reg.info.layouts) {
      bool complete = true;
      for (const auto& f : layout) complete = complete && std::filesystem::is_regular_file(data_dir + "/" + f);
      if (!complete) continue;
      for (const auto& f : layout) files.push_back(data_dir + "/" + f);
      break;
    }
    if (files.empty()) {
      std::string wanted;
      for (const auto& layout : reg.info.layouts) {
        std::string set;
        for (const auto& f : layout) set += (set.empty() ? "" : " + ") + f;
        wanted += (wanted.empty() ? "" : ", or ") + set;
      }
      std::string fix = reg.info.hub ? fmt::format("run `crucible data pull {}`, pass --data-dir or set CRUCIBLE_DATA",
                                                   suite.name)
                                      : fmt::format("pass --data-dir or set CRUCIBLE_DATA; {}", reg.info.hub_note);
      throw InputError(data_dir, "", fmt::format("cannot read the {} data: no {} there ({})", suite.name, wanted, fix));
    }
  }
  // Hashed in a first pass and parsed from a stream in a second: the official LiveCodeBench files are hundreds of
  // MB each, too big to hold twice.
  Sha256 hash;
  std::vector<char> chunk(1 << 20);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in)
      throw InputError(f, "", fmt::format("cannot read the {} data (pass --data-dir, set CRUCIBLE_DATA, or run "
                                          "`crucible data pull {}`)", suite.name, suite.name));
    while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0)
      hash.update(chunk.data(), static_cast<size_t>(in.gcount()));
    out.path += (out.path.empty() ? "" : std::string(1, kPathSeparator)) + f;
  }
  out.sha256 = hash.hex_digest();
  int64_t idx = 0;
  std::map<std::string, std::string> seen;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    for_each_jsonl(in, f, [&](const Json& record, const std::string& where) {
      int64_t this_idx = idx++;
      if (!reg.keep(record)) return;
      Problem p;
      p.idx = this_idx;
      reg.loader(record, where, p);
      if (auto [it, fresh] = seen.emplace(p.key, where); !fresh)
        throw InputError(where, "id", fmt::format("duplicate problem id '{}' (first at {})", p.key, it->second));
      out.problems.push_back(std::move(p));
    });
  }
  if (out.problems.empty()) throw InputError(out.path, "", "no problems in the file");
  return out;
}

std::optional<std::string> last_boxed(const std::string& text) {
  auto e = verifiers::extract_answer(text, {verifiers::ExtractRule::boxed});
  if (!e) return std::nullopt;
  return e->text;
}

}  // namespace crucible::harness
