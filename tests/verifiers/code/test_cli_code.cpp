// `crucible grade code` and `crucible sandbox run` end to end (the built binary; integration: it loads LibTorch).
#include <gtest/gtest.h>

#include <fstream>

#include "core/json_io.h"
#include "tests/support/test_support.h"

using crucible::Json;
using crucible::testing::crucible_binary;
using crucible::testing::run_command;

TEST(CliGradeCode, GradesBothFormsAndKeepsOrderAndFields) {
  crucible::testing::TempDir dir;
  const std::string in = dir.file("in.jsonl");
  std::ofstream(in) << Json({{"id", "lcb"},
                             {"response", "<think>hm</think>\n```python\nprint(int(input()) * 2)\n```"},
                             {"tests", {{{"input", "2\n"}, {"output", "4\n"}, {"testtype", "stdin"}},
                                        {{"input", "5\n"}, {"output", "11\n"}, {"testtype", "stdin"}}}}})
                           .dump()
                    << "\n"
                    << Json({{"id", "he"},
                             {"response", "```python\ndef f(x):\n    return x + 1\n```"},
                             {"test", "def check(c):\n    assert c(1) == 2\n"},
                             {"entry_point", "f"}})
                           .dump()
                    << "\n";
  auto r = run_command({crucible_binary(), "grade", "code", in, "--workers", "2", "--time-limit", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::getline(lines, line);
  Json a = Json::parse(line);
  EXPECT_EQ(a["id"], "lcb");
  EXPECT_EQ(a["correct"], false);
  EXPECT_EQ(a["status"], "wrong_answer");
  EXPECT_EQ(a["tests_passed"], 1);
  EXPECT_EQ(a["tests_total"], 2);
  EXPECT_EQ(a["tests"][0]["status"], "pass");
  EXPECT_EQ(a["tests"][1]["status"], "wrong_answer");
  std::getline(lines, line);
  Json b = Json::parse(line);
  EXPECT_EQ(b["id"], "he");
  EXPECT_EQ(b["correct"], true);
  EXPECT_EQ(b["status"], "pass");
}

TEST(CliGradeCode, BadInputNamesFileLineAndField) {
  crucible::testing::TempDir dir;
  const std::string in = dir.file("bad.jsonl");
  std::ofstream(in) << R"({"response": "x", "tests": [{"input": "1", "output": "1", "testtype": "x"}]})" << "\n";
  auto r = run_command({crucible_binary(), "grade", "code", in});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.jsonl:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("testtype"), std::string::npos) << r.err;
}

TEST(CliSandboxRun, RunsACommandAndReportsTheVerdict) {
  auto r = run_command({crucible_binary(), "--json", "sandbox", "run", "--cpu", "1", "--", "/usr/bin/python3", "-c",
                        "import os; print(os.getuid())"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["verdict"], "pass");
  EXPECT_EQ(j["stdout"], "1000\n");
  auto t = run_command({crucible_binary(), "--json", "sandbox", "run", "--cpu", "0.5", "--", "/usr/bin/python3", "-c",
                        "while True: pass"});
  EXPECT_EQ(Json::parse(t.out)["verdict"], "time_limit");
}
