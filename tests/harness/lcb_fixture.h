// LiveCodeBench official-release rows made in the test, encoded the way the release encodes private tests:
// base64(zlib(pickle.dumps(json.dumps(tests)))). The pickle is written as CPython's protocol 4 writes a str
// (PROTO, FRAME, SHORT_BINUNICODE or BINUNICODE, MEMOIZE, STOP); test_lcb_data checks Python reads it back.
#pragma once
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <fstream>
#include <stdexcept>
#include <string>

#include "core/base64.h"

namespace crucible::testing {

inline std::string pickle_str_protocol4(const std::string& s) {
  auto le = [](uint64_t v, int n) {
    std::string b;
    for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return b;
  };
  std::string body = s.size() < 256 ? std::string("\x8c") + le(s.size(), 1) : std::string("X") + le(s.size(), 4);
  body += s;
  body += "\x94.";
  return std::string("\x80\x04", 2) + "\x95" + le(body.size(), 8) + body;
}

inline std::string zlib_compress(const std::string& s) {
  uLongf n = compressBound(s.size());
  std::string out(n, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(s.data()), s.size(), 9) !=
      Z_OK)
    throw std::runtime_error("compress2 failed");
  out.resize(n);
  return out;
}

inline std::string lcb_private_blob(const nlohmann::json& tests) {
  return crucible::base64_encode(zlib_compress(pickle_str_protocol4(tests.dump())));
}

inline nlohmann::json stdin_test(const std::string& in, const std::string& out) {
  return {{"input", in}, {"output", out}, {"testtype", "stdin"}};
}

// One row of code_generation_lite's test*.jsonl.
inline nlohmann::json lcb_row(const std::string& id, const std::string& date, const nlohmann::json& public_tests,
                              const nlohmann::json& private_tests, const std::string& func_name = "",
                              const std::string& starter = "") {
  return {{"question_title", "title " + id},
          {"question_content", "Problem " + id + ": read two integers, print their sum."},
          {"platform", func_name.empty() ? "atcoder" : "leetcode"},
          {"question_id", id},
          {"contest_id", "c-" + id},
          {"contest_date", date},
          {"starter_code", starter},
          {"difficulty", "easy"},
          {"public_test_cases", public_tests.dump()},
          {"private_test_cases", lcb_private_blob(private_tests)},
          {"metadata", func_name.empty() ? std::string("{}") : nlohmann::json{{"func_name", func_name}}.dump()}};
}

inline void write_jsonl(const std::string& path, const std::vector<nlohmann::json>& rows) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const auto& r : rows) out << r.dump() << "\n";
}

}  // namespace crucible::testing
