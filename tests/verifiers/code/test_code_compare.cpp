// Code extraction and the output comparisons (LiveCodeBench stdout rule, Python == on JSON). No sandbox.
#include <gtest/gtest.h>

#include "verifiers/code/code_grader.h"
#include "verifiers/code/extract.h"

namespace vc = crucible::verifiers::code;

TEST(CodeExtract, TakesLastPythonBlockNotTrailingProse) {
  const std::string answer =
      "First try:\n```python\nprint(1)\n```\nFixed:\n```python\nprint(2)\n```\nSample run:\n```text\n2\n```\n";
  EXPECT_EQ(vc::extract_code(answer).value(), "print(2)\n");
}

TEST(CodeExtract, SkipsPlaceholderBlocksAndFallsBackToAnyFence) {
  EXPECT_EQ(vc::extract_code("```python\n# YOUR CODE HERE\n```\n```\nx = 1\n```").value(), "x = 1\n");
  EXPECT_EQ(vc::extract_code("```py\nx = 2\n```").value(), "x = 2\n");
  EXPECT_FALSE(vc::extract_code("no code here").has_value());
  EXPECT_FALSE(vc::extract_code("```python\nprint(1)\n").has_value());  // unclosed: truncated response
}

TEST(CodeExtract, GradeCodeUsesOnlyTextAfterThink) {
  vc::CodeTask task;
  task.tests = {{vc::TestKind::stdin_stdout, "", "1\n"}};
  // The code inside the reasoning is never run; the unfinished response has no code at all.
  auto v = vc::grade_code(task, "<think>```python\nprint(1)\n```", {});
  EXPECT_FALSE(v.code_found);
  EXPECT_FALSE(v.correct);
  EXPECT_EQ(v.tests_total, 1);
}

TEST(CodeCompare, StdoutLinesAfterStripAndDecimals) {
  EXPECT_TRUE(vc::stdout_matches("3\n", "3"));
  EXPECT_TRUE(vc::stdout_matches("  1 2  \n3\r\n\n", "1 2\n3\n"));
  EXPECT_TRUE(vc::stdout_matches("1.50 2\n", "1.5 2.0"));
  EXPECT_TRUE(vc::stdout_matches("1e3\n", "1000"));
  EXPECT_TRUE(vc::stdout_matches("-0\n", "0"));
  EXPECT_FALSE(vc::stdout_matches("1.5000001\n", "1.5"));   // Decimal equality, not a float tolerance
  EXPECT_FALSE(vc::stdout_matches("1 2\n", "1\n2"));
  EXPECT_FALSE(vc::stdout_matches("Yes\n", "YES"));
  EXPECT_FALSE(vc::stdout_matches("nan\n", "nan1"));
  EXPECT_FALSE(vc::stdout_matches("", "0"));
  EXPECT_FALSE(vc::stdout_matches("1\n2\n", "1"));
}

TEST(CodeCompare, JsonWithPythonEquality) {
  EXPECT_TRUE(vc::python_json_equal("[1, 2.0, true]", "[1.0, 2, 1]"));
  EXPECT_TRUE(vc::python_json_equal("{\"a\": [1]}", "{\"a\": [1.0]}"));
  EXPECT_FALSE(vc::python_json_equal("[1, 2]", "[2, 1]"));
  EXPECT_FALSE(vc::python_json_equal("\"1\"", "1"));
  EXPECT_FALSE(vc::python_json_equal("null", "[]"));
  EXPECT_FALSE(vc::python_json_equal("!unserialisable AlwaysEqual", "1"));
}
