// A served teacher scoring token sequences: `distill onpolicy --endpoint` asks an OpenAI-compatible server (vLLM,
// SGLang, `crucible serve`) for the teacher's logprobs of the student's tokens. Torch-free (libcurl via http.h).
//
// What is sent, one POST {endpoint}/completions per sequence:
//   {"model", "prompt": [token ids], "echo": true, "max_tokens": 0, "logprobs": K,
//    "return_tokens_as_token_ids": true}
// The prompt is the ids as they are (no re-tokenisation: vLLM and crucible serve take a list of ints), echo + logprobs
// scores every prompt position, max_tokens 0 generates nothing. A server that refuses max_tokens 0 (HTTP 400/422
// naming max_tokens) is asked with 1 from then on and its one generated token ignored. return_tokens_as_token_ids
// (vLLM, crucible serve) names every token "token_id:N", so each alternative maps to an id exactly; token text is
// ambiguous (two ids may decode to the same bytes, a byte-fallback token is not valid UTF-8), so a server that
// answers with text is refused (InputError naming logprobs.tokens).
//
// What comes back, per sequence, for the positions from `first` on (the completion): the teacher's logprob of the
// token there (logprobs.token_logprobs) and its K most likely alternatives (logprobs.top_logprobs, (id, logprob),
// most likely first; a server that lists fewer leaves -1 ids). Logprobs are the server's: log_softmax of the raw
// logits (temperature 1) in vLLM's default logprobs mode and in crucible serve.
//
// Checks, each an InputError naming the endpoint and the field: a response without choices[0].logprobs (the server
// does not score prompts), fewer echoed tokens than sent (echo unsupported), an echoed token that is not the id sent
// (the server re-tokenised the prompt), a top_logprobs entry missing at a completion position, or an id outside the
// student's vocabulary (the teacher has another tokenizer). The tokenizers are otherwise assumed equal: the ids the
// student sampled are read by the teacher as its own.
//
// Failures: as the eval backend (http.h): 429/408/5xx, timeouts, reset connections and malformed bodies are retried
// with backoff; any other HTTP status stops the run with the server's words and the endpoint named (RunError), as
// does giving up. The API key comes from the environment variable named and is never logged or stored.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace crucible::harness {

namespace http {
class Connection;
}

struct TeacherScorerOptions {
  std::string endpoint;  // base URL (normalize_endpoint: a bare host gets /v1)
  std::string model;     // the server's model name (--api-model)
  std::string api_key_env = "OPENAI_API_KEY";
  int64_t top_k = 20;    // alternatives per position (crucible serve and OpenAI allow <= 20; vLLM its max_logprobs)
  int concurrency = 8;   // requests in flight
  double request_timeout_s = 600;
  double connect_timeout_s = 30;
  int max_retries = 8;
  double backoff_base_s = 1.0, backoff_cap_s = 60.0;
};

// One sequence's scores from position `first` on: n = ids.size() - first positions.
struct TeacherScores {
  std::vector<double> token_logprob;  // [n]: the teacher's logprob of ids[first + i]
  std::vector<int32_t> top_ids;       // [n * K], -1 where the server listed fewer
  std::vector<double> top_logprobs;   // [n * K]
};

class TeacherScorer {
 public:
  // InputError naming the flag for bad options; does not contact the server.
  explicit TeacherScorer(TeacherScorerOptions options);
  const TeacherScorerOptions& options() const { return options_; }

  // Scores every sequence (positions first[i] .. ids[i].size() - 1; first[i] >= 1), `concurrency` at a time.
  // `vocab_size`: the student's; a returned id at or above it is refused. The first error stops the others.
  std::vector<TeacherScores> score(const std::vector<std::vector<int32_t>>& ids, const std::vector<size_t>& first,
                                   int64_t vocab_size);

  // Whether the server refused max_tokens 0 and is asked with 1 (logged once when it happens).
  bool generates_one_token() const { return max_tokens_one_; }

 private:
  TeacherScores score_one(http::Connection& connection, const std::vector<int32_t>& ids, size_t first,
                          int64_t vocab_size);
  TeacherScorerOptions options_;
  std::string auth_header_;  // never logged
  std::atomic<bool> max_tokens_one_{false};
};

}  // namespace crucible::harness
