// Standard base64 (RFC 4648, '=' padding): binary inside JSON text — a run export's packed logprobs
// (reports/store.cpp), LiveCodeBench's compressed private tests (harness/lcb_data.cpp).
#pragma once
#include <string>
#include <string_view>

namespace crucible {

std::string base64_encode(std::string_view bytes);
// Whitespace is skipped. InputError(where, field) on any other character outside the alphabet, or a bad length.
std::string base64_decode(std::string_view text, const std::string& where, const std::string& field);

}  // namespace crucible
