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

// `tokenizer`: optional override path. `want_template`: load the chat template too (InputError if the checkpoint
// has none and `require_template`).
// `hash_content`: compute content_hash (reads every weight file once; eval needs it, one-off generation does not).
GenerationModel load_generation_model(const std::string& path, const std::string& tokenizer, const std::string& device,
                                      const std::string& dtype, bool want_template, bool require_template,
                                      bool hash_content = true);

torch::Dtype parse_dtype(const std::string& s, torch::Device device);
const char* dtype_name(torch::Dtype dtype);

// sha256 over a checkpoint's content: a file's bytes, or, for a folder, the names and bytes of its weight, config
// and tokenizer files in sorted order.
std::string checkpoint_content_hash(const std::string& path, const std::string& tokenizer);

}  // namespace crucible::model
