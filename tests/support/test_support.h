// Helpers shared by the test suites: a scratch directory per test, the paths of the source tree, ../shared and the
// built crucible binary, and running a command to capture its output and exit code.
#pragma once
#include <map>
#include <string>
#include <utility>
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

// A float32 safetensors file's tensors by name (8-byte header length, JSON header, data), read without the model
// library; a tensor of another dtype is a test failure.
std::map<std::string, std::vector<float>> read_safetensors_f32(const std::string& path);
// The largest per-tensor max |a - b| / max |a| of two float32 safetensors files (the same tensor names), and where.
std::pair<double, std::string> max_relative_difference(const std::string& fa, const std::string& fb);

}  // namespace crucible::testing

// Skips the calling test, loudly, when ../shared (models, tokenizers, data) is not beside the checkout.
#define CRUCIBLE_REQUIRE_SHARED() \
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present beside the checkout"
