// trainer/grpo_loss vs TRL 1.16's own GRPOTrainer code (tests/trainer/oracles/trl_grpo_loss.py runs it): every loss
// type (grpo, bnpo, dr_grpo, dapo, cispo, sapo), both importance levels, beta 0 and 0.04, mu 1 and 2, two-sided
// delta, top-entropy quantile, every importance-sampling mode, over optimizer steps of 3 micro-batches with unequal
// token counts (a fully masked truncated sample in one). In float64: each micro-batch's loss and the gradient wrt
// its per-token logprobs within 1e-6 (observed ~1e-16), TRL's logged metrics within 1e-6 (its clip fractions are
// float32). Then group advantages (scale group / batch / none) and the importance ratios.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/oracle.h"
#include "trainer/grpo_loss.h"

namespace crucible::trainer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
constexpr double kTol = 1e-6;

torch::Tensor tensor_of(const json& j, torch::Dtype dtype = torch::kFloat64) {
  if (j.is_null()) return {};
  std::vector<double> flat;
  std::vector<int64_t> shape;
  if (j.is_array() && !j.empty() && j[0].is_array()) {
    shape = {static_cast<int64_t>(j.size()), static_cast<int64_t>(j[0].size())};
    for (const auto& row : j)
      for (const auto& x : row) flat.push_back(x.is_null() ? std::nan("") : x.get<double>());
  } else {
    shape = {static_cast<int64_t>(j.size())};
    for (const auto& x : j) flat.push_back(x.is_null() ? std::nan("") : x.get<double>());
  }
  return torch::tensor(flat, torch::kFloat64).view(shape).to(dtype);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

class GrpoLossVsTrl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::has_oracle_python()) return;
    dir_ = new testing::TempDir();
    auto r = testing::run_oracle("tests/trainer/oracles/trl_grpo_loss.py", {"make", dir_->file("oracle.json")});
    if (r.exit_code != 0) {
      std::cerr << r.out << r.err;
      return;
    }
    std::ifstream in(dir_->file("oracle.json"));
    oracle_ = new json(json::parse(in));
  }
  static void TearDownTestSuite() {
    delete oracle_;
    delete dir_;
    oracle_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    CRUCIBLE_REQUIRE_ORACLE();
    ASSERT_NE(oracle_, nullptr) << "oracle script failed";
  }
  static testing::TempDir* dir_;
  static json* oracle_;
};
testing::TempDir* GrpoLossVsTrl::dir_ = nullptr;
json* GrpoLossVsTrl::oracle_ = nullptr;

TEST_F(GrpoLossVsTrl, EveryLossTypeLevelBetaMuOverUnequalMicroBatches) {
  ASSERT_EQ((*oracle_)["trl"], "1.16.0");
  double worst_loss = 0, worst_grad = 0, worst_metric = 0;
  int cases = 0;
  for (const auto& c : (*oracle_)["losses"]) {
    const auto& cfg = c["config"];
    GrpoLossConfig config;
    config.loss_type = parse_loss_type(cfg["loss_type"]);
    config.importance_level = parse_importance_level(cfg["importance_level"]);
    config.epsilon_low = cfg["epsilon_low"];
    config.epsilon_high = cfg["epsilon_high"];
    config.beta = cfg["beta"];
    config.top_entropy_quantile = cfg["top_entropy_quantile"];
    if (cfg.contains("delta")) config.delta = cfg["delta"].get<double>();
    config.max_completion_length = 12;
    StepCounts step{c["step_sequences"].get<int64_t>(), c["step_tokens"].get<double>(),
                    static_cast<int64_t>(c["micro_batches"].size())};
    const std::string name = cfg.dump();
    for (const auto& mb : c["micro_batches"]) {
      MicroBatch b;
      b.logp_BT = tensor_of(mb["logp"]).requires_grad_(true);
      b.mask_BT = tensor_of(mb["mask"]).to(torch::kInt64);
      b.advantages_B = tensor_of(mb["adv"]);
      b.old_logp_BT = tensor_of(mb["old"]);
      b.ref_logp_BT = tensor_of(mb["ref"]);
      b.entropy_BT = tensor_of(mb["entropy"]);
      if (cfg.contains("is_mode")) {
        // crucible's own ratio from the inputs TRL's came from (old = the logprobs at sampling when mu = 1)
        const auto old = b.old_logp_BT.defined() ? b.old_logp_BT : b.logp_BT.detach();
        std::optional<double> lo;
        if (!cfg["is_min"].is_null()) lo = cfg["is_min"].get<double>();
        b.is_ratio_BT = importance_sampling_ratio(old, tensor_of(mb["sampler"]), b.mask_BT,
                                                  parse_is_mode(cfg["is_mode"]), lo, cfg["is_max"]);
      }
      auto out = grpo_loss(config, b, step);
      out.loss.backward();
      const double dl = std::abs(out.loss.item<double>() - mb["loss"].get<double>());
      const double dg = max_diff(b.logp_BT.grad(), tensor_of(mb["grad"]));
      EXPECT_LE(dl, kTol) << name;
      EXPECT_LE(dg, kTol) << name;
      worst_loss = std::max(worst_loss, dl);
      worst_grad = std::max(worst_grad, dg);

      const auto& m = mb["metrics"];
      const auto& x = out.metrics;
      auto check = [&](const char* key, double got) {
        if (!m.contains(key)) return;
        const double d = std::abs(got - m[key].get<double>());
        EXPECT_LE(d, kTol) << name << " metric " << key;
        worst_metric = std::max(worst_metric, d);
      };
      check("kl", x.kl_sum / x.tokens);
      check("entropy", x.entropy_sum / x.tokens);
      check("clip_ratio/low_mean", x.clip_low_sum / x.clip_count);
      check("clip_ratio/high_mean", x.clip_high_sum / x.clip_count);
      check("clip_ratio/region_mean", x.clip_region_sum / x.clip_count);
      check("cispo_clip_ratio", x.clip_high_sum / x.clip_count);
      if (config.beta != 0.0) {
        EXPECT_TRUE(m.contains("kl")) << name;
      }
    }
    ++cases;
  }
  EXPECT_GE(cases, 60);
  RecordProperty("max_loss_diff", std::to_string(worst_loss));
  RecordProperty("max_grad_diff", std::to_string(worst_grad));
  std::cerr << cases << " cases (float64): max |loss - TRL| = " << worst_loss << ", max |grad - TRL| = " << worst_grad
            << ", max |metric - TRL| = " << worst_metric << "\n";
}

TEST_F(GrpoLossVsTrl, GroupAdvantages) {
  for (const auto& c : (*oracle_)["advantages"]) {
    torch::Tensor zero;
    auto a = group_advantages(tensor_of(c["rewards"]), c["group_size"], parse_scale_rewards(c["scale"]), &zero);
    // TRL's nanstd takes Bessel's count / (count - 1) in float32 (integer true division): ~2e-8 apart from float64.
    EXPECT_LE(max_diff(a, tensor_of(c["advantages"])), kTol) << c["scale"] << " G=" << c["group_size"];
    std::vector<bool> want = c["std_zero"];
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(zero[static_cast<int64_t>(i)].item<bool>(), want[i]);
  }
}

TEST_F(GrpoLossVsTrl, ImportanceRatios) {
  for (const auto& c : (*oracle_)["is_ratios"]) {
    std::optional<double> lo;
    if (!c["min"].is_null()) lo = c["min"].get<double>();
    auto r = importance_sampling_ratio(tensor_of(c["old"]), tensor_of(c["sampler"]), tensor_of(c["mask"]),
                                       parse_is_mode(c["mode"]), lo, c["max"]);
    auto want = tensor_of(c["ratio"]);
    ASSERT_EQ(r.sizes(), want.sizes()) << c["mode"];
    EXPECT_LE(max_diff(r, want), 1e-12) << c["mode"];
  }
}

TEST(GrpoLossConfig, BadValuesNameTheFlag) {
  try {
    parse_loss_type("ppo");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("--loss-type"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dr_grpo"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crucible::trainer
