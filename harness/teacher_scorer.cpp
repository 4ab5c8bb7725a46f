// A served teacher scoring token sequences: teacher_scorer.h. The retry policy and the connection are http.h's, the
// logprobs parsing and the API key the eval backend's (openai_backend.h).
#include "harness/teacher_scorer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <random>

#include "core/error.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "harness/http.h"
#include "harness/openai_backend.h"

namespace crucible::harness {

namespace {

// The server's own words for a refused request (error.message, message or detail), else the start of the body.
std::string server_words(const http::Response& a, const std::string& api_key_env) {
  if (a.status == 401 || a.status == 403)
    return fmt::format("the server refused the credentials (the API key comes from ${})", api_key_env);
  try {
    auto j = nlohmann::json::parse(a.body);
    if (j.contains("error") && j["error"].is_object() && j["error"].contains("message"))
      return j["error"]["message"].dump();
    for (const char* k : {"message", "detail"})
      if (j.contains(k)) return j[k].dump();
  } catch (const nlohmann::json::exception&) {
  }
  return a.body.substr(0, 400);
}

}  // namespace

TeacherScorer::TeacherScorer(TeacherScorerOptions options) : options_(std::move(options)) {
  options_.endpoint = normalize_endpoint(options_.endpoint);
  if (options_.model.empty()) throw InputError("--api-model", "", "name the server's model (GET /v1/models lists them)");
  if (options_.top_k < 1) throw InputError("--teacher-top-k", "", "must be at least 1");
  if (options_.concurrency < 1) throw InputError("--concurrency", "", "must be at least 1");
  if (!(options_.request_timeout_s > 0)) throw InputError("--request-timeout", "", "must be positive (seconds)");
  if (options_.max_retries < 0) throw InputError("--max-retries", "", "must be 0 or more");
  auth_header_ = bearer_header(options_.api_key_env);
  http::global_init();
}

TeacherScores TeacherScorer::score_one(http::Connection& connection, const std::vector<int32_t>& ids, size_t first,
                                       int64_t vocab_size) {
  const auto& o = options_;
  const int64_t K = o.top_k;
  bool sent_zero = false;  // this request's max_tokens (another thread may have switched to 1 meanwhile)
  auto body_text = [&] {
    sent_zero = !max_tokens_one_.load();
    return nlohmann::json{{"model", o.model},
                          {"prompt", ids},
                          {"echo", true},
                          {"max_tokens", sent_zero ? 0 : 1},
                          {"logprobs", K},
                          {"return_tokens_as_token_ids", true},
                          {"stream", false}}
        .dump();
  };
  auto refuse = [&](const std::string& field, const std::string& why) -> InputError {
    return InputError("--endpoint " + o.endpoint, field, why);
  };
  std::mt19937_64 rng(std::random_device{}());  // backoff jitter only
  const http::RetryPolicy policy{o.max_retries, o.backoff_base_s, o.backoff_cap_s, 600.0, true};
  std::string text = body_text();
  for (int retry = 0;;) {
    http::Response a = connection.post(text);
    std::string detail;
    if (a.transfer == CURLE_ABORTED_BY_CALLBACK) return {};  // another sequence failed: the caller rethrows its error
    if (a.transfer != CURLE_OK) {
      if (!http::retryable_transfer(a.transfer))
        throw RunError(fmt::format("{}: {} (check --endpoint)", o.endpoint, a.describe()));
      detail = a.describe();
    } else if (a.status == 200) {
      try {
        nlohmann::json j = nlohmann::json::parse(a.body);
        if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty() ||
            !j["choices"][0].is_object())
          throw MalformedResponse("no 'choices' array in the response");
        const auto& choice = j["choices"][0];
        if (!choice.contains("logprobs") || !choice["logprobs"].is_object())
          throw refuse("choices[0].logprobs",
                       "the server returned no prompt logprobs for echo + logprobs + max_tokens 0: it does not score "
                       "prompts (vLLM, SGLang and crucible serve do)");
        const auto scored = parse_logprobs(choice, /*chat=*/false);
        if (scored.size() < ids.size())
          throw refuse("choices[0].logprobs.tokens",
                       fmt::format("{} tokens came back for a prompt of {} token ids: the server does not echo the "
                                   "prompt's tokens (echo: true)",
                                   scored.size(), ids.size()));
        const size_t n = ids.size() - first;
        TeacherScores s;
        s.token_logprob.resize(n);
        s.top_ids.assign(n * static_cast<size_t>(K), -1);
        s.top_logprobs.assign(n * static_cast<size_t>(K), -INFINITY);
        // Position 0 is not checked: nothing precedes it, and servers differ in how they echo it (vLLM's chat echo
        // has been seen to send it as None, vllm-project/vllm#27477).
        for (size_t t = 1; t < ids.size(); ++t) {
          const auto& e = scored[t];
          if (e.token_id < 0)
            throw refuse("choices[0].logprobs.tokens",
                         fmt::format("token {} is named '{}', not 'token_id:N': the server ignores "
                                     "return_tokens_as_token_ids, and token text cannot be mapped to ids exactly",
                                     t, e.text.substr(0, 40)));
          if (e.token_id != ids[t])
            throw refuse("choices[0].logprobs.tokens",
                         fmt::format("echoed token {} is id {} where id {} was sent: the server re-tokenised the "
                                     "prompt, or its tokenizer is not the student's",
                                     t, e.token_id, ids[t]));
          if (t < first) continue;
          const size_t i = t - first;
          if (!std::isfinite(e.logprob))
            throw refuse("choices[0].logprobs.token_logprobs",
                         fmt::format("position {} has no logprob (null) for its token", t));
          s.token_logprob[i] = e.logprob;
          if (e.top.empty())
            throw refuse("choices[0].logprobs.top_logprobs",
                         fmt::format("position {} lists no alternatives although logprobs: {} was asked for", t, K));
          // parse_logprobs sorted them, most likely first; vLLM adds the position's own token when it is not among
          // the K, so at most K are kept (that token's logprob is token_logprob anyway).
          for (size_t k = 0; k < std::min(e.top.size(), static_cast<size_t>(K)); ++k) {
            const auto& x = e.top[k];
            if (x.token_id < 0)
              throw refuse("choices[0].logprobs.top_logprobs",
                           fmt::format("an alternative at position {} is named '{}', not 'token_id:N'", t,
                                       x.text.substr(0, 40)));
            if (x.token_id >= vocab_size)
              throw refuse("choices[0].logprobs.top_logprobs",
                           fmt::format("token id {} is outside the student's vocabulary of {}: the teacher has "
                                       "another tokenizer, and must share the student's",
                                       x.token_id, vocab_size));
            s.top_ids[i * static_cast<size_t>(K) + k] = x.token_id;
            s.top_logprobs[i * static_cast<size_t>(K) + k] = x.logprob;
          }
        }
        return s;
      } catch (const MalformedResponse& e) {
        detail = e.what();
      } catch (const nlohmann::json::exception& e) {
        detail = fmt::format("not JSON ({} bytes): {}", a.body.size(), e.what());
      }
    } else if (http::retryable_status(a.status)) {
      detail = a.describe();
    } else {
      const std::string said = server_words(a, o.api_key_env);
      if (sent_zero && (a.status == 400 || a.status == 422) &&
          said.find("max_tokens") != std::string::npos) {
        // Some servers require max_tokens >= 1: one token is generated and ignored.
        if (!max_tokens_one_.exchange(true))
          log::warn("{} refused max_tokens 0 ({}); scoring with max_tokens 1 from now on (the generated token is "
                    "ignored)",
                    o.endpoint, said);
        text = body_text();
        continue;
      }
      throw RunError(fmt::format("{} answered HTTP {} to a scoring request (echo + logprobs {} over {} token ids): {}",
                                 o.endpoint, a.status, K, ids.size(), said));
    }
    if (retry >= o.max_retries)
      throw RunError(fmt::format("{}: gave up scoring a sequence of {} tokens after {} attempts, the last: {}",
                                 o.endpoint, ids.size(), retry + 1, detail));
    const double delay = http::retry_delay(policy, retry, a.retry_after_s, rng);
    log::warn("{}: scoring: {}, retry {}/{} in {:.2f} s", o.endpoint, detail, retry + 1, o.max_retries, delay);
    http::sleep_unless_stopped(delay, nullptr);
    ++retry;
  }
}

std::vector<TeacherScores> TeacherScorer::score(const std::vector<std::vector<int32_t>>& ids,
                                                const std::vector<size_t>& first, int64_t vocab_size) {
  if (ids.size() != first.size()) throw std::logic_error("TeacherScorer::score: one `first` per sequence");
  for (size_t i = 0; i < ids.size(); ++i)
    if (first[i] < 1 || first[i] > ids[i].size())
      throw std::logic_error("TeacherScorer::score: first must be in [1, size]: position 0 is never scored");
  std::vector<TeacherScores> out(ids.size());
  const std::string url = options_.endpoint + "/completions";
  std::atomic<bool> stop{false};
  std::atomic<size_t> next{0};
  const size_t n_threads = std::min(ids.size(), static_cast<size_t>(options_.concurrency));
  run_workers(n_threads, stop, [&](std::atomic<bool>& stopping) {
    http::ConnectionOptions c;
    // Uncompressed: a scoring answer is ~0.7 KB per position (K alternatives named by id), and crucible serve's
    // brotli takes ~130 ms for a 150-token sequence's 100 KB where sending it plain takes ~5 ms on loopback.
    c.headers = {"Content-Type: application/json", "Accept: application/json", "Accept-Encoding: identity", "Expect:"};
    if (!auth_header_.empty()) c.headers.push_back(auth_header_);
    c.connect_timeout_s = options_.connect_timeout_s;
    c.timeout_s = options_.request_timeout_s;
    c.abort = &stopping;
    http::Connection connection(url, c);
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= ids.size() || stopping.load()) return;
      if (first[i] == ids[i].size()) continue;  // nothing to score (an empty completion)
      out[i] = score_one(connection, ids[i], first[i], vocab_size);
    }
  });
  return out;
}

}  // namespace crucible::harness
