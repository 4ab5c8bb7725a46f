// EngineSession (the open loop `crucible serve` runs) against Engine::generate on stories260K: the same tokens for
// the same requests, whether they arrive up front or join mid-decode; cancel frees slots; context limit refused.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/engine_session.h"
#include "tests/model/model_test_support.h"

namespace crucible::model {
namespace {

class Session : public StoriesTest {
 protected:
  GenerationRequest sampled(const std::string& prompt, int64_t k, uint64_t seed, int64_t n = 40) {
    auto r = sampled_request(tok->encode(prompt, true), k, seed, n);
    r.params.stop = {"park"};
    return r;
  }
};

TEST_F(Session, RequestsJoiningMidDecodeGetEngineGenerateTokens) {
  std::vector<GenerationRequest> reqs = {sampled("Once upon a time", 3, 1), sampled("Tom had a toy", 2, 2, 60),
                                         sampled("Lily", 4, 3, 25),
                                         sampled("The end", 1, 4, 300)};  // grows the cache past 256 positions
  reqs[1].params.temperature = 0;  // one greedy request among sampled ones
  reqs[3].params.stop.clear();
  reqs[3].params.ignore_eos = true;
  Engine engine(model, tok.get(), EngineOptions{8, 0});
  auto want = engine.generate(reqs);

  EngineSession session(model, tok.get(), EngineOptions{3, 512});  // fewer slots than samples: refills
  std::map<std::pair<size_t, int64_t>, SampleOutput> got;
  std::map<std::pair<size_t, int64_t>, std::string> streamed;
  auto on_token = [&](size_t r, int64_t s, TokenId, std::string_view piece) { streamed[{r, s}] += piece; };
  auto on_done = [&](const SampleOutput& o) { got[{o.request, o.sample}] = o; };
  std::vector<size_t> handles = {session.add(reqs[0])};
  for (int step = 0; !session.idle() || handles.size() < reqs.size(); ++step) {
    if (step == 5) handles.push_back(session.add(reqs[1]));
    if (step == 12) handles.push_back(session.add(reqs[2]));
    if (step == 13) handles.push_back(session.add(reqs[3]));
    session.step(on_token, on_done);
  }
  ASSERT_EQ(got.size(), want.size());
  for (const auto& w : want) {
    const auto& g = got.at({handles[w.request], w.sample});
    EXPECT_EQ(g.tokens, w.tokens) << "request " << w.request << " sample " << w.sample;
    EXPECT_EQ(g.text, w.text);
    EXPECT_EQ(g.finish, w.finish);
    EXPECT_EQ(g.prompt_tokens, w.prompt_tokens);
    EXPECT_EQ(streamed[std::make_pair(handles[w.request], w.sample)].substr(0, g.text.size()), g.text);
  }
  // One prefill per request, although samples were spread over refills.
  int64_t prompts = 0;
  for (const auto& r : reqs) prompts += static_cast<int64_t>(r.prompt.size());
  EXPECT_EQ(session.stats().prefill_tokens, prompts);
  EXPECT_EQ(got.at({handles[3], 0}).completion_tokens, 300);
}

TEST_F(Session, CancelDropsQueuedAndRunningSamples) {
  EngineSession session(model, tok.get(), EngineOptions{2, 512});
  int done = 0;
  auto on_done = [&](const SampleOutput& o) {
    ++done;
    EXPECT_EQ(o.request, 1u);
  };
  const size_t a = session.add(sampled("Once upon a time", 5, 1, 100));
  const size_t b = session.add(sampled("Tom", 1, 2, 10));
  EXPECT_EQ(a, 0u);
  EXPECT_EQ(b, 1u);
  session.step({}, on_done);
  EXPECT_EQ(session.running(), 2);
  session.cancel(a);
  EXPECT_EQ(session.running(), 0);
  while (!session.idle()) session.step({}, on_done);
  EXPECT_EQ(done, 1);
}

TEST_F(Session, RefusesRequestsLongerThanTheContext) {
  EngineSession session(model, tok.get(), EngineOptions{2, 64});
  EXPECT_THROW(session.add(sampled("Once upon a time", 1, 1, 64)), InputError);
  EXPECT_NO_THROW(session.add(sampled("Once upon a time", 1, 1, 59)));
  while (!session.idle()) session.step({}, {});
}

}  // namespace
}  // namespace crucible::model
