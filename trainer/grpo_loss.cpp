// The arithmetic follows TRL 1.16 grpo_trainer.py line for line (same operations in the same order), so the parity
// test's agreement is ~1e-15 in float64, not merely within tolerance.
#include "trainer/grpo_loss.h"

#include <cmath>
#include <limits>

namespace crucible::trainer {

namespace {
double item(const torch::Tensor& t) { return t.detach().to(torch::kFloat64).item<double>(); }
}  // namespace

LossOutput grpo_loss(const GrpoLossConfig& c, const MicroBatch& b, const StepCounts& step) {
  using torch::Tensor;
  const Tensor& logp = b.logp_BT;
  const Tensor mask = b.mask_BT.to(logp.scalar_type());
  TORCH_CHECK(logp.dim() == 2 && mask.sizes() == logp.sizes(), "grpo_loss: logp_BT and mask_BT must be [B, T] alike");
  TORCH_CHECK(c.beta == 0.0 || b.ref_logp_BT.defined(), "grpo_loss: beta != 0 needs ref_logp_BT");
  TORCH_CHECK(c.top_entropy_quantile >= 1.0 || b.entropy_BT.defined(), "grpo_loss: top_entropy_quantile needs entropy");
  TORCH_CHECK(c.loss_type != LossType::dr_grpo || c.max_completion_length > 0, "grpo_loss: dr_grpo needs max length");
  TORCH_CHECK(step.sequences > 0 && step.micro_batches > 0, "grpo_loss: empty step");

  // Top-entropy quantile (80/20 rule): the threshold is the quantile of this micro-batch's masked entropies, taken
  // in float32 as TRL takes it.
  Tensor entropy_mask;
  if (c.top_entropy_quantile < 1.0) {
    const Tensor local = b.entropy_BT.detach().index({mask.to(torch::kBool)}).to(torch::kFloat32);
    if (local.numel() == 0) {
      entropy_mask = torch::zeros_like(b.entropy_BT, torch::kBool);
    } else {
      const Tensor threshold = torch::quantile(local, 1.0 - c.top_entropy_quantile);
      entropy_mask = (b.entropy_BT.detach() * mask >= threshold).logical_and(mask.to(torch::kBool));
    }
  }

  Tensor advantages = b.advantages_B.to(logp.scalar_type());
  if (advantages.dim() == 1) advantages = advantages.unsqueeze(1);
  const Tensor old_logp = b.old_logp_BT.defined() ? b.old_logp_BT : logp.detach();

  const Tensor log_ratio = logp - old_logp;
  Tensor log_weights;
  if (c.importance_level == ImportanceLevel::token) {
    log_weights = log_ratio;
  } else {
    log_weights = ((log_ratio * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)).unsqueeze(-1);
  }
  Tensor coef_1 = torch::exp(log_weights);

  Tensor per_token_kl;
  if (c.beta != 0.0) {
    const Tensor d = b.ref_logp_BT - logp;
    per_token_kl = torch::exp(d) - d - 1;
  }

  Tensor per_token_loss;
  switch (c.loss_type) {
    case LossType::cispo: {
      const Tensor clamped = torch::clamp_max(coef_1, c.epsilon_high).detach();
      per_token_loss = -clamped * advantages * logp;
      break;
    }
    case LossType::sapo: {
      const Tensor temps = torch::where(advantages > 0, c.sapo_temperature_pos, c.sapo_temperature_neg);
      const Tensor soft = torch::sigmoid(temps * (coef_1 - 1)) * 4 / temps;
      per_token_loss = -soft * advantages;
      break;
    }
    default: {
      const Tensor coef_2 = torch::clamp(coef_1, 1 - c.epsilon_low, 1 + c.epsilon_high);
      if (c.delta) coef_1 = torch::clamp_max(coef_1, *c.delta);  // two-sided: large ratios capped even when A < 0
      per_token_loss = -torch::min(coef_1 * advantages, coef_2 * advantages);
    }
  }
  if (entropy_mask.defined()) per_token_loss = per_token_loss * entropy_mask;
  if (b.is_ratio_BT.defined()) per_token_loss = per_token_loss * b.is_ratio_BT;
  if (c.beta != 0.0) per_token_loss = per_token_loss + c.beta * per_token_kl;

  LossOutput out;
  Tensor policy_loss;
  switch (c.loss_type) {
    case LossType::grpo:
    case LossType::sapo:
      policy_loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)).mean();
      out.loss = policy_loss * (static_cast<double>(logp.size(0)) / static_cast<double>(step.sequences));
      break;
    case LossType::bnpo:
      policy_loss = (per_token_loss * mask).sum() / mask.sum().clamp_min(1.0);
      out.loss = policy_loss / static_cast<double>(step.micro_batches);
      break;
    case LossType::dr_grpo:
      policy_loss = (per_token_loss * mask).sum() /
                    static_cast<double>(per_token_loss.size(0) * c.max_completion_length);
      out.loss = policy_loss * (static_cast<double>(logp.size(0)) / static_cast<double>(step.sequences));
      break;
    case LossType::dapo:
    case LossType::cispo:
      policy_loss = (per_token_loss * mask).sum() / std::max(step.tokens, 1.0);
      out.loss = policy_loss;
      break;
  }

  // Metrics (no autograd).
  torch::NoGradGuard no_grad;
  LossMetrics& m = out.metrics;
  m.policy_loss = item(policy_loss);
  m.tokens = item(mask.sum());
  if (c.beta != 0.0) m.kl_sum = item((per_token_kl * mask).sum());
  if (b.entropy_BT.defined()) m.entropy_sum = item((b.entropy_BT * mask).sum());
  auto masked_sum = [&](const Tensor& x) {  // TRL's global_masked_mean numerator; sequence level: per sequence
    return x.size(1) == 1 ? item(x.sum()) : item((x * mask).sum());
  };
  m.clip_count = coef_1.size(1) == 1 ? static_cast<double>(coef_1.size(0)) : m.tokens;
  if (c.loss_type == LossType::cispo) {
    m.clip_high_sum = masked_sum(((coef_1 > c.epsilon_high) & (advantages > 0)).to(logp.scalar_type()));
    m.clip_region_sum = m.clip_high_sum;
  } else if (c.loss_type != LossType::sapo) {
    const Tensor low = (coef_1 < 1 - c.epsilon_low) & (advantages < 0);
    const Tensor high = (coef_1 > 1 + c.epsilon_high) & (advantages > 0);
    m.clip_low_sum = masked_sum(low.to(logp.scalar_type()));
    m.clip_high_sum = masked_sum(high.to(logp.scalar_type()));
    m.clip_region_sum = masked_sum((low | high).to(logp.scalar_type()));
  }
  return out;
}

torch::Tensor group_advantages(const torch::Tensor& rewards_N, int64_t group_size, ScaleRewards scale,
                               torch::Tensor* std_zero_N) {
  TORCH_CHECK(group_size > 0 && rewards_N.numel() % group_size == 0, "group_advantages: N must be a multiple of G");
  const auto grouped = rewards_N.view({-1, group_size});
  const auto mean = grouped.mean(1).repeat_interleave(group_size);
  torch::Tensor std;
  // Unbiased std (Bessel), NaN for a single value, as TRL's nanstd; a zero std leaves the advantage 0 / 1e-4 = 0.
  if (scale == ScaleRewards::batch) {
    std = rewards_N.numel() > 1 ? rewards_N.std(/*unbiased=*/true).expand_as(rewards_N) : torch::zeros_like(rewards_N);
  } else {
    std = group_size > 1 ? grouped.std(1, /*unbiased=*/true).repeat_interleave(group_size)
                         : torch::zeros_like(rewards_N);
  }
  auto advantages = rewards_N - mean;
  if (scale != ScaleRewards::none) advantages = advantages / (std + 1e-4);
  if (std_zero_N) *std_zero_N = torch::isclose(std, torch::zeros_like(std));
  return advantages;
}

torch::Tensor importance_sampling_ratio(const torch::Tensor& old_logp_BT, const torch::Tensor& sampler_logp_BT,
                                        const torch::Tensor& mask_BT, IsMode mode, std::optional<double> clip_min,
                                        double clip_max) {
  // A token the sampler could not score (NaN) gets ratio 1: no evidence, no correction.
  auto diff = torch::nan_to_num((old_logp_BT - sampler_logp_BT) * mask_BT.to(old_logp_BT.scalar_type()), 0.0);
  const bool sequence = mode == IsMode::sequence_mask || mode == IsMode::sequence_truncate;
  if (sequence) diff = diff.sum(-1, /*keepdim=*/true);
  auto ratio = torch::exp(diff);
  if (mode == IsMode::token_truncate || mode == IsMode::sequence_truncate) {
    return torch::clamp(ratio, clip_min, clip_max);
  }
  const double lo = clip_min.value_or(-std::numeric_limits<double>::infinity());
  return ratio.masked_fill((ratio < lo) | (ratio > clip_max), 0.0);
}

}  // namespace crucible::trainer
