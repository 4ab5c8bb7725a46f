// Test doubles for the eval loop: a backend whose completions are a pure function of (prompt, seed) — the property
// the real engine guarantees on CPU — and a grader that compares the last \boxed{} with the gold exactly.
#pragma once
#include <stdexcept>

#include "core/sha256.h"
#include "harness/backend.h"
#include "harness/grader.h"

namespace crucible::testing {

class FakeBackend : public harness::Backend {
 public:
  int64_t fail_after = -1;  // throw (a simulated crash) after this many results
  int64_t produced = 0;
  harness::ModelIdentity identity() const override {
    return {"/models/fake", "hf", "fake-weights-sha", "fake-template-sha", {}};
  }
  void generate(const std::vector<harness::GenerationRequest>& requests,
                const std::function<void(harness::GenerationResult)>& on_result) override {
    for (const auto& r : requests) {
      for (size_t i = 0; i < r.sample_indices.size(); ++i) {
        if (fail_after >= 0 && produced >= fail_after) throw std::runtime_error("simulated crash");
        harness::GenerationResult res;
        res.request_id = r.id;
        res.sample_index = r.sample_indices[i];
        // Answer "2" (the gold of the test problems) when the seed's low bits say so: a deterministic coin.
        bool right = (r.seeds[i] % 3) != 0;
        res.text = std::string("reasoning</think> so \\boxed{") + (right ? "2" : "3") + "}";
        res.prompt_hash = sha256_hex(r.messages.back().content);
        res.prompt_tokens = 10;
        res.completion_tokens = 5 + static_cast<int64_t>(r.seeds[i] % 7);
        res.finish_reason = "stop";
        if (r.sampling.logprobs)  // one per completion token, a pure function of (seed, position)
          for (int64_t t = 0; t < res.completion_tokens; ++t) {
            TokenLogprob lp;
            lp.token_id = static_cast<int32_t>((r.seeds[i] + t) % 1000);
            lp.logprob = -0.125 * static_cast<double>(t + r.seeds[i] % 5);
            lp.sampling_logprob = lp.logprob / 2;
            lp.top = {{lp.token_id, "", lp.logprob}, {7, "", lp.logprob - 1.5}};
            res.logprobs.push_back(lp);
          }
        ++produced;
        on_result(res);
      }
    }
  }
};

class BoxedExactGrader : public harness::Grader {
 public:
  using harness::Grader::grade;
  harness::GradeOutcome grade(const harness::Problem& p, const harness::BuiltPrompt&, const std::string& c,
                              std::string_view) override {
    harness::GradeOutcome g;
    g.extracted = harness::last_boxed(c);
    g.correct = g.extracted && p.gold && *g.extracted == *p.gold;
    g.verdict = g.correct ? "correct" : (g.extracted ? "wrong" : "unparsed");
    g.grader_version = version();
    return g;
  }
  bool equivalent(const std::string& a, const std::string& b) override { return a == b; }
  std::string version() const override { return "boxed-exact-test"; }
};

}  // namespace crucible::testing
