// Hedging must not pay: the math and choice graders as rewards, against the reward-hack corpus in reward_hacks/
// (math.jsonl, choice.jsonl; README there). Every math entry lists golds and whether the response must be graded
// correct against each; every choice entry lists the letters it must be correct for (at most one). A hedge that is
// right for two different golds pays more than an honest answer, which is what a policy would learn.
#include <gtest/gtest.h>

#include <string>

#include "core/json_io.h"
#include "tests/support/test_support.h"
#include "verifiers/choice/choice_verifier.h"
#include "verifiers/math/math_verifier.h"

namespace cv = crucible::verifiers;
using crucible::Json;

namespace {

std::string corpus(const std::string& name) {
  return crucible::testing::source_dir() + "/tests/verifiers/reward_hacks/" + name;
}

std::string shorten(const std::string& s) { return s.size() <= 80 ? s : s.substr(0, 77) + "..."; }

}  // namespace

TEST(RewardHacksGraders, MathHedgesDoNotPay) {
  auto entries = crucible::read_jsonl_file(corpus("math.jsonl"));
  ASSERT_GE(entries.size(), 30u);
  int checks = 0, misses = 0;
  for (const Json& e : entries) {
    const std::string response = e.at("response");
    for (const auto& [gold, want] : e.at("golds").items()) {
      cv::MathVerdict v = cv::grade_math(response, gold);
      ++checks;
      if (v.correct != want.get<bool>()) {
        ++misses;
        ADD_FAILURE() << shorten(response) << "\n  gold " << gold << ": graded " << cv::outcome_name(v.outcome)
                      << " (" << cv::rule_name(v.rule) << ", extracted '" << shorten(v.extracted.value_or(""))
                      << "'), expected " << (want.get<bool>() ? "correct" : "not correct") << "\n  rule: "
                      << e.at("why").get<std::string>();
      }
    }
  }
  std::printf("math reward hacks: %zu responses, %d gradings, %d differ from the rule\n", entries.size(), checks,
              misses);
}

TEST(RewardHacksGraders, ChoiceHedgesDoNotPay) {
  auto entries = crucible::read_jsonl_file(corpus("choice.jsonl"));
  ASSERT_GE(entries.size(), 15u);
  const std::vector<std::string> options = {"0.5", "1/3", "2", "7"};
  int misses = 0;
  for (const Json& e : entries) {
    const std::string response = e.at("response");
    const std::string want = e.at("correct_for");
    ASSERT_LE(want.size(), 1u) << "a corpus entry may pay for one letter at most";
    std::string paid;
    for (char gold : std::string("ABCD")) {
      if (cv::grade_choice(response, gold, options).correct) paid.push_back(gold);
    }
    if (paid != want) {
      ++misses;
      ADD_FAILURE() << shorten(response) << "\n  correct for '" << paid << "', expected '" << want
                    << "'\n  rule: " << e.at("why").get<std::string>();
    }
  }
  std::printf("choice reward hacks: %zu responses, %d differ from the rule\n", entries.size(), misses);
}
