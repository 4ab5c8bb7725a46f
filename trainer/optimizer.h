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

class Optimizer {
 public:
  // Every parameter of `model` that requires grad is optimised. `total_steps` (>= 1) is the schedule's length.
  Optimizer(model::Transformer model, const OptimConfig& config, int64_t total_steps);

  StepStats step();
  double lr_now() const { return config_.lr_at(steps_done_, total_steps_); }  // the next step's lr
  int64_t steps_done() const { return steps_done_; }
  // A resumed run continues the schedule where the saved one stopped (the AdamW state is restored separately).
  void set_steps_done(int64_t steps) { steps_done_ = steps; }
  const OptimConfig& config() const { return config_; }
  torch::optim::AdamW& adamw() { return *adamw_; }

  // The names (HF) of the parameters that get weight decay: everything but biases and norm weights.
  static bool decays(const std::string& name);

 private:
  model::Transformer model_;
  OptimConfig config_;
  int64_t total_steps_;
  int64_t steps_done_ = 0;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::AdamW> adamw_;
};

}  // namespace crucible::trainer
