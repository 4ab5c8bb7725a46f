// File-system helpers that must behave the same in every crucible binary.
#pragma once
#include <string>

namespace crucible {

// Removes `path` and everything under it (symbolic links are removed, never followed); a missing path is not an
// error. Returns the number of entries removed; throws RunError naming the entry that could not be removed.
//
// Why not std::filesystem::remove_all: libtorch.so (the torch wheel) exports its own copy of libstdc++'s
// std::filesystem functions, and in a torch-linked binary the dynamic linker binds our calls to those. Its
// remove_all calls recursive_directory_iterator through weak symbols nothing defines, so it jumps to address 0 as
// soon as the folder is non-empty (a segfault seen in bench_grpo_step and in a checkpoint save over a leftover
// `.tmp` folder). This one uses POSIX nftw(3) only.
size_t remove_tree(const std::string& path);

}  // namespace crucible
