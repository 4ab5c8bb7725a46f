// SHA-256 (FIPS 180-4) for content hashes of models, datasets and prompts. Streaming, so multi-GB checkpoints are
// hashed without loading them whole.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace crucible {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> digest();   // finalises; the object must not be updated afterwards
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view data);
std::string sha256_file_hex(const std::string& path);  // InputError if the file cannot be read

}  // namespace crucible
