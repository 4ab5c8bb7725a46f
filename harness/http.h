// crucible's one HTTP client (libcurl): connection set-up, the classification of failures, and retry with backoff
// and Retry-After. The remote OpenAI-compatible backend (openai_backend.h) and `crucible data pull` (data_pull.h)
// both use it, so a transfer is set up, judged and retried one way.
//
//   connection  one easy handle per thread (libcurl handles are not shared), kept alive between requests; no signals
//               (NOSIGNAL: worker threads), http and https only, redirects optional (curl drops Authorization when a
//               redirect leaves the host), compressed bodies accepted, response headers scanned for Retry-After;
//               an abort flag stops a transfer in flight.
//   failures    a transfer error is retryable when the network or the server may be back in a moment (timeouts,
//               refused, reset or half-sent connections, TLS handshakes, HTTP/2 stream errors); an HTTP status is
//               retryable for 429, 408 and 5xx. Everything else is final: retrying cannot fix a bad request.
//   backoff     before retry n (0-based): the server's Retry-After when it sent one (seconds, an HTTP date, or
//               retry-after-ms), capped; else min(cap, base·2^n), with full jitter (uniform in [0, that]) unless the
//               policy turns it off.
#pragma once
#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

// libcurl calls that can only fail on a broken build or a bad option: the message names the call, where, and what to
// check. Transfer results (curl_easy_perform's CURLcode) are values the retry policy inspects, not checks.
#define CRUCIBLE_CURL_CHECK(call) ::crucible::harness::http::curl_check((call), #call, __FILE__, __LINE__)

namespace crucible::harness::http {

void curl_check(CURLcode code, const char* call, const char* file, int line);

// curl_global_init, once per process (thread-safe).
void global_init();

struct RetryPolicy {
  int max_retries = 8;             // after the first attempt
  double backoff_base_s = 1.0;     // before the first retry
  double backoff_cap_s = 60.0;
  double retry_after_cap_s = 600.0;  // a longer Retry-After is waited for this long, then retried
  bool jitter = true;              // full jitter (many clients at once); false: exactly base·2^n
};

// "timeout" or "connection" for a transfer failure worth another try; nullopt when it is final (or CURLE_OK).
std::optional<std::string> retryable_transfer(CURLcode code);
// "http_429", "timeout" (408) or "http_5xx"; nullopt for any other status.
std::optional<std::string> retryable_status(long status);

// Seconds to wait for a Retry-After value: delta-seconds or an HTTP date (relative to `now`). nullopt if neither.
std::optional<double> parse_retry_after(const std::string& value, std::time_t now);

// Seconds to wait before retry `retry` (0-based): the server's Retry-After (capped) when given, else the backoff.
double retry_delay(const RetryPolicy& policy, int retry, std::optional<double> retry_after_s, std::mt19937_64& rng);

// Sleeps `seconds`, waking early (within 50 ms) once `stop` is set. `stop` may be null.
void sleep_unless_stopped(double seconds, const std::atomic<bool>* stop);

struct ConnectionOptions {
  std::vector<std::string> headers;   // "Name: value"; may hold a secret: never logged
  double connect_timeout_s = 30;
  double timeout_s = 0;               // whole transfer; 0: none
  long low_speed_time_s = 0;          // slower than 1 KiB/s for this long is a timeout; 0: off
  bool follow_redirects = false;
  const std::atomic<bool>* abort = nullptr;  // set: transfers in flight stop (CURLE_ABORTED_BY_CALLBACK)
  // Called at most every half second while bytes arrive: (received, total or -1).
  std::function<void(int64_t, int64_t)> on_progress;
};

struct Response {
  CURLcode transfer = CURLE_OK;
  long status = 0;                     // 0 when the transfer failed before a status line
  std::string body;                    // the body (for a sink: only a non-2xx body, its first 64 KiB)
  std::optional<double> retry_after_s; // from Retry-After / retry-after-ms
  int64_t content_length = -1;         // as announced; -1 when not
  int64_t received = 0;                // body bytes of a 2xx response
  double elapsed_ms = 0;
  std::string error;                   // curl's own words for a failed transfer
  std::string sink_error;              // what the sink said when it stopped the transfer
  bool ok() const { return transfer == CURLE_OK && status >= 200 && status < 300; }
  // "HTTP 503" or curl's description, for messages.
  std::string describe() const;
};

// A 2xx body's bytes as they arrive; throwing stops the transfer (the message lands in Response::sink_error).
using Sink = std::function<void(const char* data, size_t size)>;

// One keep-alive connection to one URL. Not thread-safe: one per thread.
class Connection {
 public:
  Connection(const std::string& url, ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Response post(const std::string& body);  // POST body (Content-Type from the headers)
  Response get(const Sink& sink);          // GET, 2xx body streamed to `sink`

 private:
  Response perform(const Sink* sink);
  static size_t on_body(char* data, size_t size, size_t n, void* user);
  static size_t on_header(char* data, size_t size, size_t n, void* user);
  static int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t);

  ConnectionOptions options_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  // The transfer in progress (valid during perform only).
  Response* response_ = nullptr;
  const Sink* sink_ = nullptr;
  std::chrono::steady_clock::time_point last_progress_{};
};

}  // namespace crucible::harness::http
