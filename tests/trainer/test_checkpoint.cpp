// trainer::save_checkpoint: the HF folder's files, the dtype written, step folders beside the final files, no
// temporary folder left, the tokenizer copied from an HF source. (That transformers loads a trained step folder and
// computes the same logits is checked end to end by the SFT oracle test.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "tests/support/test_support.h"
#include "tests/support/tiny_model.h"
#include "trainer/checkpoint.h"

namespace crucible::trainer {
namespace {
namespace fs = std::filesystem;

model::ModelConfig tiny() { return testing::tiny_model_config({}); }

TEST(Checkpoint, StepAndFinalFoldersLoadBackWithTheirTokenizer) {
  testing::TempDir dir;
  // A source folder with tokenizer files, as an HF start would have.
  fs::create_directories(dir.file("src"));
  std::ofstream(dir.file("src/tokenizer.json")) << "{}";
  std::ofstream(dir.file("src/tokenizer_config.json")) << R"({"chat_template": "{{ messages }}"})";
  torch::manual_seed(1);
  model::Transformer m(tiny());
  const std::string out = dir.file("out");
  auto s3 = save_checkpoint(m, step_dir(out, 3), {dir.file("src"), "bfloat16"});
  EXPECT_EQ(s3, out + "/step-3");
  // A leftover of an interrupted save, with nested content: removed first (std::filesystem::remove_all crashed here,
  // bound to libtorch.so's broken copy; core/fs.h).
  fs::create_directories(out + ".tmp/sub/deeper");
  std::ofstream(out + ".tmp/sub/deeper/stale.bin") << "stale";
  auto fin = save_checkpoint(m, out, {dir.file("src"), "float32"});
  EXPECT_FALSE(fs::exists(fs::path(fin) / "sub")) << "nothing of the leftover folder moved in";
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                        "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(fs::path(fin) / f)) << f;
    EXPECT_TRUE(fs::exists(fs::path(s3) / f)) << f;
  }
  EXPECT_TRUE(fs::is_directory(s3)) << "the final save leaves step folders alone";
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  auto cfg = nlohmann::json::parse(std::ifstream(s3 + "/config.json"));
  EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
  {  // the stored dtype, read from the file's header (the loader converts to float32 as it reads)
    model::MappedFile f(s3 + "/model.safetensors");
    auto header = model::parse_safetensors_header(f.data(), f.size(), s3 + "/model.safetensors");
    for (const auto& e : header.entries)
      if (e.name == "model.embed_tokens.weight") EXPECT_EQ(e.dtype, "BF16");
  }
  auto back = model::load_model(fin);
  for (auto& item : m->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), back->named_parameters()[item.key()])) << item.key();
  EXPECT_THROW(save_checkpoint(m, dir.file("x"), {"", "int8"}), InputError);
}

}  // namespace
}  // namespace crucible::trainer
