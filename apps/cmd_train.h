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
#include <memory>
#include <string>

#include "apps/cli.h"
#include "core/error.h"
#include "model/config.h"
#include "trainer/dist/env.h"
#include "trainer/dist/launch.h"
#include "trainer/dist/memory_plan.h"
#include "trainer/optim.h"
#include "trainer/sft.h"

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

// Checkpoints, resume and where the run executes (trainer/checkpoint.h), the same for every training command.
inline void add_checkpoint_flags(CLI::App* cmd, int64_t& save_every, int64_t& keep_last, bool& save_only_model,
                                 std::string& resume, int& threads, std::string& device) {
  cmd->add_option("--save-every", save_every, "write OUT/step-N every N steps (0: final only)")->capture_default_str();
  cmd->add_option("--keep-last", keep_last, "keep only the newest K resumable step-N folders (0: all)")
      ->capture_default_str();
  cmd->add_flag("--save-only-model", save_only_model,
                "step-N folders hold the HF model only (no optimizer/RNG state: a third of the disk, not resumable)");
  cmd->add_option("--resume", resume, "auto (newest complete OUT/step-N, else a fresh start) or a step folder");
  cmd->add_option("--threads", threads, "CPU threads (0: torch's default)")->capture_default_str();
  cmd->add_option("--device", device, "auto, cpu, cuda or cuda:N")->capture_default_str();
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

// Every `train sft` setting but where the model, the data, the output and the run name come from (each command names
// those its own way: `train sft --model --data`, `distill sft --student --traces`), so `train sft` and `distill sft`
// take one flag set. Returns --nproc-per-node's value (the launcher's, not the config's).
inline std::shared_ptr<int> add_sft_flags(CLI::App* cmd, trainer::SftConfig& c) {
  cmd->add_option("--tokenizer", c.tokenizer, "tokenizer (default: the checkpoint's own)");
  auto* steps = cmd->add_option("--steps", c.steps, "optimizer steps (default: --epochs passes over the data)");
  cmd->add_option("--epochs", c.epochs, "passes over the data")->capture_default_str()->excludes(steps);
  cmd->add_option("--seed", c.seed, "data order seed")->capture_default_str();
  cmd->add_option("--batch-tokens", c.batch_tokens, "tokens per optimizer step (gradient accumulation)")
      ->capture_default_str();
  cmd->add_option("--max-seq-len", c.max_seq_len, "truncate longer examples")->capture_default_str();
  cmd->add_option("--micro-batch-tokens", c.micro_batch_tokens,
                  "tokens per forward/backward pass, the packed row's capacity (default: --max-seq-len): more run "
                  "faster and hold more activations");
  cmd->add_flag("--packing,!--no-packing", c.packing, "pack short examples into rows, each attending to itself only")
      ->capture_default_str();
  cmd->add_flag("--grad-checkpointing", c.grad_checkpointing, "recompute each layer in backward (less memory)");
  add_checkpoint_flags(cmd, c.save_every, c.keep_last, c.save_only_model, c.resume, c.threads, c.device);
  cmd->add_option("--save-dtype", c.save_dtype, "float32 or bfloat16")->capture_default_str();
  cmd->add_flag("--bf16-autocast,!--no-bf16-autocast", c.bf16_autocast, "on CUDA: bf16 autocast, fp32 masters")
      ->capture_default_str();
  add_optim_flags(cmd, c.optim);
  auto nproc = std::make_shared<int>(1);
  add_dist_flags(cmd, *nproc, c.dist_timeout_s, c.max_bad_steps, c.shard);
  return nproc;
}

}  // namespace crucible::cli
