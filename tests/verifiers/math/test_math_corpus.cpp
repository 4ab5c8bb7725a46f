// The correctness corpus (corpus.jsonl, next to this file): labelled (response, gold, equal) cases transcribed from
// public grader test suites plus crucible's own hard and near-miss cases, each with its source. Prints accuracy and
// the false-positive rate, lists every miss, and holds the grader to >= 98% accuracy and <= 1% false positives.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>

#include "core/json_io.h"
#include "tests/support/test_support.h"
#include "verifiers/math/math_verifier.h"

using namespace crucible;
using namespace crucible::verifiers;

namespace {

struct Outcome {
  bool said_equal;
  std::string detail;
};

Outcome run_case(const Json& c) {
  std::string mode = c.value("mode", "answer");
  std::string gold = c.at("gold").get<std::string>();
  std::string response = c.at("response").get<std::string>();
  if (mode == "response") {
    MathGradeOptions o = c.value("preset", "math") == "gsm8k" ? MathGradeOptions::gsm8k() : MathGradeOptions::math();
    MathVerdict v = grade_math(response, gold, o);
    return {v.correct, std::string(outcome_name(v.outcome)) + " (" + v.reason + "), extracted " +
                           (v.extracted ? fmt::format("{:?}", *v.extracted) : "null")};
  }
  Equivalence e = compare_answers(response, gold);
  static const char* names[] = {"equal", "different", "unparsed", "timeout"};
  return {e == Equivalence::equal, names[static_cast<int>(e)]};
}

}  // namespace

TEST(MathCorpus, AccuracyAndFalsePositives) {
  auto cases = read_jsonl_file(crucible::testing::source_dir() + "/tests/verifiers/math/corpus.jsonl");
  ASSERT_GE(cases.size(), 400u);
  int tp = 0, tn = 0, fp = 0, fn = 0;
  double worst_ms = 0;
  for (const auto& c : cases) {
    bool truth = c.at("equal").get<bool>();
    auto t0 = std::chrono::steady_clock::now();
    Outcome o = run_case(c);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    worst_ms = std::max(worst_ms, ms);
    if (truth && o.said_equal) ++tp;
    else if (!truth && !o.said_equal) ++tn;
    else {
      (o.said_equal ? fp : fn)++;
      std::string resp = c.at("response").get<std::string>();
      if (resp.size() > 160) resp = resp.substr(0, 160) + "…";
      fmt::print("{} [{}] gold={:?} response={:?} -> {}\n", o.said_equal ? "FALSE POSITIVE" : "FALSE NEGATIVE",
                 c.value("source", "?"), c.at("gold").get<std::string>(), resp, o.detail);
    }
  }
  int n = static_cast<int>(cases.size());
  int negatives = tn + fp;
  double accuracy = 100.0 * (tp + tn) / n;
  double fp_rate = negatives ? 100.0 * fp / negatives : 0.0;
  fmt::print("corpus: {} cases ({} equal, {} different): accuracy {:.2f}%, false positives {} ({:.2f}% of the "
             "different), false negatives {}; slowest case {:.1f} ms\n",
             n, tp + fn, negatives, accuracy, fp, fp_rate, fn, worst_ms);
  EXPECT_GE(accuracy, 98.0);
  EXPECT_LE(fp_rate, 1.0);
  // The per-comparison budget is 50 ms; parsing both sides and the GiNaC call that cannot be interrupted add a little.
  EXPECT_LT(worst_ms, 250.0);
}
