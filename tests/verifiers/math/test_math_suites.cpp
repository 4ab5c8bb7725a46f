// Every gold answer of the math suites must grade equal to itself, and to the final answer of its own reference
// solution where the suite has one. Prints the agreement per suite and every exception; the exceptions that remain
// are listed (with why) in kKnownExceptions, so a new disagreement fails the test.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <set>

#include "tests/support/test_support.h"
#include "tests/verifiers/math/suite_golds.h"
#include "verifiers/math/math_verifier.h"

using namespace crucible::verifiers;

namespace {

// suite/id -> why the reference solution's boxed answer differs from the gold answer (checked by hand).
const std::map<std::string, std::string> kKnownExceptions = {
};

}  // namespace

TEST(MathSuites, GoldsAgreeWithThemselvesAndTheirSolutions) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared/data is absent";
  auto cases = crucible::testing::load_gold_cases();
  ASSERT_GT(cases.size(), 2000u);
  struct Tally {
    int n = 0, parsed = 0, self = 0, with_solution = 0, agree = 0;
  };
  std::map<std::string, Tally> t;
  std::set<std::string> unexpected;
  MathGradeOptions o;
  o.budget = std::chrono::milliseconds(500);  // generous: this is about correctness, not speed
  for (const auto& c : cases) {
    Tally& s = t[c.suite];
    ++s.n;
    std::string key = c.suite + "/" + c.id;
    // Self-equality through the parser, not through the text fallback (every string equals itself as text).
    bool parsed = debug_parse(c.gold).has_value();
    if (parsed) ++s.parsed;
    Equivalence self = compare_answers(c.gold, c.gold, o);
    if (parsed && self == Equivalence::equal) {
      ++s.self;
    } else if (!kKnownExceptions.count(key)) {
      unexpected.insert(key);
      fmt::print("SELF {} gold={:?}\n", key, c.gold);
    }
    if (!c.solution) continue;
    ++s.with_solution;
    MathVerdict v;
    if (c.suite == "gsm8k") {
      MathGradeOptions go = MathGradeOptions::gsm8k();
      go.budget = o.budget;
      v = grade_math(*c.solution, c.gold, go);
    } else {
      v.extracted = *c.solution;
      v.correct = compare_answers(*c.solution, c.gold, o) == Equivalence::equal;
      v.reason = "compared with the solution's boxed answer";
    }
    if (v.correct) {
      ++s.agree;
    } else if (!kKnownExceptions.count(key)) {
      unexpected.insert(key);
      fmt::print("SOLUTION {} gold={:?} solution_answer={:?} ({})\n", key, c.gold, v.extracted.value_or("<none>"),
                 v.reason);
    }
  }
  fmt::print("{:<14} {:>6} {:>7} {:>17} {:>10} {:>17}\n", "suite", "golds", "parsed", "self-equal", "with sol.",
             "gold==solution");
  for (const auto& [suite, s] : t)
    fmt::print("{:<14} {:>6} {:>7} {:>8} ({:5.1f}%) {:>10} {:>8} ({:5.1f}%)\n", suite, s.n, s.parsed, s.self,
               100.0 * s.self / s.n,
               s.with_solution, s.agree, s.with_solution ? 100.0 * s.agree / s.with_solution : 100.0);
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " unexplained disagreements (listed above)";
}
