// Helpers shared by the test suites: a scratch directory per test, the paths of the source tree, ../shared and the
// built crucible binary, and running a command to capture its output and exit code.
#pragma once
#include <string>
#include <vector>

namespace crucible::testing {

// A fresh directory under $TMPDIR, removed (recursively) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string source_dir();   // $CRUCIBLE_SOURCE_DIR, else the source tree this test was built from
std::string shared_dir();   // <source_dir>/../shared
std::string crucible_binary();  // <build>/bin/crucible
bool has_shared_data();

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs argv (no shell) with optional stdin text; captures stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text = "");

}  // namespace crucible::testing

// Skips the calling test, loudly, when ../shared (models, tokenizers, data) is not beside the checkout.
#define CRUCIBLE_REQUIRE_SHARED() \
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present beside the checkout"
