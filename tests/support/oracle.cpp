#include "tests/support/oracle.h"

#include <cstdlib>
#include <filesystem>

namespace crucible::testing {

std::string oracle_python() { return CRUCIBLE_TEST_PYTHON; }

bool has_oracle_python() { return !oracle_python().empty() && std::filesystem::exists(oracle_python()); }

CommandResult run_oracle(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {oracle_python(), script};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

std::string cache_dir() {
  const char* cache = std::getenv("CRUCIBLE_CACHE");
  if (cache && *cache) return cache;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/crucible";
}

}  // namespace crucible::testing
