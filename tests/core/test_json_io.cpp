#include <gtest/gtest.h>

#include <sstream>

#include "core/error.h"
#include "core/json_io.h"
#include "tests/support/test_support.h"

using namespace crucible;

TEST(JsonIo, JsonlReadsObjectsAndSkipsBlankLines) {
  std::istringstream in("{\"a\":1}\n\n  \n{\"a\":2}\r\n");
  std::vector<int> seen;
  std::vector<std::string> wheres;
  for_each_jsonl(in, "x.jsonl", [&](const Json& j, const std::string& where) {
    seen.push_back(j["a"]);
    wheres.push_back(where);
  });
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  EXPECT_EQ(wheres, (std::vector<std::string>{"x.jsonl:1", "x.jsonl:4"}));
}

TEST(JsonIo, BadLineNamesFileAndLine) {
  std::istringstream in("{\"a\":1}\n{oops\n");
  try {
    for_each_jsonl(in, "data/x.jsonl", [](const Json&, const std::string&) {});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("data/x.jsonl:2"), std::string::npos) << e.what();
  }
  std::istringstream arr("[1,2]\n");
  EXPECT_THROW(for_each_jsonl(arr, "y", [](const Json&, const std::string&) {}), InputError);
}

TEST(JsonIo, FieldAccessNamesTheField) {
  Json j = {{"answer", 5}, {"name", "x"}};
  EXPECT_EQ(require_string(j, "name", "f:1"), "x");
  EXPECT_EQ(require_int(j, "answer", "f:1"), 5);
  try {
    require_string(j, "answer", "f:3");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "f:3: field 'answer': expected a string, got number");
  }
  try {
    require_field(j, "gold", "f:4");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "f:4: field 'gold': missing");
  }
  EXPECT_FALSE(optional_string(j, "missing", "f").has_value());
}

TEST(JsonIo, AtomicWriteReplacesWholeFile) {
  crucible::testing::TempDir dir;
  write_text_file_atomic(dir.file("a.json"), "{\"v\":1}");
  write_text_file_atomic(dir.file("a.json"), "{\"v\":2}");
  EXPECT_EQ(read_json_file(dir.file("a.json"))["v"], 2);
  EXPECT_THROW(read_json_file(dir.file("nope.json")), InputError);
}
