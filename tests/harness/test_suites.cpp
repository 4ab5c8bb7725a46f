// Every registered suite loads from ../shared/data with the expected counts and gold answers; malformed records are
// errors naming the file, line and field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/json_io.h"
#include "harness/suite.h"
#include "tests/support/test_support.h"

using namespace crucible;
using namespace crucible::harness;

namespace {
std::string data_dir() { return crucible::testing::shared_dir() + "/data"; }
}

TEST(Suites, RegistryKnowsTheR1Suites) {
  std::set<std::string> names;
  for (const auto& s : all_suites()) names.insert(s.name);
  for (const char* n : {"aime24", "aime25", "math500", "gpqa_diamond", "livecodebench", "humaneval", "mbpp", "gsm8k",
                        "amc23", "minerva_math", "olympiadbench"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_EQ(find_suite("aime24").r1_samples, 64);
  EXPECT_EQ(find_suite("math500").r1_samples, 4);
  EXPECT_EQ(find_suite("gpqa_diamond").r1_samples, 8);
  EXPECT_EQ(find_suite("livecodebench").r1_samples, 16);
  EXPECT_TRUE(find_suite("gpqa_diamond").confidential);
  try {
    find_suite("aime2024");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("aime24"), std::string::npos) << "the error lists the known suites";
  }
}

TEST(Suites, LoadEverySuiteFromSharedData) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared/data not present";
  std::map<std::string, size_t> expected = {{"aime24", 30},       {"aime25", 30},       {"math500", 500},
                                            {"gsm8k", 1319},      {"amc23", 40},        {"minerva_math", 272},
                                            {"olympiadbench", 675}, {"gpqa_diamond", 198}, {"humaneval", 164},
                                            {"mbpp", 500},        {"livecodebench", 279}, {"mbpp_train", 374}};
  for (const auto& s : all_suites()) {
    if (!expected.count(s.name)) continue;  // generated suites (arith) are not in shared/data: test_arith.cpp
    SCOPED_TRACE(s.name);
    auto loaded = load_suite(s, data_dir());
    EXPECT_EQ(loaded.problems.size(), expected.at(s.name));
    EXPECT_EQ(loaded.sha256.size(), 64u);
    for (const auto& p : loaded.problems) {
      EXPECT_FALSE(p.key.empty());
      EXPECT_FALSE(p.question.empty());
      if (s.grader != GraderKind::code) {
        ASSERT_TRUE(p.gold.has_value()) << p.key;
        EXPECT_FALSE(p.gold->empty()) << p.key;
      }
    }
  }
}

TEST(Suites, GoldAnswersAreNormalisedAsTheProtocolsSay) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared/data not present";
  auto aime24 = load_suite(find_suite("aime24"), data_dir());
  for (const auto& p : aime24.problems) EXPECT_TRUE(p.gold->size() == 1 || (*p.gold)[0] != '0') << *p.gold;
  auto aime25 = load_suite(find_suite("aime25"), data_dir());
  std::vector<std::string> golds;
  for (const auto& p : aime25.problems) golds.push_back(*p.gold);
  EXPECT_EQ(golds.front(), "70");
  EXPECT_EQ(golds.back(), "240");
  for (const auto& p : aime25.problems) {
    EXPECT_EQ(p.question.find('\x0c'), std::string::npos) << "form-feed damage: " << p.key;
    EXPECT_EQ(p.question.find("Please reason step by step"), std::string::npos) << "suffix not stripped: " << p.key;
  }
  auto amc = load_suite(find_suite("amc23"), data_dir());
  EXPECT_EQ(*amc.problems[0].gold, "27");
  auto gsm = load_suite(find_suite("gsm8k"), data_dir());
  for (const auto& p : gsm.problems) EXPECT_EQ(p.gold->find(','), std::string::npos) << *p.gold;
  auto mbpp = load_suite(find_suite("mbpp"), data_dir());
  EXPECT_EQ(mbpp.problems.front().key, "mbpp-11");
  EXPECT_EQ(mbpp.problems.back().key, "mbpp-510");
  auto train = load_suite(find_suite("mbpp_train"), data_dir());
  EXPECT_EQ(train.problems.front().key, "mbpp-601");
  EXPECT_EQ(train.problems.back().key, "mbpp-974");
  EXPECT_TRUE(find_suite("mbpp_train").train_split && find_suite("arith_train").train_split);
  EXPECT_FALSE(find_suite("mbpp").train_split);
  auto gpqa = load_suite(find_suite("gpqa_diamond"), data_dir());
  for (const auto& p : gpqa.problems) ASSERT_EQ(p.meta["options"].size(), 4u);
}

TEST(Suites, LastBoxedHandlesNestingAndFbox) {
  EXPECT_EQ(last_boxed("so \\boxed{\\frac{1}{2}} and then \\boxed{3}"), "3");
  EXPECT_EQ(last_boxed("\\boxed{\\frac{a}{b^{2}}}"), "\\frac{a}{b^{2}}");
  EXPECT_EQ(last_boxed("\\fbox{7} then \\boxed{}"), "7");  // an empty box is no answer
  EXPECT_EQ(last_boxed("\\boxed{5} then \\boxed{unbalanced"), "5");
  EXPECT_FALSE(last_boxed("no box here").has_value());
}

TEST(Suites, MalformedRecordNamesFileLineAndField) {
  crucible::testing::TempDir dir;
  std::ofstream(dir.file("math.jsonl")) << R"({"problem":"1+1","answer":"2","subject":"x","level":1,"unique_id":"a"})"
                                        << "\n"
                                        << R"({"problem":"2+2","subject":"x","level":1,"unique_id":"b"})" << "\n";
  try {
    load_suite(find_suite("math500"), dir.path(), dir.file("math.jsonl"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("math.jsonl:2: field 'answer': missing"), std::string::npos) << e.what();
  }
  try {
    load_suite(find_suite("math500"), dir.file("nowhere"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("crucible data pull math500"), std::string::npos) << e.what();
  }
}

// What `crucible data pull aime25` fetches (math-ai/aime25, the same bytes as shared's aime25/test.jsonl) is read when
// the QwQ copy is absent: same keys and golds, the form-feed damage repaired.
TEST(Suites, Aime25HubCopyMatchesTheQwqCopy) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared/data not present";
  crucible::testing::TempDir dir;
  std::filesystem::create_directories(dir.file("aime25"));
  std::filesystem::copy_file(data_dir() + "/aime25/test.jsonl", dir.file("aime25/test.jsonl"));
  auto hub = load_suite(find_suite("aime25"), dir.path());
  auto qwq = load_suite(find_suite("aime25"), data_dir());
  EXPECT_NE(hub.path, qwq.path);
  ASSERT_EQ(hub.problems.size(), qwq.problems.size());
  for (size_t i = 0; i < hub.problems.size(); ++i) {
    EXPECT_EQ(hub.problems[i].key, qwq.problems[i].key);
    EXPECT_EQ(hub.problems[i].gold, qwq.problems[i].gold);
    EXPECT_EQ(hub.problems[i].question.find('\x0c'), std::string::npos);
  }
  for (size_t i : {18, 27}) EXPECT_NE(hub.problems[i].question.find("\\frac"), std::string::npos) << "repaired " << i;
  EXPECT_EQ(hub.sha256, "b4e273c02d3e7fe1b74b59eae768fc8230bfb0f79539890cb56f4361caac0331") << "the pinned hub hash";
  EXPECT_EQ(load_suite(find_suite("math500"), data_dir()).sha256,
            find_suite("math500").hub->files.at(0).sha256) << "the pinned hub hash";
}

TEST(Suites, EverySuiteSaysWhereItsDataComesFrom) {
  for (const auto& s : all_suites()) {
    SCOPED_TRACE(s.name);
    ASSERT_FALSE(s.layouts.empty());
    EXPECT_EQ(s.layouts.front().front(), s.default_file);
    if (!s.hub) {
      EXPECT_FALSE(s.hub_note.empty()) << "a suite that cannot be pulled says why";
      continue;
    }
    EXPECT_EQ(s.hub->revision.size(), 40u) << "a commit, so the bytes cannot move";
    bool read = false;  // some layout reads exactly the pulled files
    for (const auto& layout : s.layouts) {
      std::vector<std::string> pulled;
      for (const auto& f : s.hub->files) pulled.push_back(f.local);
      read |= layout == pulled;
    }
    EXPECT_TRUE(read);
  }
}
