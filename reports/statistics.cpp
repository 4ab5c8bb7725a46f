#include "reports/statistics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"

namespace crucible::stats {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n <= 0 || k <= 0 || k > n || c < 0 || c > n)
    throw InputError("pass@k", "k", fmt::format("needs 1 <= k <= n and 0 <= c <= n (n={}, c={}, k={})", n, c, k));
  if (n - c < k) return 1.0;
  // 1 − C(n−c, k)/C(n, k) = 1 − Π_{i=n−c+1}^{n} (1 − k/i): a product of numbers in (0, 1], so no overflow for
  // n = 64 or n = 10,000 (the binomials themselves overflow a double long before that).
  double prod = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - prod;
}

static double solve_rate(const ProblemSamples& p) {
  if (p.correct.empty()) throw InputError("metrics", p.problem_key, "problem has no samples");
  return static_cast<double>(std::count(p.correct.begin(), p.correct.end(), true)) / p.correct.size();
}

namespace {
// Linear interpolation between order statistics of sorted values (numpy's default "linear" percentile).
double sorted_quantile(const std::vector<double>& sorted, double q) {
  double pos = q * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}
}  // namespace

Interval pass_at_1(const std::vector<ProblemSamples>& problems, int resamples, uint64_t seed) {
  Interval out;
  out.n = static_cast<int64_t>(problems.size());
  if (problems.empty()) return out;
  std::vector<double> rates;
  rates.reserve(problems.size());
  for (const auto& p : problems) rates.push_back(solve_rate(p));
  const double n = static_cast<double>(rates.size());
  out.value = std::accumulate(rates.begin(), rates.end(), 0.0) / n;
  if (rates.size() > 1) {
    double ss = 0;
    for (double r : rates) ss += (r - out.value) * (r - out.value);
    out.std_error = std::sqrt(ss / (n - 1)) / std::sqrt(n);
  }
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, rates.size() - 1);
  std::vector<double> means(static_cast<size_t>(std::max(resamples, 1)));
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < rates.size(); ++i) s += rates[pick(rng)];
    m = s / n;
  }
  std::sort(means.begin(), means.end());
  out.low = sorted_quantile(means, 0.025);
  out.high = sorted_quantile(means, 0.975);
  return out;
}

double mean_pass_at_k(const std::vector<ProblemSamples>& problems, int64_t k) {
  if (problems.empty()) return 0.0;
  double s = 0;
  for (const auto& p : problems) {
    int64_t n = static_cast<int64_t>(p.correct.size());
    if (n < k) throw InputError("metrics", p.problem_key, fmt::format("has {} samples, fewer than k={}", n, k));
    s += pass_at_k(n, std::count(p.correct.begin(), p.correct.end(), true), k);
  }
  return s / problems.size();
}

std::vector<int64_t> report_ks(int64_t n) {
  std::vector<int64_t> ks;
  for (int64_t k = 1; k <= n; k *= 2) ks.push_back(k);
  if (!ks.empty() && ks.back() != n) ks.push_back(n);
  return ks;
}

std::optional<size_t> majority_sample(const ProblemSamples& p, int64_t k, const Equivalent& equivalent) {
  struct Class {
    size_t first_sample;
    int64_t votes;
  };
  std::vector<Class> classes;
  size_t limit = std::min(static_cast<size_t>(k), p.answers.size());
  for (size_t i = 0; i < limit; ++i) {
    if (!p.answers[i]) continue;
    bool placed = false;
    for (auto& c : classes) {
      if (equivalent(*p.answers[c.first_sample], *p.answers[i])) {
        ++c.votes;
        placed = true;
        break;
      }
    }
    if (!placed) classes.push_back({i, 1});
  }
  if (classes.empty()) return std::nullopt;
  // max_element keeps the first of equal maxima: ties go to the class seen first.
  auto best = std::max_element(classes.begin(), classes.end(),
                               [](const Class& a, const Class& b) { return a.votes < b.votes; });
  return best->first_sample;
}

double cons_at_k(const std::vector<ProblemSamples>& problems, int64_t k, const Equivalent& equivalent) {
  if (problems.empty()) return 0.0;
  int64_t solved = 0;
  for (const auto& p : problems) {
    if (static_cast<int64_t>(p.answers.size()) < k)
      throw InputError("metrics", p.problem_key, fmt::format("has {} samples, fewer than k={}", p.answers.size(), k));
    auto winner = majority_sample(p, k, equivalent);
    if (winner && p.correct.at(*winner)) ++solved;
  }
  return static_cast<double>(solved) / problems.size();
}

LengthStats length_stats(std::vector<double> values) {
  LengthStats s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  auto at = [&](double q) { return values[static_cast<size_t>(std::min<double>(values.size() - 1, std::floor(q * values.size())))]; };
  s.median = values.size() % 2 ? values[values.size() / 2] : 0.5 * (values[values.size() / 2 - 1] + values[values.size() / 2]);
  s.p90 = at(0.9);
  s.max = values.back();
  return s;
}

std::vector<std::optional<int64_t>> answer_classes(const ProblemSamples& p, const Equivalent& equivalent) {
  std::vector<std::optional<int64_t>> out(p.answers.size());
  std::vector<size_t> representatives;  // first sample of each class, in order of appearance
  for (size_t i = 0; i < p.answers.size(); ++i) {
    if (!p.answers[i]) continue;
    for (size_t r : representatives) {
      if (equivalent(*p.answers[r], *p.answers[i])) {
        out[i] = static_cast<int64_t>(r);
        break;
      }
    }
    if (!out[i]) {
      out[i] = static_cast<int64_t>(i);
      representatives.push_back(i);
    }
  }
  return out;
}

std::vector<int64_t> histogram(const std::vector<double>& values, double low, double high, int bins) {
  if (bins <= 0) throw InputError("histogram", "bins", fmt::format("must be positive, got {}", bins));
  std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
  double width = high > low ? (high - low) / bins : 1.0;
  for (double v : values) {
    auto b = static_cast<int64_t>(std::floor((v - low) / width));
    counts[static_cast<size_t>(std::clamp<int64_t>(b, 0, bins - 1))]++;
  }
  return counts;
}

PairedDifference paired_bootstrap_difference(const std::vector<double>& a, const std::vector<double>& b,
                                             int resamples, uint64_t seed) {
  if (a.size() != b.size())
    throw InputError("paired bootstrap", "", fmt::format("{} vs {} problems: pairs must line up", a.size(), b.size()));
  PairedDifference out;
  out.n = static_cast<int64_t>(a.size());
  if (a.empty()) return out;
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = b[i] - a[i];
  const double n = static_cast<double>(d.size());
  out.value = std::accumulate(d.begin(), d.end(), 0.0) / n;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, d.size() - 1);
  std::vector<double> means(static_cast<size_t>(std::max(resamples, 1)));
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < d.size(); ++i) s += d[pick(rng)];
    m = s / n;
  }
  std::sort(means.begin(), means.end());
  out.low = sorted_quantile(means, 0.025);
  out.high = sorted_quantile(means, 0.975);
  return out;
}

double mcnemar_exact_p(int64_t b, int64_t c) {
  if (b < 0 || c < 0) throw InputError("McNemar", "", fmt::format("negative counts ({}, {})", b, c));
  const int64_t n = b + c;
  if (n == 0) return 1.0;
  // P[X <= m] for X ~ Bin(n, 1/2), each term exp(log C(n, i) − n log 2): lgamma keeps n in the thousands finite.
  const int64_t m = std::min(b, c);
  const double log_half_n = static_cast<double>(n) * std::log(0.5);
  double tail = 0;
  for (int64_t i = 0; i <= m; ++i)
    tail += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + log_half_n);
  return std::min(1.0, 2.0 * tail);
}

}  // namespace crucible::stats
