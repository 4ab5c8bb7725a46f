// `crucible report` as a user meets it: the three formats from the CLI, and bad input (unknown run, runs with no
// problem in common, a missing database, a bad format) → one clear line, exit 2, and the database byte-for-byte as
// it was (a report opens the store read-only).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "reports/store.h"
#include "tests/reports/report_fixture.h"
#include "tests/support/test_support.h"

using crucible::testing::crucible_binary;
using crucible::testing::run_command;
using crucible::testing::TempDir;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

TEST(CliReport, MarkdownHtmlAndJson) {
  TempDir dir;
  std::string db = dir.file("r.db");
  {
    crucible::Store store = crucible::Store::open(db);
    crucible::testing::populate_report_store(store);
  }
  auto md = run_command({crucible_binary(), "report", "base", "cand", "--db", db, "--format", "md"});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("# crucible report"), std::string::npos);
  EXPECT_NE(md.out.find("McNemar exact"), std::string::npos);

  std::string html = dir.file("r.html");
  auto h = run_command({crucible_binary(), "--db", db, "report", "base", "multi", "-o", html});  // format from -o
  ASSERT_EQ(h.exit_code, 0) << h.err;
  std::string page = slurp(html);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);

  // -o's extension beats the global --json (which only sets the default): `-o r.md` is Markdown, as the demo writes it.
  std::string md_file = dir.file("r.md");
  auto m = run_command({crucible_binary(), "--json", "--db", db, "report", "base", "cand", "-o", md_file});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(slurp(md_file).rfind("# crucible report", 0), 0u);

  auto j = run_command({crucible_binary(), "report", "--db", db, "--format", "json", "--baseline", "cand", "base"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto parsed = nlohmann::json::parse(j.out);
  EXPECT_EQ(parsed["runs"].size(), 2u);
  EXPECT_EQ(parsed["runs"][0]["name"], "cand");
  for (const auto* text : {&md.out, &page, &j.out}) EXPECT_EQ(text->find("SENTINEL-QUESTION-TEXT"), std::string::npos);
}

TEST(CliReport, BadInputExitsTwoAndLeavesTheDatabaseUntouched) {
  TempDir dir;
  std::string db = dir.file("r.db");
  {
    crucible::Store store = crucible::Store::open(db);
    crucible::testing::populate_report_store(store);
  }
  const std::string before = slurp(db);
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"report", "base", "nope", "--db", db}, "nope"},
      {{"report", "base", "other", "--db", db}, "share no problem"},
      {{"report", "base", "--db", db, "--baseline", "ghost"}, "ghost"},
      {{"report", "base", "--db", db, "--format", "pdf"}, "pdf"},
      {{"report", "--db", dir.file("missing.db")}, "missing.db"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {crucible_binary()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 2) << c.args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_FALSE(exists(dir.file("missing.db")));  // a report never creates a database
  EXPECT_EQ(slurp(db), before);
  auto out = dir.file("never.md");
  auto r = run_command({crucible_binary(), "report", "base", "nope", "--db", db, "-o", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(exists(out));  // no half-written report either
}
