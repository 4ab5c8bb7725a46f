// Torch-free facade over checkpoint + tokenizer + engine, for the CLI (`crucible generate`) and other torch-free
// callers: they compile against this header and link crucible_model without ever seeing torch headers.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "model/logprobs.h"
#include "model/sampling.h"

namespace crucible::model {

struct GenerateArgs {
  std::string model;      // HF folder, .gguf or llama2.c .bin
  std::string tokenizer;  // optional: tokenizer.json, SentencePiece .model or llama2.c tokenizer.bin
  std::vector<std::string> prompts;  // raw text (tokenised with BOS as the tokenizer's default adds it)
  bool chat = false;      // wrap each prompt as one user message in the model's chat template
  std::string system;     // optional system message (with chat)
  std::string device = "auto";
  std::string dtype = "auto";  // "auto" (float32 on CPU, bfloat16 on CUDA), "float32", "bfloat16"
  bool dequantize = false;      // GGUF integer blocks to float32 weights (LoadOptions::int_groups = false)
  SamplingParams sampling;  // max_new_tokens is --max-tokens; logprobs / top_logprobs ask for TokenLogprobs
  int64_t samples = 1;
  int64_t max_batch = 32;
};

struct GeneratedSample {
  size_t prompt = 0;
  int64_t sample = 0;
  std::string text;
  std::vector<int32_t> tokens;
  std::string finish_reason;  // "stop" | "length"
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::vector<TokenLogprob> logprobs;  // with sampling.logprobs: one per token (+ the EOS that ended it, if one did)
};

struct GenerateResult {
  std::vector<GeneratedSample> samples;
  std::string model_format;  // "hf" | "gguf" | "llama2c"
  std::string device, dtype;
  int64_t prefill_tokens = 0, decode_tokens = 0;
  double load_seconds = 0, prefill_seconds = 0, decode_seconds = 0;
};

// Streaming: called with each piece of text as it is generated (UTF-8-complete).
using TextCallback = std::function<void(size_t prompt, int64_t sample, std::string_view piece)>;

// InputError (exit 2) for a bad model, tokenizer or argument, naming the file and the field.
GenerateResult generate_text(const GenerateArgs& args, const TextCallback& on_text = {});

}  // namespace crucible::model
