// An OpenAI-compatible HTTP server as an eval backend: vLLM, SGLang, the DeepSeek API, `crucible serve`, anything
// that speaks POST {endpoint}/chat/completions or {endpoint}/completions. Torch-free (libcurl only).
//
// What is sent, and what is not:
//   chat         the messages as they are; the server applies its own chat template. The protocol's assistant
//                prefix ("<think>\n" under R1) is sent as a final, partial assistant message that the answer
//                continues: with `continue_final_message: true, add_generation_prompt: false` (vLLM, SGLang, crucible
//                serve; the default, --assistant-prefix-via continue) or with the message's `prefix: true` (DeepSeek's
//                API; --assistant-prefix-via prefix); `none` does not send it, and the server's template decides how
//                the answer starts. A server that refuses the request with the prefix (HTTP 400/422) while it takes
//                it without is asked without it from then on: a warning says so in the log and in the run's stored
//                config ("warnings"). The run config records the way ("assistant_prefix_via").
//   completions  one text prompt, no template applied by crucible: every message's content followed by "\n", then
//                the assistant prefix — the text the native engine feeds a checkpoint that has no chat template.
//   sampling     temperature, top_p, max_tokens, stop; top_k and min_p only when set (vLLM/SGLang extensions).
//   logprobs     when SamplingConfig::logprobs is set: chat `logprobs: true, top_logprobs: N`, completions
//                `logprobs: N`; the answer's per-token logprobs (OpenAI, vLLM and SGLang shapes) fill
//                GenerationResult::logprobs with token_id -1 (vLLM's "token_id:N" tokens give the id), the token's
//                bytes, its logprob and the top-N, most likely first. A server that answers without them stops the
//                run (RunError): retrying cannot help.
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
// Failures (harness/http.h classifies and times them, for `crucible data pull` too): 429, 408, 5xx, timeouts,
// refused or reset connections, truncated bodies and malformed JSON are retried up to max_retries times with
// exponential backoff and full jitter (uniform in [0, min(cap, base·2^attempt)]), or after the server's Retry-After
// (seconds or an HTTP date; retry-after-ms too) when it sends one. Any other 4xx (bad request, unknown model, refused
// key) stops the run at once with the server's message: retrying cannot fix it. Giving up also stops the run (status
// "interrupted"); nothing stored is lost and `--resume` continues it.
//
// The API key is read from the environment variable named (default OPENAI_API_KEY; unset or empty: no
// Authorization header). It is held in memory only: never logged, stored, or echoed in an error message.
#pragma once
#include <atomic>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/backend.h"
#include "harness/http.h"

namespace crucible::harness {

struct OpenAIBackendOptions {
  std::string endpoint;                       // base URL: http://host:8000/v1 (a bare host gets /v1)
  std::string model;                          // the server's model name (--api-model)
  std::string api = "chat";                   // chat | completions
  std::string api_key_env = "OPENAI_API_KEY";
  std::string assistant_prefix_via = "continue";  // chat: continue (continue_final_message) | prefix (DeepSeek) | none
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

using http::parse_retry_after;

// "Authorization: Bearer <key>" from the environment variable named, or "" when it is unset or empty. Holds the
// secret: never log it.
std::string bearer_header(const std::string& api_key_env);

// A 200 whose body is not the JSON asked for: truncated, garbage, or an error object. Retried.
struct MalformedResponse : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One choice's logprobs. Chat: choices[i].logprobs.content = [{token, logprob, bytes, top_logprobs: [{token,
// logprob, bytes}]}] (OpenAI, vLLM, SGLang). Completions: choices[i].logprobs = {tokens, token_logprobs,
// top_logprobs: [{token: logprob} or null]}, alternatives sorted most likely first. A token named "token_id:N"
// (return_tokens_as_token_ids) gets its id, any other -1. RunError when the choice has no logprobs object,
// MalformedResponse when it is not of that shape.
std::vector<TokenLogprob> parse_logprobs(const nlohmann::json& choice, bool chat);

// Stored with the run (config "backend", kind "endpoint") so that `crucible eval --resume RUN` alone can reconnect.
// The key is not stored, only the name of the variable that holds it.
nlohmann::json to_json(const OpenAIBackendOptions& options);
OpenAIBackendOptions openai_backend_options_from_json(const nlohmann::json& j, const std::string& where);

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

  // The server refused the assistant prefix, if it did (see the header comment).
  std::vector<std::string> warnings() const override;

  // Retries so far, by cause: "http_429", "http_5xx", "timeout", "connection", "malformed".
  std::map<std::string, int64_t> retry_counts() const;

 private:
  struct Prepared;
  class Worker;
  void count_retry(const std::string& cause);
  void note_prefix_refused(const std::string& server_said);
  OpenAIBackendOptions options_;
  std::string auth_header_;  // "Authorization: Bearer …" or empty; never logged
  std::atomic<bool> prefix_refused_{false};
  mutable std::mutex counts_mutex_;
  std::map<std::string, int64_t> retry_counts_;
  std::vector<std::string> warnings_;
};

}  // namespace crucible::harness
