// core/fs.h remove_tree: nested folders, a symbolic link removed without following it, a missing path.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {
namespace fs = std::filesystem;

TEST(RemoveTree, RemovesNestedFoldersAndLinksButNotLinkTargets) {
  testing::TempDir dir;
  const std::string root = dir.file("tree");
  fs::create_directories(root + "/a/b/c");
  std::ofstream(root + "/a/b/c/f.txt") << "x";
  std::ofstream(root + "/a/g.txt") << "y";
  fs::create_directories(dir.file("keep"));
  std::ofstream(dir.file("keep/k.txt")) << "kept";
  ASSERT_EQ(::symlink(dir.file("keep").c_str(), (root + "/a/link").c_str()), 0);
  EXPECT_EQ(remove_tree(root), 7u);  // tree, a, b, c, f.txt, g.txt, link
  EXPECT_FALSE(fs::exists(root));
  EXPECT_TRUE(fs::exists(dir.file("keep/k.txt"))) << "a link's target is never followed";
}

TEST(RemoveTree, MissingPathIsNotAnErrorAndAFileIsRemoved) {
  testing::TempDir dir;
  EXPECT_EQ(remove_tree(dir.file("absent")), 0u);
  std::ofstream(dir.file("one")) << "1";
  EXPECT_EQ(remove_tree(dir.file("one")), 1u);
  EXPECT_FALSE(fs::exists(dir.file("one")));
}

}  // namespace
}  // namespace crucible
