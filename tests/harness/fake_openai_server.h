// A fake OpenAI-compatible server for the remote backend's tests (cpp-httplib, 127.0.0.1, an ephemeral port). It
// serves /v1/chat/completions (DeepSeek style: reasoning_content apart) and /v1/completions, answers each sample from
// its `seed` alone (the gold in \boxed{} when seed % 3 != 0, a wrong number otherwise, so a run's scores are known in
// advance), counts every request per sample, and — seeded, so reproducible — injects faults: 429 with and without
// Retry-After (seconds and HTTP date), 500, 503, a response slower than the client's timeout, a connection closed
// mid-body, a 200 that is not JSON, and a 200 whose JSON is cut short. A sample's first `max_faults_per_sample`
// attempts may fail; later ones are answered, so a client that retries enough always completes. It keeps every
// request body, answers `logprobs` (chat: logprobs.content with bytes and top_logprobs; completions: tokens,
// token_logprobs, top_logprobs) with pieces of the answer split at spaces, and can refuse, as OpenAI's own API does,
// a final partial assistant message (`continue_final_message` or DeepSeek's `prefix`) with HTTP 400.
#pragma once
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/sha256.h"

namespace crucible::testing {

class FakeOpenAIServer {
 public:
  struct Options {
    double fault_rate = 0.0;        // probability that an attempt (below the cap) is a fault
    int max_faults_per_sample = 4;
    uint64_t fault_seed = 1;
    int slow_ms = 2500;             // the "slow" fault: longer than the client's timeout in these tests
    int delay_ms = 0;               // every answer takes this long (so a test can kill a client mid-run)
    int retry_after_s = 1;
    std::string expect_auth;        // when set, requests without "Bearer <expect_auth>" get 401
    bool refuse_assistant_prefix = false;  // 400 for a request that continues a partial assistant message
  };
  // `golds`: (question text, gold answer); a prompt is answered for the first question it contains.
  FakeOpenAIServer(Options options, std::vector<std::pair<std::string, std::string>> golds)
      : options_(std::move(options)), golds_(std::move(golds)) {
    // The default pool (8 threads) would be starved by sleeping "slow" handlers whose clients left long ago.
    server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    server_.Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) { handle(q, r, true); });
    server_.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) { handle(q, r, false); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeOpenAIServer() {
    server_.stop();
    thread_.join();
  }
  FakeOpenAIServer(const FakeOpenAIServer&) = delete;
  FakeOpenAIServer& operator=(const FakeOpenAIServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::map<std::string, int64_t> faults() const {
    std::lock_guard lock(mutex_);
    return faults_;
  }
  // Per sample (its seed): every request, and the answers delivered.
  std::map<int64_t, int64_t> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::map<int64_t, int64_t> answered() const {
    std::lock_guard lock(mutex_);
    return answered_;
  }
  int64_t total_requests() const {
    std::lock_guard lock(mutex_);
    int64_t n = 0;
    for (const auto& [seed, c] : requests_) n += c;
    return n;
  }
  std::vector<std::string> auth_headers() const {
    std::lock_guard lock(mutex_);
    return auth_headers_;
  }
  std::vector<nlohmann::json> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

  // The fake's logprob of piece i of the answer for `seed`, and its one alternative's (always less likely).
  static double piece_logprob(int64_t seed, size_t i) { return -0.125 * static_cast<double>(i % 4 + 1) - (seed % 7) / 64.0; }
  // The answer split at spaces (each piece but the first starts with its space), as the fake "tokenizes" it.
  static std::vector<std::string> pieces(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t i = 1; i <= text.size(); ++i)
      if (i == text.size() || text[i] == ' ') {
        out.push_back(text.substr(start, i - start));
        start = i;
      }
    return out;
  }
  // Whether the server's answer for a sample is right.
  static bool is_correct(int64_t seed) { return seed % 3 != 0; }

 private:
  static uint64_t mix(uint64_t a, uint64_t b) {
    Sha256 h;
    h.update(std::to_string(a) + ":" + std::to_string(b));
    auto d = h.digest();
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | d[static_cast<size_t>(i)];
    return v;
  }

  void handle(const httplib::Request& q, httplib::Response& r, bool chat) {
    nlohmann::json body = nlohmann::json::parse(q.body);
    int64_t seed = body.at("seed").get<int64_t>();
    std::string prompt;
    if (chat) {
      for (const auto& m : body.at("messages")) prompt += m.at("content").get<std::string>() + "\n";
    } else {
      prompt = body.at("prompt").get<std::string>();
    }
    int attempt = 0;
    {
      std::lock_guard lock(mutex_);
      attempt = static_cast<int>(requests_[seed]++);
      auth_headers_.push_back(q.get_header_value("Authorization"));
      bodies_.push_back(body);
    }
    if (chat && options_.refuse_assistant_prefix) {
      const auto& last = body.at("messages").back();
      if (body.value("continue_final_message", false) || last.value("prefix", false)) {
        r.status = 400;
        r.set_content(R"({"error":{"message":"Unrecognized request argument supplied: continue_final_message"}})",
                      "application/json");
        return;
      }
    }
    if (!options_.expect_auth.empty() && q.get_header_value("Authorization") != "Bearer " + options_.expect_auth) {
      r.status = 401;
      // Some servers quote the key back; the client must not pass that on.
      r.set_content(R"({"error":{"message":"Incorrect API key provided: )" + q.get_header_value("Authorization") +
                        R"("}})",
                    "application/json");
      return;
    }
    uint64_t roll = mix(options_.fault_seed, static_cast<uint64_t>(seed) * 64 + static_cast<uint64_t>(attempt));
    bool fault = attempt < options_.max_faults_per_sample && static_cast<double>(roll % 10000) < options_.fault_rate * 10000;
    if (fault) {
      static const char* kinds[] = {"429", "429_retry_after_s", "429_retry_after_date", "500", "503",
                                    "slow", "reset", "not_json", "truncated_json"};
      std::string kind = kinds[(roll >> 20) % 9];
      {
        std::lock_guard lock(mutex_);
        ++faults_[kind];
      }
      inject(kind, r, answer(seed, prompt, chat, body));
      return;
    }
    if (options_.delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(options_.delay_ms));
    {
      std::lock_guard lock(mutex_);
      ++answered_[seed];
    }
    r.set_content(answer(seed, prompt, chat, body), "application/json");
  }

  void inject(const std::string& kind, httplib::Response& r, const std::string& good) {
    if (kind == "429") {
      r.status = 429;
      r.set_content(R"({"error":{"message":"rate limited"}})", "application/json");
    } else if (kind == "429_retry_after_s") {
      r.status = 429;
      r.set_header("Retry-After", std::to_string(options_.retry_after_s));
    } else if (kind == "429_retry_after_date") {
      r.status = 429;
      std::time_t when = std::time(nullptr) + options_.retry_after_s;
      char buf[64];
      std::tm tm{};
      gmtime_r(&when, &tm);
      std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
      r.set_header("Retry-After", buf);
    } else if (kind == "500" || kind == "503") {
      r.status = std::stoi(kind);
      r.set_content("upstream exploded", "text/plain");
    } else if (kind == "slow") {
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.slow_ms));
      r.set_content(good, "application/json");  // too late: the client has given up on this attempt
    } else if (kind == "reset") {
      // Announce the full length, send half, then fail the provider: httplib closes the socket mid-body.
      auto text = std::make_shared<std::string>(good);
      r.set_content_provider(text->size(), "application/json",
                             [text](size_t, size_t, httplib::DataSink& sink) {
                               sink.write(text->data(), text->size() / 2);
                               return false;
                             });
    } else if (kind == "not_json") {
      r.set_content("<html><body>502 Bad Gateway</body></html>", "application/json");
    } else {  // truncated_json: a well-framed 200 whose JSON stops early
      r.set_content(good.substr(0, good.size() / 3), "application/json");
    }
  }

  std::string gold_for(const std::string& prompt) const {
    for (const auto& [question, gold] : golds_)
      if (prompt.find(question) != std::string::npos) return gold;
    return "0";
  }

  std::string answer(int64_t seed, const std::string& prompt, bool chat, const nlohmann::json& body) const {
    std::string gold = gold_for(prompt);
    std::string boxed = is_correct(seed) ? gold : gold + "1";
    std::string reasoning = "Let me think about seed " + std::to_string(seed) + ".";
    std::string content = "The answer is \\boxed{" + boxed + "}.";
    nlohmann::json usage = {{"prompt_tokens", static_cast<int64_t>(prompt.size() / 4)},
                            {"completion_tokens", 20 + seed % 50},
                            {"completion_tokens_details", {{"reasoning_tokens", 12}}}};
    nlohmann::json choice = {{"index", 0}, {"finish_reason", "stop"}};
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", content}, {"reasoning_content", reasoning}};
    } else {
      choice["text"] = reasoning + "</think>" + content;
    }
    bool chat_logprobs = chat && body.value("logprobs", false);
    bool text_logprobs = !chat && body.contains("logprobs") && body["logprobs"].is_number_integer();
    if (chat_logprobs || text_logprobs) {
      // Chat logprobs cover content only here (a reasoning parser's split is the server's business).
      auto ps = pieces(chat ? content : choice["text"].get<std::string>());
      int64_t n_top = chat ? body.value("top_logprobs", int64_t(0)) : body["logprobs"].get<int64_t>();
      auto bytes = [](const std::string& t) {
        nlohmann::json b = nlohmann::json::array();
        for (unsigned char c : t) b.push_back(static_cast<int>(c));
        return b;
      };
      nlohmann::json content_lp = nlohmann::json::array(), tokens = nlohmann::json::array(),
                     values = nlohmann::json::array(), tops = nlohmann::json::array();
      for (size_t i = 0; i < ps.size(); ++i) {
        double lp = piece_logprob(seed, i);
        std::vector<std::pair<std::string, double>> alternatives = {{ps[i], lp}, {"<alt>", lp - 1.0}};
        alternatives.resize(std::min<size_t>(alternatives.size(), static_cast<size_t>(n_top)));
        nlohmann::json top_chat = nlohmann::json::array(), top_text = nlohmann::json::object();
        for (const auto& [t, v] : alternatives) {
          top_chat.push_back({{"token", t}, {"logprob", v}, {"bytes", bytes(t)}});
          top_text[t] = v;
        }
        content_lp.push_back({{"token", ps[i]}, {"logprob", lp}, {"bytes", bytes(ps[i])}, {"top_logprobs", top_chat}});
        tokens.push_back(ps[i]);
        values.push_back(lp);
        tops.push_back(top_text);
      }
      if (chat) choice["logprobs"] = {{"content", content_lp}};
      else choice["logprobs"] = {{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}};
    }
    nlohmann::json j = {{"id", "cmpl-" + std::to_string(seed)},
                        {"object", chat ? "chat.completion" : "text_completion"},
                        {"model", body.value("model", "")},
                        {"choices", {choice}},
                        {"usage", usage}};
    return j.dump();
  }

  Options options_;
  std::vector<std::pair<std::string, std::string>> golds_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> faults_;
  std::map<int64_t, int64_t> requests_, answered_;
  std::vector<std::string> auth_headers_;
  std::vector<nlohmann::json> bodies_;
};

}  // namespace crucible::testing
