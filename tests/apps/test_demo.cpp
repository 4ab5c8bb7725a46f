// `crucible demo --quick` end to end (slow: minutes): every stage, distillation included, completes as a stored run,
// the reports are written, and each stage moves the way the R1 story says, by margins a 95% paired CI on the same
// test problems must clear.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/json_io.h"
#include "tests/support/test_support.h"

using crucible::testing::crucible_binary;
using crucible::testing::run_command;
using crucible::testing::TempDir;

namespace {
const nlohmann::json* find_stage(const nlohmann::json& j, const std::string& name) {
  for (const auto& s : j["stages"])
    if (s["stage"] == name) return &s;
  return nullptr;
}
double pass1(const nlohmann::json& stage) { return stage["result"]["suites"][0]["pass@1"].get<double>(); }
}  // namespace

TEST(Demo, QuickRunsEveryStageAndEachMovesTheRightWay) {
  TempDir dir;
  const std::string out = dir.file("demo");
  auto r = run_command({crucible_binary(), "--json", "demo", "--quick", "--out", out, "--seed", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(r.err.size() > 4000 ? r.err.size() - 4000 : 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(std::filesystem::exists(out + "/report.html"));
  EXPECT_TRUE(std::filesystem::exists(out + "/report.md"));
  EXPECT_TRUE(std::filesystem::exists(out + "/commands.sh"));

  const auto* teacher = find_stage(j, "eval teacher");
  const auto* base = find_stage(j, "eval base student");
  const auto* grpo = find_stage(j, "eval grpo student");
  ASSERT_TRUE(teacher && base && grpo);
  for (const auto* s : {teacher, base, grpo}) EXPECT_GT((*s)["run_id"].get<int64_t>(), 0);
  // The base student is weak but not zero (GRPO needs signal).
  EXPECT_GT(pass1(*base), 0.0);
  for (const char* s : {"distill traces", "distill sft student", "eval distilled student", "grpo distilled student",
                        "eval distilled+grpo student"}) {
    const auto* stage = find_stage(j, s);
    ASSERT_NE(stage, nullptr) << s;
    EXPECT_GT((*stage)["run_id"].get<int64_t>(), 0) << s;
  }

  // Against the base student on the same test problems, the teacher (trained on worked solutions), the GRPO student
  // and the distilled student are each better: the paired bootstrap 95% CI of the difference lies above zero.
  const auto* distilled = find_stage(j, "eval distilled student");
  auto id = [](const nlohmann::json* s) { return s->at("run_id").get<int64_t>(); };
  auto rep = run_command({crucible_binary(), "report", "--db", j["db"].get<std::string>(), "--format", "json",
                          std::to_string(id(base)), std::to_string(id(teacher)), std::to_string(id(grpo)),
                          std::to_string(id(distilled))});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  auto report = nlohmann::json::parse(rep.out);
  const auto& comparisons = report["suites"][0]["comparisons"];
  ASSERT_EQ(comparisons.size(), 3u);
  for (const auto& cmp : comparisons) {
    const nlohmann::json* run = cmp["run"] == id(teacher) ? teacher : cmp["run"] == id(grpo) ? grpo : distilled;
    EXPECT_GT(cmp["paired"].get<int64_t>(), 0);
    EXPECT_GT(cmp["difference"]["low"].get<double>(), 0.0)
        << run->at("stage").get<std::string>() << " vs base: " << cmp["difference"].dump() << " (pass@1 "
        << pass1(*base) << " -> " << pass1(*run) << ")";
  }
}
