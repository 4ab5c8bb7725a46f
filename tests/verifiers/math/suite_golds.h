// Gold answers of the math suites in ../shared/data, with the boxed answer of each reference solution where the
// suite has one. Shared by the gold-agreement test and the math-verify differential test.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace crucible::testing {

struct GoldCase {
  std::string suite;
  std::string id;
  std::string gold;                      // the suite's answer field, as a bare answer
  std::optional<std::string> solution;   // the reference solution's final answer (last \boxed, or GSM8K's ####)
};

// Reads every math suite present under shared_dir()/data; empty when the data is absent.
std::vector<GoldCase> load_gold_cases();

}  // namespace crucible::testing
