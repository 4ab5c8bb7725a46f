// crucible grade math|choice — grade JSONL records ({"response": …, "gold": …}) and write them back with the verdict.
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

#include "apps/cli.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "verifiers/choice/choice_verifier.h"
#include "verifiers/math/math_verifier.h"

namespace crucible::cli {
namespace {

struct GradeArgs {
  std::string input = "-";
  size_t workers = 1;
  std::string preset = "math";
  std::string rules;  // comma-separated, overrides the preset
  int budget_ms = 50;
  double decimal_tolerance = 0;
  bool assume_think_open = false;
  bool grade_unfinished = false;
  bool timing = false;
  int n_options = 4;
};

struct Record {
  Json obj;
  std::string where;
};

std::vector<Record> read_records(const std::string& input) {
  std::vector<Record> out;
  auto keep = [&](const Json& j, const std::string& where) { out.push_back({j, where}); };
  if (input == "-") {
    for_each_jsonl(std::cin, "<stdin>", keep);
  } else {
    std::ifstream in(input, std::ios::binary);
    if (!in) throw InputError(input, "", "cannot open file");
    for_each_jsonl(in, input, keep);
  }
  return out;
}

// A gold answer may be written as a JSON number (GSM8K-style data); anything else must be a string.
std::string gold_text(const Json& obj, const std::string& where) {
  const Json& g = require_field(obj, "gold", where);
  if (g.is_string()) return g.get<std::string>();
  if (g.is_number()) return g.dump();
  throw InputError(where, "gold", "expected a string or a number");
}

// Grades every record on `workers` threads and prints them in input order.
template <typename GradeOne>
int grade_all(const GradeArgs& a, const GradeOne& grade_one) {
  std::vector<Record> records = read_records(a.input);
  // Validate everything first: a bad record anywhere is an input error before any output is written.
  for (const auto& r : records) {
    (void)require_string(r.obj, "response", r.where);
    (void)gold_text(r.obj, r.where);
  }
  std::vector<Json> results(records.size());
  auto run = [&](size_t i) {
    auto t0 = std::chrono::steady_clock::now();
    Json out = records[i].obj;
    grade_one(out, records[i].where);
    if (a.timing)
      out["grade_us"] = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
                            .count();
    results[i] = std::move(out);
  };
  if (a.workers <= 1) {
    for (size_t i = 0; i < records.size(); ++i) run(i);
  } else {
    ThreadPool pool(a.workers);
    std::vector<std::future<void>> done;
    done.reserve(records.size());
    for (size_t i = 0; i < records.size(); ++i) done.push_back(pool.submit([&, i] { run(i); }));
    for (auto& f : done) f.get();
  }
  std::string out;
  size_t n_correct = 0;
  for (const auto& r : results) {
    out += r.dump(-1, ' ', false, Json::error_handler_t::replace);
    out += '\n';
    if (r.value("correct", false)) ++n_correct;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  log::info("graded {} records: {} correct", results.size(), n_correct);
  return 0;
}

verifiers::MathGradeOptions math_options(const GradeArgs& a) {
  verifiers::MathGradeOptions o;
  if (a.preset == "math") o = verifiers::MathGradeOptions::math();
  else if (a.preset == "gsm8k") o = verifiers::MathGradeOptions::gsm8k();
  else throw InputError("--preset", "", "unknown preset '" + a.preset + "' (math, gsm8k)");
  if (!a.rules.empty()) {
    o.rules.clear();
    size_t start = 0;
    while (start <= a.rules.size()) {
      size_t comma = a.rules.find(',', start);
      std::string name = a.rules.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      auto rule = verifiers::parse_rule_name(name);
      if (!rule)
        throw InputError("--rules", "", "unknown rule '" + name +
                                            "' (boxed, final_answer, answer_line, bold, hash_marks, display_math, "
                                            "inline_math, last_number, whole)");
      o.rules.push_back(*rule);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (a.budget_ms <= 0) throw InputError("--budget-ms", "", "must be positive");
  if (!(a.decimal_tolerance >= 0 && a.decimal_tolerance < 1))
    throw InputError("--decimal-tolerance", "", "must be in [0, 1)");
  o.decimal_tolerance = a.decimal_tolerance;
  o.budget = std::chrono::milliseconds(a.budget_ms);
  o.assume_think_open = a.assume_think_open;
  o.grade_unfinished = a.grade_unfinished;
  return o;
}

int grade_math_cmd(const GradeArgs& a) {
  verifiers::MathGradeOptions o = math_options(a);
  return grade_all(a, [&](Json& rec, const std::string& where) {
    // finish_reason "length" (as crucible's runs and OpenAI-style APIs record it): only a marked answer counts.
    bool cut = rec.contains("finish_reason") && rec["finish_reason"].is_string() && rec["finish_reason"] == "length";
    verifiers::MathGradeOptions record_options = o;
    record_options.cut_by_length = cut;
    auto v = verifiers::grade_math(require_string(rec, "response", where), gold_text(rec, where), record_options);
    rec["correct"] = v.correct;
    rec["extracted"] = v.extracted ? Json(*v.extracted) : Json(nullptr);
    if (v.extracted) rec["span"] = Json::array({v.span_begin, v.span_end});
    rec["reason"] = std::string(verifiers::outcome_name(v.outcome));
    rec["detail"] = v.reason;
    rec["rule"] = std::string(verifiers::rule_name(v.rule));
    rec["grader_version"] = std::string(v.grader_version);
  });
}

int grade_choice_cmd(const GradeArgs& a) {
  verifiers::ChoiceGradeOptions o;
  o.n_options = a.n_options;
  o.assume_think_open = a.assume_think_open;
  o.grade_unfinished = a.grade_unfinished;
  if (a.n_options < 2 || a.n_options > 26) throw InputError("--options", "", "must be between 2 and 26");
  return grade_all(a, [&](Json& rec, const std::string& where) {
    std::string gold = gold_text(rec, where);
    if (gold.size() != 1 || !std::isalpha(static_cast<unsigned char>(gold[0])))
      throw InputError(where, "gold", "expected one letter, got '" + gold + "'");
    std::vector<std::string> options;
    if (rec.contains("options")) {
      const Json& opts = rec["options"];
      if (!opts.is_array()) throw InputError(where, "options", "expected an array of strings");
      for (const auto& x : opts) {
        if (!x.is_string()) throw InputError(where, "options", "expected an array of strings");
        options.push_back(x.get<std::string>());
      }
    }
    auto v = verifiers::grade_choice(require_string(rec, "response", where), gold[0], options, o);
    rec["correct"] = v.correct;
    rec["extracted"] = v.extracted ? Json(std::string(1, *v.extracted)) : Json(nullptr);
    rec["reason"] = std::string(verifiers::choice_outcome_name(v.outcome));
    rec["detail"] = v.reason;
    rec["rule"] = std::string(verifiers::choice_rule_name(v.rule));
    rec["grader_version"] = std::string(v.grader_version);
  });
}

void add_common(CLI::App* cmd, GradeArgs& a) {
  cmd->add_option("-i,--input", a.input, "JSONL with fields response and gold (default: stdin)")->capture_default_str();
  cmd->add_option("-w,--workers", a.workers, "grading threads")->capture_default_str();
  cmd->add_flag("--assume-think-open", a.assume_think_open,
                "the prompt ended with <think>: a response without </think> is unfinished");
  cmd->add_flag("--grade-unfinished", a.grade_unfinished, "grade unfinished responses instead of failing them");
  cmd->add_flag("--timing", a.timing, "add grade_us (microseconds spent on the record) to each output record");
}

void setup(CLI::App& app, Globals&, Action& action) {
  auto* grade = subcommand(app, "grade", "Grade responses: math, choice, code");
  auto args = std::make_shared<GradeArgs>();

  auto* math = grade->add_subcommand("math", "Grade math answers (JSONL in: response, gold, optional finish_reason; out: + "
                                              "correct, extracted, span, reason, detail, rule, grader_version)");
  add_common(math, *args);
  math->add_option("--preset", args->preset, "extraction rules: math (boxed, final answer, Answer:, ####, bold, last "
                                             "display math, last inline math, last number); gsm8k is the same chain")
      ->capture_default_str();
  math->add_option("--rules", args->rules, "extraction rules in order, comma-separated (overrides --preset)");
  math->add_option("--budget-ms", args->budget_ms, "time budget per comparison; beyond it the reason is timeout")
      ->capture_default_str();
  math->add_option("--decimal-tolerance", args->decimal_tolerance,
                   "relative tolerance within which a decimal equals a value it is not exactly (1.4142 vs \\sqrt2); "
                   "0 = exact only")
      ->capture_default_str();
  math->callback([&action, args] { action = [args] { return grade_math_cmd(*args); }; });

  auto* choice = grade->add_subcommand("choice", "Grade multiple-choice answers (JSONL in: response, gold letter, "
                                                  "optional options array)");
  add_common(choice, *args);
  choice->add_option("--options", args->n_options, "number of options (letters A..)")->capture_default_str();
  choice->callback([&action, args] { action = [args] { return grade_choice_cmd(*args); }; });
}

CRUCIBLE_REGISTER_COMMAND(300, setup);

}  // namespace
}  // namespace crucible::cli
