#include "core/version.h"

#include <unistd.h>

#include "core/version_info.h"

namespace crucible {

std::string version() { return CRUCIBLE_VERSION_STRING; }
std::string git_sha() { return CRUCIBLE_GIT_SHA; }
std::string build_type() { return CRUCIBLE_BUILD_TYPE; }

std::string version_line() {
  return std::string("crucible ") + version() + " (git " + git_sha() + ", " + build_type() + ")";
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace crucible
