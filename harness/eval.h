// The eval loop: suites → prompts → backend → grading pool → store, then metrics.
//
//   plan      load each suite (its file hashed), resolve its config, register problems in the store;
//   identity  sha256 over the model's content hash, the chat template hash, and every suite's data hash and resolved
//             config (sampling, prompt, seed, limit): the same identity is the same run, and is resumed;
//   generate  only the (problem, sample) pairs not yet stored; each sample has its own seed derived from the run seed,
//             the problem and the sample index, so a resumed sample is the sample an uninterrupted run would draw;
//   store     each generation is committed (ungraded) the moment it arrives: what was generated is never generated again;
//   grade     in a worker pool while generation goes on; each grade is committed in its own transaction (a sample left
//             ungraded by a killed process is graded on resume);
//   score     from everything stored (old and new samples alike): pass@1 ± CI, pass@k, cons@k, audit rates.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/backend.h"
#include "harness/grader.h"
#include "harness/graders.h"
#include "harness/metrics.h"
#include "harness/protocol.h"
#include "harness/suite.h"
#include "reports/store.h"

namespace crucible::harness {

struct SuitePlan {
  LoadedSuite data;                 // problems already cut to --limit
  EvalConfig config;
  std::shared_ptr<Grader> grader;
};

struct EvalPlan {
  std::string name;                 // run name shown in lists; not part of the identity
  std::string preset;
  std::vector<SuitePlan> suites;
  int grading_workers = 2;
  CodeLimits code_limits;               // what the code graders were made with; stored for regrade
  // How to build the backend again (native_backend.h / openai_backend.h to_json): stored as config "backend" so
  // that `crucible eval --resume RUN` alone continues the run. Not part of the identity. Null: not resumable alone.
  nlohmann::json backend;
  // Ask the backend for each generated token's logprob and keep them with the sample (table sample_logprobs,
  // harness/logprob_pack.h). Not part of the run's identity: the samples are the same with or without.
  bool store_logprobs = false;
  // The stored run's kind: "eval", or "distill-traces" for a teacher's traces (trainer/distill/traces.h). A kind other than
  // "eval" is part of the identity, so the same teacher and data as an eval make a run of their own.
  std::string run_kind = "eval";
};

struct Progress {
  int64_t done = 0, total = 0;      // samples this session
  int64_t correct = 0;              // among done
  int64_t completion_tokens = 0;
  double elapsed_s = 0;
};

struct SuiteScores {
  std::string suite;
  int64_t problems = 0;
  int64_t samples_per_problem = 0;
  Interval pass1;
  std::vector<std::pair<int64_t, double>> pass_at_k;  // (k, value)
  std::optional<double> cons;                           // cons@n over all n samples (math and choice suites)
  double length_rate = 0;       // finish_reason == length
  double unparsed_rate = 0;     // no answer could be extracted
  double missing_think_close = 0;  // </think> never written
  LengthStats completion_tokens;
};

struct EvalSummary {
  int64_t run_id = 0;
  bool resumed = false;
  int64_t samples_stored_before = 0;
  int64_t samples_generated = 0;
  double wall_s = 0;
  double tokens_per_s = 0;
  std::vector<SuiteScores> suites;
};

// One suite of a plan: `data` cut to the config's --limit, the preset's config with `overrides`, the suite's grader
// (its code run under `limits`). eval, distill traces and GRPO's suites are planned alike.
SuitePlan plan_suite(LoadedSuite data, const std::string& preset, const Overrides& overrides,
                     const CodeLimits& limits);

std::string run_identity(const ModelIdentity& model, const EvalPlan& plan);
uint64_t sample_seed(uint64_t run_seed, const std::string& suite, const std::string& problem_key, int64_t sample_index);

// Runs (or resumes) the plan. The run's stored config holds the preset, the model, every suite's resolved config, the
// code limits and the backend settings; what a backend reports afterwards (Backend::warnings) is added to it. `resume_run`: continue that stored run, which must have the same identity.
EvalSummary run_eval(Backend& backend, const EvalPlan& plan, Store& store,
                     const std::optional<std::string>& resume_run = std::nullopt,
                     const std::function<void(const Progress&)>& on_progress = {});

// Recomputes and stores the scores of a run from its stored samples.
std::vector<SuiteScores> score_run(Store& store, int64_t run_id, const std::vector<SuitePlan>& suites);

}  // namespace crucible::harness
