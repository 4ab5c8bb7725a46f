// SFT against TRL 1.16 SFTTrainer (oracles/sft_oracle.py), float64 models (TRL's fused loss works in float32 inside):
// crucible's tokenisation and completion masks, and the loss and gradients of one accumulated batch, unpacked, packed
// (block-diagonal attention, positions restarting per example) and packed with activation checkpointing, all equal
// TRL's padded batch (tolerances in the oracle). Packing and checkpointing are also held to the unpacked gradients
// directly, in float64 (1e-10).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "model/text/chat_template.h"
#include "model/text/tokenizer.h"
#include "tests/support/oracle.h"
#include "trainer/sft_data.h"
#include "trainer/sft_step.h"

namespace crucible::trainer {
namespace {

namespace fs = std::filesystem;
const std::string kOracle = "tests/trainer/oracles/sft_oracle.py";

std::map<std::string, torch::Tensor> grads_of(model::Transformer& m) {
  std::map<std::string, torch::Tensor> g;
  for (auto& item : m->named_parameters()) g[item.key()] = item.value().grad().detach().clone();
  return g;
}

void write_grads(const std::string& path, const std::map<std::string, torch::Tensor>& grads) {
  std::vector<model::SafetensorsWriteEntry> entries;
  for (const auto& [name, t] : grads)
    entries.push_back({name, "F64", t.sizes().vec(), t.data_ptr(), static_cast<uint64_t>(t.nbytes())});
  model::write_safetensors(path, entries, {});
}

TEST(Sft, LossAndGradientsEqualTrlSftTrainerPackedUnpackedAndCheckpointed) {
  CRUCIBLE_REQUIRE_SHARED();
  CRUCIBLE_REQUIRE_ORACLE();
  testing::TempDir dir;
  auto made = testing::run_oracle(kOracle, {"make", dir.path()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string model_dir = dir.file("model");
  auto model = model::load_model(model_dir, torch::kCPU, torch::kFloat64);
  auto tok = text::load_tokenizer(model_dir);
  auto tmpl = text::ChatTemplate::for_model(model_dir);
  SftDataStats st;
  auto data = load_sft_data(dir.file("data.jsonl"), *tok, &tmpl, /*max_seq_len=*/96, &st);
  ASSERT_EQ(data.size(), 5u);
  EXPECT_EQ(st.truncated, 1);
  nlohmann::json out;
  for (const auto& ex : data) out["examples"].push_back({{"ids", ex.ids}, {"learn", ex.learn}});

  std::vector<size_t> batch = {0, 1, 2, 3, 4};
  std::map<std::string, std::map<std::string, torch::Tensor>> grads;
  for (auto [name, packing, ckpt] : {std::tuple{"unpacked", false, false}, std::tuple{"packed", true, false},
                                     std::tuple{"packed_checkpointed", true, true}}) {
    // Rows of 128 tokens: the truncated example fills one, the four short ones share others.
    auto o = accumulate_batch(model, data, batch, {128, packing, ckpt, false});
    if (packing) EXPECT_LT(o.rows, 5) << "the short examples share rows";
    else EXPECT_EQ(o.rows, 5);
    EXPECT_EQ(o.targets, st.targets);
    out["variants"][name] = o.loss;
    grads[name] = grads_of(model);
    write_grads(dir.file(std::string("grads-") + name + ".safetensors"), grads[name]);
    model->zero_grad();
  }
  for (const auto& [n, g] : grads["unpacked"]) {
    EXPECT_TRUE(torch::allclose(grads["packed"][n], g, 1e-10, 1e-13)) << n;
    EXPECT_TRUE(torch::allclose(grads["packed_checkpointed"][n], grads["packed"][n], 1e-12, 1e-15)) << n;
  }
  std::ofstream(dir.file("crucible.json")) << out.dump();
  auto r = testing::run_oracle(kOracle, {"check", dir.path()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::printf("%s", r.out.c_str());
}

}  // namespace
}  // namespace crucible::trainer
