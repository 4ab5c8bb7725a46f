// Everything needed to generate from a checkpoint, loaded once: the module on its device, the model's own tokenizer
// and chat template, and the identity an eval run is keyed by (content hash of the weights and tokenizer files, hash
// of the template). Used by `crucible generate` and by the eval harness's native backend.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>

#include "model/checkpoint.h"
#include "model/text/chat_template.h"
#include "model/text/tokenizer.h"

namespace crucible::model {

struct GenerationModel {
  Transformer model{nullptr};
  std::unique_ptr<text::Tokenizer> tokenizer;
  std::optional<text::ChatTemplate> chat_template;  // absent when the checkpoint carries none (llama2.c)
  std::string path, format;
  std::string content_hash;   // sha256 over the checkpoint and tokenizer files
  std::string template_hash;  // sha256 of the chat template source ("" without one)
  nlohmann::json config;      // the HF-style config
  torch::Device device{torch::kCPU};
  torch::Dtype dtype = torch::kFloat32;
};

struct LoadOptions {
  std::string path;             // HF folder, .gguf, or llama2.c .bin (the format is decided once, from the path)
  std::string tokenizer;        // optional override: tokenizer.json, SentencePiece .model, llama2.c tokenizer.bin
  std::string device = "auto";  // auto, cpu, cuda, cuda:N
  std::string dtype = "auto";   // auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16
  bool chat_template = true;    // load the chat template (a warning, not an error, when the checkpoint has none)
  bool require_template = false;  // ... and make a missing one an InputError
  bool hash_content = true;     // compute content_hash (reads every weight file once; eval needs it)
  // false (eval, generate, serve): the dense copies of the packed weights are freed once packed, so the weights are
  // held once (TransformerImpl::release_dense_weights). true: keep them for training.
  bool trainable = false;
  // Inference only: linear weights a GGUF stores in integer blocks stay int groups (the same float32 values, a
  // third of the bytes; TransformerImpl::release_dense_weights). false: dequantised to float32, as transformers does.
  bool int_groups = true;
};

// InputError naming the file and the field on a bad checkpoint, tokenizer or template.
GenerationModel load_generation_model(const LoadOptions& options);

torch::Dtype parse_dtype(const std::string& s, torch::Device device);
const char* dtype_name(torch::Dtype dtype);

// sha256 over a checkpoint's content: a file's bytes, or, for a folder, the names and bytes of its weight, config
// and tokenizer files in sorted order.
std::string checkpoint_content_hash(const std::string& path, const std::string& tokenizer);

}  // namespace crucible::model
