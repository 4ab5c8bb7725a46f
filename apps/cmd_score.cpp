// crucible score — grade generations another tool produced; crucible regrade — re-grade a stored run.
#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/summary.h"
#include "harness/rescore.h"
#include "trainer/distill/traces.h"

namespace crucible::cli {
namespace {

struct ScoreArgs {
  std::string suite, input, preset = "r1", name;
  std::optional<std::string> data_dir;
  int workers = 2;
};

int run_score(const Globals& g, const ScoreArgs& a) {
  Store store = Store::open(g.db_path);
  auto s = harness::score_external(store, a.suite, a.input, a.data_dir, a.preset, a.name, a.workers);
  if (g.json) {
    nlohmann::json j = {{"run_id", s.run_id}, {"suites", nlohmann::json::array()}};
    for (const auto& x : s.suites) j["suites"].push_back(suite_scores_json(x));
    print_json(j.dump(2));
  } else {
    fmt::print("run {} ({} samples graded)\n", s.run_id, s.samples_generated);
    print_suite_table(s.suites);
  }
  return 0;
}

int run_regrade(const Globals& g, const std::string& run, const std::optional<std::string>& data_dir, int workers) {
  Store store = Store::open(g.db_path, false);
  auto r = harness::regrade_run(store, run, data_dir, workers);
  std::optional<distill::TracesOutcome> traces;  // a traces run keeps what its filters pass under the new grades
  if (r.kind == "distill-traces")
    traces = distill::rejudge_run(store, harness::load_stored_eval(store, run, data_dir, /*traces_too=*/true),
                                  harness::resolve_data_dir(data_dir));
  if (g.json) {
    nlohmann::json j = {{"run_id", r.run_id},       {"regraded", r.regraded},
                        {"changed", r.changed},     {"code_limits", harness::to_json(r.code_limits)},
                        {"suites", nlohmann::json::array()}};
    for (const auto& x : r.suites) j["suites"].push_back(suite_scores_json(x));
    if (traces) j["funnel"] = traces->funnel.to_json();
    print_json(j.dump(2));
  } else {
    fmt::print("run {}: {} samples regraded, {} changed verdict (code limits: the run's, {} CPU s, {} MiB)\n", r.run_id,
               r.regraded, r.changed, r.code_limits.time_limit_s, r.code_limits.memory_mb);
    print_suite_table(r.suites);
    if (traces) print_funnel(traces->funnel);
  }
  return 0;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto a = std::make_shared<ScoreArgs>();
  auto* score = app.add_subcommand("score", "Grade generations produced by another tool and store them as a run");
  score->add_option("--suite", a->suite, "suite the generations answer")->required();
  score->add_option("--input", a->input, "JSONL: {problem_id, completions: [..]} or {problem_id, completion}")
      ->required();
  score->add_option("--preset", a->preset, "r1 or greedy: how the prompts were built (think handling)")
      ->capture_default_str();
  score->add_option("--data-dir", a->data_dir, "benchmark data (default: $CRUCIBLE_DATA or ~/.cache/crucible/data)");
  score->add_option("--name", a->name, "run name");
  score->add_option("--workers", a->workers, "grading threads")->capture_default_str();
  score->callback([&g, &action, a] { action = [&g, a] { return run_score(g, *a); }; });

  auto run = std::make_shared<std::string>();
  auto data_dir = std::make_shared<std::optional<std::string>>();
  auto workers = std::make_shared<int>(2);
  auto* regrade = app.add_subcommand("regrade", "Re-grade a stored run's generations with the current graders (code with the run's own limits)");
  regrade->add_option("run", *run, "run id or name")->required();
  regrade->add_option("--data-dir", *data_dir, "where the run's data files are, if they moved");
  regrade->add_option("--workers", *workers, "grading threads")->capture_default_str();
  regrade->callback([&g, &action, run, data_dir, workers] {
    action = [&g, run, data_dir, workers] { return run_regrade(g, *run, *data_dir, *workers); };
  });
}

CRUCIBLE_REGISTER_COMMAND(300, setup);

}  // namespace
}  // namespace crucible::cli
