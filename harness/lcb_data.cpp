#include "harness/lcb_data.h"

#include <fmt/format.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/base64.h"
#include "core/error.h"

namespace crucible::harness {

std::string zlib_inflate(std::string_view data, const std::string& where, const std::string& field,
                         size_t max_bytes) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) throw RunError(fmt::format("{}: zlib inflateInit failed", where));
  // zlib's avail_in/avail_out are 32-bit: feed and drain in chunks so inputs and outputs past 4 GiB still work.
  std::string out;
  std::vector<char> buffer(1 << 20);
  size_t fed = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && fed < data.size()) {
      size_t n = std::min<size_t>(data.size() - fed, 1u << 30);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + fed));
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    zs.next_out = reinterpret_cast<Bytef*>(buffer.data());
    zs.avail_out = static_cast<uInt>(buffer.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = buffer.size() - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string msg = zs.msg ? zs.msg : "";
      inflateEnd(&zs);
      if (rc == Z_BUF_ERROR) msg = "truncated stream";
      throw InputError(where, field, fmt::format("not a valid zlib stream ({}, code {})", msg, rc));
    }
    if (out.size() + produced > max_bytes) {
      inflateEnd(&zs);
      throw InputError(where, field, fmt::format("zlib stream inflates past {} bytes", max_bytes));
    }
    out.append(buffer.data(), produced);
    if (rc == Z_OK && produced == 0 && zs.avail_in == 0 && fed == data.size()) {
      inflateEnd(&zs);
      throw InputError(where, field, "not a valid zlib stream (truncated stream)");
    }
  }
  size_t trailing = zs.avail_in + (data.size() - fed);
  inflateEnd(&zs);
  if (trailing != 0) throw InputError(where, field, fmt::format("{} bytes after the end of the zlib stream", trailing));
  return out;
}

std::string unpickle_str(std::string_view data, const std::string& where, const std::string& field) {
  size_t pos = 0;
  auto need = [&](size_t n, const char* what) {
    if (data.size() - pos < n)
      throw InputError(where, field, fmt::format("pickle truncated in {} at offset {}", what, pos));
  };
  auto read_le = [&](size_t n, const char* what) {
    need(n, what);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(data[pos + i])) << (8 * i);
    pos += n;
    return v;
  };
  std::vector<std::string> stack;
  while (true) {
    need(1, "an opcode");
    size_t at = pos;
    uint8_t op = static_cast<uint8_t>(data[pos++]);
    switch (op) {
      case 0x80: {  // PROTO
        uint64_t version = read_le(1, "PROTO");
        if (at != 0 || version < 2 || version > 5)
          throw InputError(where, field, fmt::format("pickle PROTO {} at offset {} (expected 2-5, first)", version, at));
        break;
      }
      case 0x95: {  // FRAME: a length prefix for the opcodes that follow; nothing to do but check it fits
        uint64_t n = read_le(8, "FRAME");
        if (n > data.size() - pos)
          throw InputError(where, field, fmt::format("pickle FRAME of {} bytes at offset {} runs past the end", n, at));
        break;
      }
      case 0x8c:    // SHORT_BINUNICODE
      case 'X':     // BINUNICODE
      case 0x8d: {  // BINUNICODE8
        uint64_t n = read_le(op == 0x8c ? 1 : op == 'X' ? 4 : 8, "a string length");
        need(n, "a string");
        stack.emplace_back(data.substr(pos, n));
        pos += n;
        break;
      }
      case 0x94:  // MEMOIZE
        break;
      case 'q':  // BINPUT
        read_le(1, "BINPUT");
        break;
      case 'r':  // LONG_BINPUT
        read_le(4, "LONG_BINPUT");
        break;
      case '.': {  // STOP
        if (stack.size() != 1)
          throw InputError(where, field, fmt::format("pickle holds {} values, expected one str", stack.size()));
        if (pos != data.size())
          throw InputError(where, field, fmt::format("{} bytes after the pickle's STOP", data.size() - pos));
        return std::move(stack.back());
      }
      default:
        throw InputError(where, field,
                         fmt::format("pickle opcode 0x{:02x} at offset {} is not supported: only a pickled str is "
                                     "accepted (protocols 2-5)", op, at));
    }
  }
}

nlohmann::json decode_lcb_private_tests(const std::string& blob, const std::string& where) {
  const std::string field = "private_test_cases";
  auto plain = nlohmann::json::parse(blob, nullptr, /*allow_exceptions=*/false);
  if (plain.is_array()) return plain;
  std::string text = unpickle_str(zlib_inflate(base64_decode(blob, where, field), where, field), where, field);
  auto tests = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (tests.is_discarded()) throw InputError(where, field, "the decoded pickle str is not JSON");
  if (!tests.is_array())
    throw InputError(where, field, std::string("the decoded tests are a JSON ") + tests.type_name() + ", not a list");
  return tests;
}

}  // namespace crucible::harness
