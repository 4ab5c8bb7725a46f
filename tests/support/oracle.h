// The Python oracles (tests/*/oracles/*.py: transformers, TRL, torch in float64) run from the venv scripts/setup
// makes, and the cache where scripts/setup puts the demo models. A test needing an oracle skips itself, loudly,
// when the venv is missing.
#pragma once
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace crucible::testing {

std::string oracle_python();  // the venv's python (CRUCIBLE_PYTHON at configure time)
bool has_oracle_python();
// Runs `oracle_python() script args...` from the current folder (ctest runs tests in the source tree).
CommandResult run_oracle(const std::string& script, const std::vector<std::string>& args);

std::string cache_dir();  // $CRUCIBLE_CACHE, else $HOME/.cache/crucible: scripts/setup's downloads

}  // namespace crucible::testing

#define CRUCIBLE_REQUIRE_ORACLE() \
  if (!crucible::testing::has_oracle_python()) GTEST_SKIP() << "oracle venv missing (run scripts/setup)"
