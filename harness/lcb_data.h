// LiveCodeBench's official release format (`livecodebench/code_generation_lite`, files test.jsonl … test6.jsonl):
// public_test_cases is JSON text; private_test_cases is JSON text or, for most problems, base64(zlib(pickle(str)))
// where the pickled str is JSON text — lcb_runner decodes it with
// `json.loads(pickle.loads(zlib.decompress(base64.b64decode(s))))`.
//
// Unpickling untrusted bytes in Python runs arbitrary code; here the reader is strict instead of general: it accepts
// one str (protocols 2-5: PROTO, FRAME, SHORT_BINUNICODE / BINUNICODE / BINUNICODE8, MEMOIZE / BINPUT /
// LONG_BINPUT, STOP) and rejects every other opcode, trailing bytes and anything but exactly one str on the stack.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace crucible::harness {

// zlib stream (RFC 1950) -> bytes, at most `max_bytes` of output. InputError on a corrupt or truncated stream.
std::string zlib_inflate(std::string_view data, const std::string& where, const std::string& field,
                         size_t max_bytes = size_t(1) << 32);
// A pickled str -> its UTF-8 bytes. InputError naming the opcode and its offset for anything else.
std::string unpickle_str(std::string_view data, const std::string& where, const std::string& field);

// private_test_cases -> the list of tests: the text itself when it parses as a JSON list (lcb_runner tries that
// first too), else base64 -> zlib -> pickle -> JSON, which must be a list. InputError naming `where` otherwise.
nlohmann::json decode_lcb_private_tests(const std::string& blob, const std::string& where);

}  // namespace crucible::harness
