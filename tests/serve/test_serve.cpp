// `crucible serve` in-process on an ephemeral port with real models: response shapes, OpenAI-style errors, greedy
// equal to `crucible generate` (generate_text), same seed -> same samples under concurrent load, streaming equal to
// the whole response, a dropped stream cancels its samples, and the SmolLM2 chat template.
#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <set>

#include "model/generate_api.h"
#include "tests/serve/serve_fixture.h"

namespace crucible::serve {
namespace {

using testing::demo_gguf;
using testing::LiveServer;
using testing::stories;
using nlohmann::json;

EngineGeneratorOptions stories_engine(int64_t max_batch = 8) {
  EngineGeneratorOptions o;
  o.model = stories("stories260K.bin");
  o.tokenizer = stories("tok512.bin");
  o.max_batch = max_batch;
  return o;
}

class StoriesServe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(stories("stories260K.bin"))) return;
    ServeConfig cfg;
    cfg.max_body_bytes = 1 << 16;
    server = new LiveServer(stories_engine(), cfg);
  }
  static void TearDownTestSuite() {
    delete server;
    server = nullptr;
  }
  void SetUp() override {
    if (!server) GTEST_SKIP() << "../shared/models/stories260K missing";
  }
  static LiveServer* server;
};
LiveServer* StoriesServe::server = nullptr;

void expect_error(const LiveServer::Reply& r, int status, const std::string& param = "") {
  EXPECT_EQ(r.status, status) << r.raw;
  ASSERT_TRUE(r.body.is_object()) << r.raw;
  ASSERT_TRUE(r.body.contains("error")) << r.raw;
  const auto& e = r.body["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << r.raw;
  EXPECT_TRUE(e["type"].is_string()) << r.raw;
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << r.raw;
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param) << r.raw;
  }
}

TEST_F(StoriesServe, ModelsListsTheStemAndDefault) {
  auto c = server->client();
  auto r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  auto j = json::parse(r->body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0]["id"], "stories260K");
  EXPECT_EQ(j["data"][1]["id"], "default");
  EXPECT_EQ(j["data"][0]["object"], "model");
}

TEST_F(StoriesServe, CompletionHasOpenAIShapeAndUsage) {
  auto r = server->post("/v1/completions", json{{"model", "stories260K"}, {"prompt", "Once upon a time"},
                                                 {"max_tokens", 20}, {"temperature", 0}, {"unknown_field", 3}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const auto& j = r.body;
  EXPECT_EQ(j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_TRUE(j["created"].is_number_integer());
  EXPECT_EQ(j["model"], "stories260K");
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_FALSE(j["choices"][0]["text"].get<std::string>().empty());
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);  // BOS + 4
  EXPECT_EQ(j["usage"]["completion_tokens"], 20);
  EXPECT_EQ(j["usage"]["total_tokens"], 25);
}

TEST_F(StoriesServe, GreedyEqualsCrucibleGenerate) {
  model::GenerateArgs a;
  a.model = stories("stories260K.bin");
  a.tokenizer = stories("tok512.bin");
  a.prompts = {"Lily and Tom went to", "The sun"};
  a.sampling.max_new_tokens = 60;
  auto want = model::generate_text(a);
  auto r = server->post("/v1/completions", json{{"model", "default"}, {"prompt", a.prompts}, {"max_tokens", 60},
                                                 {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["choices"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(r.body["choices"][i]["index"], i);
    EXPECT_EQ(r.body["choices"][i]["text"], want.samples[i].text);
    EXPECT_EQ(r.body["choices"][i]["finish_reason"], want.samples[i].finish_reason);
  }
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], want.samples[0].prompt_tokens + want.samples[1].prompt_tokens);
}

TEST_F(StoriesServe, SameSeedSameSamplesUnderConcurrentLoad) {
  const json req = {{"prompt", "Once upon a time"}, {"max_tokens", 48}, {"temperature", 0.9}, {"top_p", 0.95},
                    {"n", 3}, {"seed", 1234}, {"stop", {"park"}}};
  auto solo = server->post("/v1/completions", req);
  ASSERT_EQ(solo.status, 200) << solo.raw;
  std::vector<std::future<LiveServer::Reply>> replies;
  for (int i = 0; i < 8; ++i)
    replies.push_back(std::async(std::launch::async, [&, i] {
      if (i % 2 == 0) return server->post("/v1/completions", req);
      json other = {{"prompt", "Tom had a " + std::to_string(i)}, {"max_tokens", 30 + 7 * i},
                    {"temperature", 1.0}, {"n", 2}};
      return server->post("/v1/completions", other);
    }));
  std::set<std::string> texts;
  for (int i = 0; i < 8; ++i) {
    auto r = replies[i].get();
    ASSERT_EQ(r.status, 200) << r.raw;
    if (i % 2) continue;
    EXPECT_EQ(r.body["choices"], solo.body["choices"]) << "client " << i;
  }
  for (const auto& c : solo.body["choices"]) texts.insert(c["text"].get<std::string>());
  EXPECT_GT(texts.size(), 1u);  // the n samples of one request differ
}

TEST_F(StoriesServe, StreamEqualsWholeResponse) {
  const json req = {{"prompt", "Once upon a time"}, {"max_tokens", 64}, {"temperature", 0.8}, {"n", 2},
                    {"seed", 99}, {"stop", {"park", "ball"}}};
  auto whole = server->post("/v1/completions", req);
  ASSERT_EQ(whole.status, 200) << whole.raw;
  json sreq = req;
  sreq["stream"] = true;
  sreq["stream_options"] = {{"include_usage", true}};
  auto events = server->stream("/v1/completions", sreq);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::map<int, std::string> text, finish;
  json usage;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto j = json::parse(events[i]);
    EXPECT_EQ(j["object"], "text_completion");
    if (j.contains("usage")) {
      usage = j["usage"];
      continue;
    }
    const auto& c = j["choices"][0];
    text[c["index"].get<int>()] += c["text"].get<std::string>();
    if (!c["finish_reason"].is_null()) finish[c["index"].get<int>()] = c["finish_reason"];
  }
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(text[i], whole.body["choices"][i]["text"]) << "choice " << i;
    EXPECT_EQ(finish[i], whole.body["choices"][i]["finish_reason"]);
  }
  EXPECT_EQ(usage, whole.body["usage"]);
}

TEST_F(StoriesServe, DroppedStreamCancelsItsSamplesAndServerGoesOn) {
  const int before = server->gen->cancels.load();
  auto events = server->stream("/v1/completions",
                               json{{"prompt", "Once"}, {"max_tokens", 400}, {"n", 4}, {"stream", true},
                                    {"temperature", 1.0}, {"seed", 1}},
                               /*stop_after=*/3);
  EXPECT_EQ(events.size(), 3u);
  for (int i = 0; i < 200 && server->gen->cancels.load() == before; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GT(server->gen->cancels.load(), before);
  auto r = server->post("/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 5}});
  EXPECT_EQ(r.status, 200) << r.raw;
}

TEST_F(StoriesServe, BadRequestsGetOpenAIErrors) {
  expect_error(server->post("/v1/completions", std::string("{\"prompt\": \"hi\", ")), 400);
  expect_error(server->post("/v1/completions", std::string("[1, 2]")), 400);
  expect_error(server->post("/v1/completions", json{{"max_tokens", 5}}), 400, "prompt");
  expect_error(server->post("/v1/completions", json{{"prompt", 5}}), 400, "prompt");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"max_tokens", "ten"}}), 400, "max_tokens");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"temperature", "hot"}}), 400, "temperature");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"stream", 1}}), 400, "stream");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"max_tokens", 0}}), 422, "max_tokens");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"max_tokens", -3}}), 422, "max_tokens");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"n", 1000}}), 422, "n");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"top_p", 0}}), 422, "top_p");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"temperature", -1}}), 422, "temperature");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"stop", {"a", "b", "c", "d", "e"}}}), 422,
               "stop");
  auto too_long = server->post("/v1/completions", json{{"prompt", "hi"}, {"max_tokens", 100000}});
  expect_error(too_long, 413, "max_tokens");
  EXPECT_EQ(too_long.body["error"]["code"], "context_length_exceeded");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"max_tokens", INT64_MAX}}), 413, "max_tokens");
  expect_error(server->post("/v1/completions", json{{"prompt", "hi"}, {"max_tokens", 1e300}}), 400, "max_tokens");
  expect_error(server->post("/v1/completions", json{{"prompt", json::array({1, 99999})}}), 400, "prompt");
  expect_error(server->post("/v1/completions", json{{"prompt", std::string(70000, 'a')}}), 413);
  auto unknown = server->post("/v1/completions", json{{"model", "gpt-4"}, {"prompt", "hi"}});
  expect_error(unknown, 404, "model");
  EXPECT_EQ(unknown.body["error"]["code"], "model_not_found");
  expect_error(server->post("/v1/nothing", json{{"prompt", "hi"}}), 404);
  // stories260K has no chat template: a clear 400, not a guess at one.
  auto chat = server->post("/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  expect_error(chat, 400, "messages");
  EXPECT_EQ(chat.body["error"]["code"], "no_chat_template");
  expect_error(server->post("/v1/chat/completions", json{{"max_tokens", 5}}), 400, "messages");
  expect_error(server->post("/v1/chat/completions", json{{"messages", "hi"}}), 400, "messages");
  // Still serving after all that.
  EXPECT_EQ(server->post("/v1/completions", json{{"prompt", "hi"}, {"max_tokens", 3}}).status, 200);
}

TEST_F(StoriesServe, TokenIdPromptsAndNullFieldsAreAccepted) {
  auto r = server->post("/v1/completions", json{{"prompt", json::array({1, 403, 407})}, {"max_tokens", 4},
                                                 {"temperature", nullptr}, {"seed", nullptr}, {"stop", nullptr}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], 3);
}


TEST(ServeProtocol, ChatLogprobsNameTokensByIdWhenAsked) {
  // return_tokens_as_token_ids on chat: "token_id:N" in `token` (the alternatives too), the bytes unchanged.
  TokenLogprob lp{.token_id = 7, .text = "\xe2\x82", .logprob = -0.5};
  lp.top = {TopLogprob{7, "\xe2\x82", -0.5}, TopLogprob{300, " a", -1.5}};
  const auto by_id = chat_logprobs({lp}, /*as_ids=*/true), by_text = chat_logprobs({lp});
  EXPECT_EQ(by_id["content"][0]["token"], "token_id:7");
  EXPECT_EQ(by_id["content"][0]["top_logprobs"][1]["token"], "token_id:300");
  EXPECT_EQ(by_id["content"][0]["bytes"], by_text["content"][0]["bytes"]);
  EXPECT_EQ(by_text["content"][0]["top_logprobs"][1]["token"], " a");
  auto r = parse_request(Endpoint::chat, R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true,
                                             "return_tokens_as_token_ids": true})",
                         Limits{});
  ASSERT_TRUE(std::holds_alternative<ApiRequest>(r));
  EXPECT_TRUE(std::get<ApiRequest>(r).tokens_as_ids);
}

TEST_F(StoriesServe, TokenIdPromptScoredWithTokenIdNames) {
  // What a distillation teacher is asked (distill onpolicy --endpoint): token ids in, echo + logprobs + max_tokens 0,
  // every token named "token_id:N" (vLLM's return_tokens_as_token_ids) so alternatives map to ids exactly. The
  // same request by text names tokens by their bytes, with the same logprobs.
  const std::string text = "Once upon a time, there was a little girl";
  const auto ids = server->gen->encode(text, /*add_special=*/true);
  ASSERT_GE(ids.size(), 8u);
  const json ask = {{"max_tokens", 0}, {"echo", true}, {"logprobs", 5}};
  json by_ids = ask, by_text = ask;
  by_ids["prompt"] = ids;
  by_ids["return_tokens_as_token_ids"] = true;
  by_text["prompt"] = text;
  auto a = server->post("/v1/completions", by_ids);
  auto b = server->post("/v1/completions", by_text);
  ASSERT_EQ(a.status, 200) << a.raw;
  ASSERT_EQ(b.status, 200) << b.raw;
  const auto& la = a.body["choices"][0]["logprobs"];
  const auto& lb = b.body["choices"][0]["logprobs"];
  ASSERT_EQ(la["tokens"].size(), ids.size());
  ASSERT_EQ(lb["tokens"].size(), ids.size());
  for (size_t t = 0; t < ids.size(); ++t) {
    EXPECT_EQ(la["tokens"][t], "token_id:" + std::to_string(ids[t])) << t;
    EXPECT_EQ(lb["tokens"][t], server->gen->token_bytes(ids[t])) << t;
    EXPECT_EQ(la["text_offset"][t], lb["text_offset"][t]) << "offsets count bytes either way";
    if (t == 0) {
      EXPECT_TRUE(la["token_logprobs"][0].is_null());
      continue;
    }
    EXPECT_EQ(la["token_logprobs"][t].get<double>(), lb["token_logprobs"][t].get<double>()) << t;
    ASSERT_EQ(la["top_logprobs"][t].size(), 5u) << t;
    for (const auto& [name, lp] : la["top_logprobs"][t].items()) {
      ASSERT_EQ(name.rfind("token_id:", 0), 0u) << name;
      const int32_t id = std::stoi(name.substr(9));
      EXPECT_EQ(lb["top_logprobs"][t][server->gen->token_bytes(id)].get<double>(), lp.get<double>()) << name;
    }
  }
  std::string bytes;
  for (int32_t id : ids) bytes += server->gen->token_bytes(id);
  EXPECT_EQ(a.body["choices"][0]["text"], bytes) << "echo writes the ids' bytes";
  // A non-boolean flag is refused, naming it.
  json bad = by_ids;
  bad["return_tokens_as_token_ids"] = "yes";
  expect_error(server->post("/v1/completions", bad), 400, "return_tokens_as_token_ids");
}
// ---- SmolLM2 (GGUF with a chat template) -----------------------------------------------------------------------

class SmolServe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(demo_gguf())) return;
    EngineGeneratorOptions o;
    o.model = demo_gguf();
    o.max_batch = 8;
    o.context = 2048;
    ServeConfig cfg;
    cfg.served_name = "smol";
    server = new LiveServer(o, cfg);
  }
  static void TearDownTestSuite() {
    delete server;
    server = nullptr;
  }
  void SetUp() override {
    if (!server) GTEST_SKIP() << "demo model missing (scripts/setup)";
  }
  static LiveServer* server;
};
LiveServer* SmolServe::server = nullptr;

TEST_F(SmolServe, ChatGreedyEqualsCrucibleGenerateChat) {
  model::GenerateArgs a;
  a.model = demo_gguf();
  a.chat = true;
  a.prompts = {"What is the capital of France?"};
  a.sampling.max_new_tokens = 24;
  auto want = model::generate_text(a);
  auto r = server->post("/v1/chat/completions",
                        json{{"model", "smol"},
                             {"messages", {{{"role", "user"}, {"content", a.prompts[0]}}}},
                             {"max_completion_tokens", 24},
                             {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const auto& j = r.body;
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(j["model"], "smol");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], want.samples[0].text);
  EXPECT_EQ(j["choices"][0]["message"]["content"].get<std::string>().rfind("The capital of France is Paris.", 0), 0u);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 37);
  EXPECT_EQ(j["usage"]["completion_tokens"], want.samples[0].completion_tokens);
}

TEST_F(SmolServe, ChatStreamHasRoleThenContentDeltas) {
  const json req = {{"messages", {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Name a colour."}}}},
                    {"max_tokens", 20}, {"temperature", 0.7}, {"seed", 3}, {"n", 2}};
  auto whole = server->post("/v1/chat/completions", req);
  ASSERT_EQ(whole.status, 200) << whole.raw;
  json sreq = req;
  sreq["stream"] = true;
  auto events = server->stream("/v1/chat/completions", sreq);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  std::map<int, std::string> text;
  std::map<int, int> seen;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto j = json::parse(events[i]);
    EXPECT_EQ(j["object"], "chat.completion.chunk");
    const auto& c = j["choices"][0];
    const int idx = c["index"];
    if (seen[idx]++ == 0) {
      EXPECT_EQ(c["delta"]["role"], "assistant") << events[i];
    }
    if (c["delta"].contains("content")) text[idx] += c["delta"]["content"].get<std::string>();
  }
  for (int i = 0; i < 2; ++i) EXPECT_EQ(text[i], whole.body["choices"][i]["message"]["content"]) << i;
}

TEST_F(SmolServe, ChatLogprobsMatchTheEngineAndTopListsAreSorted) {
  model::GenerateArgs a;
  a.model = demo_gguf();
  a.chat = true;
  a.prompts = {"What is 12 times 7?"};
  a.sampling.max_new_tokens = 12;
  a.sampling.logprobs = true;
  a.sampling.top_logprobs = 3;
  auto want = model::generate_text(a);
  auto r = server->post("/v1/chat/completions",
                        json{{"messages", {{{"role", "user"}, {"content", a.prompts[0]}}}}, {"max_tokens", 12},
                             {"temperature", 0}, {"logprobs", true}, {"top_logprobs", 3}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const auto& content = r.body["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), static_cast<size_t>(want.samples[0].completion_tokens));
  for (size_t t = 0; t < content.size(); ++t) {
    const auto& e = content[t];
    const auto& w = want.samples[0].logprobs[t];
    EXPECT_NEAR(e["logprob"].get<double>(), w.logprob, 1e-9);
    EXPECT_EQ(e["bytes"].size(), w.text.size());
    ASSERT_EQ(e["top_logprobs"].size(), 3u);
    EXPECT_NEAR(e["top_logprobs"][0]["logprob"].get<double>(), e["logprob"].get<double>(), 1e-9) << "greedy: the top";
    EXPECT_GE(e["top_logprobs"][1]["logprob"].get<double>(), e["top_logprobs"][2]["logprob"].get<double>());
  }
  // Without the fields: null, as OpenAI.
  auto plain = server->post("/v1/chat/completions",
                            json{{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 2}});
  EXPECT_TRUE(plain.body["choices"][0]["logprobs"].is_null()) << plain.raw;
  expect_error(server->post("/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                                                         {"top_logprobs", 2}}),
               422, "top_logprobs");
  expect_error(server->post("/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                                                         {"logprobs", true}, {"stream", true}}),
               422, "logprobs");
}

TEST_F(SmolServe, CompletionEchoScoresThePromptTokens) {
  // Teacher scoring: echo + logprobs + max_tokens 0 returns the prompt's tokens with their logprobs, the first null;
  // the same prompt's logprobs when generating agree (one prefill either way).
  const std::string prompt = "The capital of France is Paris. The capital of Italy is";
  auto score = server->post("/v1/completions", json{{"prompt", prompt}, {"max_tokens", 0}, {"echo", true},
                                                    {"logprobs", 2}});
  ASSERT_EQ(score.status, 200) << score.raw;
  const auto& c = score.body["choices"][0];
  EXPECT_EQ(c["text"], prompt);
  const auto& lp = c["logprobs"];
  const size_t P = lp["tokens"].size();
  ASSERT_GE(P, 10u);
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  for (size_t t = 1; t < P; ++t) {
    EXPECT_LE(lp["token_logprobs"][t].get<double>(), 0.0);
    EXPECT_EQ(lp["top_logprobs"][t].size(), 2u);
    EXPECT_GT(lp["text_offset"][t].get<int64_t>(), lp["text_offset"][t - 1].get<int64_t>());
  }
  EXPECT_EQ(score.body["usage"]["completion_tokens"], 0);

  auto gen = server->post("/v1/completions", json{{"prompt", prompt}, {"max_tokens", 3}, {"echo", true},
                                                  {"logprobs", 0}, {"temperature", 0}});
  ASSERT_EQ(gen.status, 200) << gen.raw;
  const auto& g = gen.body["choices"][0]["logprobs"];
  ASSERT_EQ(g["tokens"].size(), P + 3);
  for (size_t t = 1; t < P; ++t)
    EXPECT_NEAR(g["token_logprobs"][t].get<double>(), lp["token_logprobs"][t].get<double>(), 1e-4) << t;
  EXPECT_TRUE(g["top_logprobs"][1].is_null()) << "logprobs 0: no alternatives";
  EXPECT_EQ(gen.body["choices"][0]["text"].get<std::string>().rfind(prompt, 0), 0u);
  // max_tokens 0 without echo + logprobs stays an error.
  expect_error(server->post("/v1/completions", json{{"prompt", prompt}, {"max_tokens", 0}, {"echo", true}}), 422,
               "max_tokens");
}

TEST_F(SmolServe, ContinueFinalMessageContinuesAPartialAssistantTurn) {
  // The R1 prefix over the chat API: the final assistant message is continued, exactly as a completion of the
  // rendered prefix would be.
  const json messages = {{{"role", "user"}, {"content", "What is 2+2?"}},
                         {{"role", "assistant"}, {"content", "<think>\nThe user asks"}}};
  auto r = server->post("/v1/chat/completions", json{{"messages", messages}, {"max_tokens", 10}, {"temperature", 0},
                                                     {"continue_final_message", true},
                                                     {"add_generation_prompt", false}});
  ASSERT_EQ(r.status, 200) << r.raw;
  // What the native path sends: the generation prompt after the user turn, then the prefix.
  const std::string prefix =
      server->gen->render_chat({{"user", "What is 2+2?"}}, /*add_generation_prompt=*/true) + "<think>\nThe user asks";
  auto c = server->post("/v1/completions", json{{"prompt", server->gen->encode(prefix, false)}, {"max_tokens", 10},
                                                {"temperature", 0}});
  ASSERT_EQ(c.status, 200) << c.raw;
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], c.body["choices"][0]["text"]);
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], c.body["usage"]["prompt_tokens"]);
  // Continuing implies no generation prompt; asking for both is an error, as in vLLM.
  auto implied = server->post("/v1/chat/completions", json{{"messages", messages}, {"max_tokens", 10},
                                                           {"temperature", 0}, {"continue_final_message", true}});
  EXPECT_EQ(implied.body["choices"][0]["message"]["content"], r.body["choices"][0]["message"]["content"]);
  expect_error(server->post("/v1/chat/completions", json{{"messages", messages}, {"continue_final_message", true},
                                                         {"add_generation_prompt", true}}),
               400, "continue_final_message");
}

// ---- the official openai Python client as a peer ----------------------------------------------------------------

// Runs tests/serve/openai_client_check.py against `server`; nullopt (and the test skips) without the openai package.
std::optional<json> openai_client_check(const LiveServer& server, const std::string& model, bool chat) {
  const std::string python = CRUCIBLE_TEST_PYTHON;
  if (python.empty() || crucible::testing::run_command({python, "-c", "import openai"}).exit_code != 0)
    return std::nullopt;
  std::vector<std::string> argv = {python, crucible::testing::source_dir() + "/tests/serve/openai_client_check.py",
                                   "http://127.0.0.1:" + std::to_string(server.port) + "/v1", model};
  if (chat) argv.push_back("--chat");
  auto r = crucible::testing::run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out, nullptr, false);
}

TEST_F(StoriesServe, OpenAIPythonClientParsesEverything) {
  auto seen = openai_client_check(*server, "stories260K", false);
  if (!seen) GTEST_SKIP() << "the openai package is not in the venv (scripts/requirements-python.txt)";
  ASSERT_TRUE(seen->is_object());
  EXPECT_EQ((*seen)["models"], json({"stories260K", "default"}));
  auto raw = server->post("/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 16},
                                                   {"temperature", 0}});
  const auto& c = (*seen)["completion"];
  EXPECT_EQ(c["text"], raw.body["choices"][0]["text"]);
  EXPECT_EQ(c["finish_reason"], "length");
  EXPECT_EQ(c["usage"], raw.body["usage"]);
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ((*seen)["completion_stream"]["text"], raw.body["choices"][0]["text"]);
  EXPECT_EQ((*seen)["completion_stream"]["finish_reason"], "length");
  EXPECT_EQ((*seen)["errors"]["unknown_model"]["class"], "NotFoundError");
  EXPECT_EQ((*seen)["errors"]["max_tokens_zero"]["class"], "UnprocessableEntityError");
  EXPECT_EQ((*seen)["errors"]["n_too_large"]["status"], 422);
}

TEST_F(SmolServe, OpenAIPythonClientChat) {
  auto seen = openai_client_check(*server, "smol", true);
  if (!seen) GTEST_SKIP() << "the openai package is not in the venv (scripts/requirements-python.txt)";
  ASSERT_TRUE(seen->is_object());
  auto raw = server->post("/v1/chat/completions", json{{"messages", {{{"role", "user"}, {"content", "What is 2+2?"}}}},
                                                        {"max_tokens", 16}, {"temperature", 0}});
  ASSERT_EQ(raw.status, 200) << raw.raw;
  EXPECT_EQ((*seen)["chat"]["content"], raw.body["choices"][0]["message"]["content"]);
  EXPECT_EQ((*seen)["chat"]["role"], "assistant");
  EXPECT_EQ((*seen)["chat"]["object"], "chat.completion");
  EXPECT_EQ((*seen)["chat_stream"]["content"], raw.body["choices"][0]["message"]["content"]);
}

}  // namespace
}  // namespace crucible::serve
