// Training checkpoints: Hugging Face folders that transformers' from_pretrained and `crucible eval --model DIR` load.
//   DIR/step-N/   written every --save-every N optimizer steps
//   DIR/          the final weights
// Each holds config.json, generation_config.json, model.safetensors (float32 or bfloat16) and the tokenizer with the
// chat template of the starting checkpoint (copied from an HF folder; written from a GGUF's metadata). A llama2.c
// start has no HF tokenizer: the folder gets the weights only, and says so in the log.
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "model/transformer.h"

namespace crucible::trainer {

struct CheckpointConfig {
  std::string tokenizer_source;  // the starting checkpoint (HF folder or .gguf); "" or a llama2.c file: no tokenizer
  std::string dtype = "float32";  // float32 | bfloat16 (of the saved tensors; training keeps float32 masters)
};

// Writes `dir` (created; files replaced) and returns it. The write goes to `dir`.tmp first and is renamed into
// place, so an interrupted save never leaves a half-written folder under the final name.
std::string save_checkpoint(model::Transformer& model, const std::string& dir, const CheckpointConfig& config);
// DIR/step-N
std::string step_dir(const std::string& out_dir, int64_t step);

namespace dist {
class Comm;
}

// A step folder that can restart the run exactly (--save-every with --resume): the HF folder above plus
//   trainer_state/params.pt       every trainable parameter, float32 as trained (the HF copy may be bfloat16)
//   trainer_state/optimizer.pt    AdamW's moments and step counts (torch::optim serialisation)
//   trainer_state/rng-rank-R.pt   torch's CPU generator state of each rank R (and CUDA's on a CUDA rank)
//   trainer_state/state.json      {"step", "world_size", ...the loop's own cursor fields}; written last
// Atomic: every rank writes its RNG file into DIR.tmp, then rank 0 the rest; every file and folder is fsynced and
// DIR.tmp renamed to DIR in one rename(2). A crash (SIGKILL, a full disk) at any point leaves either no DIR or a
// complete one, and the previous step folders untouched. Every rank calls it (comm nullptr: one process).
// optimizer_per_rank (--shard: each rank holds the state of its own slice): every rank writes
// trainer_state/optimizer-rank-R.pt instead of rank 0's optimizer.pt.
void save_resume_folder(model::Transformer& model, torch::optim::Optimizer& optimizer, const std::string& dir,
                        const CheckpointConfig& config, const nlohmann::json& state, dist::Comm* comm,
                        bool optimizer_per_rank = false);

// Restores what save_resume_folder wrote into `model` and `optimizer` (this rank's RNG too) and returns state.json.
// InputError naming the file when it is missing or was written by a different world size.
nlohmann::json load_resume_folder(model::Transformer& model, torch::optim::Optimizer& optimizer, const std::string& dir,
                                  int rank, int world_size, bool optimizer_per_rank = false);

// --resume: "auto" takes the newest complete OUT/step-N (one with trainer_state/state.json; none: start fresh);
// anything else must be such a folder (InputError otherwise).
std::optional<std::string> find_resume_folder(const std::string& out_dir, const std::string& resume);

// --keep-last K: removes all but the newest K complete OUT/step-N folders (K <= 0: keeps all). model_only
// (--save-only-model): the folders counted are the HF ones (a model.safetensors), not the resumable ones.
void prune_step_folders(const std::string& out_dir, int64_t keep_last, bool model_only = false);

}  // namespace crucible::trainer
