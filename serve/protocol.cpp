#include "serve/protocol.h"

#include <cmath>
#include <limits>

namespace crucible::serve {
namespace {

using Json = nlohmann::json;

const char* kind(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::number_float: return "a number";
    default: return "an integer";
  }
}

ApiError bad_type(const std::string& field, const char* want, const Json& got) {
  return {400, "'" + field + "' must be " + want + ", got " + kind(got), "invalid_request_error", field, "invalid_type"};
}
ApiError out_of_range(const std::string& field, const std::string& what) {
  return {422, "'" + field + "' " + what, "invalid_request_error", field, "invalid_value"};
}

// Reads an optional field of the body; a null value counts as absent (the openai client sends explicit nulls).
template <typename F>
std::optional<ApiError> field(const Json& body, const char* name, F&& read) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  return read(*it);
}

std::optional<ApiError> read_number(const Json& body, const char* name, double& out) {
  return field(body, name, [&](const Json& v) -> std::optional<ApiError> {
    if (!v.is_number()) return bad_type(name, "a number", v);
    out = v.get<double>();
    if (!std::isfinite(out)) return out_of_range(name, "must be finite");
    return std::nullopt;
  });
}

std::optional<ApiError> read_int(const Json& body, const char* name, std::optional<int64_t>& out) {
  return field(body, name, [&](const Json& v) -> std::optional<ApiError> {
    if (v.is_number_integer() || v.is_number_unsigned()) {
      if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return out_of_range(name, "is too large");
      out = v.get<int64_t>();
      return std::nullopt;
    }
    // 16.0 is accepted as 16, as Python clients may send it; 16.5 is not an integer.
    if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()) &&
        std::abs(v.get<double>()) < 9e15) {
      out = static_cast<int64_t>(v.get<double>());
      return std::nullopt;
    }
    return bad_type(name, "an integer", v);
  });
}

std::optional<ApiError> read_bool(const Json& body, const char* name, bool& out) {
  return field(body, name, [&](const Json& v) -> std::optional<ApiError> {
    if (!v.is_boolean()) return bad_type(name, "a boolean", v);
    out = v.get<bool>();
    return std::nullopt;
  });
}

std::optional<ApiError> read_token_ids(const Json& v, const std::string& name, std::vector<int32_t>& out) {
  for (const auto& t : v) {
    if (!(t.is_number_integer() || t.is_number_unsigned()) || t.get<int64_t>() < 0 ||
        t.get<int64_t>() > std::numeric_limits<int32_t>::max())
      return bad_type(name, "a string, an array of strings, or token ids (non-negative integers)", t);
    out.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return std::nullopt;
}

std::optional<ApiError> read_prompts(const Json& body, std::vector<Prompt>& prompts, const Limits& limits) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null())
    return ApiError{400, "'prompt' is required", "invalid_request_error", "prompt", "missing_required_parameter"};
  const Json& p = *it;
  const char* want = "a string, an array of strings, or token ids";
  if (p.is_string()) {
    prompts.push_back({p.get<std::string>(), std::nullopt});
  } else if (p.is_array()) {
    if (p.empty()) return out_of_range("prompt", "must not be an empty array");
    if (p[0].is_number()) {  // one prompt as token ids
      Prompt q;
      q.ids.emplace();
      if (auto e = read_token_ids(p, "prompt", *q.ids)) return e;
      prompts.push_back(std::move(q));
    } else {
      for (const auto& e : p) {
        if (e.is_string()) {
          prompts.push_back({e.get<std::string>(), std::nullopt});
        } else if (e.is_array() && !e.empty()) {
          Prompt q;
          q.ids.emplace();
          if (auto err = read_token_ids(e, "prompt", *q.ids)) return err;
          prompts.push_back(std::move(q));
        } else {
          return bad_type("prompt", want, e);
        }
      }
    }
  } else {
    return bad_type("prompt", want, p);
  }
  if (static_cast<int64_t>(prompts.size()) > limits.max_prompts)
    return out_of_range("prompt", "has " + std::to_string(prompts.size()) + " prompts; at most " +
                                      std::to_string(limits.max_prompts) + " per request");
  return std::nullopt;
}

std::optional<ApiError> read_messages(const Json& body, std::vector<text::ChatMessage>& messages) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null())
    return ApiError{400, "'messages' is required", "invalid_request_error", "messages", "missing_required_parameter"};
  if (!it->is_array()) return bad_type("messages", "an array of messages", *it);
  if (it->empty()) return out_of_range("messages", "must hold at least one message");
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& m = (*it)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return bad_type(where, "an object", m);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return bad_type(where + ".role", "a string", role == m.end() ? Json() : *role);
    text::ChatMessage msg{role->get<std::string>(), ""};
    auto content = m.find("content");
    if (content != m.end() && !content->is_null()) {
      if (content->is_string()) {
        msg.content = content->get<std::string>();
      } else if (content->is_array()) {  // content parts: only text ones
        for (const auto& part : *content) {
          if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
            return bad_type(where + ".content", "a string or an array of {\"type\": \"text\", \"text\": ...} parts", part);
          msg.content += part["text"].get<std::string>();
        }
      } else {
        return bad_type(where + ".content", "a string or an array of text parts", *content);
      }
    }
    messages.push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ApiError> parse_into(Endpoint endpoint, const Json& body, const Limits& limits, ApiRequest& r) {
  if (!body.is_object()) return ApiError{400, std::string("the request body must be a JSON object, got ") + kind(body)};
  r.endpoint = endpoint;
  if (auto e = field(body, "model", [&](const Json& v) -> std::optional<ApiError> {
        if (!v.is_string()) return bad_type("model", "a string", v);
        r.model = v.get<std::string>();
        return std::nullopt;
      }))
    return e;
  if (endpoint == Endpoint::completions) {
    if (auto e = read_prompts(body, r.prompts, limits)) return e;
  } else if (auto e = read_messages(body, r.messages)) {
    return e;
  }
  std::optional<int64_t> n, max_tokens, top_k, seed;
  if (auto e = read_int(body, "n", n)) return e;
  if (auto e = read_int(body, "max_tokens", max_tokens)) return e;
  if (endpoint == Endpoint::chat)
    if (auto e = read_int(body, "max_completion_tokens", max_tokens)) return e;  // the newer name wins
  if (auto e = read_int(body, "top_k", top_k)) return e;
  if (auto e = read_int(body, "seed", seed)) return e;
  if (auto e = read_number(body, "temperature", r.sampling.temperature)) return e;
  if (auto e = read_number(body, "top_p", r.sampling.top_p)) return e;
  if (auto e = read_number(body, "min_p", r.sampling.min_p)) return e;
  if (auto e = read_bool(body, "stream", r.stream)) return e;
  std::optional<int64_t> top_logprobs;
  if (endpoint == Endpoint::chat) {
    if (auto e = read_bool(body, "logprobs", r.sampling.logprobs)) return e;
    if (auto e = read_int(body, "top_logprobs", top_logprobs)) return e;
    if (auto e = read_bool(body, "add_generation_prompt", r.add_generation_prompt)) return e;
    if (auto e = read_bool(body, "continue_final_message", r.continue_final_message)) return e;
    if (top_logprobs && !r.sampling.logprobs)
      return out_of_range("top_logprobs", "needs 'logprobs': true");
    if (r.continue_final_message && r.add_generation_prompt && body.contains("add_generation_prompt") &&
        !body["add_generation_prompt"].is_null())
      return ApiError{400, "'continue_final_message' and 'add_generation_prompt' cannot both be true",
                      "invalid_request_error", "continue_final_message", "invalid_value"};
    // vLLM's rule: continuing the final message means no generation prompt, whether or not the client said so.
    if (r.continue_final_message) r.add_generation_prompt = false;
  } else {
    if (auto e = read_int(body, "logprobs", top_logprobs)) return e;  // completions: the number of alternatives
    if (auto e = read_bool(body, "echo", r.echo)) return e;
    r.sampling.logprobs = top_logprobs.has_value();
  }
  if (auto e = read_bool(body, "return_tokens_as_token_ids", r.tokens_as_ids)) return e;
  if (top_logprobs) {
    if (*top_logprobs < 0 || *top_logprobs > 20)
      return out_of_range(endpoint == Endpoint::chat ? "top_logprobs" : "logprobs", "must be in 0..20");
    r.sampling.top_logprobs = *top_logprobs;
  }
  if (r.stream && (r.sampling.logprobs || r.echo))
    return out_of_range(r.echo ? "echo" : "logprobs", "is not supported with 'stream' by this server");
  if (auto e = field(body, "stream_options", [&](const Json& v) -> std::optional<ApiError> {
        if (!v.is_object()) return bad_type("stream_options", "an object", v);
        return read_bool(v, "include_usage", r.include_usage);
      }))
    return e;
  if (auto e = field(body, "stop", [&](const Json& v) -> std::optional<ApiError> {
        if (v.is_string()) {
          r.sampling.stop.push_back(v.get<std::string>());
          return std::nullopt;
        }
        if (!v.is_array()) return bad_type("stop", "a string or an array of strings", v);
        for (const auto& s : v) {
          if (!s.is_string()) return bad_type("stop", "a string or an array of strings", s);
          r.sampling.stop.push_back(s.get<std::string>());
        }
        return std::nullopt;
      }))
    return e;

  if (n) {
    if (*n < 1) return out_of_range("n", "must be at least 1");
    if (*n > limits.max_n) return out_of_range("n", "must be at most " + std::to_string(limits.max_n));
    r.n = *n;
  }
  if (max_tokens) {
    // max_tokens 0 scores a prompt without generating (echo + logprobs), as a distillation teacher is asked to.
    const bool scoring_only = *max_tokens == 0 && r.echo && r.sampling.logprobs;
    if (*max_tokens < 1 && !scoring_only) {
      const bool newer = endpoint == Endpoint::chat && body.contains("max_completion_tokens") &&
                         !body["max_completion_tokens"].is_null();
      return out_of_range(newer ? "max_completion_tokens" : "max_tokens",
                          "must be at least 1 (0 only with echo and logprobs: scoring the prompt)");
    }
    r.max_tokens = max_tokens;
  }
  if (top_k) {
    if (*top_k < -1) return out_of_range("top_k", "must be -1 or 0 (off) or a positive count");
    r.sampling.top_k = std::max<int64_t>(*top_k, 0);
  }
  if (seed) {
    r.has_seed = true;
    r.sampling.seed = static_cast<uint64_t>(*seed);
  }
  if (r.sampling.temperature < 0) return out_of_range("temperature", "must be >= 0");
  if (!(r.sampling.top_p > 0 && r.sampling.top_p <= 1)) return out_of_range("top_p", "must be in (0, 1]");
  if (r.sampling.min_p < 0 || r.sampling.min_p >= 1) return out_of_range("min_p", "must be in [0, 1)");
  if (r.sampling.stop.size() > limits.max_stop)
    return out_of_range("stop", "has " + std::to_string(r.sampling.stop.size()) + " strings; at most " +
                                    std::to_string(limits.max_stop));
  std::erase_if(r.sampling.stop, [](const std::string& s) { return s.empty(); });
  return std::nullopt;
}

}  // namespace

Json ApiError::to_json() const {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? Json() : Json(param)},
            {"code", code.empty() ? Json() : Json(code)}}}};
}

std::variant<ApiRequest, ApiError> parse_request(Endpoint endpoint, std::string_view body, const Limits& limits) {
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    return ApiError{400, std::string("the request body is not valid JSON: ") + e.what(), "invalid_request_error", "",
                    "invalid_json"};
  }
  ApiRequest r;
  if (auto e = parse_into(endpoint, j, limits, r)) return *e;
  return r;
}

Json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

namespace {
Json envelope(const ResponseMeta& m, bool chunk) {
  const char* object = m.endpoint == Endpoint::chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                                    : "text_completion";
  return {{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model}};
}
}  // namespace

Json response_body(const ResponseMeta& m, const std::vector<Choice>& choices, const Usage& usage) {
  Json out = envelope(m, false);
  Json cs = Json::array();
  for (const auto& c : choices) {
    if (m.endpoint == Endpoint::chat)
      cs.push_back({{"index", c.index},
                    {"message", {{"role", "assistant"}, {"content", c.text}}},
                    {"logprobs", c.logprobs},
                    {"finish_reason", c.finish_reason}});
    else
      cs.push_back({{"index", c.index}, {"text", c.text}, {"logprobs", c.logprobs}, {"finish_reason", c.finish_reason}});
  }
  out["choices"] = std::move(cs);
  out["usage"] = usage_json(usage);
  return out;
}

Json chunk_body(const ResponseMeta& m, int64_t index, std::string_view piece, bool first,
                const std::optional<std::string>& finish_reason) {
  Json out = envelope(m, true);
  Json c = {{"index", index}, {"logprobs", nullptr}};
  if (m.endpoint == Endpoint::chat) {
    Json delta = Json::object();
    if (first) delta["role"] = "assistant";
    if (!piece.empty() || (first && !finish_reason)) delta["content"] = std::string(piece);
    c["delta"] = std::move(delta);
  } else {
    c["text"] = std::string(piece);
  }
  c["finish_reason"] = finish_reason ? Json(*finish_reason) : Json();
  out["choices"] = Json::array({c});
  return out;
}

std::optional<std::string> continue_final_message(const std::string& rendered, const std::string& final_content) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  size_t b = 0, e = final_content.size();
  while (b < e && is_space(final_content[b])) ++b;
  while (e > b && is_space(final_content[e - 1])) --e;
  const std::string stripped = final_content.substr(b, e - b);
  const size_t at = rendered.rfind(stripped);
  if (at == std::string::npos) return std::nullopt;
  const std::string lstripped = final_content.substr(b);
  // The template kept the message's trailing whitespace: keep it too; else cut after the stripped content.
  if (rendered.compare(at, lstripped.size(), lstripped) == 0) return rendered.substr(0, at + lstripped.size());
  return rendered.substr(0, at + stripped.size());
}

namespace {
Json token_bytes_json(const std::string& text) { return std::vector<int>(text.begin(), text.end()); }
}  // namespace

std::string token_name(const std::string& bytes, int32_t id, bool as_ids) {
  return as_ids ? "token_id:" + std::to_string(id) : bytes;
}

Json chat_logprobs(const std::vector<TokenLogprob>& completion, bool as_ids) {
  Json content = Json::array();
  for (const auto& lp : completion) {
    Json top = Json::array();
    for (const auto& t : lp.top)
      top.push_back({{"token", token_name(t.text, t.token_id, as_ids)}, {"logprob", t.logprob},
                     {"bytes", token_bytes_json(t.text)}});
    content.push_back({{"token", token_name(lp.text, lp.token_id, as_ids)}, {"logprob", lp.logprob},
                       {"bytes", token_bytes_json(lp.text)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

Json completion_logprobs(const std::optional<TopLogprob>& first_token, const std::vector<TokenLogprob>& prompt,
                         const std::vector<TokenLogprob>& completion, bool with_top, bool as_ids) {
  Json tokens = Json::array(), values = Json::array(), tops = Json::array(), offsets = Json::array();
  size_t offset = 0;
  // text_offset counts the tokens' bytes whatever names them.
  auto add = [&](const std::string& name, size_t bytes, Json value, Json top) {
    tokens.push_back(name);
    values.push_back(std::move(value));
    tops.push_back(std::move(top));
    offsets.push_back(offset);
    offset += bytes;
  };
  if (first_token)
    add(token_name(first_token->text, first_token->token_id, as_ids), first_token->text.size(), nullptr, nullptr);
  for (const auto* part : {&prompt, &completion})
    for (const auto& lp : *part) {
      Json top = Json::object();
      for (const auto& t : lp.top) top[token_name(t.text, t.token_id, as_ids)] = t.logprob;
      add(token_name(lp.text, lp.token_id, as_ids), lp.text.size(), lp.logprob, with_top ? top : Json());
    }
  return {{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

Json usage_chunk_body(const ResponseMeta& m, const Usage& usage) {
  Json out = envelope(m, true);
  out["choices"] = Json::array();
  out["usage"] = usage_json(usage);
  return out;
}

}  // namespace crucible::serve
