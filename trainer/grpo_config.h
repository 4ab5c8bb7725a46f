// The GRPO loss's settings, torch-free (the CLI and the stored run config see them; trainer/grpo_loss.h applies
// them; the run's settings are GrpoConfig in trainer/grpo.h).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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


}  // namespace crucible::trainer
