// The served teacher's client (harness/teacher_scorer.h) against a scripted server on loopback: what it sends, how
// it reads echoed prompt logprobs named "token_id:N" (vLLM's extra alternative dropped), the fallback when
// max_tokens 0 is refused, retries, and each refusal naming the endpoint and the field.
#include "harness/teacher_scorer.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace crucible::harness {
namespace {

using nlohmann::json;

constexpr int64_t kVocab = 50;

// The scripted teacher at position t: its alternatives are ids t+1 .. t+K (mod the vocabulary), less likely one by
// one; any other token is less likely than all of them.
double alt_lp(size_t t, int64_t k) { return -0.5 - 0.25 * static_cast<double>(k) - 0.001 * static_cast<double>(t); }
int32_t alt_id(size_t t, int64_t k) { return static_cast<int32_t>((t + 1 + static_cast<size_t>(k)) % kVocab); }
double token_lp(size_t t, int32_t id, int64_t K) {
  for (int64_t k = 0; k < K; ++k)
    if (alt_id(t, k) == id) return alt_lp(t, k);
  return -3.0 - 0.01 * static_cast<double>(t + 1) - 0.001 * id;
}

// An answer in the completions shape for prompt `ids`: echo, logprobs K, tokens named "token_id:N". Like vLLM, a
// position whose own token is not among its K alternatives lists it too (K + 1 entries). `extra` generated tokens
// follow (max_tokens 1).
json answer(const std::vector<int32_t>& ids, int64_t K, int extra) {
  json tokens = json::array(), values = json::array(), tops = json::array();
  for (size_t t = 0; t < ids.size() + static_cast<size_t>(extra); ++t) {
    const int32_t id = t < ids.size() ? ids[t] : 7;
    tokens.push_back("token_id:" + std::to_string(id));
    if (t == 0) {
      values.push_back(nullptr);
      tops.push_back(nullptr);
      continue;
    }
    values.push_back(token_lp(t, id, K));
    json top = json::object();
    bool listed = false;
    for (int64_t k = 0; k < K; ++k) {
      top["token_id:" + std::to_string(alt_id(t, k))] = alt_lp(t, k);
      listed = listed || alt_id(t, k) == id;
    }
    if (!listed) top["token_id:" + std::to_string(id)] = token_lp(t, id, K);
    tops.push_back(top);
  }
  return {{"choices",
           {{{"index", 0},
             {"text", ""},
             {"logprobs", {{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}}},
             {"finish_reason", "length"}}}}};
}

class ScriptedServer {
 public:
  // handle(body, attempt) -> (status, response body); attempt counts every request so far.
  using Handler = std::function<std::pair<int, std::string>(const json&, int)>;
  explicit ScriptedServer(Handler h) : handler_(std::move(h)) {
    server_.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) {
      json body = json::parse(q.body);
      int attempt = 0;
      {
        std::lock_guard lock(mu_);
        bodies.push_back(body);
        auth.push_back(q.get_header_value("Authorization"));
        attempt = requests++;
      }
      auto [status, text] = handler_(body, attempt);
      r.status = status;
      r.set_content(text, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ScriptedServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }  // a bare host: /v1 is added
  std::mutex mu_;
  std::vector<json> bodies;
  std::vector<std::string> auth;
  int requests = 0;

 private:
  Handler handler_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::vector<int32_t> prompt_of(int32_t seed, size_t n) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>((seed * 7 + static_cast<int32_t>(i) * 3) % kVocab));
  return ids;
}

TeacherScorerOptions options(const std::string& url, int64_t K = 4) {
  TeacherScorerOptions o;
  o.endpoint = url;
  o.model = "teacher";
  o.top_k = K;
  o.concurrency = 3;
  o.request_timeout_s = 10;
  o.max_retries = 2;
  o.backoff_base_s = 0.01;
  o.backoff_cap_s = 0.02;
  o.api_key_env = "CRUCIBLE_TEST_SCORER_KEY";
  return o;
}

// Every returned value is the script's: the token's logprob, the K alternatives (most likely first), the
// position's own token dropped from the list when the server added it as a K+1-th.
void expect_scores(const TeacherScores& s, const std::vector<int32_t>& ids, size_t first, int64_t K) {
  ASSERT_EQ(s.token_logprob.size(), ids.size() - first);
  ASSERT_EQ(s.top_ids.size(), (ids.size() - first) * static_cast<size_t>(K));
  for (size_t t = first; t < ids.size(); ++t) {
    const size_t i = t - first;
    EXPECT_DOUBLE_EQ(s.token_logprob[i], token_lp(t, ids[t], K)) << t;
    for (int64_t k = 0; k < K; ++k) {
      EXPECT_EQ(s.top_ids[i * K + k], alt_id(t, k)) << t << " " << k;
      EXPECT_DOUBLE_EQ(s.top_logprobs[i * K + k], alt_lp(t, k)) << t << " " << k;
    }
  }
}

TEST(TeacherScorer, SendsTokenIdsAndReadsTheEchoedPromptLogprobs) {
  ScriptedServer server([](const json& b, int) {
    return std::pair{200, answer(b["prompt"].get<std::vector<int32_t>>(), b["logprobs"].get<int64_t>(), 0).dump()};
  });
  ::setenv("CRUCIBLE_TEST_SCORER_KEY", "sk-scorer", 1);
  TeacherScorer scorer(options(server.url()));
  ::unsetenv("CRUCIBLE_TEST_SCORER_KEY");
  std::vector<std::vector<int32_t>> ids;
  std::vector<size_t> first;
  for (int32_t i = 0; i < 7; ++i) {
    ids.push_back(prompt_of(i, 9 + static_cast<size_t>(i)));
    first.push_back(3 + static_cast<size_t>(i % 3));
  }
  ids.push_back({1, 2, 3});  // nothing to score: no request
  first.push_back(3);
  auto out = scorer.score(ids, first, kVocab);
  ASSERT_EQ(out.size(), ids.size());
  for (size_t i = 0; i + 1 < ids.size(); ++i) expect_scores(out[i], ids[i], first[i], 4);
  EXPECT_TRUE(out.back().token_logprob.empty());
  EXPECT_FALSE(scorer.generates_one_token());
  ASSERT_EQ(server.bodies.size(), 7u);
  for (const auto& b : server.bodies) {
    EXPECT_EQ(b["model"], "teacher");
    EXPECT_TRUE(b["prompt"].is_array() && b["prompt"][0].is_number_integer()) << b;
    EXPECT_EQ(b["echo"], true);
    EXPECT_EQ(b["max_tokens"], 0);
    EXPECT_EQ(b["logprobs"], 4);
    EXPECT_EQ(b["return_tokens_as_token_ids"], true);
  }
  for (const auto& a : server.auth) EXPECT_EQ(a, "Bearer sk-scorer");
}

TEST(TeacherScorer, AServerThatRefusesMaxTokensZeroIsAskedForOneToken) {
  ScriptedServer server([](const json& b, int) {
    if (b["max_tokens"] == 0)
      return std::pair{422, std::string(R"({"error":{"message":"max_tokens must be at least 1"}})")};
    return std::pair{200, answer(b["prompt"].get<std::vector<int32_t>>(), b["logprobs"].get<int64_t>(), 1).dump()};
  });
  TeacherScorer scorer(options(server.url(), 3));
  const auto ids = prompt_of(4, 12);
  auto out = scorer.score({ids, ids}, {5, 11}, kVocab);
  expect_scores(out[0], ids, 5, 3);
  expect_scores(out[1], ids, 11, 3);
  EXPECT_TRUE(scorer.generates_one_token());
  EXPECT_EQ(server.bodies.back()["max_tokens"], 1);
}

TEST(TeacherScorer, RetriesServerErrorsThenGivesUpNamingTheEndpoint) {
  ScriptedServer flaky([](const json& b, int attempt) {
    if (attempt < 2) return std::pair{503, std::string("overloaded")};
    return std::pair{200, answer(b["prompt"].get<std::vector<int32_t>>(), 4, 0).dump()};
  });
  auto o = options(flaky.url());
  o.concurrency = 1;
  const auto ids = prompt_of(2, 8);
  auto out = TeacherScorer(o).score({ids}, {2}, kVocab);
  expect_scores(out[0], ids, 2, 4);
  EXPECT_EQ(flaky.requests, 3);

  ScriptedServer down([](const json&, int) { return std::pair{503, std::string("overloaded")}; });
  try {
    TeacherScorer(options(down.url())).score({ids}, {2}, kVocab);
    FAIL() << "no error";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find(down.url() + "/v1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gave up"), std::string::npos) << e.what();
  }
  // A refused request (not max_tokens) stops at once with the server's words.
  ScriptedServer refusing([](const json&, int) {
    return std::pair{400, std::string(R"({"error":{"message":"logprobs must be in 0..20"}})")};
  });
  try {
    TeacherScorer(options(refusing.url())).score({ids}, {2}, kVocab);
    FAIL() << "no error";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 400"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("logprobs must be in 0..20"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(refusing.url()), std::string::npos) << e.what();
  }
  EXPECT_EQ(refusing.requests, 1);
  // Nobody listening.
  try {
    TeacherScorer(options("http://127.0.0.1:9")).score({ids}, {2}, kVocab);
    FAIL() << "no error";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("http://127.0.0.1:9/v1"), std::string::npos) << e.what();
  }
}

// The refusals: each an InputError naming the endpoint and the response's field.
void expect_refused(const std::function<json(const std::vector<int32_t>&)>& respond, const std::string& field,
                    const std::string& words) {
  ScriptedServer server([&](const json& b, int) {
    return std::pair{200, respond(b["prompt"].get<std::vector<int32_t>>()).dump()};
  });
  try {
    TeacherScorer(options(server.url())).score({prompt_of(1, 10), prompt_of(2, 10)}, {4, 4}, kVocab);
    FAIL() << "no error for " << field;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(server.url() + "/v1"), std::string::npos) << what;
    EXPECT_NE(what.find("'" + field + "'"), std::string::npos) << what;
    EXPECT_NE(what.find(words), std::string::npos) << what;
  }
}

TEST(TeacherScorer, RefusesAnswersItCannotMapNamingTheField) {
  expect_refused(
      [](const std::vector<int32_t>& ids) {
        auto a = answer(ids, 4, 0);
        a["choices"][0]["logprobs"] = nullptr;
        return a;
      },
      "choices[0].logprobs", "no prompt logprobs");
  expect_refused(
      [](const std::vector<int32_t>& ids) {
        auto a = answer(std::vector<int32_t>(ids.begin(), ids.begin() + 3), 4, 0);  // no echo: the first 3 only
        return a;
      },
      "choices[0].logprobs.tokens", "does not echo");
  expect_refused(
      [](const std::vector<int32_t>& ids) {
        auto a = answer(ids, 4, 0);
        a["choices"][0]["logprobs"]["tokens"][2] = " the";  // text, not token_id:N
        return a;
      },
      "choices[0].logprobs.tokens", "return_tokens_as_token_ids");
  expect_refused(
      [](const std::vector<int32_t>& ids) {
        auto other = ids;
        other[6] = (other[6] + 1) % kVocab;  // re-tokenised
        return answer(other, 4, 0);
      },
      "choices[0].logprobs.tokens", "re-tokenised");
  expect_refused(
      [](const std::vector<int32_t>& ids) {
        auto a = answer(ids, 4, 0);
        a["choices"][0]["logprobs"]["top_logprobs"][5]["token_id:" + std::to_string(kVocab + 3)] = -0.1;
        return a;
      },
      "choices[0].logprobs.top_logprobs", "outside the student's vocabulary");
  expect_refused(
      [](const std::vector<int32_t>& ids) {
        auto a = answer(ids, 4, 0);
        a["choices"][0]["logprobs"]["top_logprobs"][7] = nullptr;
        return a;
      },
      "choices[0].logprobs.top_logprobs", "no alternatives");
}

TEST(TeacherScorer, BadOptionsNameTheFlag) {
  auto o = options("http://127.0.0.1:1");
  o.top_k = 0;
  EXPECT_THROW(TeacherScorer{o}, InputError);
  o = options("ftp://x");
  EXPECT_THROW(TeacherScorer{o}, InputError);
  o = options("http://127.0.0.1:1");
  o.model = "";
  try {
    TeacherScorer{o};
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--api-model"), std::string::npos);
  }
}

}  // namespace
}  // namespace crucible::harness
