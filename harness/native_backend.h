// The native engine as an eval backend: crucible's own checkpoint loader, tokenizer, chat template and batched
// engine, in-process. Torch-free header (the CLI includes it); the implementation links torch.
#pragma once
#include <memory>
#include <string>

#include "harness/backend.h"

namespace crucible::harness {

struct NativeBackendOptions {
  std::string model;            // HF folder, .gguf, or llama2.c .bin
  std::string tokenizer;        // optional override (tokenizer.json, .model, llama2.c tokenizer.bin)
  std::string device = "auto";  // auto, cpu, cuda, cuda:N
  std::string dtype = "auto";   // auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16
  int64_t max_batch = 32;       // sequences decoded together
};

// Loads the model once; InputError naming the file and the field on a bad checkpoint or tokenizer.
std::unique_ptr<Backend> make_native_backend(const NativeBackendOptions& options);

}  // namespace crucible::harness
