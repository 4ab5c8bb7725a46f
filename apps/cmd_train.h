// Shared by the `crucible train …` subcommands (cmd_train.cpp: sft; cmd_train_grpo.cpp: grpo). Each file registers
// its subcommand under the one `train` parent:
//   CRUCIBLE_REGISTER_COMMAND(410, [](CLI::App& app, Globals& g, Action& action) {
//     auto* grpo = train_parent(app)->add_subcommand("grpo", "…");
//     add_optim_flags(grpo, config->optim);
//     …
//   });
// and is compiled into crucible-torch only (apps/CMakeLists.txt: cmd_train*.cpp); the front hands `train` over.
#pragma once
#include "apps/cli.h"
#include "trainer/optim.h"

namespace crucible::cli {

inline CLI::App* train_parent(CLI::App& app) {
  return subcommand(app, "train", "Train a model: sft (supervised fine-tuning), grpo (reinforcement learning)");
}

// The optimizer's flags (trainer/optim.h says what each means), the same for every training command.
inline void add_optim_flags(CLI::App* cmd, trainer::OptimConfig& o) {
  cmd->add_option("--lr", o.lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay (not on biases and norms)")
      ->capture_default_str();
  cmd->add_option("--beta1", o.beta1, "AdamW beta1")->capture_default_str();
  cmd->add_option("--beta2", o.beta2, "AdamW beta2")->capture_default_str();
  cmd->add_option("--adam-eps", o.eps, "AdamW epsilon")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "linear warmup: steps (>= 1) or a fraction of the steps (< 1)")
      ->capture_default_str();
  cmd->add_option("--schedule", o.schedule, "after warmup: cosine, linear or constant")->capture_default_str();
  cmd->add_option("--min-lr-ratio", o.min_lr_ratio, "cosine floor as a fraction of --lr")->capture_default_str();
  cmd->add_option("--max-grad-norm", o.max_grad_norm, "clip the global gradient norm (<= 0: no clipping)")
      ->capture_default_str();
}

}  // namespace crucible::cli
