// `crucible train grpo`: GRPO on the very weights the engine samples from (no weight copy to sync). Torch-free header
// (the CLI includes it); trainer/README.md walks one step through grpo.cpp.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "trainer/grpo_config.h"
#include "trainer/optim.h"
#include "trainer/rewards.h"

namespace crucible::trainer {

// One GRPO run (`crucible train grpo`). "R1" marks DeepSeek-R1's stated RL settings (Nature 2025, Methods: 16
// samples per question, temperature 1, 32,768 tokens, 32 questions per step, lr 3e-6, KL coefficient 0.001); "TRL"
// marks TRL 1.16 GRPOConfig defaults where R1 states nothing.
struct GrpoConfig {
  // model
  std::string model, tokenizer, device = "auto", dtype = "auto";
  // data: suites as `crucible eval` loads them, or a JSONL of {"prompt", "answer"[, "id"]} graded as math
  std::vector<std::string> suites;
  std::optional<std::string> data_dir;
  int64_t limit = 0;                   // first N problems of each suite (0: all)
  std::string prompts_file;
  std::optional<std::pair<double, double>> solve_rate;  // curriculum: keep problems whose pass rate in...
  std::string from_run;                                  // ...this stored eval run lies in [lo, hi]
  std::string preset = "r1";           // prompts built as `crucible eval --preset` builds them
  std::optional<std::string> assistant_prefix;  // eval's override ("" for a model that does not think in tags)
  // output
  std::string out_dir, name;
  uint64_t seed = 0;
  // rollouts
  int64_t steps = 100;                 // optimizer steps
  int64_t prompts_per_step = 32;       // R1
  int64_t group_size = 16;             // R1
  int64_t max_tokens = 32768;          // R1
  int64_t min_tokens = 0;              // the end token masked until then (benchmarks: every side the same length)
  double temperature = 1.0;            // R1 (eval's 0.6 is for evaluation)
  double top_p = 1.0;                  // R1 states none: full distribution
  int64_t max_batch = 64;              // engine slots decoded together
  // update
  int64_t micro_batch = 8;             // sequences per forward/backward
  int64_t num_iterations = 1;          // mu (TRL; R1: one inner epoch): optimizer steps per generation batch
  ScaleRewards scale_rewards = ScaleRewards::group;  // R1's group normalisation
  GrpoLossConfig loss;                 // beta defaults to R1's 0.001 (set in default_grpo_config)
  bool mask_truncated = false;         // DAPO: a length-cut sample trains no token
  bool dynamic_sampling = false;       // DAPO: drop groups of equal rewards, refill
  bool skip_zero_advantage = true;     // no backward for sequences whose gradient is exactly 0 (grpo_update.h)
  int64_t max_refill_rounds = 4;       // bound on dynamic sampling's extra generation rounds per step
  std::optional<IsMode> is_mode;       // truncated IS correction sampler -> trainer (off by default)
  std::optional<double> is_min;
  double is_max = 3.0;                 // TRL
  RewardConfig rewards;
  OptimConfig optim;                   // lr: R1's 3e-6, constant (default_grpo_config)
  int64_t logprob_chunk = 1024;        // positions per chunk of the trainer's logprob/entropy
  // checkpoints and evaluation
  int64_t save_every = 0;              // DIR/step-N every N optimizer steps (0: only the final one); resumable
                                       // (checkpoint.h) when N is a multiple of num_iterations
  int64_t keep_last = 0;               // keep only the newest K resumable step folders (0: all)
  bool save_only_model = false;        // step folders without trainer_state/ (TRL's save_only_model): not resumable
  std::string resume;                  // "" | auto (newest complete DIR/step-N, or a fresh start) | a step folder
  int64_t eval_every = 0;              // evaluate on eval_suite every N steps (0: never)
  std::string eval_suite;
  int64_t eval_limit = 0;
  bool progress = true;
  // processes (trainer/dist/, "Past one process" in trainer/README.md)
  int threads = 0;                     // torch intra-op threads on the CPU (0: torch's default)
  int64_t dist_timeout_s = 300;        // the longest wait for a rendezvous or a collective (several ranks)
  int64_t max_bad_steps = 5;           // this many non-finite gradients in a row fail the run (each one is skipped)
  bool shard = false;            // several ranks: each keeps the optimizer state of its 1/W slice (optimizer.h)

  void validate() const;               // InputError naming the flag
  nlohmann::json to_json() const;      // stored with the run
};
GrpoConfig default_grpo_config();      // the defaults above with R1's beta and lr filled in

struct GrpoResult {
  int64_t run_id = 0;
  std::string status;  // completed | interrupted | failed
  int64_t steps = 0;
  double first_reward = 0, last_reward = 0;        // reward_mean of the first and last step
  double first_accuracy = 0, last_accuracy = 0;
  double seconds = 0, seconds_per_step = 0;
  std::string out_dir;
  int rank = 0;        // this process's rank; rank 0 alone writes the store and the folders, and reports
};

// Runs the whole training; InputError (exit 2) for bad flags or data, naming the flag, file and field.
GrpoResult run_grpo(const GrpoConfig& config, const std::string& db_path);

}  // namespace crucible::trainer
