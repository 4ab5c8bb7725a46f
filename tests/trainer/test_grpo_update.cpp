// accumulate_update's zero-advantage skip: sequences whose gradient is exactly zero (advantage 0, beta 0, a loss
// whose normaliser does not depend on the micro-batch) get no backward, and the step's gradient and metrics equal
// those of the full update (every sequence through forward and backward, as TRL runs them) for every loss type that
// allows the skip, both importance levels, mu > 1 (stored old logprobs) and --mask-truncated. Where the skip is not
// exact (beta > 0, bnpo, top-entropy quantile) zero_gradient() refuses it. A step where nothing trains still leaves
// zero gradients, so AdamW's moments and weight decay advance as after TRL's backward of zeros.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "tests/support/tiny_model.h"
#include "trainer/grpo_update.h"

namespace crucible::trainer {
namespace {

model::ModelConfig tiny() {
  return testing::tiny_model_config({.vocab = 40, .hidden = 32, .intermediate = 48, .layers = 2, .heads = 4,
                                     .kv_heads = 2, .head_dim = 8, .tied = false});
}

model::Transformer make_model() {
  torch::manual_seed(11);
  model::Transformer m(tiny());
  m->to(torch::kFloat64);
  return m;
}

// Three groups of three: group 0 and 2 flat (advantage 0), group 1 mixed; completions of unequal lengths, one cut.
std::vector<TrainSequence> batch(bool with_old) {
  std::vector<TrainSequence> out;
  const std::vector<std::vector<int64_t>> prompts = {{3, 9, 4, 17}, {5, 1, 30, 2, 8}, {12, 7}};
  const std::vector<std::vector<double>> adv = {{0, 0, 0}, {1.1547, -0.5774, -0.5774}, {0, 0, 0}};
  torch::manual_seed(5);
  for (size_t g = 0; g < 3; ++g) {
    for (size_t i = 0; i < 3; ++i) {
      TrainSequence s;
      s.prompt_ids = prompts[g];
      const int64_t n = 2 + static_cast<int64_t>((g * 3 + i) % 4);
      for (int64_t j = 0; j < n; ++j) s.completion_ids.push_back(1 + (static_cast<int64_t>(g * 7 + i * 3) + j * 5) % 39);
      s.finish = (g == 1 && i == 2) ? "length" : "stop";
      s.advantage = adv[g][i];
      s.sampler_logp.assign(static_cast<size_t>(n), -2.0);
      if (with_old)
        for (int64_t j = 0; j < n; ++j) s.old_logp.push_back(-3.5f + 0.1f * static_cast<float>(j));
      out.push_back(std::move(s));
    }
  }
  return out;
}

Sequences pointers(std::vector<TrainSequence>& v) {
  Sequences p;
  for (auto& s : v) p.push_back(&s);
  return p;
}

struct Outcome {
  UpdateStats stats;
  std::vector<torch::Tensor> grads;
};

Outcome run(GrpoConfig c, bool skip, bool with_old) {
  c.skip_zero_advantage = skip;
  auto m = make_model();
  auto seqs = batch(with_old);
  Outcome o;
  o.stats = accumulate_update(c, m, pointers(seqs), step_counts(c, pointers(seqs)), torch::kCPU, /*measure_mismatch=*/true);
  for (auto& p : m->parameters()) o.grads.push_back(p.grad().clone());
  return o;
}

GrpoConfig base() {
  GrpoConfig c = default_grpo_config();
  c.loss.beta = 0.0;
  c.micro_batch = 4;  // the groups straddle micro-batches
  c.max_tokens = 8;
  c.temperature = 0.7;
  return c;
}

void expect_same(const Outcome& a, const Outcome& b) {
  ASSERT_EQ(a.grads.size(), b.grads.size());
  double worst = 0;
  for (size_t i = 0; i < a.grads.size(); ++i) {
    const double scale = std::max(1e-12, b.grads[i].abs().max().item<double>());
    worst = std::max(worst, (a.grads[i] - b.grads[i]).abs().max().item<double>() / scale);
  }
  EXPECT_LT(worst, 1e-6) << "gradients differ (relative to each tensor's max)";
  // The loss sums float32 logprob terms (the kernel computes logits in float32) in a different grouping.
  EXPECT_NEAR(a.stats.loss, b.stats.loss, 1e-6);
  EXPECT_DOUBLE_EQ(a.stats.sums.tokens, b.stats.sums.tokens);
  EXPECT_NEAR(a.stats.sums.entropy_sum, b.stats.sums.entropy_sum, 1e-5 * b.stats.sums.entropy_sum);
  EXPECT_DOUBLE_EQ(a.stats.sums.clip_count, b.stats.sums.clip_count);
  EXPECT_DOUBLE_EQ(a.stats.sums.clip_region_sum, b.stats.sums.clip_region_sum);
  EXPECT_DOUBLE_EQ(a.stats.mismatch_tokens, b.stats.mismatch_tokens);
  EXPECT_NEAR(a.stats.mismatch_abs_sum, b.stats.mismatch_abs_sum, 1e-5 * b.stats.mismatch_abs_sum);
}

TEST(GrpoUpdate, SkippingZeroAdvantageSequencesLeavesTheStepUnchanged) {
  for (auto lt : {LossType::grpo, LossType::dr_grpo, LossType::dapo, LossType::cispo, LossType::sapo}) {
    for (auto level : {ImportanceLevel::token, ImportanceLevel::sequence}) {
      for (bool with_old : {false, true}) {
        for (bool mask_truncated : {false, true}) {
          SCOPED_TRACE(std::string(loss_type_name(lt)) + " " + importance_level_name(level) +
                       (with_old ? " mu>1" : "") + (mask_truncated ? " mask-truncated" : ""));
          auto c = base();
          c.loss.loss_type = lt;
          c.loss.importance_level = level;
          c.mask_truncated = mask_truncated;
          auto full = run(c, false, with_old);
          auto fast = run(c, true, with_old);
          EXPECT_EQ(full.stats.sequences_skipped, 0);
          EXPECT_EQ(fast.stats.sequences_skipped, 6);
          EXPECT_EQ(fast.stats.sequences_backward, 3);
          expect_same(fast, full);
          // The gradient is not trivially zero: the mixed group trains.
          double norm = 0;
          for (auto& g : full.grads) norm += g.pow(2).sum().item<double>();
          EXPECT_GT(norm, 1e-8);
        }
      }
    }
  }
}

// A group split over micro-batches (G > micro-batch): its prompt runs forward and backward once per step
// (forward_prompts, backward into detached keys / values, one backward through the prompt at the end) and the step
// equals the one where every group sits in a single micro-batch (the plain prefixed forward).
TEST(GrpoUpdate, PromptsSplitOverMicroBatchesRunOnceWithTheSameGradient) {
  for (auto lt : {LossType::grpo, LossType::dr_grpo, LossType::dapo}) {
    for (auto level : {ImportanceLevel::token, ImportanceLevel::sequence}) {
      for (bool with_old : {false, true}) {
        SCOPED_TRACE(std::string(loss_type_name(lt)) + " " + importance_level_name(level) + (with_old ? " mu>1" : ""));
        auto c = base();
        c.loss.loss_type = lt;
        c.loss.importance_level = level;
        c.micro_batch = 9;  // one micro-batch: every group whole
        auto whole = run(c, false, with_old);
        for (int64_t mb : {1, 2, 4}) {  // every group split; split across 2 or 3 micro-batches
          c.micro_batch = mb;
          auto split = run(c, false, with_old);
          EXPECT_EQ(split.stats.sequences_backward, 9);
          expect_same(split, whole);
        }
      }
    }
  }
}

TEST(GrpoUpdate, NoSkipWhereTheSequenceStillMatters) {
  TrainSequence s;
  s.advantage = 0;
  auto c = base();
  EXPECT_TRUE(zero_gradient(c, s));
  c.loss.beta = 0.04;  // the KL term has a gradient whatever the advantage
  EXPECT_FALSE(zero_gradient(c, s));
  c = base();
  c.loss.loss_type = LossType::bnpo;  // normalised by the micro-batch's own token count
  EXPECT_FALSE(zero_gradient(c, s));
  c = base();
  c.loss.top_entropy_quantile = 0.2;  // the threshold is a quantile over the micro-batch
  EXPECT_FALSE(zero_gradient(c, s));
  s.advantage = 1e-9;
  EXPECT_FALSE(zero_gradient(base(), s));
}

TEST(GrpoUpdate, AStepWithNothingToTrainLeavesZeroGradients) {
  auto c = base();
  auto m = make_model();
  auto seqs = batch(false);
  for (auto& s : seqs) s.advantage = 0;
  auto u = accumulate_update(c, m, pointers(seqs), step_counts(c, pointers(seqs)), torch::kCPU, false);
  EXPECT_EQ(u.sequences_backward, 0);
  EXPECT_GT(u.sums.tokens, 0);
  EXPECT_GT(u.sums.entropy_sum, 0);
  for (auto& p : m->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().abs().max().item<double>(), 0.0);
  }
}

}  // namespace
}  // namespace crucible::trainer
