// Printing eval results: the summary table on stdout, or JSON with --json. Shared by eval, score and regrade.
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <mutex>
#include <string>

#include "harness/eval.h"
#include "trainer/distill/funnel.h"

namespace crucible::cli {

// run_eval's progress on stderr: a line per update on a terminal (rewritten in place), a plain line every 10 s
// otherwise (CI logs, files), prefixed "[what]". Shared by eval and distill traces.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(std::string what);
  void operator()(const harness::Progress& p);

 private:
  std::string what_;
  bool tty_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_print_{};
};

nlohmann::json suite_scores_json(const harness::SuiteScores& s);
void print_suite_table(const std::vector<harness::SuiteScores>& suites);
// "funnel: N generated -> correct n -> ... -> K kept" (distill traces, regrade of a traces run).
void print_funnel(const distill::Funnel& f);

}  // namespace crucible::cli
