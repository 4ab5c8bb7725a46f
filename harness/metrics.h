// Metrics over k samples per problem, all computed from the same stored samples:
//   pass@1      mean over samples and problems, with a 95% CI (percentile bootstrap over problems) and the
//               clustered standard error (problems as clusters), because AIME moves 1–3 points between runs;
//   pass@k      the unbiased estimator of Chen et al. (2021): 1 − C(n−c, k) / C(n, k), averaged over problems;
//   cons@k      majority vote over the first k samples' extracted answers, equivalent answers voting together
//               (the caller supplies the equivalence: the verifier's, not string equality);
//   audit       length-truncation, unparsed-answer and missing-</think> rates; response length statistics.
// Torch-free and allocation-light: called once per suite at the end of a run and by `crucible report`.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace crucible::harness {

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

struct LengthStats {
  double mean = 0, median = 0, p90 = 0, max = 0;
};
LengthStats length_stats(std::vector<double> values);

}  // namespace crucible::harness
