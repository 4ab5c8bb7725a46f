// The native engine as an eval backend: crucible's own checkpoint loader, tokenizer, chat template and batched
// engine, in-process. Torch-free header (the CLI includes it); the implementation links torch.
#pragma once
#include <memory>
#include <string>

#include "core/json_io.h"
#include "harness/backend.h"

namespace crucible::harness {

struct NativeBackendOptions {
  std::string model;            // HF folder, .gguf, or llama2.c .bin
  std::string tokenizer;        // optional override (tokenizer.json, .model, llama2.c tokenizer.bin)
  std::string device = "auto";  // auto, cpu, cuda, cuda:N
  std::string dtype = "auto";   // auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16
  int64_t max_batch = 32;       // sequences decoded together
};

// Stored with the run (config "backend", kind "native") so that `crucible eval --resume RUN` alone can load it again.
inline nlohmann::json to_json(const NativeBackendOptions& o) {
  return {{"kind", "native"}, {"model", o.model},  {"tokenizer", o.tokenizer},
          {"device", o.device}, {"dtype", o.dtype}, {"max_batch", o.max_batch}};
}
inline NativeBackendOptions native_backend_options_from_json(const nlohmann::json& j, const std::string& where) {
  return {require_string(j, "model", where), require_string(j, "tokenizer", where), require_string(j, "device", where),
          require_string(j, "dtype", where), require_int(j, "max_batch", where)};
}

// Loads the model once; InputError naming the file and the field on a bad checkpoint or tokenizer.
std::unique_ptr<Backend> make_native_backend(const NativeBackendOptions& options);

}  // namespace crucible::harness
