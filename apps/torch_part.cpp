// The hand-over from the torch-free front to `crucible-torch` (see torch_part.h).
#include "apps/torch_part.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"

namespace crucible::cli {
namespace {

std::vector<char*>& saved_arguments() {
  static std::vector<char*> argv;
  return argv;
}

std::string torch_executable() {
  if (const char* e = std::getenv("CRUCIBLE_TORCH_EXE"); e && *e) return e;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw RunError("cannot find this executable (/proc/self/exe: " + ec.message() + ") to start crucible-torch");
  return (self.parent_path() / "crucible-torch").string();
}

}  // namespace

void remember_arguments(int argc, char** argv) { saved_arguments().assign(argv, argv + argc); }

void exec_torch_part() {
  std::string exe = torch_executable();
  if (::access(exe.c_str(), X_OK) != 0)
    throw RunError(exe + ": this command runs a model and needs crucible-torch, which is not there (a build with "
                         "-DCRUCIBLE_TORCH=OFF has none; build the crucible-torch target)");
  std::vector<char*> argv = saved_arguments();
  argv.at(0) = exe.data();
  argv.push_back(nullptr);
  ::execv(exe.c_str(), argv.data());
  throw RunError(exe + ": exec failed: " + std::strerror(errno));
}

}  // namespace crucible::cli
