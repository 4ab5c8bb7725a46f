// `crucible grade math|choice` as a user meets it: JSONL in, the same records out with the verdict, in input order
// whatever the number of workers; bad input exits 2 naming the line and the field.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "tests/support/test_support.h"

using crucible::testing::crucible_binary;
using crucible::testing::run_command;
using crucible::testing::TempDir;
using nlohmann::json;

namespace {

std::vector<json> lines_of(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(json::parse(line));
  return v;
}

}  // namespace

TEST(CliGrade, MathKeepsOrderAndAddsVerdicts) {
  std::string input;
  for (int i = 0; i < 200; ++i) {
    json rec = {{"id", i}, {"response", "<think>x</think> so \\boxed{\\frac{" + std::to_string(i) + "}{2}}"},
                {"gold", i % 3 == 0 ? json(std::to_string(i / 2.0)) : json("-1")}};
    input += rec.dump() + "\n";
  }
  auto r = run_command({crucible_binary(), "grade", "math", "--workers", "4"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    const json& o = out[static_cast<size_t>(i)];
    EXPECT_EQ(o["id"], i);
    EXPECT_EQ(o["correct"], i % 3 == 0) << o.dump();
    EXPECT_EQ(o["reason"], i % 3 == 0 ? "correct" : "wrong");
    EXPECT_EQ(o["extracted"], "\\frac{" + std::to_string(i) + "}{2}");
    EXPECT_EQ(o["rule"], "boxed");
    EXPECT_EQ(o["grader_version"], "math-3");
  }
}

TEST(CliGrade, MathFromFileWithPresetsAndNumericGold) {
  TempDir dir;
  std::ofstream(dir.file("in.jsonl"))
      << R"({"response": "so 40 + 2 = 42", "gold": 42})" << "\n"
      << R"({"response": "<think>never closed", "gold": "1"})" << "\n"
      << R"({"response": "so 40 + 2 = 42 and then", "gold": 42, "finish_reason": "length"})" << "\n";
  // The default preset reads an unmarked answer (no flag needed) and reports where it found it.
  auto math = run_command({crucible_binary(), "grade", "math", "--input", dir.file("in.jsonl")});
  ASSERT_EQ(math.exit_code, 0) << math.err;
  auto m = lines_of(math.out);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0]["correct"], true);
  EXPECT_EQ(m[0]["rule"], "last_number");
  EXPECT_EQ(m[0]["extracted"], "40 + 2 = 42");  // the sentence's conclusion after "so"; the chain ends on 42
  EXPECT_EQ(m[0]["span"], json::array({3, 14}));
  EXPECT_EQ(m[1]["reason"], "unfinished");
  // Cut by the length limit with no marked answer: unfinished, not a guess.
  EXPECT_EQ(m[2]["reason"], "unfinished");
  EXPECT_EQ(m[2]["correct"], false);
  auto markers = run_command(
      {crucible_binary(), "grade", "math", "--rules", "boxed,final_answer,answer_line,bold", "-i", dir.file("in.jsonl")});
  auto mk = lines_of(markers.out);
  ASSERT_EQ(mk.size(), 3u);
  EXPECT_EQ(mk[0]["reason"], "unparsed");
  EXPECT_TRUE(mk[0]["extracted"].is_null());
  auto gsm = run_command({crucible_binary(), "grade", "math", "--preset", "gsm8k", "-i", dir.file("in.jsonl")});
  auto g = lines_of(gsm.out);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0]["correct"], true);
  EXPECT_EQ(g[0]["rule"], "last_number");
  auto rules = run_command({crucible_binary(), "grade", "math", "--rules", "whole", "-i", dir.file("in.jsonl")});
  EXPECT_EQ(lines_of(rules.out)[0]["correct"], false);  // the whole sentence is not the answer 42
}

TEST(CliGrade, BadInputExitsTwoNamingLineAndField) {
  auto missing = run_command({crucible_binary(), "grade", "math"}, "{\"response\": \"1\", \"gold\": \"1\"}\n{\"response\": \"x\"}\n");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("<stdin>:2: field 'gold'"), std::string::npos) << missing.err;
  EXPECT_TRUE(missing.out.empty());  // nothing is written when any record is bad
  auto not_json = run_command({crucible_binary(), "grade", "math"}, "not json\n");
  EXPECT_EQ(not_json.exit_code, 2);
  auto bad_rule = run_command({crucible_binary(), "grade", "math", "--rules", "boxed,psychic"}, "");
  EXPECT_EQ(bad_rule.exit_code, 2);
  EXPECT_NE(bad_rule.err.find("psychic"), std::string::npos);
  auto no_file = run_command({crucible_binary(), "grade", "math", "--input", "/nonexistent/x.jsonl"});
  EXPECT_EQ(no_file.exit_code, 2);
  auto bad_letter = run_command({crucible_binary(), "grade", "choice"}, "{\"response\": \"A\", \"gold\": \"AB\"}\n");
  EXPECT_EQ(bad_letter.exit_code, 2);
  EXPECT_NE(bad_letter.err.find("field 'gold'"), std::string::npos) << bad_letter.err;
}

TEST(CliGrade, Choice) {
  std::string input = R"J({"response": "<think>hmm</think>Answer: C", "gold": "C"}
{"response": "the answer is (B)", "gold": "C"}
{"response": "\\boxed{0.5}", "gold": "B", "options": ["1/3", "1/2", "2", "3"]}
{"response": "no idea", "gold": "A"}
)J";
  auto r = run_command({crucible_binary(), "grade", "choice", "--workers", "2"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0]["correct"], true);
  EXPECT_EQ(out[1]["correct"], false);
  EXPECT_EQ(out[1]["extracted"], "B");
  EXPECT_EQ(out[2]["rule"], "option_text");
  EXPECT_EQ(out[2]["correct"], true);
  EXPECT_EQ(out[3]["reason"], "unparsed");
  EXPECT_EQ(out[0]["grader_version"], "choice-2");
}
