// Training checkpoints: Hugging Face folders that transformers' from_pretrained and `crucible eval --model DIR` load.
//   DIR/step-N/   written every --save-every N optimizer steps
//   DIR/          the final weights
// Each holds config.json, generation_config.json, model.safetensors (float32 or bfloat16) and the tokenizer with the
// chat template of the starting checkpoint (copied from an HF folder; written from a GGUF's metadata). A llama2.c
// start has no HF tokenizer: the folder gets the weights only, and says so in the log.
#pragma once
#include <torch/torch.h>

#include <cstdint>
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

}  // namespace crucible::trainer
