#include "harness/logprob_pack.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/error.h"

namespace crucible::harness {
namespace {

static_assert(std::endian::native == std::endian::little, "the packed format is little-endian");
constexpr uint8_t kVersion = 1;

template <typename T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

template <typename T>
T get(std::string_view in, size_t& at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof(T));
  at += sizeof(T);
  return v;
}

}  // namespace

std::string pack_logprobs(const std::vector<TokenLogprob>& logprobs) {
  size_t n = 0;
  for (const auto& lp : logprobs) n = std::max(n, lp.top.size());
  n = std::min<size_t>(n, 255);
  std::string out;
  out.reserve(2 + logprobs.size() * (12 + 8 * n));
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(n));
  for (const auto& lp : logprobs) {
    put<int32_t>(out, lp.token_id);
    put<float>(out, static_cast<float>(lp.logprob));
    put<float>(out, lp.sampling_logprob ? static_cast<float>(*lp.sampling_logprob) : NAN);
    for (size_t i = 0; i < n; ++i) {
      put<int32_t>(out, i < lp.top.size() ? lp.top[i].token_id : -1);
      put<float>(out, i < lp.top.size() ? static_cast<float>(lp.top[i].logprob) : 0.0f);
    }
  }
  return out;
}

std::vector<TokenLogprob> unpack_logprobs(std::string_view in, const std::string& where) {
  if (in.size() < 2 || static_cast<uint8_t>(in[0]) != kVersion)
    throw InputError(where, "logprobs", "not a packed logprob record (version " + std::to_string(kVersion) + ")");
  const size_t n = static_cast<uint8_t>(in[1]);
  const size_t per_token = 12 + 8 * n;
  if ((in.size() - 2) % per_token != 0)
    throw InputError(where, "logprobs", "truncated record (" + std::to_string(in.size()) + " bytes)");
  std::vector<TokenLogprob> out((in.size() - 2) / per_token);
  size_t at = 2;
  for (auto& lp : out) {
    lp.token_id = get<int32_t>(in, at);
    lp.logprob = get<float>(in, at);
    const float s = get<float>(in, at);
    if (!std::isnan(s)) lp.sampling_logprob = s;
    for (size_t i = 0; i < n; ++i) {
      TopLogprob t;
      t.token_id = get<int32_t>(in, at);
      t.logprob = get<float>(in, at);
      if (t.token_id >= 0 || t.logprob != 0) lp.top.push_back(t);
    }
  }
  return out;
}

}  // namespace crucible::harness
