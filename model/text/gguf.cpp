#include "model/text/gguf.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "core/error.h"

namespace crucible::text {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS

enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9,
  kU64 = 10, kI64 = 11, kF64 = 12,
};

// Reads little-endian values from the mapping, every read checked against the end: a truncated or hostile header
// becomes an InputError that says which field was being read.
class Cursor {
 public:
  Cursor(const uint8_t* begin, size_t size, const std::string& path) : p_(begin), begin_(begin), end_(begin + size),
                                                                       path_(path) {}
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  template <typename T>
  T read(const std::string& field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  std::string read_string(const std::string& field) {
    uint64_t n = read<uint64_t>(field);
    need(n, field);
    std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
    p_ += n;
    return s;
  }
  void need(uint64_t n, const std::string& field) const {
    if (n > remaining())
      throw InputError(path_, field,
                       fmt::format("needs {} bytes at offset {} but the file ends after {} (truncated or corrupt GGUF)",
                                   n, offset(), remaining()));
  }

 private:
  const uint8_t* p_;
  const uint8_t* begin_;
  const uint8_t* end_;
  const std::string& path_;
};

size_t min_value_size(uint32_t type) {
  switch (type) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: case kString: return 8;  // a string is at least its length field
    default: return 0;
  }
}

nlohmann::json read_scalar(Cursor& c, uint32_t type, const std::string& field, const std::string& path) {
  switch (type) {
    case kU8: return c.read<uint8_t>(field);
    case kI8: return c.read<int8_t>(field);
    case kU16: return c.read<uint16_t>(field);
    case kI16: return c.read<int16_t>(field);
    case kU32: return c.read<uint32_t>(field);
    case kI32: return c.read<int32_t>(field);
    case kF32: return c.read<float>(field);
    case kBool: return c.read<uint8_t>(field) != 0;
    case kString: return c.read_string(field);
    case kU64: return c.read<uint64_t>(field);
    case kI64: return c.read<int64_t>(field);
    case kF64: return c.read<double>(field);
    default: throw InputError(path, field, fmt::format("unknown GGUF value type {}", type));
  }
}

nlohmann::json read_value(Cursor& c, uint32_t type, const std::string& field, const std::string& path) {
  if (type != kArray) return read_scalar(c, type, field, path);
  uint32_t elem_type = c.read<uint32_t>(field + " (array type)");
  uint64_t n = c.read<uint64_t>(field + " (array length)");
  if (elem_type == kArray) throw InputError(path, field, "nested arrays are not supported by GGUF readers");
  size_t min_size = min_value_size(elem_type);
  if (min_size == 0) throw InputError(path, field, fmt::format("unknown GGUF array element type {}", elem_type));
  // Refuse a length the rest of the file cannot hold before allocating anything for it.
  if (n > c.remaining() / min_size)
    throw InputError(path, field, fmt::format("array of {} elements cannot fit in the {} bytes left", n, c.remaining()));
  nlohmann::json arr = nlohmann::json::array();
  arr.get_ref<nlohmann::json::array_t&>().reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) arr.push_back(read_scalar(c, elem_type, field, path));
  return arr;
}

}  // namespace

const char* ggml_type_name(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32: return "F32";
    case GgmlType::F16: return "F16";
    case GgmlType::Q4_0: return "Q4_0";
    case GgmlType::Q4_1: return "Q4_1";
    case GgmlType::Q5_0: return "Q5_0";
    case GgmlType::Q5_1: return "Q5_1";
    case GgmlType::Q8_0: return "Q8_0";
    case GgmlType::Q8_1: return "Q8_1";
    case GgmlType::Q2_K: return "Q2_K";
    case GgmlType::Q3_K: return "Q3_K";
    case GgmlType::Q4_K: return "Q4_K";
    case GgmlType::Q5_K: return "Q5_K";
    case GgmlType::Q6_K: return "Q6_K";
    case GgmlType::Q8_K: return "Q8_K";
    case GgmlType::IQ4_NL: return "IQ4_NL";
    case GgmlType::I8: return "I8";
    case GgmlType::I16: return "I16";
    case GgmlType::I32: return "I32";
    case GgmlType::I64: return "I64";
    case GgmlType::F64: return "F64";
    case GgmlType::BF16: return "BF16";
  }
  return "unknown";
}

std::optional<std::pair<uint64_t, uint64_t>> ggml_block_layout(uint32_t type) {
  // {bytes per block, elements per block}, as ggml's type traits define them.
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32: return std::pair<uint64_t, uint64_t>{4, 1};
    case GgmlType::F16: return std::pair<uint64_t, uint64_t>{2, 1};
    case GgmlType::BF16: return std::pair<uint64_t, uint64_t>{2, 1};
    case GgmlType::Q4_0: return std::pair<uint64_t, uint64_t>{18, 32};
    case GgmlType::Q4_1: return std::pair<uint64_t, uint64_t>{20, 32};
    case GgmlType::Q5_0: return std::pair<uint64_t, uint64_t>{22, 32};
    case GgmlType::Q5_1: return std::pair<uint64_t, uint64_t>{24, 32};
    case GgmlType::Q8_0: return std::pair<uint64_t, uint64_t>{34, 32};
    case GgmlType::Q8_1: return std::pair<uint64_t, uint64_t>{36, 32};
    case GgmlType::Q2_K: return std::pair<uint64_t, uint64_t>{84, 256};
    case GgmlType::Q3_K: return std::pair<uint64_t, uint64_t>{110, 256};
    case GgmlType::Q4_K: return std::pair<uint64_t, uint64_t>{144, 256};
    case GgmlType::Q5_K: return std::pair<uint64_t, uint64_t>{176, 256};
    case GgmlType::Q6_K: return std::pair<uint64_t, uint64_t>{210, 256};
    case GgmlType::Q8_K: return std::pair<uint64_t, uint64_t>{292, 256};
    case GgmlType::IQ4_NL: return std::pair<uint64_t, uint64_t>{18, 32};
    case GgmlType::I8: return std::pair<uint64_t, uint64_t>{1, 1};
    case GgmlType::I16: return std::pair<uint64_t, uint64_t>{2, 1};
    case GgmlType::I32: return std::pair<uint64_t, uint64_t>{4, 1};
    case GgmlType::I64: return std::pair<uint64_t, uint64_t>{8, 1};
    case GgmlType::F64: return std::pair<uint64_t, uint64_t>{8, 1};
  }
  return std::nullopt;
}

uint64_t GgufTensorInfo::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

struct GgufFile::Impl {
  std::string path;
  int fd = -1;
  const uint8_t* map = nullptr;
  size_t size = 0;
  uint32_t version = 0;
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<GgufTensorInfo> tensors;
  std::unordered_map<std::string, size_t> by_name;

  ~Impl() {
    if (map) munmap(const_cast<uint8_t*>(map), size);
    if (fd >= 0) close(fd);
  }
};

GgufFile::GgufFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile GgufFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (impl->fd < 0) throw InputError(path, "", std::string("cannot open GGUF file: ") + std::strerror(errno));
  struct stat st{};
  if (fstat(impl->fd, &st) != 0) throw InputError(path, "", std::string("cannot stat: ") + std::strerror(errno));
  impl->size = static_cast<size_t>(st.st_size);
  if (impl->size < 24) throw InputError(path, "header", fmt::format("only {} bytes: not a GGUF file", impl->size));
  void* m = mmap(nullptr, impl->size, PROT_READ, MAP_PRIVATE, impl->fd, 0);
  if (m == MAP_FAILED) throw InputError(path, "", std::string("cannot map file: ") + std::strerror(errno));
  impl->map = static_cast<const uint8_t*>(m);

  Cursor c(impl->map, impl->size, impl->path);
  if (c.read<uint32_t>("magic") != kMagic) throw InputError(path, "magic", "not a GGUF file (expected 'GGUF')");
  impl->version = c.read<uint32_t>("version");
  if (impl->version < 2 || impl->version > 3)
    throw InputError(path, "version", fmt::format("GGUF version {} is not supported (2 and 3 are)", impl->version));
  uint64_t n_tensors = c.read<uint64_t>("tensor_count");
  uint64_t n_kv = c.read<uint64_t>("metadata_kv_count");
  // Each key/value needs at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8+4+8+4+8.
  if (n_kv > c.remaining() / 13) throw InputError(path, "metadata_kv_count", fmt::format("{} is impossible for the file size", n_kv));
  if (n_tensors > c.remaining() / 32) throw InputError(path, "tensor_count", fmt::format("{} is impossible for the file size", n_tensors));

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string(fmt::format("metadata[{}].key", i));
    uint32_t type = c.read<uint32_t>(key + " (type)");
    if (impl->metadata.contains(key)) throw InputError(path, key, "duplicate metadata key");
    impl->metadata[key] = read_value(c, type, key, path);
  }

  uint64_t alignment = 32;
  if (auto it = impl->metadata.find("general.alignment"); it != impl->metadata.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 || (it->get<uint64_t>() & (it->get<uint64_t>() - 1)))
      throw InputError(path, "general.alignment", "must be a power of two");
    alignment = it->get<uint64_t>();
  }

  impl->tensors.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    std::string field = fmt::format("tensor_info[{}]", i);
    t.name = c.read_string(field + ".name");
    field = "tensor '" + t.name + "'";
    uint32_t n_dims = c.read<uint32_t>(field + ".n_dims");
    if (n_dims == 0 || n_dims > kMaxDims) throw InputError(path, field + ".n_dims", fmt::format("{} (1 to 4 allowed)", n_dims));
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = c.read<uint64_t>(field + ".dims");
      if (dim == 0 || dim > (uint64_t(1) << 40)) throw InputError(path, field + ".dims", fmt::format("bad dimension {}", dim));
      t.dims.push_back(dim);
    }
    t.type = c.read<uint32_t>(field + ".type");
    t.offset = c.read<uint64_t>(field + ".offset");
    if (impl->by_name.count(t.name)) throw InputError(path, field, "duplicate tensor name");
    impl->by_name[t.name] = impl->tensors.size();
    impl->tensors.push_back(std::move(t));
  }
  uint64_t data_start = (c.offset() + alignment - 1) / alignment * alignment;

  for (auto& t : impl->tensors) {
    std::string field = "tensor '" + t.name + "'";
    auto layout = ggml_block_layout(t.type);
    if (!layout) throw InputError(path, field + ".type", fmt::format("unknown ggml type {}", t.type));
    auto [block_bytes, block_elems] = *layout;
    if (t.dims[0] % block_elems != 0)
      throw InputError(path, field + ".dims",
                       fmt::format("row length {} is not a multiple of the {} block size {}", t.dims[0],
                                   ggml_type_name(t.type), block_elems));
    // Overflow-safe size: the dims are each < 2^40, so check the product step by step.
    uint64_t n_elems = 1;
    for (uint64_t d : t.dims) {
      if (n_elems > std::numeric_limits<uint64_t>::max() / d) throw InputError(path, field + ".dims", "element count overflows");
      n_elems *= d;
    }
    t.n_bytes = n_elems / block_elems * block_bytes;
    if (t.offset % alignment != 0)
      throw InputError(path, field + ".offset", fmt::format("{} is not aligned to {}", t.offset, alignment));
    if (t.offset > impl->size || data_start > impl->size - t.offset || t.n_bytes > impl->size - data_start - t.offset)
      throw InputError(path, field + ".offset",
                       fmt::format("data [{}, +{}) runs past the end of the file ({} bytes): truncated?",
                                   data_start + t.offset, t.n_bytes, impl->size));
    t.offset += data_start;
  }
  return GgufFile(std::move(impl));
}

const std::string& GgufFile::path() const { return impl_->path; }
uint32_t GgufFile::version() const { return impl_->version; }
const nlohmann::json& GgufFile::metadata() const { return impl_->metadata; }
const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return impl_->tensors; }

std::optional<nlohmann::json> GgufFile::get(const std::string& key) const {
  auto it = impl_->metadata.find(key);
  if (it == impl_->metadata.end()) return std::nullopt;
  return *it;
}

std::string GgufFile::require_string(const std::string& key) const {
  auto v = get(key);
  if (!v) throw InputError(impl_->path, key, "missing");
  if (!v->is_string()) throw InputError(impl_->path, key, std::string("expected a string, got ") + v->type_name());
  return v->get<std::string>();
}

int64_t GgufFile::require_int(const std::string& key) const {
  auto v = get(key);
  if (!v) throw InputError(impl_->path, key, "missing");
  if (!v->is_number_integer()) throw InputError(impl_->path, key, std::string("expected an integer, got ") + v->type_name());
  return v->get<int64_t>();
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? nullptr : &impl_->tensors[it->second];
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& t) const { return impl_->map + t.offset; }

std::optional<std::string> GgufFile::chat_template() const {
  auto v = get("tokenizer.chat_template");
  if (!v) return std::nullopt;
  if (!v->is_string()) throw InputError(impl_->path, "tokenizer.chat_template", "expected a string");
  return v->get<std::string>();
}

VocabSpec GgufFile::vocab() const {
  const std::string& path = impl_->path;
  VocabSpec spec;
  spec.source = path;
  spec.model = require_string("tokenizer.ggml.model");
  if (auto pre = get("tokenizer.ggml.pre"); pre && pre->is_string()) spec.pre = pre->get<std::string>();
  auto array_of = [&](const std::string& key, auto& out, auto check) {
    auto v = get(key);
    if (!v) return false;
    if (!v->is_array()) throw InputError(path, key, "expected an array");
    out.reserve(v->size());
    for (const auto& e : *v) {
      if (!check(e)) throw InputError(path, key, std::string("unexpected element type ") + e.type_name());
      out.push_back(e.get<typename std::decay_t<decltype(out)>::value_type>());
    }
    return true;
  };
  if (!array_of("tokenizer.ggml.tokens", spec.tokens, [](const nlohmann::json& e) { return e.is_string(); }))
    throw InputError(path, "tokenizer.ggml.tokens", "missing");
  array_of("tokenizer.ggml.scores", spec.scores, [](const nlohmann::json& e) { return e.is_number(); });
  array_of("tokenizer.ggml.token_type", spec.token_types, [](const nlohmann::json& e) { return e.is_number_integer(); });
  array_of("tokenizer.ggml.merges", spec.merges, [](const nlohmann::json& e) { return e.is_string(); });
  const auto n = static_cast<int64_t>(spec.tokens.size());
  if (!spec.scores.empty() && static_cast<int64_t>(spec.scores.size()) != n)
    throw InputError(path, "tokenizer.ggml.scores", fmt::format("{} scores for {} tokens", spec.scores.size(), n));
  if (!spec.token_types.empty() && static_cast<int64_t>(spec.token_types.size()) != n)
    throw InputError(path, "tokenizer.ggml.token_type", fmt::format("{} types for {} tokens", spec.token_types.size(), n));
  auto id = [&](const std::string& key) -> std::optional<TokenId> {
    auto v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) throw InputError(path, key, "expected an integer");
    int64_t x = v->get<int64_t>();
    if (x < 0 || x >= n) throw InputError(path, key, fmt::format("token id {} outside the vocabulary of {}", x, n));
    return static_cast<TokenId>(x);
  };
  spec.bos_id = id("tokenizer.ggml.bos_token_id");
  spec.eos_id = id("tokenizer.ggml.eos_token_id");
  spec.unk_id = id("tokenizer.ggml.unknown_token_id");
  spec.pad_id = id("tokenizer.ggml.padding_token_id");
  spec.eot_id = id("tokenizer.ggml.eot_token_id");
  if (auto v = get("tokenizer.ggml.add_bos_token"); v && v->is_boolean()) spec.add_bos = v->get<bool>();
  if (auto v = get("tokenizer.ggml.add_eos_token"); v && v->is_boolean()) spec.add_eos = v->get<bool>();
  return spec;
}

}  // namespace crucible::text
