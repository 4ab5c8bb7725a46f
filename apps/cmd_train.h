// Shared by the `crucible train …` subcommands (cmd_train.cpp: sft; cmd_train_grpo.cpp: grpo). Each file registers
// its subcommand under the one `train` parent:
//   CRUCIBLE_REGISTER_COMMAND(410, [](CLI::App& app, Globals& g, Action& action) {
//     auto* grpo = train_parent(app)->add_subcommand("grpo", "…");
//     add_optim_flags(grpo, config->optim);
//     …
//   });
// and is compiled into crucible-torch only (apps/CMakeLists.txt: cmd_train*.cpp); the front hands `train` over.
#pragma once
#include <fmt/format.h>

#include <filesystem>
#include <string>

#include "apps/cli.h"
#include "core/error.h"
#include "model/config.h"
#include "trainer/dist/env.h"
#include "trainer/dist/memory_plan.h"
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

// Several processes and faults (trainer/README.md, "Past one process"), the same for every training command.
inline void add_dist_flags(CLI::App* cmd, int& nproc, int64_t& dist_timeout_s, int64_t& max_bad_steps, bool& shard) {
  cmd->add_option("--nproc-per-node", nproc, "start N data-parallel ranks of this command on this node")
      ->capture_default_str();
  cmd->add_option("--dist-timeout", dist_timeout_s, "seconds a rank waits for the others (rendezvous, collective)")
      ->capture_default_str();
  cmd->add_option("--max-bad-steps", max_bad_steps,
                  "non-finite gradients in a row that fail the run (each one skips its update)")
      ->capture_default_str();
  cmd->add_flag("--shard", shard, "several ranks: each keeps AdamW's state for its 1/W slice of the parameters (ZeRO)");
}

// --dry-run: prints the per-rank memory plan (trainer/dist/memory_plan.h) from the model's config.json alone (no
// weights read) and returns 0. `in.model` and `in.world_size` are filled here: the ranks are --nproc-per-node's, else
// the launcher's (torchrun / Slurm variables), else 1.
inline int print_memory_plan(const std::string& model_path, int nproc, trainer::dist::MemoryPlanInput in) {
  namespace fs = std::filesystem;
  std::string config = fs::is_directory(model_path) ? (fs::path(model_path) / "config.json").string() : model_path;
  if (fs::path(config).extension() != ".json" || !fs::exists(config))
    throw InputError("--model", model_path, "--dry-run reads config.json: give an HF folder or its config.json");
  in.model = model::ModelConfig::from_hf_file(config);
  in.world_size = nproc > 1 ? nproc : trainer::dist::dist_env().world_size;
  fmt::print("{}", trainer::dist::format_plan(in, trainer::dist::plan_memory(in)));
  return 0;
}

}  // namespace crucible::cli
