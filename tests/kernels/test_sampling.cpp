// kernels/sampling.h's CPU reference against the engine's sampler (model/engine.cpp Sampler::sample): the same
// logits and the same uniform draw (the engine's mt19937_64 replayed here) give the same token and sampling logprob
// wherever both walk the kept tokens in the same order (greedy, plain temperature, any top-p); with top-k or min-p
// but no top-p (where the engine walks in std::nth_element / std::partition order) the sampled distribution is the
// same: every token the engine draws is one the reference can draw, with the same probability.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "kernels/sampling.h"
#include "kernels/torch/token_logprobs.h"
#include "model/engine.h"

namespace crucible::kernels {
namespace {

model::SamplingParams engine_params(const SampleParams& p) {
  model::SamplingParams e;
  e.temperature = p.temperature;
  e.top_k = p.top_k;
  e.top_p = p.top_p;
  e.min_p = p.min_p;
  return e;
}

// The engine's draw for a fresh Sampler(seed): its first uniform, replayed.
double engine_uniform(uint64_t seed) {
  std::mt19937_64 rng(seed);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

struct Drawn {
  int64_t token;
  double logprob;
};
Drawn reference(const float* logits, int64_t V, const SampleParams& p, double u) {
  SampleRows rows{logits, 1, V, V, &p, &u};
  Drawn d{};
  sample_rows_cpu(rows, &d.token, &d.logprob);
  return d;
}

torch::Tensor test_logits(int64_t N, int64_t V, uint64_t seed) {
  torch::manual_seed(seed);
  auto logits = torch::randn({N, V}) * 3;
  logits.index_put_({0, torch::indexing::Slice(0, 4)}, 5.0f);  // ties at the top of row 0
  return logits;
}

TEST(SamplingCpu, SameTokenAsEngineForTheSameDraw) {
  const std::vector<SampleParams> settings = {
      {0.0, 0, 1.0, 0.0},     // greedy
      {1.0, 0, 1.0, 0.0},     // plain temperature (TRL's GRPO default)
      {0.6, 0, 0.95, 0.0},    // R1's temperature and top-p
      {0.8, 40, 0.9, 0.0},    // top-k then top-p
      {1.2, 0, 0.8, 0.05},    // top-p then min-p
      {0.7, 20, 0.99, 0.1},   // all three
  };
  for (const int64_t V : {int64_t{97}, int64_t{5000}}) {
    auto logits = test_logits(24, V, 7);
    for (const auto& p : settings) {
      for (int64_t i = 0; i < logits.size(0); ++i) {
        const float* row = logits[i].data_ptr<float>();
        for (uint64_t seed = 1; seed <= 5; ++seed) {
          const uint64_t s = seed * 1000 + static_cast<uint64_t>(i);
          model::Sampler engine(s);
          double engine_lp = 0;
          const auto engine_token = engine.sample(row, V, engine_params(p), &engine_lp);
          const auto ref = reference(row, V, p, engine_uniform(s));
          ASSERT_EQ(ref.token, engine_token) << "V " << V << " row " << i << " seed " << s << " T " << p.temperature
                                             << " top_k " << p.top_k << " top_p " << p.top_p << " min_p " << p.min_p;
          EXPECT_NEAR(ref.logprob, engine_lp, 1e-12);
        }
      }
    }
  }
}

TEST(SamplingCpu, SameDistributionAsEngineWithTopKOrMinPAlone) {
  const std::vector<SampleParams> settings = {{0.9, 7, 1.0, 0.0}, {1.0, 0, 1.0, 0.2}, {0.8, 12, 1.0, 0.05}};
  const int64_t V = 60;
  auto logits = test_logits(3, V, 11);
  for (const auto& p : settings) {
    for (int64_t i = 0; i < logits.size(0); ++i) {
      const float* row = logits[i].data_ptr<float>();
      // The reference's support: sweep u finely; every kept token has mass >> 1/20000 here.
      std::map<int64_t, double> support;
      for (int k = 0; k < 20000; ++k) {
        const auto d = reference(row, V, p, (k + 0.5) / 20000);
        support[d.token] = d.logprob;
      }
      double mass = 0;
      for (const auto& [tok, lp] : support) mass += std::exp(lp);
      EXPECT_NEAR(mass, 1.0, 1e-9) << "the swept support must hold all the probability";
      for (uint64_t s = 1; s <= 400; ++s) {
        model::Sampler engine(s);
        double engine_lp = 0;
        const auto tok = engine.sample(row, V, engine_params(p), &engine_lp);
        ASSERT_TRUE(support.count(tok)) << "engine drew token " << tok << " the reference never keeps";
        EXPECT_NEAR(support[tok], engine_lp, 1e-12);
      }
    }
  }
}

TEST(SamplingCpu, TorchOpMatchesReferenceRowByRow) {
  const int64_t V = 300;
  auto logits = test_logits(6, V, 5);
  std::vector<SampleParams> params(6, SampleParams{0.7, 0, 0.9, 0.0});
  params[2] = {0.0, 0, 1.0, 0.0};
  params[4] = {1.0, 10, 1.0, 0.0};
  auto u = torch::rand({6}, torch::kFloat64);
  auto out = sample_rows(logits, params, u);
  for (int64_t i = 0; i < 6; ++i) {
    const auto d = reference(logits[i].data_ptr<float>(), V, params[i], u[i].item<double>());
    EXPECT_EQ(out.tokens_N[i].item<int64_t>(), d.token);
    EXPECT_EQ(out.sampling_logprob_N[i].item<double>(), d.logprob);
  }
}

}  // namespace
}  // namespace crucible::kernels
