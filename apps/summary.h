// Printing eval results: the summary table on stdout, or JSON with --json. Shared by eval, score and regrade.
#pragma once
#include <nlohmann/json.hpp>

#include "harness/eval.h"

namespace crucible::cli {

nlohmann::json suite_scores_json(const harness::SuiteScores& s);
void print_suite_table(const std::vector<harness::SuiteScores>& suites);

}  // namespace crucible::cli
