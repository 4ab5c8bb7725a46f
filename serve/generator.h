// What the HTTP server needs from a model, torch-free: its tokenizer and chat template, and a scheduler that takes
// jobs (one prompt x n samples) from any thread and reports their text as it is generated.
// make_engine_generator() is the native engine behind it (serve/engine/, links torch); tests may fake it.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/logprobs.h"
#include "model/sampling.h"
#include "model/text/chat_template.h"

namespace crucible::serve {

struct ModelInfo {
  std::string path, format;  // checkpoint path; "hf" | "gguf" | "llama2c"
  int64_t context = 0;       // prompt + completion tokens per sample
  int64_t vocab_size = 0;
  bool has_chat_template = false;
};

struct Job {
  std::vector<int32_t> prompt;  // token ids
  int64_t n = 1;                // samples; they share one prefill
  // max_new_tokens is the request's max_tokens; seed: sample i draws from a seed derived from (seed, i), so a
  // request's samples are reproducible whatever shares the batch.
  model::SamplingParams sampling;
  bool score_prompt = false;    // echo + logprobs: each prompt token's logprob too (then max_new_tokens may be 0)
};

struct SampleResult {
  int64_t sample = 0;
  std::string text;           // cut before a matched stop string
  std::string finish_reason;  // "stop" | "length"
  int64_t prompt_tokens = 0, completion_tokens = 0;
  std::vector<TokenLogprob> logprobs;         // sampling.logprobs: one per completion token (the EOS left out)
  std::vector<TokenLogprob> prompt_logprobs;  // score_prompt: prompt tokens 1..P-1
};

// Called on the scheduler thread: must be quick and must not throw.
struct JobEvents {
  std::function<void(int64_t sample, std::string_view piece)> on_text;  // optional: streaming
  std::function<void(SampleResult)> on_sample;                          // each sample, when it finishes
  std::function<void(const std::string& why)> on_error;  // the job ended early; its unfinished samples never come
};

class Generator {
 public:
  virtual ~Generator() = default;
  virtual ModelInfo info() const = 0;
  // Thread-safe. `add_special` as transformers' add_special_tokens (BOS for plain prompts).
  virtual std::vector<int32_t> encode(const std::string& text, bool add_special) const = 0;
  // The model's own chat template; InputError when it has none or the template refuses.
  virtual std::string render_chat(const std::vector<text::ChatMessage>& messages, bool add_generation_prompt) const = 0;
  virtual std::string token_bytes(int32_t id) const = 0;  // the bytes one token stands for
  // Queues a job (thread-safe); returns its id. Refusals (a too-long prompt) come through on_error.
  virtual uint64_t submit(Job job, JobEvents events) = 0;
  virtual void cancel(uint64_t job) = 0;  // drops its queued and running samples; no more events for it
  // Ends every job with on_error(why) and stops the scheduler thread; submit() afterwards fails at once.
  virtual void shutdown(const std::string& why) = 0;
};

struct EngineGeneratorOptions {
  std::string model;            // HF folder, .gguf, or llama2.c .bin
  std::string tokenizer;        // optional override
  std::string device = "auto";  // auto, cpu, cuda, cuda:N
  std::string dtype = "auto";   // auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, float16
  int64_t max_batch = 16;       // KV cache slots decoded together, across all requests
  int64_t context = 0;          // 0: the model's max_position_embeddings
};

// Loads the model and starts the scheduler thread; InputError naming the file and field on a bad checkpoint.
std::unique_ptr<Generator> make_engine_generator(const EngineGeneratorOptions& options);

}  // namespace crucible::serve
