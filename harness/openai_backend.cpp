// The OpenAI-compatible backend: a pool of worker threads, each with one libcurl easy handle (its connection is kept
// alive between requests), taking (request, sample) jobs in order. What is sent and how failures are treated is in
// the header comment; this file is the mechanics.
#include "harness/openai_backend.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"

// libcurl calls that can only fail on a broken build or a bad option: the message names the call, where, and what to
// check. Transfer results (CURLcode of curl_easy_perform) are values the retry policy inspects, not checks.
#define CRUCIBLE_CURL_CHECK(call) ::crucible::harness::curl_check((call), #call, __FILE__, __LINE__)

namespace crucible::harness {

namespace {

void curl_check(CURLcode code, const char* call, const char* file, int line) {
  if (code == CURLE_OK) return;
  throw RunError(fmt::format("{}:{}: {} failed: {} ({}; is this libcurl built with the features it needs? "
                             "`curl-config --features`)",
                             file, line, call, curl_easy_strerror(code), curl_version()));
}

void curl_global_once() {
  static std::once_flag once;
  std::call_once(once, [] { CRUCIBLE_CURL_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT)); });
}

// A 200 whose body is not the JSON of a completion: truncated, garbage, or an error object. Retried.
struct MalformedResponse : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string trim(std::string s) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && space(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && space(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

bool iequals_prefix(const std::string& line, const std::string& name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
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

// Parses one non-streamed completion. Throws MalformedResponse on anything that is not one.
GenerationResult parse_completion(const std::string& body, bool chat) {
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
  return r;
}

// Transfer failures worth another try: the server or the network may be back in a moment.
std::optional<std::string> retryable_cause(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING: return "connection";
    default: return std::nullopt;
  }
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

std::optional<double> parse_retry_after(const std::string& value_in, std::time_t now) {
  std::string value = trim(value_in);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789.") == std::string::npos) {
    char* end = nullptr;
    double s = std::strtod(value.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(s) && s >= 0) return s;
    return std::nullopt;
  }
  std::time_t when = curl_getdate(value.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::max(0.0, std::difftime(when, now));
}

struct OpenAIBackend::Attempt {
  CURLcode curl = CURLE_OK;
  long status = 0;
  std::string body;
  std::optional<double> retry_after_s;
  double elapsed_ms = 0;
};

// One connection and the retry loop around it. Lives on one worker thread.
class OpenAIBackend::Worker {
 public:
  Worker(OpenAIBackend& backend, const std::string& url, const std::atomic<bool>& stop)
      : backend_(backend), stop_(stop), rng_(std::random_device{}()) {
    curl_ = curl_easy_init();
    if (!curl_) throw RunError("curl_easy_init failed (out of memory?)");
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, "Accept: application/json");
    headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip for large prompts
    if (!backend.auth_header_.empty()) headers_ = curl_slist_append(headers_, backend.auth_header_.c_str());
    const auto& o = backend.options_;
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_URL, url.c_str()));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L));  // threads: no SIGALRM for DNS timeouts
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(o.request_timeout_s * 1000)));
    CRUCIBLE_CURL_CHECK(
        curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout_s * 1000)));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L));  // minutes-long requests via proxies
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_ACCEPT_ENCODING, ""));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Worker::on_body));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Worker::on_header));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &Worker::on_progress));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, this));
  }
  ~Worker() {
    curl_easy_cleanup(curl_);
    curl_slist_free_all(headers_);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The sample's result, or nullopt when generation was stopped meanwhile. Throws RunError when it gives up.
  std::optional<GenerationResult> run(const GenerationRequest& r, size_t pos, const nlohmann::json& body_base) {
    const auto& o = backend_.options_;
    nlohmann::json body = body_base;
    body["seed"] = static_cast<int64_t>(r.seeds.at(pos) & 0x7fffffffULL);
    std::string text = body.dump();
    std::string what = fmt::format("{}/{} sample {}", r.suite, r.problem_key, r.sample_indices.at(pos));
    for (int attempt = 0;; ++attempt) {
      if (stop_.load()) return std::nullopt;
      Attempt a = perform(text);
      std::string cause, detail;
      if (a.curl == CURLE_ABORTED_BY_CALLBACK) return std::nullopt;
      if (a.curl != CURLE_OK) {
        auto c = retryable_cause(a.curl);
        if (!c)
          throw RunError(fmt::format("{}: {} (check --endpoint)", o.endpoint, curl_easy_strerror(a.curl)));
        cause = *c;
        detail = curl_easy_strerror(a.curl);
      } else if (a.status == 200) {
        try {
          GenerationResult res = parse_completion(a.body, o.api == "chat");
          res.request_id = r.id;
          res.sample_index = r.sample_indices.at(pos);
          res.latency_ms = a.elapsed_ms;
          return res;
        } catch (const MalformedResponse& e) {
          cause = "malformed";
          detail = e.what();
        }
      } else if (a.status == 429) {
        cause = "http_429";
        detail = "HTTP 429";
      } else if (a.status >= 500 || a.status == 408) {
        cause = a.status == 408 ? "timeout" : "http_5xx";
        detail = fmt::format("HTTP {}", a.status);
      } else {
        throw RunError(fmt::format("{} answered HTTP {} for {}: {}", o.endpoint, a.status, what, server_message(a)));
      }
      if (attempt >= o.max_retries)
        throw RunError(fmt::format("{}: gave up on {} after {} attempts, the last: {}; the samples stored so far are "
                                   "kept, `crucible eval --resume RUN` continues",
                                   o.endpoint, what, attempt + 1, detail));
      backend_.count_retry(cause);
      double delay = a.retry_after_s ? std::min(*a.retry_after_s, o.retry_after_cap_s) : jitter(attempt);
      log::warn("{}: {}, retry {}/{} in {:.2f} s{}", what, detail, attempt + 1, o.max_retries, delay,
                a.retry_after_s ? " (Retry-After)" : "");
      sleep_unless_stopped(delay);
    }
  }

 private:
  Attempt perform(const std::string& body) {
    Attempt a;
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str()));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &a));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &a));
    auto t0 = std::chrono::steady_clock::now();
    a.curl = curl_easy_perform(curl_);
    a.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (a.curl == CURLE_OK) curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &a.status);
    return a;
  }

  // The server's own words for a refused request: error.message when it sends one, else the start of the body.
  // A refused key is never echoed (some servers quote part of it back).
  std::string server_message(const Attempt& a) const {
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

  double jitter(int attempt) {
    const auto& o = backend_.options_;
    double ceiling = std::min(o.backoff_cap_s, o.backoff_base_s * std::ldexp(1.0, std::min(attempt, 30)));
    return std::uniform_real_distribution<double>(0.0, ceiling)(rng_);
  }

  void sleep_unless_stopped(double seconds) {
    using Clock = std::chrono::steady_clock;
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (!stop_.load() && Clock::now() < until)
      std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), until - Clock::now()));
  }

  static size_t on_body(char* data, size_t size, size_t n, void* user) {
    static_cast<Attempt*>(user)->body.append(data, size * n);
    return size * n;
  }
  static size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* a = static_cast<Attempt*>(user);
    std::string line(data, size * n);
    if (line.rfind("HTTP/", 0) == 0) a->retry_after_s.reset();  // a new response (after a redirect or a 100)
    else if (iequals_prefix(line, "retry-after-ms:")) {
      if (auto ms = parse_retry_after(line.substr(15), std::time(nullptr))) a->retry_after_s = *ms / 1000.0;
    } else if (iequals_prefix(line, "retry-after:") && !a->retry_after_s) {
      a->retry_after_s = parse_retry_after(line.substr(12), std::time(nullptr));
    }
    return size * n;
  }
  static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<Worker*>(user)->stop_.load() ? 1 : 0;  // abort in-flight transfers once the run stops
  }

  OpenAIBackend& backend_;
  const std::atomic<bool>& stop_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::mt19937_64 rng_;  // backoff jitter only: never touches what is generated
};

OpenAIBackend::OpenAIBackend(OpenAIBackendOptions options) : options_(std::move(options)) {
  options_.endpoint = normalize_endpoint(options_.endpoint);
  if (options_.model.empty()) throw InputError("--api-model", "", "name the server's model (GET /v1/models lists them)");
  if (options_.api != "chat" && options_.api != "completions")
    throw InputError("--api", "", "'" + options_.api + "' is neither chat nor completions");
  if (options_.concurrency < 1) throw InputError("--concurrency", "", "must be at least 1");
  if (!(options_.request_timeout_s > 0)) throw InputError("--request-timeout", "", "must be positive (seconds)");
  if (options_.max_retries < 0) throw InputError("--max-retries", "", "must be 0 or more");
  if (const char* key = std::getenv(options_.api_key_env.c_str()); key && *key)
    auth_header_ = std::string("Authorization: Bearer ") + key;
  curl_global_once();
}

OpenAIBackend::~OpenAIBackend() = default;

ModelIdentity OpenAIBackend::identity() const {
  bool chat = options_.api == "chat";
  ModelIdentity id;
  id.path = options_.endpoint + "#" + options_.model;
  id.format = "endpoint";
  // A remote model's weights cannot be hashed: the identity is the address and the name, nothing more.
  id.content_hash = sha256_hex(options_.endpoint + "\n" + options_.model);
  // What turns messages into the model's input: the server's template (chat) or crucible's plain joining.
  id.template_hash = sha256_hex(chat ? "openai-chat: the server's chat template; assistant prefix not sent"
                                     : "openai-completions: message contents each followed by \\n, then the "
                                       "assistant prefix; no template");
  id.config = {{"endpoint", options_.endpoint},
               {"api_model", options_.model},
               {"api", options_.api},
               {"chat_template", chat ? "the server's (unknown to crucible)" : "none"},
               {"assistant_prefix_sent", !chat},
               {"seeds", "one request per sample, seed = low 31 bits of the sample seed, n = 1"},
               {"api_key_env", options_.api_key_env},
               {"concurrency", options_.concurrency},
               {"request_timeout_s", options_.request_timeout_s},
               {"max_retries", options_.max_retries}};
  return id;
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
  // The body shared by a request's samples (all but the seed), and the hash of what the model is asked.
  std::vector<nlohmann::json> bodies;
  std::vector<std::string> prompt_hashes;
  std::vector<std::pair<size_t, size_t>> jobs;  // (request, sample position)
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    const auto& s = r.sampling;
    nlohmann::json b = {{"model", options_.model}, {"max_tokens", s.max_new_tokens}, {"temperature", s.temperature},
                        {"top_p", s.top_p}, {"stream", false}};
    if (s.top_k > 0) b["top_k"] = s.top_k;
    if (s.min_p > 0) b["min_p"] = s.min_p;
    if (!s.stop.empty()) b["stop"] = s.stop;
    if (chat) {
      b["messages"] = nlohmann::json::array();
      for (const auto& m : r.messages) b["messages"].push_back({{"role", m.role}, {"content", m.content}});
      prompt_hashes.push_back(sha256_hex(b["messages"].dump()));
    } else {
      std::string prompt;
      for (const auto& m : r.messages) prompt += m.content + "\n";
      prompt += r.assistant_prefix;
      b["prompt"] = prompt;
      prompt_hashes.push_back(sha256_hex(prompt));
    }
    bodies.push_back(std::move(b));
    for (size_t k = 0; k < r.sample_indices.size(); ++k) jobs.emplace_back(i, k);
  }

  std::atomic<bool> stop{false};
  std::atomic<size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr first_error;
  auto work = [&] {
    try {
      Worker worker(*this, url, stop);
      for (;;) {
        size_t j = next.fetch_add(1);
        if (j >= jobs.size() || stop.load()) return;
        auto [i, k] = jobs[j];
        auto res = worker.run(requests[i], k, bodies[i]);
        if (!res) return;
        res->prompt_hash = prompt_hashes[i];
        on_result(std::move(*res));
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      stop.store(true);
    }
  };
  size_t n_threads = std::min(jobs.size(), static_cast<size_t>(options_.concurrency));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < n_threads; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  auto counts = retry_counts();
  if (!counts.empty()) {
    std::string line;
    for (const auto& [cause, n] : counts) line += fmt::format(" {}={}", cause, n);
    log::info("{}: retries so far:{}", options_.endpoint, line);
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace crucible::harness
