// The statistics of an evaluation, pure functions over per-problem outcomes (no store, no verifier, no torch). The
// eval loop scores a run with them (harness/metrics.h re-exports the single-run ones) and `crucible report` compares
// runs with them.
//
// Single run, k samples per problem:
//   pass@1      mean over problems of each problem's solve rate, with a 95% CI (percentile bootstrap over problems)
//               and the clustered standard error (problems as clusters), because AIME moves 1–3 points between runs;
//   pass@k      the unbiased estimator of Chen et al. (2021): 1 − C(n−c, k) / C(n, k), averaged over problems;
//   cons@k      majority vote over the first k samples' extracted answers, equivalent answers voting together
//               (the caller supplies the equivalence: the verifier's, not string equality);
//   lengths     mean / median / p90 / max, and fixed-edge histograms so two runs' histograms line up.
// Two runs on the same problems (paired):
//   difference  of pass@1 (b − a), with a paired percentile bootstrap over problems from a fixed seed;
//   McNemar     exact two-sided test on the discordant pairs (k = 1); the same binomial is the sign test on per-problem
//               solve rates when k > 1 (problems where b's rate is higher vs lower; ties carry no information).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace crucible::stats {

// One problem's samples, in sample_index order.
struct ProblemSamples {
  std::string problem_key;
  std::vector<bool> correct;                            // per sample
  std::vector<std::optional<std::string>> answers;      // extracted answer per sample (nullopt: none)
};

// Unbiased pass@k for one problem with n samples of which c are correct. Requires 1 ≤ k ≤ n.
double pass_at_k(int64_t n, int64_t c, int64_t k);

struct Interval {
  double value = 0, low = 0, high = 0;
  double std_error = 0;  // clustered standard error over problems
  int64_t n = 0;         // problems
};

// pass@1 = mean over problems of each problem's solve rate (every problem weighs the same whatever its k).
// The bootstrap resamples problems with replacement `resamples` times from a fixed seed, so a report is reproducible.
Interval pass_at_1(const std::vector<ProblemSamples>& problems, int resamples = 2000, uint64_t seed = 1234);

// Mean over problems of pass_at_k; problems with fewer than k samples are an error (InputError naming the problem).
double mean_pass_at_k(const std::vector<ProblemSamples>& problems, int64_t k);

// The k values to report for n samples: 1, 2, 4, … up to n (and n itself).
std::vector<int64_t> report_ks(int64_t n);

using Equivalent = std::function<bool(const std::string&, const std::string&)>;

// Majority answer among the first k samples (nullopt when none of them has an answer). Ties go to the answer class
// that appeared first, which makes the vote deterministic. Returns the index of a sample of the winning class.
std::optional<size_t> majority_sample(const ProblemSamples& p, int64_t k, const Equivalent& equivalent);

// cons@k: fraction of problems whose majority answer (over the first k samples) is correct.
double cons_at_k(const std::vector<ProblemSamples>& problems, int64_t k, const Equivalent& equivalent);

// The answer classes of one problem's samples, as majority_sample forms them: each answer joins the class of the
// first earlier answer it is equivalent to, named by that class's first sample index; nullopt for no answer.
// Stored once at grading time (samples.answer_class), they let a reader without the verifier recount any cons@k:
// the classes of the first k samples are exactly the classes majority_sample(p, k, …) would form.
std::vector<std::optional<int64_t>> answer_classes(const ProblemSamples& p, const Equivalent& equivalent);

struct LengthStats {
  double mean = 0, median = 0, p90 = 0, max = 0;
};
LengthStats length_stats(std::vector<double> values);

// Counts of `values` in `bins` equal-width bins over [low, high]; values outside are clamped into the end bins.
std::vector<int64_t> histogram(const std::vector<double>& values, double low, double high, int bins);

struct PairedDifference {
  double value = 0, low = 0, high = 0;  // mean over problems of (b − a), 95% percentile-bootstrap interval
  int64_t n = 0;                        // paired problems
};
// a[i] and b[i] are the same problem's solve rates in two runs. Resamples problems (pairs kept together) from a
// fixed seed: the same inputs always give the same interval.
PairedDifference paired_bootstrap_difference(const std::vector<double>& a, const std::vector<double>& b,
                                             int resamples = 10000, uint64_t seed = 20240101);

// Exact two-sided McNemar test: b and c are the discordant counts (a right / b wrong, and a wrong / b right).
// p = min(1, 2 · P[X ≤ min(b, c)]) with X ~ Binomial(b + c, 1/2); 1 when there are no discordant pairs.
double mcnemar_exact_p(int64_t b, int64_t c);

}  // namespace crucible::stats
