// trainer::Optimizer against torch.optim.AdamW + transformers' schedules in float64 (oracles/optim_oracle.py): the
// same synthetic gradients for N steps, then every lr, every pre-clip gradient norm and every final parameter are
// compared (tolerances in the oracle's docstring). Also the schedule's shape on its own (no Python).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "tests/support/oracle.h"
#include "trainer/optimizer.h"

namespace crucible::trainer {
namespace {

namespace fs = std::filesystem;

// The oracle's grad(name, shape, step).
torch::Tensor synthetic_grad(const std::string& name, const torch::Tensor& p, int64_t step) {
  auto g = torch::cos(torch::arange(p.numel(), torch::kFloat64) * 0.37 + 1.3 * static_cast<double>(step) +
                      0.1 * static_cast<double>(name.size())) *
           0.05;
  return g.reshape(p.sizes()).clone();  // a tensor of its own, as backward makes (not a view)
}

void run_case(const OptimConfig& oc, int64_t steps) {
  CRUCIBLE_REQUIRE_ORACLE();
  testing::TempDir dir;
  const std::string oracle = "tests/trainer/oracles/optim_oracle.py";
  auto made = testing::run_oracle(oracle, {"make", dir.path()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto model = model::load_model(dir.file("model"), torch::kCPU, torch::kFloat64);
  Optimizer opt(model, oc, steps);
  nlohmann::json out = {{"optim", oc.to_json()}, {"steps", steps}};
  for (int64_t s = 0; s < steps; ++s) {
    for (auto& item : model->named_parameters()) item.value().mutable_grad() = synthetic_grad(item.key(), item.value(), s);
    auto st = opt.step();
    EXPECT_FALSE(st.skipped);
    out["lrs"].push_back(st.lr);
    out["grad_norms"].push_back(st.grad_norm);
    for (auto& p : model->parameters()) EXPECT_FALSE(p.grad().defined()) << "step() zeroes (frees) the gradients";
  }
  std::ofstream(dir.file("crucible.json")) << out.dump();
  std::vector<torch::Tensor> keep;
  std::vector<model::SafetensorsWriteEntry> entries;
  for (auto& item : model->named_parameters()) {
    auto t = item.value().detach().contiguous();
    keep.push_back(t);
    entries.push_back({item.key(), "F64", t.sizes().vec(), t.data_ptr(), static_cast<uint64_t>(t.nbytes())});
  }
  model::write_safetensors(dir.file("crucible_final.safetensors"), entries, {});
  auto r = testing::run_oracle(oracle, {"check", dir.path()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::printf("%s", r.out.c_str());
}

TEST(Optimizer, CosineWarmupDecayAndClippingEqualTorchAdamWAndTransformers) {
  OptimConfig oc;
  oc.lr = 3e-3;
  oc.weight_decay = 0.1;
  oc.warmup = 3;
  oc.schedule = "cosine";
  oc.min_lr_ratio = 0.1;
  oc.max_grad_norm = 1.0;  // the synthetic gradients' norm is ~3: clipping is active every step
  run_case(oc, 9);
}

TEST(Optimizer, LinearWithWarmupRatioAndNoClippingEqualsTorch) {
  OptimConfig oc;
  oc.lr = 1e-3;
  oc.weight_decay = 0.01;
  oc.beta2 = 0.95;
  oc.eps = 1e-6;
  oc.warmup = 0.25;  // of 7 steps: ceil(1.75) = 2
  oc.schedule = "linear";
  oc.max_grad_norm = 0;
  run_case(oc, 7);
}

TEST(Optimizer, ConstantScheduleEqualsTorch) {
  OptimConfig oc;
  oc.lr = 5e-4;
  oc.schedule = "constant";
  oc.warmup = 2;
  run_case(oc, 5);
}

TEST(OptimConfig, ScheduleShape) {
  OptimConfig c;
  c.lr = 1.0;
  c.warmup = 4;
  c.schedule = "cosine";
  EXPECT_EQ(c.lr_at(0, 20), 0.0);  // LambdaLR: the first step of a warmup runs at 0
  EXPECT_DOUBLE_EQ(c.lr_at(2, 20), 0.5);
  EXPECT_DOUBLE_EQ(c.lr_at(4, 20), 1.0);
  EXPECT_NEAR(c.lr_at(12, 20), 0.5, 1e-12);  // half way through the cosine
  c.warmup = 0.1;
  EXPECT_EQ(c.warmup_steps(25), 3);  // ceil(2.5)
  c.schedule = "linear";
  c.warmup = 0;
  EXPECT_DOUBLE_EQ(c.lr_at(5, 10), 0.5);
  EXPECT_TRUE(Optimizer::decays("model.layers.0.mlp.up_proj.weight"));
  EXPECT_TRUE(Optimizer::decays("model.embed_tokens.weight"));
  EXPECT_FALSE(Optimizer::decays("model.norm.weight"));
  EXPECT_FALSE(Optimizer::decays("model.layers.1.input_layernorm.weight"));
  EXPECT_FALSE(Optimizer::decays("model.layers.1.self_attn.q_norm.weight"));
  EXPECT_FALSE(Optimizer::decays("model.layers.1.self_attn.q_proj.bias"));
}

TEST(OptimConfig, BadValuesNameTheField) {
  OptimConfig c;
  c.schedule = "step";
  try {
    c.validate("sft config");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("schedule"), std::string::npos) << e.what();
  }
  EXPECT_THROW(OptimConfig::from_json({{"lr", "fast"}}, "x.json"), InputError);
  EXPECT_THROW(OptimConfig::from_json({{"warmup", 2.5}}, "x.json"), InputError);
  EXPECT_THROW(OptimConfig::from_json({{"schedule", "linear"}, {"min_lr_ratio", 0.1}}, "x.json"), InputError);
  auto back = OptimConfig::from_json(OptimConfig{}.to_json(), "roundtrip");
  EXPECT_EQ(back.to_json(), OptimConfig{}.to_json());
}

}  // namespace
}  // namespace crucible::trainer
