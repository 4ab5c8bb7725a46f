// Scoring what is already generated: `crucible regrade RUN` re-grades a stored run's completions with the current
// graders (the generations stay, the verdicts and grader versions are replaced, the scores recomputed), and
// `crucible score` grades generations another tool produced, storing them as a run of their own.
#pragma once
#include <optional>
#include <string>

#include "harness/eval.h"

namespace crucible::harness {

struct RegradeSummary {
  int64_t run_id = 0;
  int64_t regraded = 0;
  int64_t changed = 0;  // samples whose correctness flipped
  std::string kind;      // eval, or distill-traces (whose funnel the caller then judges again: distill::rejudge_run)
  CodeLimits code_limits;  // what code ran with: the run's own
  std::vector<SuiteScores> suites;
};

// A stored eval run and its plan rebuilt from the stored config and datasets: the suites in the order the run listed
// them, each file checked against the sha256 the run saw (a file that moved is looked up under `data_dir`), the
// graders made with the run's code limits, and the backend settings (config "backend"; null for runs stored before
// they were kept). `crucible regrade` and `crucible eval --resume RUN` both start here. traces_too: a distill-traces
// run (an eval of a teacher, stored the same way) is accepted as well (regrade); otherwise only an eval.
struct StoredEval {
  RunRecord run;
  EvalPlan plan;
};
StoredEval load_stored_eval(Store& store, const std::string& run, const std::optional<std::string>& data_dir,
                            bool traces_too = false);

// Re-grades an eval or distill-traces run with the run's own code limits (stored in its config; runs from before that use the defaults, with a
// warning). Rebuilds the run's plan from its stored config and datasets. A dataset file that moved is looked up under
// `data_dir` (by the suite's default file name); its sha256 must match what the run saw.
RegradeSummary regrade_run(Store& store, const std::string& run, const std::optional<std::string>& data_dir,
                           int workers = 2);

// gens.jsonl: {"problem_id" (or "id"): the suite's problem key, "completions": [..] (or "completion": "..")} per line.
EvalSummary score_external(Store& store, const std::string& suite, const std::string& input_path,
                           const std::optional<std::string>& data_dir, const std::string& preset,
                           const std::string& name, int workers = 2);

}  // namespace crucible::harness
