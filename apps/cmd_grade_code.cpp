// crucible grade code — grade model responses to code problems in the sandbox (verifiers/code/code_grader.h).
// JSONL in (a file or stdin), one JSON line out per record, in input order:
//   LiveCodeBench form {response, tests:[{input, output, testtype: "stdin"|"functional"}], fn_name?}
//   HumanEval form     {response, test, entry_point, prompt?}      (MBPP: test = setup + asserts, no entry_point)
// Other fields (task_id, question_id, …) are copied to the output as they are.
#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "apps/cli.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "verifiers/code/code_grader.h"

namespace crucible::cli {
namespace {

namespace vc = crucible::verifiers::code;

struct GradeCodeArgs {
  std::string input = "-";
  int workers = 2;
  double time_limit = 6.0;
  int64_t memory_mb = 1024;
  bool think_open = false;
  bool stop_first = false;
};

struct Item {
  Json record;
  vc::CodeTask task;
  std::string response;
};

Item parse_item(const Json& rec, const std::string& where) {
  Item it;
  it.record = rec;
  it.response = require_string(rec, "response", where);
  if (rec.contains("tests")) {
    const Json& tests = rec.at("tests");
    if (!tests.is_array()) throw InputError(where, "tests", "expected an array of {input, output, testtype}");
    for (size_t i = 0; i < tests.size(); ++i) {
      const std::string w = where + " tests[" + std::to_string(i) + "]";
      if (!tests[i].is_object()) throw InputError(w, "tests", "expected an object");
      vc::CodeTest t;
      t.input = require_string(tests[i], "input", w);
      t.output = require_string(tests[i], "output", w);
      std::string type = optional_string(tests[i], "testtype", w).value_or("stdin");
      if (type == "stdin") {
        t.kind = vc::TestKind::stdin_stdout;
      } else if (type == "functional") {
        t.kind = vc::TestKind::functional;
      } else {
        throw InputError(w, "testtype", "expected \"stdin\" or \"functional\", got \"" + type + "\"");
      }
      it.task.tests.push_back(std::move(t));
    }
    it.task.fn_name = optional_string(rec, "fn_name", where).value_or("");
    bool functional = false;
    for (const auto& t : it.task.tests) functional |= t.kind == vc::TestKind::functional;
    if (functional && it.task.fn_name.empty())
      throw InputError(where, "fn_name", "functional tests need the function name");
  } else if (rec.contains("test")) {
    it.task.test_code = require_string(rec, "test", where);
    it.task.entry_point = optional_string(rec, "entry_point", where).value_or("");
    it.task.prompt = optional_string(rec, "prompt", where).value_or("");
  } else {
    throw InputError(where, "tests", "expected `tests` (LiveCodeBench form) or `test` (HumanEval/MBPP form)");
  }
  return it;
}

Json verdict_json(const Json& record, const vc::CodeVerdict& v) {
  Json out = record;
  out.erase("response");
  out.erase("tests");
  out.erase("test");
  out.erase("prompt");
  out["correct"] = v.correct;
  out["status"] = vc::verdict_name(v.status);
  out["code_found"] = v.code_found;
  out["tests_passed"] = v.tests_passed;
  out["tests_total"] = v.tests_total;
  Json per = Json::array();
  for (const auto& t : v.tests) {
    per.push_back({{"status", vc::verdict_name(t.status)},
                   {"wall_seconds", t.wall_seconds},
                   {"cpu_seconds", t.cpu_seconds},
                   {"peak_memory_kb", t.peak_memory_kb},
                   {"message", t.message}});
  }
  out["tests"] = per;
  return out;
}

int grade_code_cmd(const GradeCodeArgs& a) {
  if (a.workers < 1) throw InputError("--workers", "workers", "must be at least 1");
  if (a.time_limit <= 0) throw InputError("--time-limit", "time-limit", "must be positive");
  if (a.memory_mb < 64) throw InputError("--memory-mb", "memory-mb", "must be at least 64");
  std::string why;
  if (!vc::sandbox_available(&why)) throw RunError("the code sandbox cannot start on this machine: " + why);

  std::vector<Item> items;
  auto on_record = [&](const Json& rec, const std::string& where) { items.push_back(parse_item(rec, where)); };
  if (a.input == "-") {
    for_each_jsonl(std::cin, "<stdin>", on_record);
  } else {
    for_each_jsonl_file(a.input, on_record);
  }
  vc::CodeGradeOptions opt;
  opt.time_limit_s = a.time_limit;
  opt.memory_mb = a.memory_mb;
  opt.assume_think_open = a.think_open;
  opt.stop_at_first_failure = a.stop_first;

  ThreadPool pool(static_cast<size_t>(a.workers));
  std::vector<std::future<vc::CodeVerdict>> futures;
  futures.reserve(items.size());
  for (const auto& it : items) {
    futures.push_back(pool.submit([&it, &opt] { return vc::grade_code(it.task, it.response, opt); }));
  }
  int correct = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    vc::CodeVerdict v = futures[i].get();
    correct += v.correct ? 1 : 0;
    std::string line = verdict_json(items[i].record, v).dump(-1, ' ', false, Json::error_handler_t::replace);
    std::fputs((line + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
  log::info("grade code: {}/{} correct", correct, items.size());
  return 0;
}

void setup(CLI::App& app, Globals&, Action& action) {
  auto* grade = cli::subcommand(app, "grade", "Grade responses: math, choice, code");
  auto* code = grade->add_subcommand("code", "Grade code responses in the sandbox (JSONL in, JSONL out)");
  auto a = std::make_shared<GradeCodeArgs>();
  code->add_option("input", a->input, "JSONL file ('-' or absent: stdin)")->capture_default_str();
  code->add_option("--workers", a->workers, "sandboxes running at once")->capture_default_str();
  code->add_option("--time-limit", a->time_limit, "CPU seconds per test")->capture_default_str();
  code->add_option("--memory-mb", a->memory_mb, "address space per process, MiB")->capture_default_str();
  code->add_flag("--think-open", a->think_open, "responses start inside <think> (the prompt opened it)");
  code->add_flag("--stop-at-first-failure", a->stop_first, "skip the remaining tests of a problem once one fails");
  code->callback([&action, a] { action = [a] { return grade_code_cmd(*a); }; });
}

CRUCIBLE_REGISTER_COMMAND(500, setup);

}  // namespace
}  // namespace crucible::cli
