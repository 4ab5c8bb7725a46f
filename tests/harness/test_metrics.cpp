#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "harness/metrics.h"

using namespace crucible::harness;

namespace {
// The direct combinatorial definition: the probability that at least one of k samples drawn without replacement
// from n (c correct) is correct, by enumerating every k-subset.
double pass_at_k_by_enumeration(int n, int c, int k) {
  int64_t subsets = 0, hit = 0;
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    if (__builtin_popcount(mask) != k) continue;
    ++subsets;
    // samples 0..c-1 are the correct ones
    if (mask & ((1u << c) - 1)) ++hit;
  }
  return static_cast<double>(hit) / subsets;
}

ProblemSamples problem(std::vector<bool> correct, std::vector<std::optional<std::string>> answers = {}) {
  ProblemSamples p;
  p.problem_key = "p";
  p.correct = std::move(correct);
  p.answers = std::move(answers);
  if (p.answers.empty()) p.answers.resize(p.correct.size());
  return p;
}
}  // namespace

TEST(Metrics, PassAtKMatchesEnumerationOnAllSmallCases) {
  for (int n = 1; n <= 12; ++n)
    for (int c = 0; c <= n; ++c)
      for (int k = 1; k <= n; ++k)
        EXPECT_NEAR(pass_at_k(n, c, k), pass_at_k_by_enumeration(n, c, k), 1e-12) << n << " " << c << " " << k;
}

TEST(Metrics, PassAtKEdgesAndErrors) {
  EXPECT_DOUBLE_EQ(pass_at_k(64, 0, 64), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(64, 1, 64), 1.0);
  EXPECT_NEAR(pass_at_k(64, 16, 1), 0.25, 1e-15);  // pass@1 is the plain mean
  EXPECT_THROW(pass_at_k(4, 1, 5), crucible::InputError);
  EXPECT_THROW(pass_at_k(4, 5, 1), crucible::InputError);
  EXPECT_GT(pass_at_k(10000, 3, 5000), 0.87);  // no overflow at large n
}

TEST(Metrics, PassAt1MeanAndInterval) {
  std::vector<ProblemSamples> ps = {problem({true, true, false, false}), problem({true, true, true, true}),
                                    problem({false, false, false, false})};
  auto iv = pass_at_1(ps);
  EXPECT_NEAR(iv.value, 0.5, 1e-12);
  EXPECT_LE(iv.low, iv.value);
  EXPECT_GE(iv.high, iv.value);
  EXPECT_GE(iv.low, 0.0);
  EXPECT_LE(iv.high, 1.0);
  // Clustered SE: sd of {0.5, 1, 0} / sqrt(3) = 0.5 / sqrt(3).
  EXPECT_NEAR(iv.std_error, 0.5 / std::sqrt(3.0), 1e-12);
  EXPECT_EQ(pass_at_1(ps).low, iv.low) << "the bootstrap is seeded, so reports are reproducible";
  // All-equal problems have a degenerate interval.
  auto flat = pass_at_1({problem({true, false}), problem({false, true})});
  EXPECT_DOUBLE_EQ(flat.low, 0.5);
  EXPECT_DOUBLE_EQ(flat.high, 0.5);
}

TEST(Metrics, MeanPassAtKAndReportKs) {
  std::vector<ProblemSamples> ps = {problem({true, false, false, false}), problem({false, false, false, false})};
  EXPECT_NEAR(mean_pass_at_k(ps, 2), (pass_at_k(4, 1, 2) + 0.0) / 2, 1e-12);
  EXPECT_THROW(mean_pass_at_k(ps, 8), crucible::InputError);
  EXPECT_EQ(report_ks(64), (std::vector<int64_t>{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(report_ks(6), (std::vector<int64_t>{1, 2, 4, 6}));
  EXPECT_EQ(report_ks(1), (std::vector<int64_t>{1}));
}

TEST(Metrics, ConsAtKVotesEquivalentAnswersTogether) {
  // "1/2", "0.5" and "\frac{1}{2}" are one answer written three ways; "3" appears twice. String equality would
  // elect "3"; the verifier's equivalence elects 1/2.
  auto equivalent = [](const std::string& a, const std::string& b) {
    auto canon = [](const std::string& s) { return (s == "0.5" || s == "\\frac{1}{2}") ? std::string("1/2") : s; };
    return canon(a) == canon(b);
  };
  std::vector<std::optional<std::string>> answers = {"3", "1/2", "0.5", "3", "\\frac{1}{2}", std::nullopt};
  auto p = problem({false, true, true, false, true, false}, answers);
  EXPECT_EQ(majority_sample(p, 6, equivalent), std::optional<size_t>(1));
  EXPECT_DOUBLE_EQ(cons_at_k({p}, 6, equivalent), 1.0);
  auto exact = [](const std::string& a, const std::string& b) { return a == b; };
  EXPECT_DOUBLE_EQ(cons_at_k({p}, 6, exact), 0.0);
  // First k only: with k = 1 the vote is the first sample ("3", wrong).
  EXPECT_DOUBLE_EQ(cons_at_k({p}, 1, equivalent), 0.0);
  // Ties go to the class seen first; no answers at all means no vote (not correct).
  auto tie = problem({true, false}, {"7", "8"});
  EXPECT_EQ(majority_sample(tie, 2, exact), std::optional<size_t>(0));
  auto none = problem({false, false}, {std::nullopt, std::nullopt});
  EXPECT_FALSE(majority_sample(none, 2, exact).has_value());
}

TEST(Metrics, LengthStats) {
  auto s = length_stats({1, 2, 3, 4, 100});
  EXPECT_DOUBLE_EQ(s.mean, 22);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(length_stats({}).mean, 0);
}
