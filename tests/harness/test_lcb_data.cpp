// LiveCodeBench's official release format: the private-test decoder (base64 -> zlib -> a strict pickle reader),
// cross-checked against CPython's own pickle/zlib/base64, and the loader reading release files with the v5 window.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/json_io.h"
#include "core/sha256.h"
#include "harness/lcb_data.h"
#include "harness/suite.h"
#include "tests/harness/lcb_fixture.h"
#include "tests/support/test_support.h"

using namespace crucible;
using namespace crucible::harness;
using crucible::testing::lcb_row;
using crucible::testing::stdin_test;
using Json = nlohmann::json;

namespace {

std::string python() {
  if (const char* e = std::getenv("CRUCIBLE_PYTHON"); e && *e) return e;
#ifdef CRUCIBLE_TEST_PYTHON
  return CRUCIBLE_TEST_PYTHON;
#else
  return "";
#endif
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

// Five release files under <dir>/livecodebench/code_generation_lite, rows spread over test4 and test5.
void write_release(const std::string& dir, const std::vector<Json>& test4, const std::vector<Json>& test5) {
  std::string base = dir + "/livecodebench/code_generation_lite";
  std::filesystem::create_directories(base);
  for (const char* f : {"test.jsonl", "test2.jsonl", "test3.jsonl"}) crucible::testing::write_jsonl(base + "/" + f, {});
  crucible::testing::write_jsonl(base + "/test4.jsonl", test4);
  crucible::testing::write_jsonl(base + "/test5.jsonl", test5);
}

}  // namespace

TEST(LcbData, DecodesTheFixtureEncoding) {
  Json tests = Json::array({stdin_test("1 2\n", "3\n"), stdin_test(std::string(70000, '7') + "\n", "x\n")});
  auto decoded = decode_lcb_private_tests(crucible::testing::lcb_private_blob(tests), "row:1");
  EXPECT_EQ(decoded, tests);
  // Plain JSON text is taken as it is (lcb_runner tries json.loads first).
  EXPECT_EQ(decode_lcb_private_tests(tests.dump(), "row:1"), tests);
  EXPECT_EQ(decode_lcb_private_tests("[]", "row:1"), Json::array());
}

TEST(LcbData, ZlibRejectsCorruptAndTruncatedStreams) {
  std::string z = crucible::testing::zlib_compress(std::string(5000, 'a') + "tail");
  EXPECT_EQ(zlib_inflate(z, "w", "f"), std::string(5000, 'a') + "tail");
  EXPECT_NE(error_of([&] { zlib_inflate(z.substr(0, z.size() - 6), "w", "f"); }).find("truncated"), std::string::npos);
  std::string bad = z;
  bad[0] = '\x01';  // not deflate
  EXPECT_NE(error_of([&] { zlib_inflate(bad, "w", "f"); }).find("not a valid zlib stream"), std::string::npos);
  EXPECT_NE(error_of([&] { zlib_inflate(z + "junk", "w", "f"); }).find("4 bytes after the end"), std::string::npos);
  EXPECT_NE(error_of([&] { zlib_inflate(z, "w", "f", 100); }).find("inflates past 100 bytes"), std::string::npos);
}

TEST(LcbData, PickleReaderAcceptsAStrAndNothingElse) {
  EXPECT_EQ(unpickle_str(crucible::testing::pickle_str_protocol4("héllo"), "w", "f"), "héllo");
  // protocol 2/3 shape: PROTO, BINUNICODE, BINPUT, STOP
  EXPECT_EQ(unpickle_str(std::string("\x80\x03X\x02\x00\x00\x00hiq\x00.", 12), "w", "f"), "hi");
  // BINUNICODE8 (protocol 4 for str past 4 GiB; small here)
  EXPECT_EQ(unpickle_str(std::string("\x80\x04\x8d\x01\x00\x00\x00\x00\x00\x00\x00z\x94.", 14), "w", "f"), "z");
  // a list ([] -> EMPTY_LIST), an int, protocol 0 text, two strings, trailing bytes, truncation, no STOP
  EXPECT_NE(error_of([] { unpickle_str(std::string("\x80\x04]\x94.", 5), "w", "f"); })
                .find("pickle opcode 0x5d at offset 2 is not supported"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle_str(std::string("\x80\x04K\x05.", 5), "w", "f"); }).find("opcode 0x4b"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle_str("Vhi\np0\n.", "w", "f"); }).find("opcode 0x56 at offset 0"), std::string::npos);
  EXPECT_NE(error_of([] { unpickle_str(std::string("\x80\x04\x8c\x01" "a\x8c\x01" "b.", 9), "w", "f"); })
                .find("holds 2 values"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle_str(std::string("\x80\x04\x8c\x01" "a.xx", 8), "w", "f"); }).find("2 bytes after"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle_str(std::string("\x80\x04X\xff\x00\x00\x00" "abc", 10), "w", "f"); })
                .find("truncated in a string"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle_str(std::string("\x80\x04\x8c\x01" "a", 5), "w", "f"); }).find("truncated"),
            std::string::npos);
  EXPECT_NE(error_of([] { unpickle_str(std::string("\x80\x09\x8c\x01" "a.", 6), "w", "f"); }).find("PROTO 9"),
            std::string::npos);
  // The whole chain names the row and the field.
  std::string list_blob = crucible::base64_encode(crucible::testing::zlib_compress(std::string("\x80\x04]\x94.", 5)));
  EXPECT_NE(error_of([&] { decode_lcb_private_tests(list_blob, "test5.jsonl:7"); })
                .find("test5.jsonl:7: field 'private_test_cases': pickle opcode 0x5d"),
            std::string::npos);
  std::string not_json = crucible::base64_encode(
      crucible::testing::zlib_compress(crucible::testing::pickle_str_protocol4("not json")));
  EXPECT_NE(error_of([&] { decode_lcb_private_tests(not_json, "r"); }).find("not JSON"), std::string::npos);
  std::string object = crucible::base64_encode(
      crucible::testing::zlib_compress(crucible::testing::pickle_str_protocol4("{\"a\": 1}")));
  EXPECT_NE(error_of([&] { decode_lcb_private_tests(object, "r"); }).find("a JSON object, not a list"),
            std::string::npos);
}

// CPython as the oracle: it encodes real blobs (every protocol that can pickle a str in binary, a >64 KiB str that
// protocol 4+ writes outside a frame, non-ASCII text), and it decodes the fixture's blob.
TEST(LcbData, MatchesCPythonPickleZlibBase64) {
  std::string py = python();
  if (py.empty() || !std::filesystem::exists(py)) GTEST_SKIP() << "no CRUCIBLE_PYTHON oracle (" << py << ")";
  const char* script = R"PY(
import base64, json, pickle, sys, zlib
tests = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"},
         {"input": "[1, 2]\n\"é✓\"", "output": "\"x\"", "testtype": "functional"},
         {"input": "9" * 100000 + "\n", "output": "ok\n", "testtype": "stdin"}]
for proto in (2, 3, 4, 5):
    for subset in (tests[:2], tests):
        text = json.dumps(subset)
        blob = base64.b64encode(zlib.compress(pickle.dumps(text, protocol=proto))).decode()
        print(json.dumps({"proto": proto, "blob": blob, "json": text}))
mine = sys.stdin.read()
print(json.dumps({"roundtrip": json.loads(pickle.loads(zlib.decompress(base64.b64decode(mine))))}))
)PY";
  Json fixture_tests = Json::array({stdin_test("4 5\n", "9\n"), stdin_test("é\n", "✓\n")});
  auto r = crucible::testing::run_command({py, "-c", script}, crucible::testing::lcb_private_blob(fixture_tests));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int checked = 0;
  while (std::getline(lines, line)) {
    Json row = Json::parse(line);
    if (row.contains("roundtrip")) {
      EXPECT_EQ(row["roundtrip"], fixture_tests) << "CPython reads the fixture's encoding back";
      continue;
    }
    SCOPED_TRACE("protocol " + std::to_string(row["proto"].get<int>()));
    auto decoded = decode_lcb_private_tests(row["blob"].get<std::string>(), "oracle");
    EXPECT_EQ(decoded, Json::parse(row["json"].get<std::string>()));
    // The str itself is byte-identical to what Python pickled.
    std::string text = unpickle_str(zlib_inflate(base64_decode(row["blob"].get<std::string>(), "o", "f"), "o", "f"), "o", "f");
    EXPECT_EQ(text, row["json"].get<std::string>());
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

TEST(LcbData, LoaderReadsTheReleaseWithTheV5Window) {
  crucible::testing::TempDir dir;
  Json pub = Json::array({stdin_test("1 2\n", "3\n")});
  Json priv = Json::array({stdin_test("10 20\n", "30\n"), stdin_test("-1 1\n", "0\n")});
  Json fn_pub = Json::array({{{"input", "[1, 2]"}, {"output", "3"}, {"testtype", "functional"}}});
  write_release(dir.path(),
                {lcb_row("abc364_a", "2024-07-31T23:59:59", pub, priv),  // before the window
                 lcb_row("abc365_a", "2024-08-01T00:00:00", pub, priv)},
                {lcb_row("3517", "2025-01-31T00:00:00", fn_pub, Json::array(), "addTwo",
                         "class Solution:\n    def addTwo(self, a: int, b: int) -> int:\n        "),
                 lcb_row("abc390_a", "2025-02-01T00:00:00", pub, priv)});  // after it
  // The derived public file is there too; the release wins.
  crucible::testing::write_jsonl(dir.path() + "/livecodebench/lcb_v5_2408_2501_public.jsonl",
                                 {{{"question_id", "derived"}, {"question_content", "q"}, {"contest_date", "2024-09-01"},
                                   {"public_test_cases", pub}}});
  auto loaded = load_suite(find_suite("livecodebench"), dir.path());
  ASSERT_EQ(loaded.problems.size(), 2u);
  EXPECT_NE(loaded.path.find("code_generation_lite/test.jsonl;"), std::string::npos) << loaded.path;
  EXPECT_NE(loaded.path.find("test5.jsonl"), std::string::npos);
  const Problem& a = loaded.problems[0];
  EXPECT_EQ(a.key, "abc365_a");
  EXPECT_EQ(a.meta["tests"].size(), 3u) << "public + private";
  EXPECT_EQ(a.meta["tests"][2]["input"], "-1 1\n");
  EXPECT_EQ(a.meta["n_private_tests"], 2);
  EXPECT_EQ(a.meta["platform"], "atcoder");
  EXPECT_FALSE(a.meta.contains("fn_name"));
  const Problem& f = loaded.problems[1];
  EXPECT_EQ(f.key, "3517");
  EXPECT_EQ(f.meta["fn_name"], "addTwo");
  EXPECT_EQ(f.meta["tests"].size(), 1u);
  EXPECT_EQ(f.idx, 2) << "idx counts records across the files";

  // The hash covers every file's bytes in order.
  Sha256 h;
  for (const auto& part : {"test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl"})
    h.update(read_text_file(dir.path() + "/livecodebench/code_generation_lite/" + part));
  EXPECT_EQ(loaded.sha256, h.hex_digest());
  // Loading by the stored path (regrade) reads the same files.
  auto again = load_suite(find_suite("livecodebench"), "", loaded.path);
  EXPECT_EQ(again.sha256, loaded.sha256);
  EXPECT_EQ(again.problems.size(), 2u);

  // Without the release, the derived public file is read.
  std::filesystem::remove(dir.path() + "/livecodebench/code_generation_lite/test3.jsonl");
  auto derived = load_suite(find_suite("livecodebench"), dir.path());
  ASSERT_EQ(derived.problems.size(), 1u);
  EXPECT_EQ(derived.problems[0].key, "derived");
  EXPECT_EQ(derived.problems[0].meta["n_private_tests"], 0);
}

TEST(LcbData, BadReleaseRowsNameFileLineAndField) {
  crucible::testing::TempDir dir;
  Json pub = Json::array({stdin_test("1 2\n", "3\n")});
  Json row = lcb_row("abc365_a", "2024-08-03T00:00:00", pub, pub);
  row["private_test_cases"] = crucible::base64_encode(crucible::testing::zlib_compress(std::string("\x80\x04]\x94.", 5)));
  write_release(dir.path(), {lcb_row("abc365_b", "2024-08-03T00:00:00", pub, pub)}, {row});
  std::string e = error_of([&] { load_suite(find_suite("livecodebench"), dir.path()); });
  EXPECT_NE(e.find("test5.jsonl:1: field 'private_test_cases': pickle opcode 0x5d"), std::string::npos) << e;
  row = lcb_row("abc365_a", "2024-08-03T00:00:00", pub, pub);
  row["public_test_cases"] = "[{\"input\": \"1\"}";
  write_release(dir.path(), {}, {row});
  e = error_of([&] { load_suite(find_suite("livecodebench"), dir.path()); });
  EXPECT_NE(e.find("test5.jsonl:1: field 'public_test_cases': expected JSON text"), std::string::npos) << e;
  row = lcb_row("abc365_a", "2024-08-03T00:00:00", Json::array({{{"input", "1"}, {"output", "2"}, {"testtype", "x"}}}), pub);
  write_release(dir.path(), {}, {row});
  e = error_of([&] { load_suite(find_suite("livecodebench"), dir.path()); });
  EXPECT_NE(e.find("testtype 'x'"), std::string::npos) << e;
}
