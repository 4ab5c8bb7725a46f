#include "model/generation_model.h"

#include <malloc.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "model/device.h"

namespace crucible::model {
namespace fs = std::filesystem;

torch::Dtype parse_dtype(const std::string& s, torch::Device dev) {
  if (s == "auto") return dev.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  if (s == "float32" || s == "fp32") return torch::kFloat32;
  if (s == "bfloat16" || s == "bf16") return torch::kBFloat16;
  if (s == "float16" || s == "fp16") return torch::kFloat16;
  throw InputError("--dtype", "", "expected auto, float32, bfloat16 or float16, got '" + s + "'");
}

std::string checkpoint_content_hash(const std::string& path, const std::string& tokenizer) {
  std::vector<std::string> files;
  if (fs::is_directory(path)) {
    for (const auto& e : fs::directory_iterator(path)) {
      if (!e.is_regular_file()) continue;
      std::string ext = e.path().extension().string();
      if (ext == ".safetensors" || ext == ".json" || ext == ".model" || ext == ".jinja" || ext == ".gguf" ||
          ext == ".txt" || ext == ".bin")
        files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  if (!tokenizer.empty()) files.push_back(tokenizer);
  Sha256 all;
  for (const auto& f : files) {
    all.update(fs::path(f).filename().string());
    all.update(std::string_view("\0", 1));
    all.update(sha256_file_hex(f));
  }
  return all.hex_digest();
}

namespace {

std::unique_ptr<text::Tokenizer> open_tokenizer(const std::string& model, const std::string& tokenizer,
                                                const Checkpoint& ck) {
  if (tokenizer.empty()) {
    if (ck.format == "llama2c")
      throw InputError(model, "--tokenizer", "a llama2.c checkpoint needs its tokenizer.bin (--tokenizer PATH)");
    return text::load_tokenizer(model);
  }
  if (!fs::exists(tokenizer)) throw InputError(tokenizer, "--tokenizer", "no such file");
  if (fs::path(tokenizer).extension() == ".bin")
    return text::load_llama2c_tokenizer(tokenizer, static_cast<text::TokenId>(ck.config.vocab_size));
  return text::load_tokenizer(tokenizer);
}

}  // namespace

const char* dtype_name(torch::Dtype dtype) {
  return dtype == torch::kFloat32 ? "float32" : dtype == torch::kBFloat16 ? "bfloat16" : "float16";
}

GenerationModel load_generation_model(const LoadOptions& o) {
  GenerationModel gm;
  gm.device = parse_device(o.device);
  gm.dtype = parse_dtype(o.dtype, gm.device);
  Checkpoint ck = load_checkpoint(o.path);
  gm.path = o.path;
  gm.format = ck.format;
  gm.config = ck.config.to_hf_json();
  gm.tokenizer = open_tokenizer(o.path, o.tokenizer, ck);
  if (o.chat_template || o.require_template) {
    const bool own_tokenizer_file = !o.tokenizer.empty() && fs::path(o.tokenizer).extension() != ".bin";
    try {
      gm.chat_template.emplace(text::ChatTemplate::for_model(own_tokenizer_file ? o.tokenizer : o.path));
      gm.template_hash = sha256_hex(gm.chat_template->source());
    } catch (const InputError& e) {
      if (o.require_template) throw;
      log::warn("{}: no chat template ({}); prompts are plain text", o.path, e.what());
    }
  }
  if (o.hash_content) gm.content_hash = checkpoint_content_hash(o.path, o.tokenizer);
  gm.model = load_model(std::move(ck), gm.device, gm.dtype);
  if (!o.trainable) {
    gm.model->release_dense_weights();
    malloc_trim(0);  // the freed dense weights below glibc's mmap threshold sit in the heap: give their pages back
  }
  return gm;
}

}  // namespace crucible::model
