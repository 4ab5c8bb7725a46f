// The GRPO policy loss on per-token tensors, term for term TRL 1.16's GRPOTrainer._compute_loss (proven equal by
// tests/trainer/test_grpo_loss.cpp, which runs TRL's own code on the same inputs), plus the two pieces of TRL's
// _generate_and_score_completions the loss depends on: group advantages and the sampler/trainer importance ratio.
//
// One optimizer step = one generation batch split into micro-batches; grpo_loss() is called once per micro-batch and
// its loss back-propagated at once (gradients accumulate). Each loss type is normalised as TRL does it:
//   grpo, sapo  mean over sequences of each sequence's token mean      / sequences in the step
//   bnpo        token mean over the micro-batch ("batch" = micro-batch) / micro-batches in the step
//   dr_grpo     token sum                                               / (sequences in the step * max_tokens)
//   dapo, cispo token sum                                               / completion tokens in the step (global)
// so the step's gradient is that of one loss over the whole batch (for grpo / dr_grpo exactly when the micro-batches
// hold equal sequence counts, as TRL's do; bnpo is TRL's micro-batch-local normaliser by definition — use dapo for
// the global token mean). The step's counts come in as StepCounts (TRL's num_items_in_batch bookkeeping); with data
// parallelism ([4/6]) they are the counts over all ranks.
//
// Shape legend: B sequences in the micro-batch, T completion positions (right-padded), G samples per prompt.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>

#include "trainer/grpo_config.h"

namespace crucible::trainer {

struct StepCounts {
  int64_t sequences = 0;      // sequences in the optimizer step
  double tokens = 0;          // masked completion tokens in the optimizer step (after mask-truncated)
  int64_t micro_batches = 1;  // micro-batches in the optimizer step
};

// One micro-batch. Optional tensors may be undefined.
struct MicroBatch {
  torch::Tensor logp_BT;          // trainer's per-token logprobs of the completion tokens (differentiable)
  torch::Tensor mask_BT;          // 1 = a completion token that trains (0: padding, or a truncated sample's tokens)
  torch::Tensor advantages_B;     // per sequence (or [B, T] per token)
  torch::Tensor old_logp_BT;      // the logprobs when sampled (mu > 1); undefined: logp_BT.detach() (mu = 1)
  torch::Tensor ref_logp_BT;      // the frozen reference's; needed when beta != 0
  torch::Tensor entropy_BT;       // per-token entropy; needed for top_entropy_quantile < 1 and the entropy metric
  torch::Tensor is_ratio_BT;      // importance_sampling_ratio() ([B, T] or [B, 1]); undefined: no correction
};

// Sums over the micro-batch's masked tokens, so a step's metrics are sum / count over its micro-batches (TRL's
// global_masked_mean). The clip sums count tokens at token level, sequences at sequence level (one ratio each), as
// TRL counts them; cispo has one clip fraction (ratio above its cap with a positive advantage) in clip_high_sum.
struct LossMetrics {
  double tokens = 0;
  double kl_sum = 0, entropy_sum = 0;
  double clip_count = 0;  // tokens (token level) or sequences (sequence level)
  double clip_low_sum = 0, clip_high_sum = 0, clip_region_sum = 0;  // ratio clipped below / above / either
  double policy_loss = 0;  // this micro-batch's loss before the step normalisation (TRL's policy_loss)
  // Sums a step's micro-batches (policy_loss too: the step's per-micro-batch losses added).
  LossMetrics& operator+=(const LossMetrics& x) {
    tokens += x.tokens;
    kl_sum += x.kl_sum;
    entropy_sum += x.entropy_sum;
    clip_count += x.clip_count;
    clip_low_sum += x.clip_low_sum;
    clip_high_sum += x.clip_high_sum;
    clip_region_sum += x.clip_region_sum;
    policy_loss += x.policy_loss;
    return *this;
  }
};

struct LossOutput {
  torch::Tensor loss;  // scalar, already scaled for the step: sum the micro-batches' backward()s
  LossMetrics metrics;
};

LossOutput grpo_loss(const GrpoLossConfig& config, const MicroBatch& batch, const StepCounts& step);

// rewards_N (N = prompts * G, a prompt's G samples adjacent) -> advantages_N: (r - group mean) / (std + 1e-4), the
// std unbiased over the group (scale group) or over the whole batch (scale batch), or not divided (none).
// `std_zero_N` (optional) receives whether each sample's std was zero (groups that carry no signal).
torch::Tensor group_advantages(const torch::Tensor& rewards_N, int64_t group_size, ScaleRewards scale,
                               torch::Tensor* std_zero_N = nullptr);

// The correction for sampling from slightly different numbers than the trainer computes (kernels, batch shapes):
// exp(old - sampler) per token or summed per sequence, then truncated or masked to [clip_min, clip_max].
// Returns [B, T] (token modes) or [B, 1] (sequence modes).
torch::Tensor importance_sampling_ratio(const torch::Tensor& old_logp_BT, const torch::Tensor& sampler_logp_BT,
                                        const torch::Tensor& mask_BT, IsMode mode, std::optional<double> clip_min,
                                        double clip_max);

}  // namespace crucible::trainer
