// The safetensors container, torch-free: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and [begin, end) byte range in the data section, then the data. The parser checks everything against
// the bytes it was given (length past the end, ranges out of bounds or overlapping, a byte count that does not match
// dtype x shape) so a truncated or hostile file is an InputError naming the file and the field, never a crash; it is
// fuzzed in tests/model. Memory mapping keeps multi-GB checkpoints out of the heap until the weights are copied.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace crucible::model {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL"
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // relative to the start of the data section
};

struct SafetensorsHeader {
  uint64_t data_offset = 0;  // absolute offset of the data section
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
};

// Bytes per element of a safetensors dtype; 0 if unknown.
int safetensors_dtype_size(const std::string& dtype);

// Parses and checks the header of a file of `size` bytes whose first bytes are `data` (at least min(size, 8 + header
// length) bytes must be readable). `origin` names the file in errors.
SafetensorsHeader parse_safetensors_header(const uint8_t* data, uint64_t size, const std::string& origin);

// A read-only memory mapping of a whole file; InputError if it cannot be opened.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drops the whole pages inside [p, p + n) of a read-only mapping from this process's resident memory (they stay
  // in the page cache, and a later read faults them back in): a loader calls it once it has copied a tensor out, so
  // the file does not count a second time in the load's peak.
  static void release_pages(const void* p, uint64_t n);

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// Writes a safetensors file from raw tensors (dtype, shape, bytes), names sorted, header padded to 8 bytes.
struct SafetensorsWriteEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  const void* bytes;
  uint64_t n_bytes;
};
void write_safetensors(const std::string& path, const std::vector<SafetensorsWriteEntry>& entries,
                       const std::map<std::string, std::string>& metadata);

}  // namespace crucible::model
