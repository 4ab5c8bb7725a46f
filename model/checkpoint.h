// Checkpoints in, checkpoints out. Every format is turned into the same thing: a ModelConfig plus tensors under
// Hugging Face names (rotary q/k rows in HF's half-split order), which load_model() writes into a Transformer. A
// checkpoint's tensors are read only when the model takes them, one at a time, straight into the parameter (a GGUF
// tensor is dequantised then), and the file's pages are let go once read: a load never holds a second full copy.
//   HF folder     config.json + model.safetensors or model-0000N-of-0000M.safetensors with
//                 model.safetensors.index.json; F32/F16/BF16; memory-mapped.
//   GGUF v2/v3    metadata -> config; F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL/Q2_K..Q6_K dequantised to float32
//                 as each tensor is read.
//   llama2.c .bin legacy (v0) header of 7 int32 or the v1 "ak42" header; float32 weights.
// save_hf_folder() writes config.json + model.safetensors (+ the tokenizer: files copied from an HF folder, or written
// from a GGUF's vocabulary) that transformers' from_pretrained loads unchanged.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/transformer.h"

namespace crucible::model {

// One tensor of a checkpoint, not yet read: its shape and how to write it into a destination.
struct CheckpointTensor {
  std::vector<int64_t> shape;
  // Writes the tensor into `dst` (CPU, `shape`, any floating dtype; converted as needed), then drops the file pages
  // it read from this process's memory (they stay in the page cache).
  std::function<void(torch::Tensor& dst)> read_into;
  torch::Tensor read() const;  // into a fresh float32 tensor
  // Set for a 2-D tensor stored in an integer block format (a GGUF's Q4_K …; null otherwise): the tensor as int
  // groups (rows in the model's order), without dequantising it.
  std::function<IntGroupWeight()> read_groups;
};

struct Checkpoint {
  std::string path;
  std::string format;  // "hf" | "gguf" | "llama2c"
  ModelConfig config;
  std::map<std::string, CheckpointTensor> tensors;  // HF names; read from the `keep_alive` mappings
  std::string origin_of(const std::string& name) const;  // the file a tensor came from, for errors
  std::map<std::string, std::string> tensor_file;
  std::vector<std::shared_ptr<void>> keep_alive;
};

Checkpoint load_hf_folder(const std::string& dir);
Checkpoint load_gguf(const std::string& path);
Checkpoint load_llama2c(const std::string& path);
// Picks the format: a directory is an HF folder, *.gguf is GGUF, anything else is tried as llama2.c.
Checkpoint load_checkpoint(const std::string& path);

// Builds the module (its parameters allocated, not written) and reads the checkpoint's tensors into it, converted to
// `dtype`, moved to `device`. `inference_only` (eval, generate, serve): on the CPU in float32 the weights are packed
// for the cached forward as they are read and their dense copies freed (TransformerImpl::release_dense_weights), the
// largest matrix first, so the load's peak is the weights once plus one layer. InputError naming the file and tensor
// for a missing tensor or a shape that does not match the config.
// `keep_int_groups` (with inference_only): linear weights stored in an integer block format stay int groups
// (TransformerImpl::release_dense_weights) instead of float32 packed copies — same values, a third of the bytes.
Transformer load_model(Checkpoint ckpt, torch::Device device, torch::Dtype dtype, bool inference_only = false,
                       bool keep_int_groups = true);
inline Transformer load_model(const std::string& path, torch::Device device = torch::kCPU,
                              torch::Dtype dtype = torch::kFloat32) {
  return load_model(load_checkpoint(path), device, dtype);
}

// Writes `dir` (created if needed): config.json, generation_config.json, model.safetensors in `dtype`, and the
// tokenizer from `tokenizer_source` when given: an HF folder's tokenizer.json / tokenizer_config.json /
// special_tokens_map.json / tokenizer.model / chat_template.jinja are copied; a .gguf's vocabulary and chat template
// are written out as tokenizer.json + tokenizer_config.json + special_tokens_map.json (byte-level BPE vocabularies).
void save_hf_folder(Transformer& model, const std::string& dir, torch::Dtype dtype = torch::kFloat32,
                    const std::string& tokenizer_source = "");

// Dequantises `n` elements of ggml type `type` from `src` into `dst` (float32). InputError for a type we do not
// implement. Exposed for the tests (each block format is checked against gguf-py's dequantisation).
void dequantize_ggml(uint32_t type, const uint8_t* src, float* dst, uint64_t n, const std::string& origin);
// Whether ggml type `type` is an integer block format (Q4_0 … Q8_0, the K-quants, IQ4_NL): one that decodes exactly
// into int groups (kernels/int_groups.h). F32/F16/BF16 are not.
bool ggml_int_group_type(uint32_t type);
// Decodes `n` elements (whole blocks) of an integer block format into int groups: q (n int8), scale and offset (n/16
// floats each); dequantize_ggml is this followed by kernels::dequantize_int_groups. InputError for other types.
void decode_ggml_int_groups(uint32_t type, const uint8_t* src, uint64_t n, int8_t* q, float* scale, float* offset,
                            const std::string& origin);

}  // namespace crucible::model
