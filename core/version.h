// The version stamped on every run and verdict: semantic version, git sha and build type.
#pragma once
#include <string>

namespace crucible {

std::string version();         // "0.1.0"
std::string git_sha();         // "1a2b3c4d5e6f" or "…-dirty" or "unknown"
std::string build_type();      // "Release", "RelWithDebInfo", …
std::string version_line();    // "crucible 0.1.0 (git 1a2b3c4d5e6f, RelWithDebInfo)"
std::string host_name();

}  // namespace crucible
