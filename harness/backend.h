// What the eval loop needs from a generation backend (the native engine in model/, or an OpenAI-compatible
// endpoint): the identity of the model it serves, and a blocking generate() that streams each finished sample back
// as soon as it is done, from any thread. Torch-free.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "harness/protocol.h"
#include "model/logprobs.h"

namespace crucible::harness {

struct ModelIdentity {
  std::string path;            // checkpoint path or endpoint URL + model name
  std::string format;          // hf, gguf, llama2c, endpoint
  std::string content_hash;    // sha256 of the weights (or of the endpoint + model name)
  std::string template_hash;   // sha256 of the chat template applied (empty: none)
  nlohmann::json config = nlohmann::json::object();
};

// One prompt and the samples wanted from it. The samples of one request share one prefill where the backend can.
struct GenerationRequest {
  uint64_t id = 0;
  std::string suite;        // which problem this is (ids only, never question text)
  std::string problem_key;
  std::vector<ChatTurn> messages;
  std::string assistant_prefix;            // appended after the chat template's generation prompt
  SamplingConfig sampling;                 // temperature, top-p, top-k, min-p, max new tokens, stop strings
  std::vector<int64_t> sample_indices;     // which samples of the problem to produce
  std::vector<uint64_t> seeds;             // one per sample: a sample's text depends on its own seed only
};

struct GenerationResult {
  uint64_t request_id = 0;
  int64_t sample_index = 0;
  std::string text;                        // the completion, after the assistant prefix
  std::optional<std::string> reasoning;    // an API's separate reasoning_content
  std::string prompt_hash;                 // sha256 of the exact prompt text or request sent
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::optional<int64_t> reasoning_tokens;  // where the backend reports them apart (an API's usage details)
  std::string finish_reason;               // stop | length | error
  double latency_ms = 0;
  std::vector<TokenLogprob> logprobs;      // one per completion token when sampling.logprobs is set
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual ModelIdentity identity() const = 0;
  // Produces every requested sample, calling `on_result` once per sample as it finishes (possibly concurrently).
  // If `on_result` throws, generation stops and the exception propagates out of generate().
  virtual void generate(const std::vector<GenerationRequest>& requests,
                        const std::function<void(GenerationResult)>& on_result) = 0;
  // What the backend had to do differently from what the run's config says (a server that refused the assistant
  // prefix, say), one sentence each. The eval loop adds them to the run's stored config ("warnings").
  virtual std::vector<std::string> warnings() const { return {}; }
};

}  // namespace crucible::harness
