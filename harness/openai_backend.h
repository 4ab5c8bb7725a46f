// An OpenAI-compatible HTTP server as an eval backend: vLLM, SGLang, the DeepSeek API, `crucible serve`, anything
// that speaks POST {endpoint}/chat/completions or {endpoint}/completions. Torch-free (libcurl only).
//
// What is sent, and what is not:
//   chat         the messages as they are; the server applies its own chat template. The assistant prefix of the
//                protocol ("<think>\n" under R1) is NOT sent — the standard API cannot open the assistant turn — so
//                whether the answer starts inside a think block is the server template's decision. The run config
//                records this ("assistant_prefix_sent": false), and grading still assumes the prefix's think block.
//   completions  one text prompt, no template applied by crucible: every message's content followed by "\n", then
//                the assistant prefix — the text the native engine feeds a checkpoint that has no chat template.
//   sampling     temperature, top_p, max_tokens, stop; top_k and min_p only when set (vLLM/SGLang extensions).
//   seeds        one request per sample, `seed` = the sample's own seed (its low 31 bits, so every server's seed
//                field takes it). `n` is never used: with n > 1 sample i's text depends on the whole request, and a
//                resumed run that asks for the missing samples only would draw different ones. Servers with prefix
//                caching (vLLM, SGLang) reuse the shared prompt's prefill across those requests anyway. A server
//                that ignores `seed` (the DeepSeek API) makes samples unreproducible, not duplicated: resume still
//                never asks for a stored sample again.
//
// What comes back: `content` (chat) or `text` (completions). A server that splits the reasoning off
// (`reasoning_content`, DeepSeek and vLLM's reasoning parsers; `reasoning` in newer vLLM) has cut it at </think>:
// the stored completion is rebuilt as reasoning + "</think>" + content — the text the same server returns without a
// reasoning parser, so grading, the missing-</think> audit and regrade see one format — and the reasoning is also
// kept verbatim in GenerationResult::reasoning (the samples table's `reasoning` column). Reasoning with no content
// is left unclosed: the think block never ended (or ended with nothing after it). usage.prompt_tokens,
// completion_tokens and completion_tokens_details.reasoning_tokens are recorded; finish_reason stop/eos → stop,
// length → length, anything else (content_filter, abort, null) → error. latency_ms is the answered attempt's wall
// time: retries and their waits are not in it (they are logged, and counted in retry_counts()).
//
// Failures: 429, 408, 5xx, timeouts, refused or reset connections, truncated bodies and malformed JSON are retried
// up to max_retries times with exponential backoff and full jitter (uniform in [0, min(cap, base·2^attempt)]), or
// after the server's Retry-After (seconds or an HTTP date; retry-after-ms too) when it sends one. Any other 4xx
// (bad request, unknown model, refused key) stops the run at once with the server's message: retrying cannot fix
// it. Giving up also stops the run (status "interrupted"); nothing stored is lost and `--resume` continues it.
//
// The API key is read from the environment variable named (default OPENAI_API_KEY; unset or empty: no
// Authorization header). It is held in memory only: never logged, stored, or echoed in an error message.
#pragma once
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "harness/backend.h"

namespace crucible::harness {

struct OpenAIBackendOptions {
  std::string endpoint;                       // base URL: http://host:8000/v1 (a bare host gets /v1)
  std::string model;                          // the server's model name (--api-model)
  std::string api = "chat";                   // chat | completions
  std::string api_key_env = "OPENAI_API_KEY";
  int concurrency = 8;                        // requests in flight
  double request_timeout_s = 1800;            // whole request; 32k reasoning tokens at ~30 tok/s take ~18 min
  double connect_timeout_s = 30;
  int max_retries = 8;                        // retries after the first attempt, per sample
  double backoff_base_s = 1.0;
  double backoff_cap_s = 60.0;
  double retry_after_cap_s = 600.0;           // a longer Retry-After is waited for this long, then retried
};

// A bare host gets "/v1"; a trailing "/" or a pasted ".../chat/completions" or ".../completions" is dropped.
// InputError when it is not an http(s) URL.
std::string normalize_endpoint(const std::string& url);

// Seconds to wait for a Retry-After value: delta-seconds or an HTTP date (relative to `now`). nullopt if neither.
std::optional<double> parse_retry_after(const std::string& value, std::time_t now);

class OpenAIBackend : public Backend {
 public:
  // Checks the options (InputError naming the flag); does not contact the server.
  explicit OpenAIBackend(OpenAIBackendOptions options);
  ~OpenAIBackend() override;

  ModelIdentity identity() const override;
  // `concurrency` worker threads, each with its own connection, take (request, sample) jobs in order. If
  // `on_result` throws or a request fails for good, in-flight transfers are aborted and the first error propagates.
  void generate(const std::vector<GenerationRequest>& requests,
                const std::function<void(GenerationResult)>& on_result) override;

  // Retries so far, by cause: "http_429", "http_5xx", "timeout", "connection", "malformed".
  std::map<std::string, int64_t> retry_counts() const;

 private:
  struct Attempt;
  class Worker;
  void count_retry(const std::string& cause);
  OpenAIBackendOptions options_;
  std::string auth_header_;  // "Authorization: Bearer …" or empty; never logged
  mutable std::mutex counts_mutex_;
  std::map<std::string, int64_t> retry_counts_;
};

}  // namespace crucible::harness
