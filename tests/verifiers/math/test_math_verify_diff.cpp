// Differential run against math-verify (Python oracle): runs diff_math_verify.py over the corpus and the suite
// golds, prints every disagreement with its ruling, and fails when crucible is on the wrong side of a labelled one.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>

#include "tests/support/test_support.h"

TEST(MathVerifyDiff, CrucibleWinsEveryLabelledDisagreement) {
  const std::string python = CRUCIBLE_TEST_PYTHON;
  if (!std::filesystem::exists(python)) GTEST_SKIP() << "no Python venv at " << python << " (scripts/setup makes it)";
  auto probe = crucible::testing::run_command({python, "-c", "import math_verify"});
  if (probe.exit_code != 0) GTEST_SKIP() << "math_verify is not installed in " << python;
  std::string src = crucible::testing::source_dir();
  auto r = crucible::testing::run_command(
      {python, src + "/tests/verifiers/math/diff_math_verify.py", crucible::testing::crucible_binary(), src});
  fmt::print("{}\n{}\n", r.out, r.err.size() > 4000 ? r.err.substr(r.err.size() - 4000) : r.err);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find(" pairs ("), std::string::npos);
}
