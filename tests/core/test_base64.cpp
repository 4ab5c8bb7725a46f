#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "core/base64.h"
#include "core/error.h"

namespace crucible {
namespace {

std::string error_of(const std::string& text) {
  try {
    base64_decode(text, "w", "f");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Base64, KnownVectorsAndStrictDecoding) {
  // RFC 4648 section 10's vectors, both ways.
  const std::pair<std::string, std::string> vectors[] = {{"", ""},         {"f", "Zg=="},     {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64_encode(bytes), text);
    EXPECT_EQ(base64_decode(text, "w", "f"), bytes);
  }
  EXPECT_EQ(base64_decode("aGVs\nbG8h", "w", "f"), "hello!") << "whitespace is skipped";
  EXPECT_NE(error_of("aGVsbG8").find("w: field 'f': not base64"), std::string::npos);
  EXPECT_NE(error_of("aGV*bG8=").find("byte 0x2a at offset 3"), std::string::npos);
  EXPECT_NE(error_of("aG=sbG8=").find("not base64"), std::string::npos);
}

TEST(Base64, EveryByteAndLengthRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (size_t n = 0; n <= all.size(); n += (n < 8 ? 1 : 37)) {
    const std::string bytes = all.substr(all.size() - n);
    const std::string text = base64_encode(bytes);
    EXPECT_EQ(text.size(), (n + 2) / 3 * 4);
    EXPECT_EQ(base64_decode(text, "w", "f"), bytes) << n;
  }
}

}  // namespace
}  // namespace crucible
