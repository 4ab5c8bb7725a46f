#include "harness/graders.h"

#include <fmt/format.h>

#include <regex>

#include "core/error.h"
#include "core/json_io.h"
#include "verifiers/choice/choice_verifier.h"
#include "verifiers/code/code_grader.h"
#include "verifiers/math/math_verifier.h"

namespace crucible::harness {

namespace {

bool opens_think(const EvalConfig& config) { return config.prompt.assistant_prefix.find("<think>") != std::string::npos; }

class MathGrader : public Grader {
 public:
  MathGrader(const SuiteInfo& suite, const EvalConfig& config) {
    options_ = verifiers::MathGradeOptions::math();
    if (!suite.extraction_order.empty()) {
      options_.rules.clear();
      for (const auto& name : suite.extraction_order) {
        auto rule = verifiers::parse_rule_name(name);
        if (!rule) throw InputError(suite.name, "extraction_order", "unknown extraction rule '" + name + "'");
        options_.rules.push_back(*rule);
      }
    }
    options_.assume_think_open = opens_think(config);
  }
  GradeOutcome grade(const Problem& problem, const BuiltPrompt&, const std::string& completion,
                     std::string_view finish_reason) override {
    verifiers::MathGradeOptions options = options_;
    options.cut_by_length = finish_reason == "length";
    auto v = verifiers::grade_math(completion, problem.gold.value_or(""), options);
    GradeOutcome g;
    g.correct = v.correct;
    g.extracted = v.extracted;
    g.verdict = std::string(verifiers::outcome_name(v.outcome));
    g.grader_version = std::string(v.grader_version);
    g.detail = {{"rule", std::string(verifiers::rule_name(v.rule))}, {"reason", v.reason}};
    return g;
  }
  bool equivalent(const std::string& a, const std::string& b) override {
    return verifiers::answers_equivalent(a, b, options_);
  }
  std::string version() const override { return std::string(verifiers::kMathGraderVersion); }

 private:
  verifiers::MathGradeOptions options_;
};

class ChoiceGrader : public Grader {
 public:
  explicit ChoiceGrader(const EvalConfig& config) { options_.assume_think_open = opens_think(config); }
  GradeOutcome grade(const Problem& problem, const BuiltPrompt& prompt, const std::string& completion,
                     std::string_view /*finish_reason*/) override {
    if (!prompt.gold_letter) throw RunError("choice grading needs the prompt's gold letter");
    // The option texts in the order this sample saw them, for the option-text fallback.
    std::vector<std::string> shown;
    const auto& options = problem.meta.at("options");
    for (int i : prompt.option_order) shown.push_back(options.at(static_cast<size_t>(i)).get<std::string>());
    auto v = verifiers::grade_choice(completion, (*prompt.gold_letter)[0], shown, options_);
    GradeOutcome g;
    g.correct = v.correct;
    if (v.extracted) g.extracted = std::string(1, *v.extracted);
    g.verdict = std::string(verifiers::choice_outcome_name(v.outcome));
    g.grader_version = std::string(v.grader_version);
    // Letters only: GPQA option text never leaves the process.
    g.detail = {{"rule", std::string(verifiers::choice_rule_name(v.rule))}, {"gold", *prompt.gold_letter}};
    return g;
  }
  // Votes are compared by the option a letter denotes in its own sample's order: score_run maps letters back to
  // stored option indices before voting, so plain equality is right here.
  bool equivalent(const std::string& a, const std::string& b) override { return a == b; }
  std::string version() const override { return std::string(verifiers::kChoiceGraderVersion); }
  std::vector<int> option_order(const Problem& problem, int64_t sample_index) override {
    return verifiers::choice_permutation(problem.key, static_cast<int>(sample_index), 4);
  }

 private:
  verifiers::ChoiceGradeOptions options_;
};

class CodeGrader : public Grader {
 public:
  CodeGrader(const SuiteInfo& suite, const EvalConfig& config, const CodeLimits& limits) : suite_(suite.name) {
    options_.time_limit_s = limits.time_limit_s;
    options_.memory_mb = limits.memory_mb;
    options_.assume_think_open = opens_think(config);
  }
  GradeOutcome grade(const Problem& problem, const BuiltPrompt&, const std::string& completion,
                     std::string_view /*finish_reason*/) override {
    verifiers::code::CodeTask task = make_task(problem);
    auto v = verifiers::code::grade_code(task, completion, options_);
    GradeOutcome g;
    g.correct = v.correct;
    g.verdict = std::string(verifiers::code::verdict_name(v.status));
    g.grader_version = version();
    nlohmann::json tests = nlohmann::json::array();
    for (const auto& t : v.tests) tests.push_back(std::string(verifiers::code::verdict_name(t.status)));
    g.detail = {{"code_found", v.code_found}, {"tests_passed", v.tests_passed}, {"tests_total", v.tests_total},
                {"tests", tests}};
    return g;
  }
  bool equivalent(const std::string& a, const std::string& b) override { return a == b; }
  // code-2: the assertion form runs the tests apart from the candidate (verdicts of reward hacks changed).
  std::string version() const override { return "code-2"; }

 private:
  verifiers::code::CodeTask make_task(const Problem& p) const {
    verifiers::code::CodeTask task;
    verifiers::code::CodeTest assertion;
    assertion.kind = verifiers::code::TestKind::assertion;
    if (suite_ == "humaneval") {
      task.prompt = p.question;
      task.test_code = p.meta.at("test").get<std::string>();
      task.entry_point = p.meta.at("entry_point").get<std::string>();
      task.tests.push_back(assertion);
    } else if (suite_ == "mbpp" || suite_ == "mbpp_train") {
      std::string code = p.meta.value("test_setup_code", "") + "\n";
      for (const auto& t : p.meta.at("test_list")) code += t.get<std::string>() + "\n";
      task.test_code = code;
      task.tests.push_back(assertion);
    } else {  // livecodebench
      task.fn_name = p.meta.contains("fn_name") ? p.meta["fn_name"].get<std::string>()
                                                : function_name_from_starter(p.meta.value("starter_code", ""));
      for (const auto& t : p.meta.at("tests")) {
        verifiers::code::CodeTest ct;
        ct.kind = t.at("testtype") == "functional" ? verifiers::code::TestKind::functional
                                                   : verifiers::code::TestKind::stdin_stdout;
        ct.input = t.at("input").get<std::string>();
        ct.output = t.at("output").get<std::string>();
        task.tests.push_back(ct);
      }
    }
    return task;
  }
  std::string suite_;
  verifiers::code::CodeGradeOptions options_;
};

}  // namespace

void apply_grade(SampleRecord& sample, const GradeOutcome& outcome, const BuiltPrompt& prompt) {
  sample.extracted_answer = outcome.extracted;
  sample.verdict = outcome.verdict;
  sample.correct = outcome.correct;
  sample.grader_version = outcome.grader_version;
  sample.detail = outcome.detail;
  if (prompt.gold_letter) sample.detail["option_order"] = prompt.option_order;
}

std::string function_name_from_starter(const std::string& starter_code) {
  static const std::regex def_re(R"(def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\()");
  std::smatch m;
  if (std::regex_search(starter_code, m, def_re)) return m[1].str();
  return "";
}

nlohmann::json to_json(const CodeLimits& limits) {
  return {{"time_limit_s", limits.time_limit_s}, {"memory_mb", limits.memory_mb}};
}

CodeLimits code_limits_from_json(const nlohmann::json& j, const std::string& where) {
  CodeLimits limits;
  limits.time_limit_s = require_number(j, "time_limit_s", where);
  limits.memory_mb = require_int(j, "memory_mb", where);
  if (!(limits.time_limit_s > 0) || limits.memory_mb < 1)
    throw InputError(where, "code_limits", "time_limit_s and memory_mb must be positive");
  return limits;
}

std::shared_ptr<Grader> make_grader(const SuiteInfo& suite, const EvalConfig& config, const CodeLimits& limits) {
  switch (suite.grader) {
    case GraderKind::math: return std::make_shared<MathGrader>(suite, config);
    case GraderKind::choice: return std::make_shared<ChoiceGrader>(config);
    case GraderKind::code: return std::make_shared<CodeGrader>(suite, config, limits);
  }
  throw RunError("unknown grader kind");
}

}  // namespace crucible::harness
