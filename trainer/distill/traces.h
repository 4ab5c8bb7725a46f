// `crucible distill traces` / `distill export`: a teacher's traces as a stored run of kind "distill-traces", judged by
// the funnel (funnel.h), and the kept ones written out for training. Torch-free: the generation itself is the eval
// loop's (harness::run_eval: same prompts, same backends, same per-sample commits and resume); this file plans it and
// judges what it stored.
//
// Stored per trace (samples.detail_json, key "distill"): every check's verdict, "kept", "failed_at", and — for suites
// that are not confidential — the prompt's turns and the assistant prefix, so export and `distill sft` need nothing
// but the store. Stored per run (config "distill"): the source, the filter settings, the decontamination suites and
// the funnel; `crucible report RUN` renders the funnel from it.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "harness/eval.h"
#include "harness/rescore.h"
#include "reports/store.h"
#include "trainer/distill/funnel.h"

namespace crucible::distill {

// The run's kind (store schema 5; runs stored as 'distill' before it were renamed by the migration), and the stage
// its config records ("distill" -> "stage").
inline constexpr const char* kTracesRunKind = "distill-traces";
inline constexpr const char* kTracesStage = "traces";

// Where the prompts come from and how they are sampled: registry suites, or a {"prompt", "answer"[, "id"]} JSONL.
struct TracesSource {
  std::vector<std::string> suites;
  std::optional<std::string> data_dir;  // --data-dir (else $CRUCIBLE_DATA, ~/.cache/crucible/data)
  std::string prompts_file;
  std::string preset = "r1";
  harness::Overrides overrides;  // --samples, --max-tokens, --temperature, --seed, --limit, …
  int64_t top_logprobs = 0;      // >0: store each token's logprob and its N most likely alternatives (for --kd)
  harness::CodeLimits code_limits;
};

// The eval plan of a traces run: kind "distill-traces", logprobs stored when asked. `name` empty: "traces-<model>".
harness::EvalPlan traces_plan(const TracesSource& source, const std::string& name, const std::string& model_shown);

// What `distill traces` stores with the run besides the eval config.
struct TracesSettings {
  FilterConfig filters;
  bool decontaminate = true;  // against every registry suite found in `data_dir`
  std::string data_dir;       // where the registry suites are read (harness::resolve_data_dir)
};

struct TracesOutcome {
  Funnel funnel;
  std::vector<std::string> decontam_suites;   // checked against
  std::vector<std::string> decontam_missing;  // registry suites not in the data dir (not checked)
  std::vector<std::string> warnings;          // e.g. traces made from an evaluation suite's own problems
};

// Judges every stored trace of the run (all of them, also those of an earlier session: the funnel is a function of
// the stored traces, so a resumed run is judged as a whole) and stores the verdicts and the funnel.
TracesOutcome judge_run(Store& store, int64_t run_id, const harness::EvalPlan& plan, const TracesSettings& settings);

// After `crucible regrade` of a traces run: judges it again with the filters it was judged with (its stored config),
// so what it keeps follows the new grades. `stored`: harness::load_stored_eval(..., traces_too = true).
TracesOutcome rejudge_run(Store& store, const harness::StoredEval& stored, const std::string& data_dir);

// A kept trace as a conversation: the prompt's turns, then the assistant's (assistant prefix + completion).
struct KeptTrace {
  int64_t sample_id = 0;
  std::vector<harness::ChatTurn> prompt;
  std::string response;          // assistant_prefix + completion
  std::string assistant_prefix;  // what the prompt ended with (r1: "<think>\n"), not generated
  std::string completion;        // the teacher's text
  int64_t prompt_tokens = 0;     // the teacher's prompt length in its tokens
};

// The kept traces of a traces run, in sample order. InputError when the run is not a traces run, was never judged,
// or holds kept traces of a confidential suite (their prompts are not stored).
std::vector<KeptTrace> kept_traces(Store& store, const RunRecord& run);

// What `--kd topk:K` trains on, per kept trace: the completion's tokens as the teacher sampled them and, at each, the
// teacher's K most likely tokens with their logprobs (stored at trace time by --top-logprobs N >= K, as
// harness/logprob_pack.h packs them), padded with id -1 where the teacher reported fewer. Flattened [T * K].
struct TeacherTopK {
  int64_t sample_id = 0;
  int64_t k = 0;
  std::vector<int32_t> token_ids;      // [T]
  std::vector<int32_t> top_ids;        // [T * K]
  std::vector<float> top_logprobs;     // [T * K]
};

// InputError (naming the run and the field) when the run stored fewer than `k` alternatives per token, a kept trace
// has no logprobs, or a token has no id (an endpoint that reports tokens as text only: KD needs the teacher's ids).
std::vector<TeacherTopK> kept_teacher_topk(Store& store, const RunRecord& run, int64_t k);

// Writes `{"messages": [turns…, {"role": "assistant", …}]}` per kept trace (TRL / LLaMA-Factory conversational
// form); returns how many.
int64_t export_kept(const std::vector<KeptTrace>& kept, std::ostream& out);

}  // namespace crucible::distill
