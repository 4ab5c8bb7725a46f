// Rollouts: G completions per prompt sampled from the weights being trained, through the engine that shares them
// (model::Engine on the same Transformer), each with its sampler logprobs. One implementation for every on-policy
// loop: `train grpo` (grpo.cpp: rewards and advantages on top) and `distill onpolicy` (distill/onpolicy.cpp: the
// teacher scores the same tokens). trainer/README.md, "GRPO: one step", steps 1 and 2, walks it.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "harness/eval.h"
#include "model/engine.h"
#include "model/generation_model.h"
#include "trainer/grpo_update.h"
#include "trainer/rewards.h"

namespace crucible {
class Store;
}

namespace crucible::trainer {

namespace dist {
class Comm;
}

// What the prompts are and how they are sampled: the settings every on-policy loop shares.
struct RolloutConfig {
  std::vector<std::string> suites;              // registry suites, loaded and cut by `limit` as eval loads them
  std::optional<std::string> data_dir;
  int64_t limit = 0;                            // first N problems of each suite (0: all)
  std::string prompts_file;                     // or {"prompt", "answer"[, "id"]} prompted and graded as math
  std::string preset = "r1";                    // prompts built as `crucible eval --preset` builds them
  std::optional<std::string> assistant_prefix;  // eval's override
  uint64_t seed = 0;                            // each sample's seed derives from it
  int64_t samples = 1;                          // G completions per prompt
  int64_t max_tokens = 0;
  int64_t min_tokens = 0;                       // the end token masked until then
  double temperature = 1.0, top_p = 1.0;
};

struct Source {  // one suite (or the --prompts file), prompted and graded as eval does
  harness::SuiteInfo info;
  harness::EvalConfig config;
  std::shared_ptr<harness::Grader> grader;
  std::vector<harness::Problem> problems;
  std::string path, sha256;          // the data file and its hash, recorded as the dataset
  std::vector<int64_t> problem_ids;  // in the store (register_sources)
  int64_t dataset_id = 0;
};

struct Task {  // one prompt of a step
  size_t source = 0, problem = 0;
};

// `store` nullptr (a rank other than 0, or a caller that checks its input before it records a run): the same
// sources, without their store ids; register_sources adds them.
std::vector<Source> load_sources(const RolloutConfig& c, Store* store);
void register_sources(std::vector<Source>& sources, Store& store);

// The order a run draws its prompts in: a seeded shuffle of the tasks, shuffled again (same generator) each time
// it is used up. A function of the tasks and the seed, so a resumed run replays it to its cursor (`drawn`).
class TaskCursor {
 public:
  TaskCursor(std::vector<Task> tasks, uint64_t seed);
  std::vector<Task> next(int64_t n);
  int64_t drawn() const { return drawn_; }

 private:
  std::vector<Task> tasks_;
  std::mt19937_64 rng_;
  size_t next_ = 0;
  int64_t drawn_ = 0;
};

struct Rollout : TrainSequence {  // + prompt_ids, completion_ids, sampler_logp, finish, advantage, old/ref logp
  Task task;
  int64_t group = 0;  // index of its group in the step
  harness::BuiltPrompt prompt;
  std::string prompt_hash;
  std::string text;
  RewardTerms reward;  // GRPO's (score() in grpo.cpp); unused by distillation
};

Sequences pointers(std::vector<Rollout>& rs);

// c.samples completions of each task, task t's group numbered first_group + t, sample g seeded from (run seed,
// step, round, problem key, g): not from the process, so ranks that split a batch draw what one process draws.
// `round` > 0: GRPO's dynamic-sampling refills of the same step. Choice suites permute the options per sample (as
// eval does), so their samples are separate requests; the others share one prefill per prompt. The completion is
// every drawn token, the end token included; sampler_logp is each one's logprob under the distribution it was drawn
// from (temperature, top-p).
std::vector<Rollout> sample_rollouts(const RolloutConfig& c, model::GenerationModel& gm, model::Engine& engine,
                                     const std::vector<Source>& sources, const std::vector<Task>& tasks, int64_t step,
                                     int64_t round, int64_t first_group);

// A rollout as the store keeps it, less the ids known only where the run is stored (run, problem, sample index):
// prompt hash, completion, token counts, finish reason and the grader's verdict (harness::apply_grade), as eval
// stores a sample. The caller adds its own `detail` (GRPO: reward and advantage; distillation: the step).
SampleRecord rollout_sample(const Rollout& r, const harness::GradeOutcome& outcome);

struct PendingSample {
  Task task;
  SampleRecord record;
};

// Stores `ps` as samples of run `run_id`, numbering each problem's samples on from `next_index` (kept across steps).
void store_samples(Store& store, int64_t run_id, const std::vector<Source>& sources, std::vector<PendingSample>& ps,
                   std::map<int64_t, int64_t>& next_index);

// ---- several ranks (trainer/dist/; `comm` nullptr: one process, and each of these does nothing) ---------------

// PendingSamples as JSON and back: how ranks other than 0 send theirs to rank 0, which stores every rank's.
std::string samples_to_json(const std::vector<PendingSample>& ps);
std::vector<PendingSample> samples_from_json(const std::string& text);
// Rank 0's `records` followed by every other rank's, in rank order (the one-process order when each rank holds a
// contiguous share); the other ranks' lists are left as they were.
void gather_samples(dist::Comm* comm, std::vector<PendingSample>& records);

// Sums (or maxima) over the ranks, in place; one process: unchanged. float64 holds the counts exactly.
void reduce_over_ranks(dist::Comm* comm, std::vector<double>& v, bool max = false);

// This rank's groups of a step's prompts: a contiguous run (groups are never split), so rank 0's rollouts followed
// by rank 1's ... are the one-process batch. Returns the tasks and the global index of the first.
std::pair<std::vector<Task>, int64_t> my_groups(dist::Comm* comm, const std::vector<Task>& tasks);

}  // namespace crucible::trainer
