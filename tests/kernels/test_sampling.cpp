// kernels/sampling.h's CPU reference: against the filters written the plain way (kept set, walk order, logprobs
// that match what a sweep of u draws), as the engine's sampler (model::Sampler is the reference on its own draw),
// and as the torch op on CPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
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

// An unfiltered row (top-k off, top-p 1, min-p 0: GRPO's rollouts) takes a shorter path: the same token and the
// same logprob bits as the general path, which min-p 1e-300 (a float 0: threshold -inf, nothing dropped) forces.
TEST(SamplingCpu, UnfilteredFastPathIsTheGeneralPathBitForBit) {
  auto logits = test_logits(8, 5003, 11);
  logits.index_put_({1, torch::indexing::Slice(0, 40)}, -INFINITY);  // masked tokens (a masked EOS, say)
  logits.index_put_({2, 0}, 60.0f);                                  // one token holding all the mass
  const float* rows = logits.data_ptr<float>();
  SampleScratch scratch;
  int64_t differ = 0;
  for (double temperature : {1.0, 0.6, 1.7})
    for (int64_t r = 0; r < logits.size(0); ++r)
      for (double u : {0.0, 1e-12, 0.25, 0.5, 0.731, 0.999999, 1.0 - 1e-16}) {
        SampleParams fast{temperature, 0, 1.0, 0.0}, general{temperature, 0, 1.0, 1e-300};
        double lf = 0, lg = 0;
        const int64_t tf = sample_row_cpu(rows + r * 5003, 5003, fast, u, &lf, scratch);
        const int64_t tg = sample_row_cpu(rows + r * 5003, 5003, general, u, &lg, scratch);
        EXPECT_EQ(tf, tg) << temperature << " " << r << " " << u;
        EXPECT_EQ(std::memcmp(&lf, &lg, sizeof lf), 0) << lf << " vs " << lg;
        differ += tf != tg;
        SampleParams top_k_all{temperature, 5003, 1.0, 0.0};  // k = V filters nothing either
        double lk = 0;
        EXPECT_EQ(sample_row_cpu(rows + r * 5003, 5003, top_k_all, u, &lk, scratch), tg);
        EXPECT_EQ(lk, lg);
      }
  EXPECT_EQ(differ, 0);
}

// The engine samples through the reference: Sampler(seed) is sample_row_cpu on the first uniform of
// mt19937_64(seed), with the engine's settings handed over field by field.
TEST(SamplingCpu, EngineSamplerIsTheReferenceOnItsOwnDraw) {
  const std::vector<SampleParams> settings = {
      {0.0, 0, 1.0, 0.0},     // greedy
      {1.0, 0, 1.0, 0.0},     // plain temperature (TRL's GRPO default)
      {0.6, 0, 0.95, 0.0},    // R1's temperature and top-p
      {0.8, 40, 0.9, 0.0},    // top-k then top-p
      {1.2, 0, 0.8, 0.05},    // top-p then min-p
      {0.7, 20, 0.99, 0.1},   // all three
      {0.9, 7, 1.0, 0.0},     // top-k alone
      {1.0, 0, 1.0, 0.2},     // min-p alone
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
          EXPECT_EQ(ref.logprob, engine_lp);
        }
      }
    }
  }
}

// The filters written the plain way (sort the whole row, cut, renormalise in double): the kept tokens, in the walk
// order kernels/sampling.h promises (most likely first when top_p < 1, increasing id otherwise), and their logprobs.
std::vector<std::pair<int64_t, double>> plain_filter(const float* logits, int64_t V, const SampleParams& p) {
  const float T = static_cast<float>(p.temperature);
  std::vector<int64_t> order(static_cast<size_t>(V));
  for (int64_t i = 0; i < V; ++i) order[i] = i;
  auto z = [&](int64_t i) { return logits[i] / T; };
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return z(a) > z(b) || (z(a) == z(b) && a < b); });
  size_t n = order.size();
  if (p.top_k > 0 && p.top_k < V) n = static_cast<size_t>(p.top_k);
  const float zmax = z(order[0]);
  if (p.top_p < 1.0) {
    double total = 0, cum = 0;
    for (size_t r = 0; r < n; ++r) total += std::exp(static_cast<double>(z(order[r]) - zmax));
    for (size_t r = 0; r < n; ++r) {
      cum += std::exp(static_cast<double>(z(order[r]) - zmax)) / total;
      if (cum >= p.top_p) {
        n = r + 1;
        break;
      }
    }
  }
  order.resize(n);
  if (p.min_p > 0) {
    const float threshold = zmax + std::log(static_cast<float>(p.min_p));
    std::erase_if(order, [&](int64_t i) { return z(i) < threshold; });
  }
  if (p.top_p >= 1.0) std::sort(order.begin(), order.end());
  double total = 0;
  for (auto i : order) total += std::exp(static_cast<double>(z(i) - zmax));
  std::vector<std::pair<int64_t, double>> kept;
  for (auto i : order) kept.push_back({i, static_cast<double>(z(i) - zmax) - std::log(total)});
  return kept;
}

// Sweeping u over [0, 1) must meet the kept tokens in the promised walk order, each over a share of u equal to the
// probability reported with it (so the reported logprob is that of what is actually drawn), and no other token.
TEST(SamplingCpu, DrawsFollowThePlainFilters) {
  const std::vector<SampleParams> settings = {{1.0, 0, 1.0, 0.0},  {0.6, 0, 0.95, 0.0}, {0.9, 7, 1.0, 0.0},
                                              {1.0, 0, 1.0, 0.2},  {0.8, 12, 1.0, 0.05}, {0.8, 12, 0.9, 0.0},
                                              {1.2, 0, 0.8, 0.05}, {0.7, 20, 0.99, 0.1}};
  const int64_t V = 60, sweep = 20000;
  auto logits = test_logits(3, V, 11);
  for (const auto& p : settings) {
    for (int64_t i = 0; i < logits.size(0); ++i) {
      const float* row = logits[i].data_ptr<float>();
      const auto want = plain_filter(row, V, p);
      std::vector<int64_t> walk;
      std::map<int64_t, int64_t> hits;
      std::map<int64_t, double> logprob;
      for (int64_t k = 0; k < sweep; ++k) {
        const auto d = reference(row, V, p, (k + 0.5) / sweep);
        if (walk.empty() || walk.back() != d.token) walk.push_back(d.token);
        ++hits[d.token];
        logprob[d.token] = d.logprob;
      }
      const std::string where = "row " + std::to_string(i) + " T " + std::to_string(p.temperature) + " top_k " +
                                std::to_string(p.top_k) + " top_p " + std::to_string(p.top_p) + " min_p " +
                                std::to_string(p.min_p);
      // A token with less mass than the sweep's step may fall between its points: the walk is the kept tokens the
      // sweep hit, in the kept order, and nothing else.
      std::vector<int64_t> want_walk;
      for (const auto& [tok, lp] : want) {
        if (hits.count(tok)) want_walk.push_back(tok);
        EXPECT_NEAR(static_cast<double>(hits[tok]) / sweep, std::exp(lp), 1.0 / sweep) << where << " token " << tok;
        if (hits[tok] > 0) EXPECT_NEAR(logprob[tok], lp, 1e-12) << where << " token " << tok;
      }
      EXPECT_EQ(walk, want_walk) << where;
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
