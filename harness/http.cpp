// The mechanics of the one HTTP client; what it promises is in http.h.
#include "harness/http.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/version.h"

namespace crucible::harness::http {

namespace {

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

constexpr size_t kErrorBodyBytes = 64 * 1024;

}  // namespace

void curl_check(CURLcode code, const char* call, const char* file, int line) {
  if (code == CURLE_OK) return;
  throw RunError(fmt::format("{}:{}: {} failed: {} ({}; is this libcurl built with the features it needs? "
                             "`curl-config --features`)",
                             file, line, call, curl_easy_strerror(code), curl_version()));
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { CRUCIBLE_CURL_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT)); });
}

std::optional<std::string> retryable_transfer(CURLcode code) {
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

std::optional<std::string> retryable_status(long status) {
  if (status == 429) return "http_429";
  if (status == 408) return "timeout";
  if (status >= 500 && status < 600) return "http_5xx";
  return std::nullopt;
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

double retry_delay(const RetryPolicy& p, int retry, std::optional<double> retry_after_s, std::mt19937_64& rng) {
  if (retry_after_s) return std::min(*retry_after_s, p.retry_after_cap_s);
  double ceiling = std::min(p.backoff_cap_s, p.backoff_base_s * std::ldexp(1.0, std::min(retry, 30)));
  return p.jitter ? std::uniform_real_distribution<double>(0.0, ceiling)(rng) : ceiling;
}

void sleep_unless_stopped(double seconds, const std::atomic<bool>* stop) {
  using Clock = std::chrono::steady_clock;
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (!(stop && stop->load()) && Clock::now() < until)
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), until - Clock::now()));
}

std::string Response::describe() const {
  if (transfer != CURLE_OK)
    return error.empty() ? curl_easy_strerror(transfer)
                         : fmt::format("{} ({})", curl_easy_strerror(transfer), error);
  return fmt::format("HTTP {}", status);
}

Connection::Connection(const std::string& url, ConnectionOptions options) : options_(std::move(options)) {
  global_init();
  curl_ = curl_easy_init();
  if (!curl_) throw RunError("curl_easy_init failed (out of memory?)");
  for (const auto& h : options_.headers) {
    curl_slist* next = curl_slist_append(headers_, h.c_str());
    if (!next) throw RunError("curl_slist_append failed (out of memory?)");
    headers_ = next;
  }
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_URL, url.c_str()));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https"));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_USERAGENT, ("crucible/" + version()).c_str()));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L));  // threads: no SIGALRM for DNS timeouts
  CRUCIBLE_CURL_CHECK(
      curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_s * 1000)));
  if (options_.timeout_s > 0)
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_s * 1000)));
  if (options_.low_speed_time_s > 0) {
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, 1024L));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s));
  }
  if (options_.follow_redirects) {
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 1L));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_MAXREDIRS, 10L));
    CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
  }
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_TCP_KEEPALIVE, 1L));  // minutes-long requests via proxies
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_ACCEPT_ENCODING, ""));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_buffer_));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Connection::on_body));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Connection::on_header));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &Connection::on_progress));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, this));
}

Connection::~Connection() {
  curl_easy_cleanup(curl_);
  curl_slist_free_all(headers_);
}

Response Connection::post(const std::string& body) {
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str()));
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())));
  return perform(nullptr);
}

Response Connection::get(const Sink& sink) {
  CRUCIBLE_CURL_CHECK(curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L));
  return perform(&sink);
}

Response Connection::perform(const Sink* sink) {
  Response r;
  response_ = &r;
  sink_ = sink;
  error_buffer_[0] = '\0';
  last_progress_ = std::chrono::steady_clock::now();
  auto t0 = std::chrono::steady_clock::now();
  r.transfer = curl_easy_perform(curl_);
  r.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
  curl_off_t length = -1;
  curl_easy_getinfo(curl_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  r.content_length = static_cast<int64_t>(length);
  if (r.transfer != CURLE_OK) r.error = error_buffer_;
  response_ = nullptr;
  sink_ = nullptr;
  return r;
}

size_t Connection::on_body(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<Connection*>(user);
  Response& r = *c->response_;
  size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(c->curl_, CURLINFO_RESPONSE_CODE, &status);
  bool success = status >= 200 && status < 300;
  if (!c->sink_) {
    r.body.append(data, len);
  } else if (!success) {  // an error page is never handed to the sink (never written into a data file)
    if (r.body.size() < kErrorBodyBytes) r.body.append(data, std::min(len, kErrorBodyBytes - r.body.size()));
  } else {
    try {
      (*c->sink_)(data, len);
    } catch (const std::exception& e) {
      r.sink_error = e.what();
      return 0;  // curl stops with CURLE_WRITE_ERROR
    }
  }
  if (success) r.received += static_cast<int64_t>(len);
  return len;
}

size_t Connection::on_header(char* data, size_t size, size_t n, void* user) {
  Response& r = *static_cast<Connection*>(user)->response_;
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    r.retry_after_s.reset();  // a new response (after a redirect or a 100)
  } else if (iequals_prefix(line, "retry-after-ms:")) {
    if (auto ms = parse_retry_after(line.substr(15), std::time(nullptr))) r.retry_after_s = *ms / 1000.0;
  } else if (iequals_prefix(line, "retry-after:") && !r.retry_after_s) {
    r.retry_after_s = parse_retry_after(line.substr(12), std::time(nullptr));
  }
  return size * n;
}

int Connection::on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* c = static_cast<Connection*>(user);
  if (c->options_.abort && c->options_.abort->load()) return 1;  // abort the transfer in flight
  if (c->options_.on_progress) {
    auto clock = std::chrono::steady_clock::now();
    if (clock - c->last_progress_ >= std::chrono::milliseconds(500)) {
      c->last_progress_ = clock;
      c->options_.on_progress(static_cast<int64_t>(now), total > 0 ? static_cast<int64_t>(total) : -1);
    }
  }
  return 0;
}

}  // namespace crucible::harness::http
