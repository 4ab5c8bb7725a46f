#include "trainer/optimizer.h"

#include <cmath>
#include <regex>

#include "core/error.h"

namespace crucible::trainer {

bool Optimizer::decays(const std::string& name) {
  // transformers' Trainer.get_decay_parameter_names: bias, layernorm, rmsnorm, a `norm` module, a `*_norm` module.
  static const std::regex no_decay(R"(bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.))");
  std::string lower = name;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return !std::regex_search(lower, no_decay);
}

Optimizer::Optimizer(model::Transformer model, const OptimConfig& config, int64_t total_steps)
    : model_(std::move(model)), config_(config), total_steps_(total_steps) {
  config_.validate();
  if (total_steps_ < 1) throw InputError("optimizer", "total_steps", "must be >= 1");
  // An inference-loaded model holds its linear weights only in packed form; AdamW needs the dense parameters.
  model_->restore_dense_weights();
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& item : model_->named_parameters()) {
    if (!item.value().requires_grad()) continue;
    params_.push_back(item.value());
    (decays(item.key()) ? decay : no_decay).push_back(item.value());
  }
  if (params_.empty()) throw InputError("optimizer", "parameters", "the model has no trainable parameters");
  auto opts = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(config_.lr)
                                                            .betas({config_.beta1, config_.beta2})
                                                            .eps(config_.eps)
                                                            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) groups.emplace_back(decay, opts(config_.weight_decay));
  if (!no_decay.empty()) groups.emplace_back(no_decay, opts(0.0));
  adamw_ = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(config_.lr));
}

StepStats Optimizer::step() {
  StepStats s;
  s.lr = lr_now();
  {
    // The pre-clip norm, as torch.nn.utils.clip_grad_norm_ computes it (norm of the per-parameter norms); clipping
    // scales by max_norm / (norm + 1e-6) when that is below 1.
    const double max_norm = config_.max_grad_norm > 0 ? config_.max_grad_norm : INFINITY;
    s.grad_norm = torch::nn::utils::clip_grad_norm_(params_, max_norm, 2.0);
  }
  if (!std::isfinite(s.grad_norm)) {
    s.skipped = true;
  } else {
    for (auto& g : adamw_->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(s.lr);
    adamw_->step();
  }
  adamw_->zero_grad(/*set_to_none=*/true);
  ++steps_done_;
  // Only a model that has generated (a GRPO rollout, an eval) has packed inference weights to refresh; packing them
  // for a model that never generates (SFT) would cost a second copy of the weights for nothing.
  if (model_->times_packed() > 0) model_->refresh_inference_weights();
  return s;
}

}  // namespace crucible::trainer
