// GGUF v2/v3 container reading, torch-free: header, metadata key/values, tensor directory, memory-mapped data.
// Dequantising tensors is the checkpoint loader's job (model/); the vocabulary and chat template are read here.
// Every offset and count is checked against the file size before use: a truncated or hostile file is an
// InputError naming the file and the field, never a crash.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/text/tokenizer.h"

namespace crucible::text {

// ggml tensor types (ggml.h numbering).
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9, Q2_K = 10, Q3_K = 11, Q4_K = 12,
  Q5_K = 13, Q6_K = 14, Q8_K = 15, IQ4_NL = 20, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};
const char* ggml_type_name(uint32_t type);
// Bytes of one block and elements per block; nullopt for a type we do not know.
std::optional<std::pair<uint64_t, uint64_t>> ggml_block_layout(uint32_t type);

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // as stored: dims[0] is the fastest-varying (row length)
  uint32_t type = 0;
  uint64_t offset = 0;         // absolute offset in the file
  uint64_t n_bytes = 0;
  uint64_t n_elements() const;
};

class GgufFile {
 public:
  static GgufFile open(const std::string& path);
  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& path() const;
  uint32_t version() const;
  // All key/values; arrays become JSON arrays, integers JSON integers, strings JSON strings.
  const nlohmann::json& metadata() const;
  std::optional<nlohmann::json> get(const std::string& key) const;
  std::string require_string(const std::string& key) const;  // InputError naming file and key
  int64_t require_int(const std::string& key) const;
  const std::vector<GgufTensorInfo>& tensors() const;
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  const uint8_t* tensor_data(const GgufTensorInfo& t) const;  // into the mapping; valid while the file lives

  VocabSpec vocab() const;                         // tokenizer.ggml.*; InputError if absent
  std::optional<std::string> chat_template() const;  // tokenizer.chat_template

 private:
  struct Impl;
  explicit GgufFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crucible::text
