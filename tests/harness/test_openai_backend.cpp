// The OpenAI-compatible backend against a local fake server: a real run_eval on GSM8K (the real math grader) through
// seeded faults of every kind completes, stores every sample once, and scores exactly as a fault-free run; responses
// are parsed (reasoning_content, usage, finish_reason); refused requests stop at once without leaking the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <set>

#include "core/error.h"
#include "harness/eval.h"
#include "harness/graders.h"
#include "harness/openai_backend.h"
#include "tests/harness/fake_openai_server.h"
#include "tests/support/test_support.h"

using namespace crucible;
using namespace crucible::harness;
using crucible::testing::FakeOpenAIServer;
using crucible::testing::TempDir;

namespace {

EvalPlan gsm8k_plan(int64_t limit, int64_t samples, uint64_t seed) {
  const auto& info = find_suite("gsm8k");
  SuitePlan sp;
  Overrides o;
  o.samples = samples;
  o.limit = limit;
  o.seed = seed;
  sp.config = resolve_config("r1", info, o);
  sp.data = load_suite(info, crucible::testing::shared_dir() + "/data");
  sp.data.problems.resize(static_cast<size_t>(limit));
  sp.grader = make_grader(info, sp.config);
  EvalPlan plan;
  plan.name = "remote";
  plan.preset = "r1";
  plan.suites.push_back(std::move(sp));
  return plan;
}

std::vector<std::pair<std::string, std::string>> golds(const EvalPlan& plan) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : plan.suites[0].data.problems) out.emplace_back(p.question, p.gold.value_or(""));
  return out;
}

OpenAIBackendOptions client_for(const FakeOpenAIServer& server, const std::string& api = "chat") {
  OpenAIBackendOptions o;
  o.endpoint = server.url();
  o.model = "fake-r1";
  o.api = api;
  o.concurrency = 8;
  o.request_timeout_s = 2.0;  // the server's "slow" fault takes 2.5 s
  o.max_retries = 6;          // the server fails at most 4 attempts in a row
  o.backoff_base_s = 0.02;
  o.backoff_cap_s = 0.2;
  o.api_key_env = "CRUCIBLE_TEST_NO_SUCH_KEY";
  return o;
}

}  // namespace

TEST(OpenAIBackend, NormalizesEndpoints) {
  EXPECT_EQ(normalize_endpoint("http://localhost:8000"), "http://localhost:8000/v1");
  EXPECT_EQ(normalize_endpoint("http://localhost:8000/v1/"), "http://localhost:8000/v1");
  EXPECT_EQ(normalize_endpoint("https://api.deepseek.com/v1/chat/completions"), "https://api.deepseek.com/v1");
  EXPECT_EQ(normalize_endpoint("https://api.deepseek.com"), "https://api.deepseek.com/v1");
  EXPECT_THROW(normalize_endpoint("localhost:8000"), InputError);
  EXPECT_THROW(normalize_endpoint("ftp://x/v1"), InputError);
}

TEST(OpenAIBackend, ParsesRetryAfter) {
  std::time_t now = 1'700'000'000;  // Tue, 14 Nov 2023 22:13:20 GMT
  EXPECT_DOUBLE_EQ(*parse_retry_after("7", now), 7.0);
  EXPECT_DOUBLE_EQ(*parse_retry_after(" 0.5 ", now), 0.5);
  EXPECT_DOUBLE_EQ(*parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now), 30.0);
  EXPECT_DOUBLE_EQ(*parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now), 0.0) << "a date in the past: now";
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("", now));
}

TEST(OpenAIBackend, IdentityIsEndpointAndModel) {
  OpenAIBackendOptions o;
  o.endpoint = "http://h:1/v1/";
  o.model = "m";
  OpenAIBackend a(o);
  auto id = a.identity();
  EXPECT_EQ(id.format, "endpoint");
  EXPECT_EQ(id.content_hash, sha256_hex("http://h:1/v1\nm"));
  EXPECT_TRUE(id.config["assistant_prefix_sent"].get<bool>()) << "chat continues a partial assistant message";
  EXPECT_EQ(id.config["assistant_prefix_via"], "continue_final_message");
  o.assistant_prefix_via = "none";
  EXPECT_FALSE(OpenAIBackend(o).identity().config["assistant_prefix_sent"].get<bool>());
  EXPECT_NE(OpenAIBackend(o).identity().template_hash, id.template_hash) << "the prefix changes what the model sees";
  o.assistant_prefix_via = "prefix";
  EXPECT_NE(OpenAIBackend(o).identity().template_hash, id.template_hash);
  o.assistant_prefix_via = "sideways";
  EXPECT_THROW(OpenAIBackend{o}, InputError);
  o.assistant_prefix_via = "continue";
  o.api = "completions";
  OpenAIBackend b(o);
  EXPECT_EQ(b.identity().content_hash, id.content_hash);
  EXPECT_NE(b.identity().template_hash, id.template_hash) << "chat and completions prompt the model differently";
  EXPECT_TRUE(b.identity().config["assistant_prefix_sent"].get<bool>());
  o.model = "";
  EXPECT_THROW(OpenAIBackend{o}, InputError);
}

// The headline test: faults of every kind, and the run still equals a fault-free one.
TEST(OpenAIBackend, FaultInjectedEvalEqualsFaultFreeRun) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  const int64_t problems = 16, k = 4;
  TempDir dir;

  auto plan = gsm8k_plan(problems, k, 5);
  FakeOpenAIServer clean_server({}, golds(plan));
  Store clean_store = Store::open(dir.file("clean.db"));
  OpenAIBackend clean_client(client_for(clean_server));
  auto clean = run_eval(clean_client, plan, clean_store);

  FakeOpenAIServer::Options faulty;
  faulty.fault_rate = 0.45;
  faulty.fault_seed = 20261123;
  FakeOpenAIServer faulty_server(faulty, golds(plan));
  Store store = Store::open(dir.file("faulty.db"));
  OpenAIBackend client(client_for(faulty_server));
  auto run = run_eval(client, gsm8k_plan(problems, k, 5), store);

  // Counts for the report.
  int64_t injected = 0;
  std::string line;
  for (const auto& [kind, n] : faulty_server.faults()) {
    line += " " + kind + "=" + std::to_string(n);
    injected += n;
  }
  std::string retries;
  for (const auto& [cause, n] : client.retry_counts()) retries += " " + cause + "=" + std::to_string(n);
  std::printf("[fault-injection] samples=%lld requests=%lld injected=%lld:%s\n[fault-injection] client retries:%s\n",
              static_cast<long long>(problems * k), static_cast<long long>(faulty_server.total_requests()),
              static_cast<long long>(injected), line.c_str(), retries.c_str());
  EXPECT_EQ(faulty_server.faults().size(), 9u) << "every fault kind was injected at least once";
  EXPECT_GE(injected, 40);

  EXPECT_EQ(run.samples_generated, problems * k);
  auto a = clean_store.run_samples(clean.run_id), b = store.run_samples(run.run_id);
  ASSERT_EQ(b.size(), static_cast<size_t>(problems * k)) << "every sample stored";
  std::set<std::pair<int64_t, int64_t>> distinct;
  for (const auto& s : b) distinct.insert({s.problem_id, s.sample_index});
  EXPECT_EQ(distinct.size(), b.size()) << "…exactly once";
  // A sample is answered twice only when an answer came later than the timeout: the injected "slow" ones are never
  // counted as answers, but on a loaded machine an ordinary answer can be late too (then the client saw more
  // timeouts than were injected). Anything else answered twice is a sample requested again after it was stored.
  auto client_timeouts = client.retry_counts()["timeout"];
  int64_t twice = 0;
  for (const auto& [seed, n] : faulty_server.answered()) twice += n > 1;
  EXPECT_EQ(static_cast<int64_t>(faulty_server.answered().size()), problems * k);
  if (client_timeouts == faulty_server.faults()["slow"]) EXPECT_EQ(twice, 0);
  else std::printf("[fault-injection] %lld late ordinary answers timed out; %lld samples answered twice\n",
                   static_cast<long long>(client_timeouts - faulty_server.faults()["slow"]), static_cast<long long>(twice));
  ASSERT_EQ(a.size(), b.size());
  std::map<std::pair<int64_t, int64_t>, const SampleRecord*> by_key;
  for (const auto& s : a) by_key[{s.problem_id, s.sample_index}] = &s;
  int64_t correct = 0;
  for (const auto& s : b) {
    const SampleRecord& r = *by_key.at({s.problem_id, s.sample_index});
    EXPECT_EQ(s.completion, r.completion);
    EXPECT_EQ(s.correct, r.correct);
    EXPECT_EQ(s.reasoning, r.reasoning);
    correct += s.correct.value_or(false);
  }
  EXPECT_GT(correct, 0);
  EXPECT_LT(correct, problems * k) << "the fake answers some samples wrong";
  EXPECT_DOUBLE_EQ(run.suites[0].pass1.value, clean.suites[0].pass1.value);
  EXPECT_DOUBLE_EQ(run.suites[0].pass1.low, clean.suites[0].pass1.low);
  EXPECT_EQ(run.suites[0].pass_at_k, clean.suites[0].pass_at_k);
  EXPECT_EQ(run.suites[0].cons, clean.suites[0].cons);
  EXPECT_DOUBLE_EQ(run.suites[0].pass1.value, static_cast<double>(correct) / static_cast<double>(problems * k));
}

TEST(OpenAIBackend, KeepsReasoningUsageAndFinishReason) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  auto plan = gsm8k_plan(3, 2, 9);
  FakeOpenAIServer server({}, golds(plan));
  TempDir dir;
  Store chat_store = Store::open(dir.file("chat.db")), text_store = Store::open(dir.file("text.db"));
  OpenAIBackend chat(client_for(server, "chat")), text(client_for(server, "completions"));
  auto rc = run_eval(chat, plan, chat_store);
  auto rt = run_eval(text, gsm8k_plan(3, 2, 9), text_store);
  auto sc = chat_store.run_samples(rc.run_id), st = text_store.run_samples(rt.run_id);
  ASSERT_EQ(sc.size(), 6u);
  ASSERT_EQ(st.size(), 6u);
  for (size_t i = 0; i < sc.size(); ++i) {
    ASSERT_TRUE(sc[i].reasoning.has_value()) << "reasoning_content is stored";
    EXPECT_EQ(sc[i].reasoning->rfind("Let me think about seed ", 0), 0u);
    EXPECT_EQ(sc[i].completion, *sc[i].reasoning + "</think>" + sc[i].completion.substr(sc[i].reasoning->size() + 8));
    EXPECT_EQ(sc[i].reasoning_tokens, 12);
    EXPECT_GT(sc[i].completion_tokens, 0);
    EXPECT_GT(sc[i].prompt_tokens, 0);
    EXPECT_EQ(sc[i].finish_reason, "stop");
    EXPECT_EQ(sc[i].verdict.has_value(), true);
    EXPECT_NE(*sc[i].verdict, "unfinished") << "the split-off reasoning closes the think block";
    // The text API sends no template; the same fake answers the same stored completion, no separate reasoning.
    EXPECT_EQ(st[i].completion, sc[i].completion);
    EXPECT_FALSE(st[i].reasoning.has_value());
    EXPECT_EQ(st[i].correct, sc[i].correct);
  }
  EXPECT_NE(chat_store.get_run(rc.run_id)->identity, text_store.get_run(rt.run_id)->identity);
  auto cfg = chat_store.get_run(rc.run_id)->config;
  EXPECT_EQ(cfg["model"]["format"], "endpoint");
  EXPECT_EQ(cfg["model"]["config"]["assistant_prefix_sent"], true);
  EXPECT_FALSE(cfg.contains("warnings")) << "the fake takes continue_final_message";
  EXPECT_EQ(cfg["model"]["config"]["chat_template"], "the server's (unknown to crucible)");
}

TEST(OpenAIBackend, RefusedKeyStopsAtOnceAndIsNeverEchoed) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  auto plan = gsm8k_plan(2, 2, 3);
  FakeOpenAIServer::Options so;
  so.expect_auth = "sk-right";
  FakeOpenAIServer server(so, golds(plan));
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  ::setenv("CRUCIBLE_TEST_KEY", "sk-wrong-secret", 1);
  auto o = client_for(server);
  o.api_key_env = "CRUCIBLE_TEST_KEY";
  o.concurrency = 1;
  OpenAIBackend client(o);
  try {
    run_eval(client, plan, store);
    FAIL() << "a refused key must stop the run";
  } catch (const RunError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("HTTP 401"), std::string::npos) << msg;
    EXPECT_NE(msg.find("$CRUCIBLE_TEST_KEY"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("sk-wrong-secret"), std::string::npos) << "the key leaked into: " << msg;
  }
  EXPECT_EQ(server.total_requests(), 1) << "a 401 is not retried";
  EXPECT_EQ(server.auth_headers().at(0), "Bearer sk-wrong-secret");
  EXPECT_EQ(store.get_run(1)->status, "interrupted");
  auto cfg = store.get_run(1)->config.dump();
  EXPECT_EQ(cfg.find("sk-wrong-secret"), std::string::npos) << "the key is not stored";

  // The right key gets through; an unset variable sends no header at all.
  ::setenv("CRUCIBLE_TEST_KEY", "sk-right", 1);
  OpenAIBackend good(o);
  EXPECT_NO_THROW(run_eval(good, plan, store, std::string("1")));
  ::unsetenv("CRUCIBLE_TEST_KEY");
  FakeOpenAIServer open_server({}, golds(plan));
  auto o2 = client_for(open_server);
  o2.api_key_env = "CRUCIBLE_TEST_KEY";
  OpenAIBackend anonymous(o2);
  Store other = Store::open(dir.file("d.db"));
  run_eval(anonymous, plan, other);
  for (const auto& h : open_server.auth_headers()) EXPECT_EQ(h, "");
}

TEST(OpenAIBackend, GivesUpAfterMaxRetriesAndTheRunResumes) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  auto plan = gsm8k_plan(4, 2, 3);
  FakeOpenAIServer::Options so;
  so.fault_rate = 1.0;  // the first 4 attempts of every sample fail
  so.slow_ms = 1200;
  FakeOpenAIServer server(so, golds(plan));
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  auto o = client_for(server);
  o.max_retries = 1;
  OpenAIBackend impatient(o);
  EXPECT_THROW(run_eval(impatient, plan, store), RunError);
  EXPECT_EQ(store.get_run(1)->status, "interrupted");
  o.max_retries = 6;
  OpenAIBackend patient(o);
  auto r = run_eval(patient, gsm8k_plan(4, 2, 3), store, std::string("1"));
  EXPECT_EQ(store.count_samples(r.run_id), 8);
}

namespace {

// One request with the R1 prefix, `samples` samples, straight through the backend (no store).
std::vector<GenerationResult> generate_one(OpenAIBackend& backend, int samples, bool logprobs, int64_t top) {
  GenerationRequest r;
  r.suite = "gsm8k";
  r.problem_key = "p0";
  r.messages = {{"user", "What is 2+2?"}};
  r.assistant_prefix = "<think>\n";
  r.sampling.max_new_tokens = 64;
  r.sampling.logprobs = logprobs;
  r.sampling.top_logprobs = top;
  for (int k = 0; k < samples; ++k) {
    r.sample_indices.push_back(k);
    r.seeds.push_back(static_cast<uint64_t>(100 + k));
  }
  std::mutex m;
  std::vector<GenerationResult> out;
  backend.generate({r}, [&](GenerationResult g) {
    std::lock_guard lock(m);
    out.push_back(std::move(g));
  });
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.sample_index < b.sample_index; });
  return out;
}

}  // namespace

TEST(OpenAIBackend, SendsTheAssistantPrefixAsAPartialAssistantMessage) {
  FakeOpenAIServer server({}, {{"2+2", "4"}});
  auto o = client_for(server);
  OpenAIBackend continuing(o);
  ASSERT_EQ(generate_one(continuing, 1, false, 0).size(), 1u);
  auto body = server.bodies().back();
  EXPECT_EQ(body["messages"].back(), (nlohmann::json{{"role", "assistant"}, {"content", "<think>\n"}}));
  EXPECT_EQ(body["continue_final_message"], true);
  EXPECT_EQ(body["add_generation_prompt"], false);

  o.assistant_prefix_via = "prefix";
  OpenAIBackend deepseek(o);
  generate_one(deepseek, 1, false, 0);
  body = server.bodies().back();
  EXPECT_EQ(body["messages"].back()["prefix"], true) << "DeepSeek's partial assistant message";
  EXPECT_FALSE(body.contains("continue_final_message"));

  o.assistant_prefix_via = "none";
  OpenAIBackend plain(o);
  generate_one(plain, 1, false, 0);
  body = server.bodies().back();
  EXPECT_EQ(body["messages"].back()["role"], "user");
  EXPECT_FALSE(body.contains("continue_final_message"));
  EXPECT_TRUE(plain.warnings().empty());
}

TEST(OpenAIBackend, AServerThatRefusesThePrefixIsAskedWithoutItAndTheRunSaysSo) {
  FakeOpenAIServer::Options so;
  so.refuse_assistant_prefix = true;
  FakeOpenAIServer server(so, {{"2+2", "4"}});
  auto o = client_for(server);
  o.concurrency = 1;  // in order: the first sample meets the refusal, the others are sent without the prefix
  OpenAIBackend backend(o);
  auto results = generate_one(backend, 3, false, 0);
  ASSERT_EQ(results.size(), 3u);
  auto bodies = server.bodies();
  ASSERT_EQ(bodies.size(), 4u) << "one refused request, then three without the prefix";
  EXPECT_EQ(bodies[0]["continue_final_message"], true);
  for (size_t i = 1; i < bodies.size(); ++i) {
    EXPECT_EQ(bodies[i]["messages"].back()["role"], "user");
    EXPECT_FALSE(bodies[i].contains("continue_final_message"));
  }
  ASSERT_EQ(backend.warnings().size(), 1u);
  EXPECT_NE(backend.warnings()[0].find("refused the assistant prefix sent as continue_final_message"),
            std::string::npos) << backend.warnings()[0];
  EXPECT_NE(backend.warnings()[0].find("HTTP 400"), std::string::npos);
  EXPECT_NE(results[0].prompt_hash, std::string()) << "hashes what was actually sent";
  EXPECT_EQ(results[0].prompt_hash, results[1].prompt_hash);
}

TEST(OpenAIBackend, ARefusedPrefixIsRecordedInTheStoredRun) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  auto plan = gsm8k_plan(2, 2, 5);
  FakeOpenAIServer::Options so;
  so.refuse_assistant_prefix = true;
  FakeOpenAIServer server(so, golds(plan));
  TempDir dir;
  Store store = Store::open(dir.file("r.db"));
  OpenAIBackend backend(client_for(server));
  auto r = run_eval(backend, plan, store);
  EXPECT_EQ(store.count_samples(r.run_id), 4);
  auto cfg = store.get_run(r.run_id)->config;
  ASSERT_TRUE(cfg.contains("warnings")) << cfg.dump();
  EXPECT_NE(cfg["warnings"][0].get<std::string>().find("refused the assistant prefix"), std::string::npos);
}

TEST(OpenAIBackend, ReadsLogprobsFromChatAndCompletionsAnswers) {
  FakeOpenAIServer server({}, {{"2+2", "4"}});
  for (const std::string api : {"chat", "completions"}) {
    SCOPED_TRACE(api);
    OpenAIBackend backend(client_for(server, api));
    auto results = generate_one(backend, 2, true, 2);
    ASSERT_EQ(results.size(), 2u);
    auto body = server.bodies().back();
    if (api == "chat") {
      EXPECT_EQ(body["logprobs"], true);
      EXPECT_EQ(body["top_logprobs"], 2);
    } else {
      EXPECT_EQ(body["logprobs"], 2);
    }
    for (const auto& g : results) {
      // Chat logprobs cover the content (after the reasoning the server split off); completions the whole text.
      std::string covered = api == "chat" ? g.text.substr(g.text.find("</think>") + 8) : g.text;
      auto pieces = FakeOpenAIServer::pieces(covered);
      ASSERT_EQ(g.logprobs.size(), pieces.size());
      std::string joined;
      for (size_t i = 0; i < pieces.size(); ++i) {
        const auto& t = g.logprobs[i];
        joined += t.text;
        EXPECT_EQ(t.token_id, -1);
        EXPECT_DOUBLE_EQ(t.logprob, FakeOpenAIServer::piece_logprob(100 + g.sample_index, i));
        EXPECT_FALSE(t.sampling_logprob.has_value()) << "a remote server does not say";
        ASSERT_EQ(t.top.size(), 2u);
        EXPECT_EQ(t.top[0].text, pieces[i]) << "most likely first";
        EXPECT_DOUBLE_EQ(t.top[0].logprob, t.logprob);
        EXPECT_EQ(t.top[1].text, "<alt>");
        EXPECT_DOUBLE_EQ(t.top[1].logprob, t.logprob - 1.0);
      }
      EXPECT_EQ(joined, covered);
    }
  }
  // Not asked: not sent, none read.
  OpenAIBackend backend(client_for(server));
  auto results = generate_one(backend, 1, false, 0);
  EXPECT_TRUE(results[0].logprobs.empty());
  EXPECT_FALSE(server.bodies().back().contains("logprobs"));
}
