// Per-token logprobs in the store (eval --store-logprobs): a compact little-endian record, 12 + 8 N bytes a token
// (N top alternatives) instead of JSON's ~100. Token texts are not kept: ids map back through the model's tokenizer
// (a remote backend that reports text only stores id -1).
//
//   byte 0: format version (1)   byte 1: N
//   per token: int32 id, float32 logprob, float32 sampling logprob (NaN: unknown), N x (int32 id, float32 logprob)
//              (id -1, logprob 0 pad a token with fewer than N alternatives)
// float32 keeps ~7 significant digits: |error| < 1e-6 for logprobs above -10, well inside the 1e-4 the engine is
// held to against transformers.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "model/logprobs.h"

namespace crucible::harness {

std::string pack_logprobs(const std::vector<TokenLogprob>& logprobs);
// InputError naming `where` for a record that is not this format.
std::vector<TokenLogprob> unpack_logprobs(std::string_view packed, const std::string& where);

}  // namespace crucible::harness
