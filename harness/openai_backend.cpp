// The OpenAI-compatible backend: a pool of worker threads, each with one keep-alive connection (harness/http.h) (its connection is kept
// alive between requests), taking (request, sample) jobs in order. What is sent and how failures are treated is in
// the header comment; this file is the mechanics.
#include "harness/openai_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/thread_pool.h"
#include "harness/http.h"

namespace crucible::harness {

std::string bearer_header(const std::string& api_key_env) {
  if (const char* key = std::getenv(api_key_env.c_str()); key && *key) return std::string("Authorization: Bearer ") + key;
  return "";
}

namespace {

std::string trim(const std::string& s) {
  size_t first = s.find_first_not_of(" \t\r\n\f\v");
  return first == std::string::npos ? "" : s.substr(first, s.find_last_not_of(" \t\r\n\f\v") - first + 1);
}

std::string finish_reason_of(const nlohmann::json& v) {
  if (!v.is_string()) return "error";
  std::string s = v.get<std::string>();
  if (s == "stop" || s == "eos") return "stop";
  if (s == "length" || s == "max_tokens") return "length";
  return "error";  // content_filter, abort, tool calls: no answer to grade
}

int64_t int_or_zero(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// A token's text from an OpenAI-shaped logprob entry: its exact bytes when the server sends them (a token may be part
// of a UTF-8 sequence), else its "token" string. vLLM's `return_tokens_as_token_ids` sends "token_id:N": the id.
void read_token(const nlohmann::json& e, std::string& text, int32_t& id) {
  auto b = e.find("bytes");
  if (b != e.end() && b->is_array()) {
    text.clear();
    for (const auto& v : *b)
      if (v.is_number_integer()) text.push_back(static_cast<char>(v.get<int>()));
  } else if (auto t = e.find("token"); t != e.end() && t->is_string()) {
    text = t->get<std::string>();
  }
  if (auto t = e.find("token"); t != e.end() && t->is_string() && t->get_ref<const std::string&>().rfind("token_id:", 0) == 0)
    id = static_cast<int32_t>(std::strtol(t->get_ref<const std::string&>().c_str() + 9, nullptr, 10));
}

// null where a server had -inf (JSON has no infinity).
double logprob_value(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_null()) return -std::numeric_limits<double>::infinity();
  throw MalformedResponse("a logprob is not a number");
}

}  // namespace

std::vector<TokenLogprob> parse_logprobs(const nlohmann::json& choice, bool chat) {
  auto lp = choice.find("logprobs");
  if (lp == choice.end() || !lp->is_object())
    throw RunError("the server answered without logprobs although they were asked for (does it support them?)");
  std::vector<TokenLogprob> out;
  if (chat) {
    auto content = lp->find("content");
    if (content == lp->end() || content->is_null()) return out;  // an empty completion
    if (!content->is_array()) throw MalformedResponse("logprobs.content is not an array");
    for (const auto& e : *content) {
      if (!e.is_object()) throw MalformedResponse("logprobs.content[i] is not an object");
      TokenLogprob t;
      read_token(e, t.text, t.token_id);
      t.logprob = logprob_value(e.value("logprob", nlohmann::json()));
      if (auto top = e.find("top_logprobs"); top != e.end() && top->is_array())
        for (const auto& a : *top) {
          TopLogprob x;
          read_token(a, x.text, x.token_id);
          x.logprob = logprob_value(a.value("logprob", nlohmann::json()));
          t.top.push_back(std::move(x));
        }
      out.push_back(std::move(t));
    }
    return out;
  }
  auto tokens = lp->find("tokens");
  auto values = lp->find("token_logprobs");
  if (tokens == lp->end() || values == lp->end() || !tokens->is_array() || !values->is_array() ||
      tokens->size() != values->size())
    throw MalformedResponse("logprobs.tokens and logprobs.token_logprobs are not arrays of one length");
  auto tops = lp->find("top_logprobs");
  bool have_tops = tops != lp->end() && tops->is_array() && tops->size() == tokens->size();
  for (size_t i = 0; i < tokens->size(); ++i) {
    TokenLogprob t;
    read_token({{"token", (*tokens)[i]}}, t.text, t.token_id);
    t.logprob = logprob_value((*values)[i]);
    if (have_tops && (*tops)[i].is_object()) {
      for (const auto& [text, v] : (*tops)[i].items()) {
        TopLogprob x;
        read_token({{"token", text}}, x.text, x.token_id);
        x.logprob = logprob_value(v);
        t.top.push_back(std::move(x));
      }
      // A JSON object has no order: most likely first, as the chat form lists them.
      std::stable_sort(t.top.begin(), t.top.end(), [](const auto& a, const auto& b) { return a.logprob > b.logprob; });
    }
    out.push_back(std::move(t));
  }
  return out;
}

namespace {

// Parses one non-streamed completion. Throws MalformedResponse on anything that is not one.
GenerationResult parse_completion(const std::string& body, bool chat, bool want_logprobs) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw MalformedResponse(fmt::format("not JSON ({} bytes): {}", body.size(), e.what()));
  }
  if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) {
    // Some proxies answer 200 with an error object: keep its words for the log and the final error.
    std::string said = j.is_object() && j.contains("error") ? ": " + j["error"].dump().substr(0, 300) : "";
    throw MalformedResponse("no 'choices' array in the response" + said);
  }
  const auto& c = j["choices"][0];
  if (!c.is_object()) throw MalformedResponse("choices[0] is not an object");
  GenerationResult r;
  std::string content;
  if (chat) {
    auto m = c.find("message");
    if (m == c.end() || !m->is_object()) throw MalformedResponse("choices[0] has no 'message' object");
    auto ct = m->find("content");
    if (ct != m->end() && ct->is_string()) content = ct->get<std::string>();
    else if (ct != m->end() && !ct->is_null()) throw MalformedResponse("message.content is not a string");
    for (const char* key : {"reasoning_content", "reasoning"}) {
      auto rc = m->find(key);
      if (rc != m->end() && rc->is_string()) {
        r.reasoning = rc->get<std::string>();
        break;
      }
    }
  } else {
    auto t = c.find("text");
    if (t == c.end() || !t->is_string()) throw MalformedResponse("choices[0] has no 'text' string");
    content = t->get<std::string>();
  }
  // The server cut the reasoning off at </think>: put it back so every server's samples have one format.
  r.text = !r.reasoning ? content : content.empty() ? *r.reasoning : *r.reasoning + "</think>" + content;
  r.finish_reason = finish_reason_of(c.contains("finish_reason") ? c["finish_reason"] : nlohmann::json());
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    r.prompt_tokens = int_or_zero(*u, "prompt_tokens");
    r.completion_tokens = int_or_zero(*u, "completion_tokens");
    if (auto d = u->find("completion_tokens_details"); d != u->end() && d->is_object())
      if (auto rt = d->find("reasoning_tokens"); rt != d->end() && rt->is_number_integer())
        r.reasoning_tokens = rt->get<int64_t>();
  }
  if (want_logprobs) r.logprobs = parse_logprobs(c, chat);
  return r;
}

std::string prefix_via_name(const std::string& via) {
  return via == "continue" ? "continue_final_message" : via == "prefix" ? "prefix" : "none";
}

}  // namespace

std::string normalize_endpoint(const std::string& url_in) {
  std::string url = trim(url_in);
  size_t scheme = url.find("://");
  if (scheme == std::string::npos || (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0))
    throw InputError("--endpoint", "", "'" + url_in + "' is not an http:// or https:// URL");
  while (!url.empty() && url.back() == '/') url.pop_back();
  for (const std::string suffix : {"/chat/completions", "/completions"})
    if (url.size() > suffix.size() && url.compare(url.size() - suffix.size(), suffix.size(), suffix) == 0) {
      url.resize(url.size() - suffix.size());
      break;
    }
  if (url.find('/', scheme + 3) == std::string::npos) url += "/v1";  // a bare host: the OpenAI convention
  return url;
}

nlohmann::json to_json(const OpenAIBackendOptions& o) {
  return {{"kind", "endpoint"},
          {"endpoint", o.endpoint},
          {"api_model", o.model},
          {"api", o.api},
          {"api_key_env", o.api_key_env},
          {"assistant_prefix_via", o.assistant_prefix_via},
          {"concurrency", o.concurrency},
          {"request_timeout_s", o.request_timeout_s},
          {"max_retries", o.max_retries}};
}

OpenAIBackendOptions openai_backend_options_from_json(const nlohmann::json& j, const std::string& where) {
  OpenAIBackendOptions o;
  o.endpoint = require_string(j, "endpoint", where);
  o.model = require_string(j, "api_model", where);
  o.api = require_string(j, "api", where);
  o.api_key_env = require_string(j, "api_key_env", where);
  o.assistant_prefix_via = require_string(j, "assistant_prefix_via", where);
  o.concurrency = static_cast<int>(require_int(j, "concurrency", where));
  o.request_timeout_s = require_number(j, "request_timeout_s", where);
  o.max_retries = static_cast<int>(require_int(j, "max_retries", where));
  return o;
}

// What one request sends: the body (all but the seed) and its prompt hash, with the assistant prefix and without.
struct OpenAIBackend::Prepared {
  nlohmann::json body, body_without_prefix;
  std::string prompt_hash, prompt_hash_without_prefix;
  bool sends_prefix = false;  // chat, a non-empty prefix, and a way to send it
};

// One connection and the retry loop around it. Lives on one worker thread.
class OpenAIBackend::Worker {
 public:
  Worker(OpenAIBackend& backend, const std::string& url, const std::atomic<bool>& stop)
      : backend_(backend), stop_(stop), connection_(url, connection_options(backend, stop)),
        rng_(std::random_device{}()) {}

  // The sample's result, or nullopt when generation was stopped meanwhile. Throws RunError when it gives up.
  std::optional<GenerationResult> run(const GenerationRequest& r, size_t pos, const Prepared& p) {
    const auto& o = backend_.options_;
    bool with_prefix = p.sends_prefix && !backend_.prefix_refused_.load();
    std::optional<std::string> refusal;  // the server's words when it refused the prefix for this sample
    auto body_text = [&] {
      nlohmann::json body = with_prefix ? p.body : p.body_without_prefix;
      body["seed"] = static_cast<int64_t>(r.seeds.at(pos) & 0x7fffffffULL);
      return body.dump();
    };
    std::string text = body_text();
    std::string what = fmt::format("{}/{} sample {}", r.suite, r.problem_key, r.sample_indices.at(pos));
    http::RetryPolicy policy{o.max_retries, o.backoff_base_s, o.backoff_cap_s, o.retry_after_cap_s, true};
    for (int retry = 0;;) {
      if (stop_.load()) return std::nullopt;
      http::Response a = connection_.post(text);
      std::string cause, detail;
      if (a.transfer == CURLE_ABORTED_BY_CALLBACK) return std::nullopt;
      if (a.transfer != CURLE_OK) {
        auto c = http::retryable_transfer(a.transfer);
        if (!c) throw RunError(fmt::format("{}: {} (check --endpoint)", o.endpoint, a.describe()));
        cause = *c;
        detail = a.describe();
      } else if (a.status == 200) {
        try {
          GenerationResult res = parse_completion(a.body, o.api == "chat", r.sampling.logprobs);
          res.request_id = r.id;
          res.sample_index = r.sample_indices.at(pos);
          res.latency_ms = a.elapsed_ms;
          res.prompt_hash = with_prefix ? p.prompt_hash : p.prompt_hash_without_prefix;
          if (refusal) backend_.note_prefix_refused(*refusal);
          return res;
        } catch (const MalformedResponse& e) {
          cause = "malformed";
          detail = e.what();
        }
      } else if (auto c = http::retryable_status(a.status)) {
        cause = *c;
        detail = a.describe();
      } else if (with_prefix && (a.status == 400 || a.status == 422)) {
        // Most likely the partial assistant message or its flag: ask once more without them. If that is answered,
        // the server refused the prefix (recorded in the run); if not, the request was bad anyway (thrown below).
        refusal = fmt::format("HTTP {}: {}", a.status, server_message(a));
        log::warn("{}: {} refused the request with the assistant prefix ({}); trying without it", what, o.endpoint,
                  *refusal);
        with_prefix = false;
        text = body_text();
        continue;
      } else {
        throw RunError(fmt::format("{} answered HTTP {} for {}: {}", o.endpoint, a.status, what, server_message(a)));
      }
      if (retry >= o.max_retries)
        throw RunError(fmt::format("{}: gave up on {} after {} attempts, the last: {}; the samples stored so far are "
                                   "kept, `crucible eval --resume RUN` continues",
                                   o.endpoint, what, retry + 1, detail));
      backend_.count_retry(cause);
      double delay = http::retry_delay(policy, retry, a.retry_after_s, rng_);
      log::warn("{}: {}, retry {}/{} in {:.2f} s{}", what, detail, retry + 1, o.max_retries, delay,
                a.retry_after_s ? " (Retry-After)" : "");
      http::sleep_unless_stopped(delay, &stop_);
      ++retry;
    }
  }

 private:
  static http::ConnectionOptions connection_options(const OpenAIBackend& backend, const std::atomic<bool>& stop) {
    const auto& o = backend.options_;
    http::ConnectionOptions c;
    c.headers = {"Content-Type: application/json", "Accept: application/json",
                 "Expect:"};  // no 100-continue round trip for large prompts
    if (!backend.auth_header_.empty()) c.headers.push_back(backend.auth_header_);
    c.connect_timeout_s = o.connect_timeout_s;
    c.timeout_s = o.request_timeout_s;
    c.abort = &stop;  // in-flight transfers stop once the run stops
    return c;
  }

  // The server's own words for a refused request: error.message when it sends one, else the start of the body.
  // A refused key is never echoed (some servers quote part of it back).
  std::string server_message(const http::Response& a) const {
    if (a.status == 401 || a.status == 403)
      return fmt::format("the server refused the credentials (the API key comes from ${})",
                         backend_.options_.api_key_env);
    std::string msg;
    try {
      auto j = nlohmann::json::parse(a.body);
      if (j.contains("error") && j["error"].is_object() && j["error"].contains("message"))
        msg = j["error"]["message"].dump();
      else if (j.contains("message")) msg = j["message"].dump();
      else if (j.contains("detail")) msg = j["detail"].dump();
    } catch (const nlohmann::json::exception&) {
    }
    if (msg.empty()) msg = a.body.substr(0, 400);
    return msg;
  }

  OpenAIBackend& backend_;
  const std::atomic<bool>& stop_;
  http::Connection connection_;
  std::mt19937_64 rng_;  // backoff jitter only: never touches what is generated
};

OpenAIBackend::OpenAIBackend(OpenAIBackendOptions options) : options_(std::move(options)) {
  options_.endpoint = normalize_endpoint(options_.endpoint);
  if (options_.model.empty()) throw InputError("--api-model", "", "name the server's model (GET /v1/models lists them)");
  if (options_.api != "chat" && options_.api != "completions")
    throw InputError("--api", "", "'" + options_.api + "' is neither chat nor completions");
  const auto& via = options_.assistant_prefix_via;
  if (via != "continue" && via != "prefix" && via != "none")
    throw InputError("--assistant-prefix-via", "", "'" + via + "' is none of continue, prefix, none");
  if (options_.concurrency < 1) throw InputError("--concurrency", "", "must be at least 1");
  if (!(options_.request_timeout_s > 0)) throw InputError("--request-timeout", "", "must be positive (seconds)");
  if (options_.max_retries < 0) throw InputError("--max-retries", "", "must be 0 or more");
  auth_header_ = bearer_header(options_.api_key_env);
  http::global_init();
}

OpenAIBackend::~OpenAIBackend() = default;

ModelIdentity OpenAIBackend::identity() const {
  bool chat = options_.api == "chat";
  bool prefix_sent = !chat || options_.assistant_prefix_via != "none";
  std::string via = chat ? prefix_via_name(options_.assistant_prefix_via) : "prompt text";
  ModelIdentity id;
  id.path = options_.endpoint + "#" + options_.model;
  id.format = "endpoint";
  // A remote model's weights cannot be hashed: the identity is the address and the name, nothing more.
  id.content_hash = sha256_hex(options_.endpoint + "\n" + options_.model);
  // What turns messages into the model's input: the server's template (chat) or crucible's plain joining.
  id.template_hash = sha256_hex(!chat ? "openai-completions: message contents each followed by \\n, then the "
                                        "assistant prefix; no template"
                                : !prefix_sent ? "openai-chat: the server's chat template; assistant prefix not sent"
                                               : "openai-chat: the server's chat template; assistant prefix sent as " +
                                                     via);
  id.config = {{"endpoint", options_.endpoint},
               {"api_model", options_.model},
               {"api", options_.api},
               {"chat_template", chat ? "the server's (unknown to crucible)" : "none"},
               {"assistant_prefix_sent", prefix_sent},
               {"assistant_prefix_via", via},
               {"seeds", "one request per sample, seed = low 31 bits of the sample seed, n = 1"},
               {"api_key_env", options_.api_key_env},
               {"concurrency", options_.concurrency},
               {"request_timeout_s", options_.request_timeout_s},
               {"max_retries", options_.max_retries}};
  return id;
}

std::vector<std::string> OpenAIBackend::warnings() const {
  std::lock_guard lock(counts_mutex_);
  return warnings_;
}

void OpenAIBackend::note_prefix_refused(const std::string& server_said) {
  if (prefix_refused_.exchange(true)) return;
  std::string w = fmt::format(
      "{} refused the assistant prefix sent as {} ({}); the samples generated from then on were asked for without "
      "it, so the server's chat template decided how each answer starts (pass --assistant-prefix-via prefix for "
      "DeepSeek's API, or none to not try)",
      options_.endpoint, prefix_via_name(options_.assistant_prefix_via), server_said);
  log::warn("{}", w);
  std::lock_guard lock(counts_mutex_);
  warnings_.push_back(std::move(w));
}

void OpenAIBackend::count_retry(const std::string& cause) {
  std::lock_guard lock(counts_mutex_);
  ++retry_counts_[cause];
}

std::map<std::string, int64_t> OpenAIBackend::retry_counts() const {
  std::lock_guard lock(counts_mutex_);
  return retry_counts_;
}

void OpenAIBackend::generate(const std::vector<GenerationRequest>& requests,
                             const std::function<void(GenerationResult)>& on_result) {
  bool chat = options_.api == "chat";
  std::string url = options_.endpoint + (chat ? "/chat/completions" : "/completions");
  std::vector<Prepared> prepared;
  std::vector<std::pair<size_t, size_t>> jobs;  // (request, sample position)
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    const auto& s = r.sampling;
    Prepared p;
    nlohmann::json& b = p.body;
    b = {{"model", options_.model}, {"max_tokens", s.max_new_tokens}, {"temperature", s.temperature},
         {"top_p", s.top_p}, {"stream", false}};
    if (s.top_k > 0) b["top_k"] = s.top_k;
    if (s.min_p > 0) b["min_p"] = s.min_p;
    if (!s.stop.empty()) b["stop"] = s.stop;
    if (chat) {
      if (s.logprobs) {
        b["logprobs"] = true;
        if (s.top_logprobs > 0) b["top_logprobs"] = s.top_logprobs;
      }
      b["messages"] = nlohmann::json::array();
      for (const auto& m : r.messages) b["messages"].push_back({{"role", m.role}, {"content", m.content}});
      p.body_without_prefix = b;
      p.prompt_hash_without_prefix = sha256_hex(b["messages"].dump());
      p.sends_prefix = !r.assistant_prefix.empty() && options_.assistant_prefix_via != "none";
      if (p.sends_prefix) {
        // The answer continues a partial assistant turn instead of opening a new one.
        nlohmann::json last = {{"role", "assistant"}, {"content", r.assistant_prefix}};
        if (options_.assistant_prefix_via == "prefix") {
          last["prefix"] = true;  // DeepSeek's API (beta)
        } else {
          b["continue_final_message"] = true;  // vLLM, SGLang, crucible serve
          b["add_generation_prompt"] = false;
        }
        b["messages"].push_back(last);
      }
      p.prompt_hash = sha256_hex(b["messages"].dump());
    } else {
      if (s.logprobs) b["logprobs"] = std::max<int64_t>(s.top_logprobs, 0);
      std::string prompt;
      for (const auto& m : r.messages) prompt += m.content + "\n";
      prompt += r.assistant_prefix;
      b["prompt"] = prompt;
      p.body_without_prefix = b;
      p.prompt_hash = p.prompt_hash_without_prefix = sha256_hex(prompt);
    }
    prepared.push_back(std::move(p));
    for (size_t k = 0; k < r.sample_indices.size(); ++k) jobs.emplace_back(i, k);
  }

  std::atomic<bool> stop{false};
  std::atomic<size_t> next{0};
  std::exception_ptr failed;  // rethrown after the retry counts are logged
  const size_t n_threads = std::min(jobs.size(), static_cast<size_t>(options_.concurrency));
  try {
    run_workers(n_threads, stop, [&](std::atomic<bool>& stopping) {
      Worker worker(*this, url, stopping);
      for (;;) {
        size_t j = next.fetch_add(1);
        if (j >= jobs.size() || stopping.load()) return;
        auto [i, k] = jobs[j];
        auto res = worker.run(requests[i], k, prepared[i]);
        if (!res) return;
        on_result(std::move(*res));
      }
    });
  } catch (...) {
    failed = std::current_exception();
  }
  auto counts = retry_counts();
  if (!counts.empty()) {
    std::string line;
    for (const auto& [cause, n] : counts) line += fmt::format(" {}={}", cause, n);
    log::info("{}: retries so far:{}", options_.endpoint, line);
  }
  if (failed) std::rethrow_exception(failed);
}

}  // namespace crucible::harness
