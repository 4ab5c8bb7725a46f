#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "core/sha256.h"
#include "tests/support/test_support.h"

using namespace crucible;

TEST(Sha256, KnownVectors) {
  // FIPS 180-4 examples.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, StreamingEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 10000; ++i) data += static_cast<char>(i * 7 + 3);
  for (size_t chunk : {1u, 3u, 63u, 64u, 65u, 1000u}) {
    Sha256 h;
    for (size_t off = 0; off < data.size(); off += chunk) h.update(std::string_view(data).substr(off, chunk));
    EXPECT_EQ(h.hex_digest(), sha256_hex(data)) << "chunk " << chunk;
  }
}

TEST(Sha256, FileAndMissingFile) {
  crucible::testing::TempDir dir;
  std::ofstream(dir.file("a.txt")) << "abc";
  EXPECT_EQ(sha256_file_hex(dir.file("a.txt")), sha256_hex("abc"));
  try {
    sha256_file_hex(dir.file("missing"));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos);
    EXPECT_EQ(e.code(), ExitCode::bad_input);
  }
}
