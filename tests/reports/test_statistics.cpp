// reports/statistics.h against closed forms: McNemar's exact p-values against binomial sums worked by hand, the
// paired bootstrap on degenerate inputs whose interval is known exactly, the pass@k curve, answer classes.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "reports/statistics.h"

using namespace crucible::stats;

TEST(McNemar, ExactPValuesMatchHandComputedBinomials) {
  // p = 2 · Σ_{i ≤ min(b,c)} C(b+c, i) / 2^(b+c), capped at 1.
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(0, 5), 2.0 / 32);                   // 2 · 1/32
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(5, 0), 2.0 / 32);                   // symmetric
  EXPECT_NEAR(mcnemar_exact_p(1, 9), 2.0 * (1 + 10) / 1024, 1e-12);     // 22/1024
  EXPECT_NEAR(mcnemar_exact_p(2, 8), 2.0 * (1 + 10 + 45) / 1024, 1e-12);  // 112/1024
  EXPECT_NEAR(mcnemar_exact_p(3, 12), 2.0 * (1 + 15 + 105 + 455) / 32768.0, 1e-12);
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(3, 3), 1.0);  // 2 · 42/64 > 1: capped
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(0, 0), 1.0);  // no discordant pairs: no evidence
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(0, 1), 1.0);
  // Large n stays finite and tiny for a lopsided split (lgamma, not factorials).
  double p = mcnemar_exact_p(10, 990);
  EXPECT_GT(p, 0.0);
  EXPECT_LT(p, 1e-200);
  EXPECT_THROW(mcnemar_exact_p(-1, 2), crucible::InputError);
}

TEST(PairedBootstrap, DegenerateCasesHaveExactIntervals) {
  std::vector<double> a = {0, 1, 0.5, 0.25, 1, 0};
  auto same = paired_bootstrap_difference(a, a, 2000, 7);
  EXPECT_EQ(same.n, 6);
  EXPECT_DOUBLE_EQ(same.value, 0);
  EXPECT_DOUBLE_EQ(same.low, 0);
  EXPECT_DOUBLE_EQ(same.high, 0);
  // Every pair moves by the same amount: every resample's mean is that amount.
  std::vector<double> b;
  for (double x : a) b.push_back(x + 0.25);
  auto shift = paired_bootstrap_difference(a, b, 2000, 7);
  EXPECT_NEAR(shift.value, 0.25, 1e-12);
  EXPECT_NEAR(shift.low, 0.25, 1e-12);
  EXPECT_NEAR(shift.high, 0.25, 1e-12);
  EXPECT_THROW(paired_bootstrap_difference(a, {1.0}), crucible::InputError);
  EXPECT_EQ(paired_bootstrap_difference({}, {}).n, 0);
}

TEST(PairedBootstrap, SeededAndReproducibleAndCoversTheMean) {
  std::vector<double> a, b;
  for (int i = 0; i < 40; ++i) {
    a.push_back(i % 3 == 0 ? 1 : 0);
    b.push_back(i % 2 == 0 ? 1 : 0);
  }
  auto x = paired_bootstrap_difference(a, b, 5000, 99);
  auto y = paired_bootstrap_difference(a, b, 5000, 99);
  EXPECT_EQ(x.low, y.low);
  EXPECT_EQ(x.high, y.high);
  EXPECT_LT(x.low, x.value);
  EXPECT_GT(x.high, x.value);
  // mean(b) − mean(a) = 20/40 − 14/40
  EXPECT_NEAR(x.value, 6.0 / 40, 1e-12);
  // The pairing matters: the paired SE here is far from the unpaired one, and the interval is about ±1.96 SE.
  double mean = x.value, ss = 0;
  for (size_t i = 0; i < a.size(); ++i) ss += (b[i] - a[i] - mean) * (b[i] - a[i] - mean);
  double se = std::sqrt(ss / 39) / std::sqrt(40.0);
  EXPECT_NEAR(x.high - x.low, 2 * 1.96 * se, 0.25 * 2 * 1.96 * se);
}

TEST(PassAtK, CurveKsAndClosedForms) {
  EXPECT_EQ(report_ks(1), (std::vector<int64_t>{1}));
  EXPECT_EQ(report_ks(4), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(report_ks(6), (std::vector<int64_t>{1, 2, 4, 6}));
  EXPECT_EQ(report_ks(64), (std::vector<int64_t>{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_DOUBLE_EQ(pass_at_k(4, 1, 1), 0.25);
  EXPECT_DOUBLE_EQ(pass_at_k(4, 1, 2), 0.5);   // 1 − C(3,2)/C(4,2) = 1 − 3/6
  EXPECT_DOUBLE_EQ(pass_at_k(4, 2, 2), 1 - 1.0 / 6);
  EXPECT_DOUBLE_EQ(pass_at_k(4, 1, 4), 1.0);
  // The curve is non-decreasing in k and ends at "any sample correct".
  std::vector<ProblemSamples> ps = {{"a", {true, false, false, false}, {}}, {"b", {false, false, false, false}, {}},
                                    {"c", {true, true, false, true}, {}}};
  double prev = 0;
  for (int64_t k : report_ks(4)) {
    double v = mean_pass_at_k(ps, k);
    EXPECT_GE(v, prev);
    prev = v;
  }
  EXPECT_DOUBLE_EQ(mean_pass_at_k(ps, 4), 2.0 / 3);
  EXPECT_DOUBLE_EQ(mean_pass_at_k(ps, 1), (0.25 + 0 + 0.75) / 3);
}

TEST(AnswerClasses, VotesByStoredClassEqualVotesByTheVerifier) {
  // A toy verifier: "1/2" and "0.5" are the same number.
  Equivalent eq = [](const std::string& a, const std::string& b) {
    auto norm = [](const std::string& s) { return s == "1/2" ? std::string("0.5") : s; };
    return norm(a) == norm(b);
  };
  ProblemSamples p{"p", {false, false, true, true, true, false}, {"3", std::nullopt, "0.5", "1/2", "0.5", "3"}};
  auto cls = answer_classes(p, eq);
  ASSERT_EQ(cls.size(), 6u);
  EXPECT_EQ(cls[0], 0);
  EXPECT_EQ(cls[1], std::nullopt);
  EXPECT_EQ(cls[2], 2);
  EXPECT_EQ(cls[3], 2);
  EXPECT_EQ(cls[4], 2);
  EXPECT_EQ(cls[5], 0);
  // Replace answers by their class ids and vote by plain equality: the same winner at every k.
  ProblemSamples by_class = p;
  for (size_t i = 0; i < cls.size(); ++i)
    by_class.answers[i] = cls[i] ? std::optional<std::string>(std::to_string(*cls[i])) : std::nullopt;
  auto same = [](const std::string& a, const std::string& b) { return a == b; };
  for (int64_t k = 1; k <= 6; ++k) {
    EXPECT_EQ(majority_sample(p, k, eq), majority_sample(by_class, k, same)) << "k=" << k;
    EXPECT_EQ(cons_at_k({p}, k, eq), cons_at_k({by_class}, k, same)) << "k=" << k;
  }
  EXPECT_EQ(cons_at_k({p}, 1, eq), 0.0);  // "3" alone
  EXPECT_EQ(cons_at_k({p}, 4, eq), 1.0);  // 0.5 ×2 beats 3 ×1
  EXPECT_EQ(cons_at_k({p}, 6, eq), 1.0);  // 0.5 ×3 beats 3 ×2
}

TEST(Histogram, SharedEdgesAndClamping) {
  auto h = histogram({0, 1, 9.99, 10, 55, -3, 100, 250}, 0, 100, 10);
  ASSERT_EQ(h.size(), 10u);
  EXPECT_EQ(h[0], 4);  // 0, 1, 9.99 and the clamped −3
  EXPECT_EQ(h[1], 1);  // 10
  EXPECT_EQ(h[5], 1);  // 55
  EXPECT_EQ(h[9], 2);  // 100 and the clamped 250
  EXPECT_THROW(histogram({1}, 0, 1, 0), crucible::InputError);
}
