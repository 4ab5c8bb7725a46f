// The OpenAI API as crucible serves it: request bodies in, response and stream-chunk bodies out, and errors in
// OpenAI's shape {"error": {"message", "type", "param", "code"}}. Pure JSON, no I/O; every way a client can get a
// request wrong is a value (ApiError), not an exception.
//
// Status codes: 400 the body is not what the endpoint takes (malformed JSON, a missing or wrongly typed field, a
// chat request to a model without a chat template); 422 well-formed values out of range (max_tokens <= 0,
// temperature < 0, n above the limit, ...); 413 too large (the body, or prompt + max_tokens over the context);
// 404 an unknown model or route. Unknown fields are ignored, as OpenAI's own server does.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/text/chat_template.h"
#include "serve/generator.h"

namespace crucible::serve {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending field ("" for none -> null)
  std::string code;   // "" -> null
  nlohmann::json to_json() const;
};

enum class Endpoint { completions, chat };

struct Prompt {
  std::string text;
  std::optional<std::vector<int32_t>> ids;  // the prompt was given as token ids
};

struct ApiRequest {
  Endpoint endpoint = Endpoint::completions;
  std::string model;  // "" when absent: the served model
  std::vector<Prompt> prompts;               // completions: one or more
  std::vector<text::ChatMessage> messages;   // chat
  int64_t n = 1;
  std::optional<int64_t> max_tokens;  // absent: 16 for completions (OpenAI's default), the rest of the context for chat
  // seed filled only when `seed` was given; logprobs/top_logprobs from chat's `logprobs: true` + `top_logprobs: N`
  // or completions' `logprobs: N`
  model::SamplingParams sampling;
  bool has_seed = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool echo = false;           // completions: the prompt is repeated before the completion (and scored, with logprobs)
  // vLLM's return_tokens_as_token_ids: every logprob entry's token (and completions' top_logprobs keys) is
  // "token_id:N", so a client maps alternatives to ids exactly (two ids may decode to the same text)
  bool tokens_as_ids = false;
  // chat: render without the generation prompt and let the model continue the last message (a partial assistant
  // turn such as R1's "<think>\n"), as transformers' and vLLM's continue_final_message
  bool add_generation_prompt = true;
  bool continue_final_message = false;
};

struct Limits {
  int64_t max_n = 64;       // samples per prompt
  int64_t max_prompts = 64; // prompts per completions request
  size_t max_stop = 4;      // stop strings (OpenAI allows 4)
};

std::variant<ApiRequest, ApiError> parse_request(Endpoint endpoint, std::string_view body, const Limits& limits);

// The chat text rendered without a generation prompt, cut right after the final message's content so the model
// continues it (transformers' apply_chat_template(continue_final_message=True) rule, whitespace handling included);
// nullopt when the template does not write that content.
std::optional<std::string> continue_final_message(const std::string& rendered, const std::string& final_content);

struct Choice {
  int64_t index = 0;
  std::string text;
  std::string finish_reason;
  nlohmann::json logprobs;  // null, or the endpoint's logprobs object (chat_logprobs / completion_logprobs)
};

// OpenAI's logprobs objects. Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
// Completions: {"tokens", "token_logprobs", "top_logprobs" ({token: logprob} or null), "text_offset"}; with echo the
// prompt's tokens come first, its first token with null logprobs (nothing precedes it), `first_token` its id and
// bytes. `as_ids`: tokens named "token_id:N" (return_tokens_as_token_ids), else by their bytes.
std::string token_name(const std::string& bytes, int32_t id, bool as_ids);
nlohmann::json chat_logprobs(const std::vector<TokenLogprob>& completion, bool as_ids = false);
nlohmann::json completion_logprobs(const std::optional<TopLogprob>& first_token,
                                   const std::vector<TokenLogprob>& prompt, const std::vector<TokenLogprob>& completion,
                                   bool with_top, bool as_ids = false);
struct Usage {
  int64_t prompt_tokens = 0, completion_tokens = 0;
};
struct ResponseMeta {
  std::string id;  // "cmpl-…" | "chatcmpl-…"
  int64_t created = 0;
  std::string model;
  Endpoint endpoint = Endpoint::completions;
};

nlohmann::json response_body(const ResponseMeta& meta, const std::vector<Choice>& choices, const Usage& usage);
// One stream chunk. Completions: {"text": piece}. Chat: the delta carries `role` when `first`, else `content`;
// `finish_reason` set closes the choice (chat delta {}).
nlohmann::json chunk_body(const ResponseMeta& meta, int64_t index, std::string_view piece, bool first,
                          const std::optional<std::string>& finish_reason);
nlohmann::json usage_chunk_body(const ResponseMeta& meta, const Usage& usage);  // stream_options.include_usage
nlohmann::json usage_json(const Usage& usage);

}  // namespace crucible::serve
