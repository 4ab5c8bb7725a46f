// The optimizer's settings and learning-rate schedule, torch-free (the CLI and the run's stored config see them);
// trainer/optimizer.h is the torch object that applies them.
//
// Semantics are transformers' (Trainer + get_*_schedule_with_warmup), so a run here and a TRL run with the same
// numbers see the same learning rate at every step:
//   - AdamW with decoupled weight decay (p -= lr * wd * p before the Adam update), bias-corrected moments;
//   - no weight decay on biases and norm weights (transformers' get_decay_parameter_names patterns);
//   - the schedule is a multiplier lambda(k) of `lr` for optimizer step k = 0, 1, …, total-1 (so with warmup the
//     first step runs at lr 0, as LambdaLR does);
//   - `warmup` >= 1 is a step count, < 1 a fraction of the total steps rounded up (TrainingArguments.warmup_steps).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace crucible::trainer {

struct OptimConfig {
  double lr = 2e-5;            // peak learning rate (TRL SFTConfig's default)
  double weight_decay = 0.0;   // decoupled (AdamW)
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double warmup = 0.0;         // >= 1: steps; in [0, 1): fraction of the total steps
  std::string schedule = "cosine";  // cosine (linear warmup, then half a cosine) | linear | constant
  double min_lr_ratio = 0.0;   // cosine only: the floor as a fraction of lr (get_cosine_with_min_lr_schedule)
  double max_grad_norm = 1.0;  // global L2 norm clip; <= 0: no clipping (the norm is still measured)

  // InputError naming `where` and the field for a value out of range.
  void validate(const std::string& where = "optimizer") const;
  nlohmann::json to_json() const;
  // Fields absent from `j` keep their defaults; InputError naming `where` and the field for a bad one.
  static OptimConfig from_json(const nlohmann::json& j, const std::string& where);

  int64_t warmup_steps(int64_t total_steps) const;
  // The multiplier of lr at optimizer step `step` (0-based) of `total_steps`.
  double lr_lambda(int64_t step, int64_t total_steps) const;
  double lr_at(int64_t step, int64_t total_steps) const { return lr * lr_lambda(step, total_steps); }
};

}  // namespace crucible::trainer
