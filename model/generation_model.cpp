#include "model/generation_model.h"

#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "model/block_cache.h"
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

// glibc raises its mmap threshold to the size of each mmapped block freed (up to 32 MiB), so once the first weights
// are freed, later ones of that size come from the heap: a freed block there stays resident until trimmed, and a
// fresh torch::empty that reuses one is resident before anything is written to it. Building the module (each
// layer initialised, then swapped for unwritten tensors) and packing (dense weights freed layer by layer) both free
// weight-sized blocks, which is how a 0.5B eval peaked at 1.7x its weights. A fixed threshold keeps every block of
// 1 MiB or more a mapping of its own: untouched until written, returned to the system when freed. Process-wide; a
// decode step's allocations above 1 MiB (the logits) cost a mapping each, far below a step's time.
void keep_large_allocations_out_of_the_heap() {
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  hold_freed_blocks(false);  // a second load in the process (a reference, a teacher): nothing freed is kept
}

// After the load the opposite is wanted: a decode step, a training step, allocates and frees the same activation
// sizes over and over (B = 128 rows make a 1.5 MiB gate/up output per layer, a logits block per step), and with
// the 1 MiB threshold each of them was a fresh mapping: mmap, a page fault and a zeroed page per 4 KiB, munmap,
// every layer of every step (10% of a GRPO step's time was in the kernel). Blocks up to 32 MiB (glibc's own
// dynamic ceiling) come from the heap again and are reused; the top of the heap is kept (trim threshold) so a
// step's working set is not handed back and faulted in again on the next. Weights, loaded above, stay mappings.
// Blocks above 32 MiB, which glibc always maps and unmaps, are kept for reuse by model/block_cache.h.
void serve_step_allocations_from_the_heap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  install_block_cache();
  hold_freed_blocks(true);
}

// The process's memory at a stage of the load, at debug level (`--log-level debug`): what the peak is made of.
void log_memory(const char* stage) {
  if (log::level() > log::Level::debug) return;
  std::ifstream in("/proc/self/status");
  std::string line, out;
  while (std::getline(in, line))
    for (const char* key : {"VmHWM:", "VmRSS:", "RssAnon:", "RssFile:"})
      if (line.rfind(key, 0) == 0) {
        const auto kb = std::stoll(line.substr(std::strlen(key)));
        out += fmt::format(" {} {} MiB", std::string(key, std::strlen(key) - 1), kb / 1024);
      }
  log::debug("memory, {}:{}", stage, out);
}

}  // namespace

const char* dtype_name(torch::Dtype dtype) {
  return dtype == torch::kFloat32 ? "float32" : dtype == torch::kBFloat16 ? "bfloat16" : "float16";
}

GenerationModel load_generation_model(const LoadOptions& o) {
  keep_large_allocations_out_of_the_heap();
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
  log_memory("checkpoint opened, tokenizer and template loaded");
  gm.model = load_model(std::move(ck), gm.device, gm.dtype, /*inference_only=*/!o.trainable, o.int_groups);
  malloc_trim(0);  // what the load freed below the mmap threshold sits in the heap: give its pages back
  serve_step_allocations_from_the_heap();
  log_memory(o.trainable ? "weights loaded" : "weights loaded and packed, dense copies freed");
  return gm;
}

}  // namespace crucible::model
