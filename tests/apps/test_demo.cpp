// `crucible demo --quick` end to end (slow: ~3 minutes): every stage, distillation included, completes as a stored
// run, the reports are written, and each stage moves the way the R1 story says, by margins a 95% paired CI on the
// same test problems must clear.
//
// Seeds tried (the demo's --seed: data split, weights, data order, every sample), paired difference vs the base
// student on the 200 test problems × 8 samples, lowest CI bound in brackets:
//   seed 0: teacher +0.338 [0.281], GRPO +0.051 [0.020], distilled +0.426 [0.364]
//   seed 1: teacher +0.519 [0.475], GRPO +0.039 [0.008], distilled +0.335 [0.284]
//   seed 2: teacher +0.664 [0.615], GRPO +0.038 [0.006], distilled +0.481 [0.421]
// GRPO's gain is the thin one (a 0.1 M-parameter student, 400 steps at lr 1e-4: benchmarks/demo/README.md). Not
// clearing zero elsewhere: `--nproc-per-node 2` at seed 0 (+0.9 pp [-2.4, +4.3]) and a reverted 600-step plan at
// seed 3 (+2.6 pp [-0.3, +5.6]). The same seed gives the same numbers on the same machine, so seed 0 passes or
// fails the same way every run here; a CPU whose kernels round differently draws another run.
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
  // The demo's own comparison table: four stages against the base student, the distilled one against GRPO alone, and
  // GRPO on the distilled student against the distilled student.
  ASSERT_EQ(j["comparisons"].size(), 6u) << j["comparisons"].dump();
  EXPECT_EQ(j["comparisons"][4]["run"], "eval distilled student");
  EXPECT_EQ(j["comparisons"][4]["baseline"], "eval grpo student");
  EXPECT_EQ(j["comparisons"][5]["run"], "eval distilled+grpo student");
  EXPECT_EQ(j["comparisons"][5]["baseline"], "eval distilled student");
  // GRPO on the distilled student (40 steps in --quick) does not raise it measurably (seeds 0-2: -0.8, +0.8, -1.7 pp)
  // but must not undo the distillation: its paired CI against the distilled student reaches zero or above.
  EXPECT_GE(j["comparisons"][5]["difference"]["high"].get<double>(), 0.0) << j["comparisons"][5].dump();
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
