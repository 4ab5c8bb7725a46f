// GRPO's settings, torch-free (the CLI and the stored run config see them): the loss's (trainer/grpo_loss.h applies
// them) and the run's (trainer/grpo.h). Every setting is declared once here with its default and where the default
// comes from.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trainer/rewards.h"

namespace crucible::trainer {

enum class LossType { grpo, bnpo, dr_grpo, dapo, cispo, sapo };
enum class ImportanceLevel { token, sequence };  // sequence: GSPO (one length-normalised ratio per sequence)
enum class ScaleRewards { group, batch, none };  // none: Dr. GRPO (no division by the std)
// Truncated importance sampling between the sampler (the engine's logprobs) and the trainer: ratios clamped to
// [min, max] (truncate) or zeroed outside it (mask), per token or per sequence (TRL's vllm_importance_sampling_mode).
enum class IsMode { token_truncate, token_mask, sequence_truncate, sequence_mask };

LossType parse_loss_type(const std::string& s);              // InputError naming the value
ImportanceLevel parse_importance_level(const std::string& s);
ScaleRewards parse_scale_rewards(const std::string& s);
IsMode parse_is_mode(const std::string& s);
const char* loss_type_name(LossType t);
const char* importance_level_name(ImportanceLevel l);
const char* scale_rewards_name(ScaleRewards s);
const char* is_mode_name(IsMode m);

struct GrpoLossConfig {
  LossType loss_type = LossType::dapo;  // TRL 1.16's default
  ImportanceLevel importance_level = ImportanceLevel::token;
  double epsilon_low = 0.2;              // TRL default (PPO's clip range)
  double epsilon_high = 0.2;             // > epsilon_low: DAPO's clip-higher (0.28); cispo: the ratio cap (TRL: 5)
  std::optional<double> delta;           // two-sided clipping: the ratio capped at delta (INTELLECT-2)
  double beta = 0.0;                     // k3 KL to the reference; 0 needs no reference
  double top_entropy_quantile = 1.0;     // < 1: only the top quantile of tokens by entropy (per micro-batch) train
  int64_t max_completion_length = 0;     // dr_grpo's constant normaliser (the rollouts' max tokens)
  double sapo_temperature_pos = 1.0, sapo_temperature_neg = 1.05;  // TRL defaults
};

nlohmann::json to_json(const GrpoLossConfig& c);

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
  // output
  std::string out_dir, db, name;
  uint64_t seed = 0;
  // rollouts
  int64_t steps = 100;                 // optimizer steps
  int64_t prompts_per_step = 32;       // R1
  int64_t group_size = 16;             // R1
  int64_t max_tokens = 32768;          // R1
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
  int64_t max_refill_rounds = 4;       // bound on dynamic sampling's extra generation rounds per step
  std::optional<IsMode> is_mode;       // truncated IS correction sampler -> trainer (off by default)
  std::optional<double> is_min;
  double is_max = 3.0;                 // TRL
  RewardConfig rewards;
  nlohmann::json optim = nlohmann::json::object();  // trainer/optim.h OptimConfig fields (lr: R1's 3e-6)
  int64_t logprob_chunk = 1024;        // positions per chunk of the trainer's logprob/entropy
  // checkpoints and evaluation
  int64_t save_every = 0;              // DIR/step-N every N optimizer steps (0: only the final one)
  int64_t eval_every = 0;              // evaluate on eval_suite every N steps (0: never)
  std::string eval_suite;
  int64_t eval_limit = 0;
  bool progress = true;

  void validate() const;               // InputError naming the flag
  nlohmann::json to_json() const;      // stored with the run
};
GrpoConfig default_grpo_config();      // the defaults above with R1's beta and lr filled in

}  // namespace crucible::trainer
