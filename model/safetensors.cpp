#include "model/safetensors.h"

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace crucible::model {

int safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
  return 0;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* data, uint64_t size, const std::string& origin) {
  if (size < 8) throw InputError(origin, "header length", "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > size - 8)
    throw InputError(origin, "header length",
                     std::to_string(n) + " bytes runs past the end of the file (" + std::to_string(size) + " bytes)");
  if (n > 100'000'000) throw InputError(origin, "header length", "implausibly large: " + std::to_string(n));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(reinterpret_cast<const char*>(data) + 8, reinterpret_cast<const char*>(data) + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(origin, "header", std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(origin, "header", "expected a JSON object");
  SafetensorsHeader h;
  h.data_offset = 8 + n;
  const uint64_t data_size = size - h.data_offset;
  for (auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) throw InputError(origin, "__metadata__", "expected an object");
      for (auto& [k, mv] : v.items())
        if (mv.is_string()) h.metadata[k] = mv.get<std::string>();
      continue;
    }
    const std::string field = "tensor '" + name + "'";
    if (!v.is_object()) throw InputError(origin, field, "expected an object");
    SafetensorsEntry e;
    e.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) throw InputError(origin, field + ".dtype", "missing");
    e.dtype = dt->get<std::string>();
    const int esize = safetensors_dtype_size(e.dtype);
    if (esize == 0) throw InputError(origin, field + ".dtype", "unknown dtype '" + e.dtype + "'");
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) throw InputError(origin, field + ".shape", "missing (expected a list)");
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) throw InputError(origin, field + ".shape", "expected non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (1ull << 40) || (dim != 0 && numel > (1ull << 50) / dim))
        throw InputError(origin, field + ".shape", "implausibly large");
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw InputError(origin, field + ".data_offsets", "expected [begin, end]");
    e.begin = (*off)[0].get<uint64_t>();
    e.end = (*off)[1].get<uint64_t>();
    if (e.begin > e.end) throw InputError(origin, field + ".data_offsets", "begin after end");
    if (e.end > data_size)
      throw InputError(origin, field + ".data_offsets",
                       "end " + std::to_string(e.end) + " is past the data section (" + std::to_string(data_size) +
                           " bytes; truncated file?)");
    if (e.end - e.begin != numel * static_cast<uint64_t>(esize))
      throw InputError(origin, field + ".dtype",
                       "dtype " + e.dtype + " x shape needs " + std::to_string(numel * esize) + " bytes but the range holds " +
                           std::to_string(e.end - e.begin));
    h.entries.push_back(std::move(e));
  }
  std::vector<const SafetensorsEntry*> by_begin;
  for (const auto& e : h.entries) by_begin.push_back(&e);
  std::sort(by_begin.begin(), by_begin.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_begin.size(); ++i)
    if (by_begin[i]->begin < by_begin[i - 1]->end)
      throw InputError(origin, "tensor '" + by_begin[i]->name + "'.data_offsets",
                       "overlaps tensor '" + by_begin[i - 1]->name + "'");
  return h;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path, "(file)", std::string("cannot open: ") + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw InputError(path, "(file)", "cannot stat");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw InputError(path, "(file)", std::string("cannot map: ") + std::strerror(errno));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

void MappedFile::release_pages(const void* p, uint64_t n) {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t begin = (reinterpret_cast<uint64_t>(p) + page - 1) / page * page;
  const uint64_t end = (reinterpret_cast<uint64_t>(p) + n) / page * page;
  // Advice only: a failure costs memory, never correctness.
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsWriteEntry>& entries,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const SafetensorsWriteEntry*> sorted;
  for (const auto& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto* e : sorted) {
    h[e->name] = {{"dtype", e->dtype}, {"shape", e->shape}, {"data_offsets", {offset, offset + e->n_bytes}}};
    offset += e->n_bytes;
  }
  std::string header = h.dump();
  // The data section starts 8-byte aligned so readers can map tensors in place.
  while ((8 + header.size()) % 8 != 0) header.push_back(' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw RunError("cannot write " + path);
  uint64_t n = header.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.write(len, 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const auto* e : sorted) out.write(static_cast<const char*>(e->bytes), static_cast<std::streamsize>(e->n_bytes));
  if (!out) throw RunError("write failed: " + path);
}

}  // namespace crucible::model
