// AdamW over a Transformer's trainable parameters, with the schedule and clipping of trainer/optim.h. One call per
// optimizer step, after the gradients of the whole (accumulated) batch are in .grad:
//
//   trainer::Optimizer opt(model, config.optim, total_steps);   // restores released dense weights first
//   ... loss.backward() over the micro-batches ...
//   auto s = opt.step();        // clip -> set lr(k) -> AdamW step -> zero grads -> refresh inference weights
//   metrics["lr"] = s.lr; metrics["grad_norm"] = s.grad_norm;
//
// After the step the model's packed inference weights are refreshed when it has any (model/transformer.h): a rollout
// or an eval that follows generates from the weights just trained, never from a stale copy.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "trainer/optim.h"

namespace crucible::trainer {

struct StepStats {
  double lr = 0;         // the learning rate this step ran at
  double grad_norm = 0;  // global L2 norm of the gradients before clipping (nan/inf: the step was skipped)
  bool skipped = false;  // a non-finite gradient norm: no update, gradients dropped (the run's metrics say so)
};

namespace dist {
class Comm;
}

// One AdamW step of every parameter with a gradient, in one pass over parameter, gradient and moments instead of
// torch::optim::AdamW::step's seven elementwise ops (135 M parameters on 2 Zen 1 cores: ~0.1 s instead of 0.55 s).
// CPU float32 parameters go through kernels/adamw.h (the same bits however a parameter is split: --shard's slices
// equal the whole); anything else (CUDA, bf16) through ATen's _fused_adamw_ (torch.optim.AdamW(fused=True)). Same
// formula and the same state objects as torch::optim::AdamW's own step, so checkpoints save and resume as before.
void fused_adamw_step(torch::optim::AdamW& adamw);

class Optimizer {
 public:
  // Every parameter of `model` that requires grad is optimised. `total_steps` (>= 1) is the schedule's length.
  // shard (--shard; needs the ranks' Comm): this rank keeps AdamW's moments only for its 1/W contiguous slice of
  // all parameters flattened in order (dist::contiguous_share); AdamW's "parameters" are views of that slice of the
  // model's own parameters (one piece per parameter it overlaps), so nothing else is held: 1/W of the unsharded
  // optimizer state. Its gradient is the slice's alone (dist::GradReducer in reduce_scatter mode: ZeRO-2), passed to
  // step(): the global norm is the square root of the ranks' summed squares (all-reduced), so the clip is the same
  // everywhere; each rank updates its slice in place, zeroes the rest and assembles the parameters on every rank with
  // one bucketed sum of the ranks' bit patterns (dist::assemble_slices: exact).
  Optimizer(model::Transformer model, const OptimConfig& config, int64_t total_steps, dist::Comm* shard = nullptr);

  // slice_gradient: with --shard, this rank's slice of the summed gradient (flat, GradReducer::take_slice_gradient;
  // a logic_error when missing or of another size); without, undefined (the gradients are in .grad).
  StepStats step(torch::Tensor slice_gradient = {});
  double lr_now() const { return config_.lr_at(steps_done_, total_steps_); }  // the next step's lr
  int64_t steps_done() const { return steps_done_; }
  // A resumed run continues the schedule where the saved one stopped (the AdamW state is restored separately).
  void set_steps_done(int64_t steps) { steps_done_ = steps; }
  const OptimConfig& config() const { return config_; }
  torch::optim::AdamW& adamw() { return *adamw_; }
  bool sharded() const { return shard_ != nullptr; }
  // Bytes of AdamW's state tensors on this rank (its moments; with --shard those of its slice: nothing else is kept).
  int64_t state_bytes() const;
  // Bytes of gradient this rank held when the last step() began: every defined .grad plus the slice gradient
  // (--shard: the slice's alone, 1/W of the unsharded figure).
  int64_t gradient_bytes() const { return gradient_bytes_; }

  // The names (HF) of the parameters that get weight decay: everything but biases and norm weights.
  static bool decays(const std::string& name);

 private:
  model::Transformer model_;
  OptimConfig config_;
  int64_t total_steps_;
  int64_t steps_done_ = 0;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
  // --shard: this rank's slice, one piece per parameter it overlaps: a view of elements [begin, begin +
  // piece.numel()) of params_[param] flattened; AdamW runs on the pieces.
  struct Piece {
    size_t param = 0;
    int64_t begin = 0;
    torch::Tensor piece;
  };
  dist::Comm* shard_ = nullptr;
  std::vector<Piece> pieces_;
  int64_t slice_numel_ = 0;
  int64_t gradient_bytes_ = 0;
  double clip_slice(torch::Tensor& slice_gradient, double max_norm);  // returns the global pre-clip norm
  void step_sharded(const torch::Tensor& slice_gradient);
};

// --max-bad-steps: a step whose gradient norm is not finite is skipped (Optimizer::step); `limit` of them in a row
// end the run. record() returns the error (naming the flag and the steps) when the streak reaches the limit; the
// caller marks its run failed, waits for the other ranks and throws it. With data parallelism every rank decides the
// same: the norm is taken after the gradient all-reduce (--shard: of every rank's summed squares), and a NaN on one
// rank is a NaN in every rank's sum.
class BadStepStreak {
 public:
  explicit BadStepStreak(int64_t limit) : limit_(limit) {}
  std::optional<std::string> record(const StepStats& s, int64_t step);
  int64_t current() const { return streak_; }

 private:
  int64_t limit_, streak_ = 0;
};

// Logs (info) "rank R: optimizer state N bytes, gradients G bytes at the last step, peak RSS M MiB" (getrusage's
// high-water mark): --shard's saving, measured. With rss_before_load >= 0 (resident_bytes() before the model was loaded) also the peak above it: what
// the --dry-run plan (trainer/dist/memory_plan.h) estimates.
void log_rank_memory(int rank, const Optimizer& opt, int64_t rss_before_load = -1);
// This process's resident memory now (/proc/self/statm), bytes; -1 where it cannot be read.
int64_t resident_bytes();
// With --log-level debug: "rank R memory at WHAT N: resident M MiB (peak P), heap in use U MiB, free F MiB kept by
// glibc, B MiB of freed large blocks kept by model/block_cache" — where a peak is reached, and how much of the
// resident memory is live (the --dry-run plan's side) or freed memory the allocators keep. Nothing at other levels.
void log_memory(const char* what, int64_t n);

// Test hook (tests/trainer/test_dist_cli.cpp): with CRUCIBLE_TEST_NAN_AT_STEP=K[,K...] in the environment, the
// gradient of the first trainable parameter gets a NaN after the backward of step K (CRUCIBLE_TEST_NAN_RANK=R: on
// rank R only). Read from the environment in every build (no effect when unset), so the released binary is the one
// tested.
void inject_test_nan(const std::vector<torch::Tensor>& params, int64_t step, int rank);

}  // namespace crucible::trainer
