// The crucible binary as a user meets it: help, version, exit codes and `runs` on empty and populated stores.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "reports/store.h"
#include "tests/reports/store_fixture.h"
#include "tests/support/test_support.h"

using namespace crucible;
using crucible::testing::crucible_binary;
using crucible::testing::run_command;
using crucible::testing::TempDir;

TEST(Cli, HelpAndVersion) {
  auto help = run_command({crucible_binary(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("runs"), std::string::npos) << help.out;
  auto version = run_command({crucible_binary(), "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("crucible 0."), std::string::npos) << version.out;
  EXPECT_NE(version.out.find("git "), std::string::npos) << version.out;
}

TEST(Cli, GlobalOptionsGoBeforeOrAfterTheSubcommand) {
  TempDir dir;
  std::string db = dir.file("none.db");
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {crucible_binary(), "--db", db, "--json", "runs", "list"},
           {crucible_binary(), "runs", "list", "--db", db, "--json"},
           {crucible_binary(), "runs", "--json", "list", "--log-level", "warn", "--db", db},
           {crucible_binary(), "--json", "runs", "list", "--db", db}}) {
    auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::array()) << "--json and --db were taken: " << r.out;
  }
  auto text = run_command({crucible_binary(), "runs", "list", "--db", db});
  EXPECT_NE(text.out.find("no runs in " + db), std::string::npos) << text.out;
  EXPECT_EQ(run_command({crucible_binary(), "runs", "list", "--log-level", "loud"}).exit_code, 2);
}

// The torch-free front: commands that run no model never map LibTorch (the dynamic loader lists every library it
// opens under LD_DEBUG=libs); the model commands are listed and handed over.
TEST(Cli, CommandsThatRunNoModelNeverLoadTorch) {
  TempDir dir;
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"},
                                                                 {"--db", dir.file("x.db"), "runs", "list"},
                                                                 {"report", "--db", dir.file("x.db")},
                                                                 {"sandbox", "--help"}}) {
    std::vector<std::string> argv = {"/usr/bin/env", "LD_DEBUG=libs", crucible_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    EXPECT_NE(r.err.find("calling init"), std::string::npos) << "LD_DEBUG had no effect: " << r.err.substr(0, 300);
    EXPECT_EQ(r.err.find("libtorch"), std::string::npos) << args[0] << " loaded LibTorch";
    EXPECT_EQ(r.err.find("libc10"), std::string::npos) << args[0] << " loaded c10";
  }
  auto help = run_command({crucible_binary(), "--help"});
  for (const char* cmd : {"generate", "serve", "eval", "tokenize", "grade", "regrade", "data"})
    EXPECT_NE(help.out.find(cmd), std::string::npos) << cmd << " missing from --help:\n" << help.out;
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_command({crucible_binary()}).exit_code, 2);
  EXPECT_EQ(run_command({crucible_binary(), "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(run_command({crucible_binary(), "runs", "show"}).exit_code, 2);
  EXPECT_EQ(run_command({crucible_binary(), "--log-level", "loud", "runs", "list"}).exit_code, 2);
}

TEST(Cli, RunsListOnMissingAndEmptyDatabase) {
  TempDir dir;
  auto missing = run_command({crucible_binary(), "--db", dir.file("none.db"), "--json", "runs", "list"});
  EXPECT_EQ(missing.exit_code, 0) << missing.err;
  EXPECT_EQ(nlohmann::json::parse(missing.out), nlohmann::json::array());
  { Store::open(dir.file("empty.db")); }
  auto empty = run_command({crucible_binary(), "--db", dir.file("empty.db"), "--json", "runs", "list"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_EQ(nlohmann::json::parse(empty.out), nlohmann::json::array());
}

TEST(Cli, RunsListShowExportImportDelete) {
  TempDir dir;
  std::string db = dir.file("c.db");
  {
    Store store = Store::open(db);
    auto p = crucible::testing::populate(store, "gsm8k-demo", "ident");
    for (int k = 0; k < 4; ++k) store.insert_sample(crucible::testing::make_sample(p.run_id, p.problem_ids[0], k, k < 3));
    store.put_scores({{p.run_id, "gsm8k", "pass@1", 1, 0.75, 0.5, 1.0, 1}});
    store.finish_run(p.run_id, "completed");
  }
  auto list = run_command({crucible_binary(), "--db", db, "--json", "runs", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto runs = nlohmann::json::parse(list.out);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["name"], "gsm8k-demo");
  EXPECT_EQ(runs[0]["samples"], 4);
  EXPECT_EQ(runs[0]["correct"], 3);
  EXPECT_EQ(runs[0]["status"], "completed");

  auto table = run_command({crucible_binary(), "--db", db, "runs", "list"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("gsm8k-demo"), std::string::npos);

  auto show = run_command({crucible_binary(), "--db", db, "--json", "runs", "show", "gsm8k-demo"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  auto shown = nlohmann::json::parse(show.out);
  EXPECT_EQ(shown["scores"][0]["value"], 0.75);
  EXPECT_EQ(shown["config"]["top_p"], 0.95);

  auto missing = run_command({crucible_binary(), "--db", db, "runs", "show", "nope"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope"), std::string::npos);

  std::string exported = dir.file("run.jsonl");
  auto exp = run_command({crucible_binary(), "--db", db, "runs", "export", "1", "-o", exported});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  auto imp = run_command({crucible_binary(), "--db", dir.file("other.db"), "--json", "runs", "import", exported});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto again = run_command({crucible_binary(), "--db", dir.file("other.db"), "runs", "import", exported});
  EXPECT_EQ(again.exit_code, 2) << "importing the same run twice must be refused";

  auto no_yes = run_command({crucible_binary(), "--db", db, "runs", "delete", "1"});
  EXPECT_EQ(no_yes.exit_code, 2);
  EXPECT_EQ(Store::open(db).count_samples(1), 4) << "delete without --yes must keep the data";
  auto del = run_command({crucible_binary(), "--db", db, "runs", "delete", "1", "--yes"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_TRUE(Store::open(db).list_runs().empty());
}

TEST(Cli, CorruptDatabaseIsBadInputAndUntouched) {
  TempDir dir;
  std::string db = dir.file("bad.db");
  std::ofstream(db, std::ios::binary) << std::string(2048, 'z');
  auto r = run_command({crucible_binary(), "--db", db, "runs", "list"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.db"), std::string::npos) << r.err;
  std::ifstream in(db, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, std::string(2048, 'z'));
}
