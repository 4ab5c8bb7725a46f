// `crucible report`: runs in a store → one data model (JSON) → Markdown, HTML or the JSON itself.
//
//   build_report   reads the store (opened read-only by the caller: a report never writes) and computes, per suite
//                  and run, pass@1 ± 95% CI, the pass@k and cons@k curves, token use, audit rates and a length
//                  histogram; per run, wall time and throughput and any training curves; and, for every run against
//                  the baseline, a paired comparison on the problems both ran (difference of pass@1 with a seeded
//                  paired-bootstrap CI, McNemar's exact test or its k > 1 sign-test form, problems gained and lost,
//                  the per-problem solve rates for a scatter plot);
//   render_*       turn that model into text. Nothing is computed there, so the three formats always agree.
//
// What a report contains from the store: run metadata, suite names, problem keys and numbers. Never a prompt, a
// completion, an extracted answer or a gold answer, so GPQA question and option text cannot reach a report even when
// a model quoted it in its completion (tests/reports/test_report.cpp checks this).
//
// The JSON model (every key always present; null where a value does not apply):
//   {generator, crucible_version, database, baseline_run, notes: {…definitions…},
//    runs: [{id, name, kind, status, model, protocol, started_at, ended_at, sampling: {temperature, top_p,
//            max_new_tokens, samples}, samples, completion_tokens, wall_s, tokens_per_s,
//            train_curves: [{metric, points: [[step, value]…]}],
//            funnel: {generated, stages: [{filter, enabled, passed, remaining}], kept} | null}],
//    suites: [{suite, histogram_edges: [...],
//              runs: [{run_id, problems, samples, k, pass1: {value, low, high, std_error},
//                      pass_at_k: [[k, v]…], cons: {k, value, source} | null, cons_at_k: [[k, v]…],
//                      tokens: {completion: {mean, median, p90, max}, reasoning_mean, answer_mean, split},
//                      rates: {length, unparsed, missing_think_close}, histogram: [counts…],
//                      solve_rates: {problem_key: rate}}],
//              comparisons: [{baseline_run, run, paired, difference: {value, low, high}, test: {name, discordant_worse,
//                             discordant_better, p_value}, gained: [{problem, baseline, run}], lost: [...],
//                             unchanged, scatter: [{problem, baseline, run}]}],
//              unpaired: [{baseline_run, run, reason}]}]}
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reports/store.h"

namespace crucible::report {

struct ReportOptions {
  std::vector<std::string> runs;        // ids or names, in order; empty: every run in the store
  std::optional<std::string> baseline;  // compared against every other run; default: the first run
  int bootstrap_resamples = 10000;      // paired-bootstrap resamples (pass@1's own CI uses the eval's 2,000)
  uint64_t seed = 20240101;             // the paired bootstrap's seed: the same store gives the same report
  int histogram_bins = 20;
};

// InputError (exit 2) for: an unknown run, no runs at all, or a compared pair of runs that share no problem.
nlohmann::json build_report(Store& store, const ReportOptions& options);

std::string render_markdown(const nlohmann::json& report);
// One self-contained page: inline CSS and SVG, no script, no external resource (a Content-Security-Policy says so).
std::string render_html(const nlohmann::json& report);

}  // namespace crucible::report
