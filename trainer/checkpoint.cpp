#include "trainer/checkpoint.h"

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "model/checkpoint.h"

namespace crucible::trainer {
namespace fs = std::filesystem;

std::string step_dir(const std::string& out_dir, int64_t step) {
  return (fs::path(out_dir) / ("step-" + std::to_string(step))).string();
}

std::string save_checkpoint(model::Transformer& model, const std::string& dir, const CheckpointConfig& config) {
  torch::Dtype dtype;
  if (config.dtype == "float32" || config.dtype == "fp32") dtype = torch::kFloat32;
  else if (config.dtype == "bfloat16" || config.dtype == "bf16") dtype = torch::kBFloat16;
  else throw InputError("checkpoint", "dtype", "expected float32 or bfloat16, got '" + config.dtype + "'");
  std::string tokenizer = config.tokenizer_source;
  const bool hf_source = !tokenizer.empty() && fs::is_directory(tokenizer);
  const bool gguf_source = !tokenizer.empty() && fs::path(tokenizer).extension() == ".gguf";
  if (!tokenizer.empty() && !hf_source && !gguf_source) {
    log::warn("{}: no HF tokenizer to copy from {} (llama2.c); {} holds the weights only", dir, tokenizer, dir);
    tokenizer.clear();
  }
  // The final folder may be the --out folder that also holds step-N/ folders: write the files in a sibling temporary
  // folder, then move them in one by one (each rename is atomic), leaving the step folders alone.
  fs::path final_dir(dir);
  fs::path tmp = final_dir;
  tmp += ".tmp";
  std::error_code ec;
  remove_tree(tmp.string());  // a leftover of an interrupted save
  model::save_hf_folder(model, tmp.string(), dtype, tokenizer);
  fs::create_directories(final_dir);
  for (const auto& e : fs::directory_iterator(tmp)) {
    fs::rename(e.path(), final_dir / e.path().filename(), ec);
    if (ec) throw RunError("cannot move " + e.path().string() + " into " + final_dir.string() + ": " + ec.message());
  }
  remove_tree(tmp.string());
  return final_dir.string();
}

}  // namespace crucible::trainer
