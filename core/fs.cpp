#include "core/fs.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"

namespace crucible {
namespace {

thread_local size_t removed_count = 0;
thread_local int failed_errno = 0;
thread_local std::string failed_path;

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  if (std::remove(path) != 0) {
    failed_errno = errno;
    failed_path = path;
    return 1;  // stop the walk
  }
  ++removed_count;
  return 0;
}

}  // namespace

size_t remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return 0;
    throw RunError("cannot remove " + path + ": " + std::strerror(errno));
  }
  removed_count = 0;
  failed_errno = 0;
  failed_path.clear();
  // FTW_DEPTH: children before their folder; FTW_PHYS: a link is removed itself, its target left alone.
  const int rc = ::nftw(path.c_str(), remove_entry, 32, FTW_DEPTH | FTW_PHYS);
  if (rc != 0) {
    const int e = failed_errno ? failed_errno : errno;
    throw RunError("cannot remove " + (failed_path.empty() ? path : failed_path) + ": " + std::strerror(e));
  }
  return removed_count;
}

}  // namespace crucible
