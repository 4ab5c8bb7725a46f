// Logits vs transformers (the oracle) on random small Llama (Llama-3 rope scaling, and tied), Qwen2 (sharded),
// Qwen3 and Mistral configs saved with save_pretrained, plus bf16/f16 copies: max |diff| <= 1e-4 in fp32. Then
// crucible saves each model and transformers must load the saved folder and reproduce the same logits.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "tests/support/oracle.h"

namespace crucible::model {
namespace {

namespace fs = std::filesystem;

class HfParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::has_oracle_python()) return;
    dir_ = new testing::TempDir();
    auto r = testing::run_oracle("tests/model/oracles/hf_logits.py", {"make", dir_->path()});
    made_ = r.exit_code == 0;
    if (!made_) std::cerr << r.out << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    CRUCIBLE_REQUIRE_ORACLE();
    ASSERT_TRUE(made_) << "oracle script failed";
  }

  // Loads <name>, compares its logits with transformers', saves it, and has transformers check the saved copy.
  void check(const std::string& name) {
    const auto folder = dir_->file(name);
    MappedFile oracle_file(folder + "/oracle.safetensors");
    auto h = parse_safetensors_header(oracle_file.data(), oracle_file.size(), "oracle");
    torch::Tensor ids, want;
    for (const auto& e : h.entries) {
      auto t = torch::from_blob(const_cast<uint8_t*>(oracle_file.data() + h.data_offset + e.begin), e.shape,
                                e.dtype == "I64" ? torch::kInt64 : torch::kFloat32)
                   .clone();
      (e.name == "input_ids" ? ids : want) = t;
    }
    auto model = load_model(folder);
    torch::NoGradGuard ng;
    auto got = model->forward(ids);
    const double diff = (got - want).abs().max().item<double>();
    EXPECT_LE(diff, 1e-4) << name;
    RecordProperty("max_abs_diff_" + name, std::to_string(diff));
    std::cerr << name << ": max |logits - transformers| = " << diff << "\n";

    // The cached path agrees with the full forward.
    auto cache = model->make_cache(2, ids.size(1));
    auto step = model->forward_cached(ids, CacheStep{{0, 1}, {0, 0}}, cache, true);
    EXPECT_LE((step - got).abs().max().item<double>(), 1e-5) << name;

    const auto saved = dir_->file(name + "_saved");
    save_hf_folder(model, saved);
    auto r = testing::run_oracle("tests/model/oracles/hf_logits.py", {"check", saved, folder + "/oracle.safetensors"});
    EXPECT_EQ(r.exit_code, 0) << name << ": transformers on crucible's saved folder: " << r.out << r.err;
    std::cerr << name << " (saved by crucible, loaded by transformers): " << r.out;
  }

  static testing::TempDir* dir_;
  static bool made_;
};
testing::TempDir* HfParity::dir_ = nullptr;
bool HfParity::made_ = false;

// One test for all configs: the oracle script costs ~30 s of Python start-up, paid once.
TEST_F(HfParity, LlamaQwen2Qwen3MistralAndHalfPrecision) {
  for (const char* name : {"llama", "llama_tied", "qwen2", "qwen3", "mistral", "llama_bf16", "llama_f16"}) check(name);
}

}  // namespace
}  // namespace crucible::model
