#include "trainer/optimizer.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "kernels/adamw.h"
#include "model/block_cache.h"
#include "trainer/dist/comm.h"
#include "trainer/dist/env.h"
#include "trainer/dist/split.h"

namespace crucible::trainer {

void fused_adamw_step(torch::optim::AdamW& adamw) {
  torch::NoGradGuard ng;
  for (auto& group : adamw.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double lr = o.lr(), beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps;  // for ATen's kernel
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (p.grad().is_sparse()) throw RunError("AdamW: sparse gradients are not supported");
      auto& slot = adamw.state()[p.unsafeGetTensorImpl()];
      if (!slot) {  // what torch::optim::AdamW::step creates on a parameter's first step
        auto st = std::make_unique<torch::optim::AdamWParamState>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        st->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        if (o.amsgrad()) st->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(st);
      }
      auto& st = static_cast<torch::optim::AdamWParamState&>(*slot);
      st.step(st.step() + 1);
      const auto& g = p.grad();
      const bool cpu_f32 = !o.amsgrad() && p.device().is_cpu() && p.scalar_type() == torch::kFloat32 &&
                           g.scalar_type() == torch::kFloat32 && p.is_contiguous() && g.is_contiguous() &&
                           st.exp_avg().is_contiguous() && st.exp_avg_sq().is_contiguous();
      if (cpu_f32) {
        const auto k = kernels::AdamWStep::at(lr, o.weight_decay(), beta1, beta2, o.eps(), st.step());
        kernels::adamw_step_cpu(p.data_ptr<float>(), g.data_ptr<float>(), st.exp_avg().data_ptr<float>(),
                                st.exp_avg_sq().data_ptr<float>(), p.numel(), k);
        continue;
      }
      params.push_back(p);
      grads.push_back(g);
      exp_avgs.push_back(st.exp_avg());
      exp_avg_sqs.push_back(st.exp_avg_sq());
      if (o.amsgrad()) max_exp_avg_sqs.push_back(st.max_exp_avg_sq());
      // ATen reads the step count (already incremented, as torch.optim's fused path passes it) as a float tensor on
      // the parameter's device.
      steps.push_back(torch::full({}, static_cast<double>(st.step()), p.options().dtype(torch::kFloat32)));
    }
    if (params.empty()) continue;
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2,
                      o.weight_decay(), o.eps(), o.amsgrad(), /*maximize=*/false);
  }
}

bool Optimizer::decays(const std::string& name) {
  // transformers' Trainer.get_decay_parameter_names: bias, layernorm, rmsnorm, a `norm` module, a `*_norm` module.
  static const std::regex no_decay(R"(bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.))");
  std::string lower = name;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return !std::regex_search(lower, no_decay);
}

Optimizer::Optimizer(model::Transformer model, const OptimConfig& config, int64_t total_steps, dist::Comm* shard)
    : model_(std::move(model)), config_(config), total_steps_(total_steps), shard_(shard) {
  config_.validate();
  if (total_steps_ < 1) throw InputError("optimizer", "total_steps", "must be >= 1");
  // An inference-loaded model holds its linear weights only in packed form; AdamW needs the dense parameters.
  model_->restore_dense_weights();
  std::vector<torch::Tensor> decay, no_decay;
  std::vector<bool> decayed;
  for (auto& item : model_->named_parameters()) {
    if (!item.value().requires_grad()) continue;
    params_.push_back(item.value());
    decayed.push_back(decays(item.key()));
    (decayed.back() ? decay : no_decay).push_back(item.value());
  }
  if (params_.empty()) throw InputError("optimizer", "parameters", "the model has no trainable parameters");
  if (shard_) {
    // AdamW over this rank's pieces only: the same elementwise update on fewer elements. A piece is a view of its
    // parameter's storage (no copy): AdamW updates the parameter in place, and a resume that loads the parameters
    // loads the pieces with them.
    decay.clear();
    no_decay.clear();
    int64_t total = 0;
    for (const auto& p : params_) total += p.numel();
    const auto share = dist::contiguous_share(static_cast<size_t>(total), shard_->rank(), shard_->world_size());
    const auto lo = static_cast<int64_t>(share.first), hi = static_cast<int64_t>(share.first + share.count);
    int64_t offset = 0;
    for (size_t i = 0; i < params_.size(); ++i) {
      const int64_t a = std::max(offset, lo), b = std::min(offset + params_[i].numel(), hi);
      if (a < b) {
        if (!params_[i].is_contiguous())
          throw RunError("--shard: parameter " + std::to_string(i) + " is not contiguous (a slice cannot be a view)");
        auto piece = params_[i].detach().view({-1}).narrow(0, a - offset, b - a).requires_grad_(true);
        pieces_.push_back({i, a - offset, piece});
        slice_numel_ += b - a;
        (decayed[i] ? decay : no_decay).push_back(piece);
      }
      offset += params_[i].numel();
    }
  }
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

StepStats Optimizer::step(torch::Tensor slice_gradient) {
  if (shard_ && (!slice_gradient.defined() || slice_gradient.numel() != slice_numel_))
    throw std::logic_error(fmt::format("Optimizer::step: --shard needs this rank's slice gradient of {} elements "
                                       "(dist::GradReducer in reduce_scatter mode), got {}",
                                       slice_numel_, slice_gradient.defined() ? slice_gradient.numel() : -1));
  if (!shard_ && slice_gradient.defined())
    throw std::logic_error("Optimizer::step: a slice gradient without --shard");
  StepStats s;
  s.lr = lr_now();
  gradient_bytes_ = slice_gradient.defined() ? slice_gradient.numel() * slice_gradient.element_size() : 0;
  for (const auto& p : params_)
    if (p.grad().defined()) gradient_bytes_ += p.grad().numel() * p.grad().element_size();
  // The pre-clip norm, as torch.nn.utils.clip_grad_norm_ computes it (norm of the per-parameter norms); clipping
  // scales by max_norm / (norm + 1e-6) when that is below 1.
  const double max_norm = config_.max_grad_norm > 0 ? config_.max_grad_norm : INFINITY;
  s.grad_norm = shard_ ? clip_slice(slice_gradient, max_norm)
                       : torch::nn::utils::clip_grad_norm_(params_, max_norm, 2.0);
  if (!std::isfinite(s.grad_norm)) {
    s.skipped = true;
  } else {
    for (auto& g : adamw_->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(s.lr);
    if (shard_) {
      step_sharded(slice_gradient);
    } else {
      fused_adamw_step(*adamw_);
    }
  }
  adamw_->zero_grad(/*set_to_none=*/true);
  for (auto& p : params_) p.mutable_grad().reset();  // --shard: AdamW's parameters are the pieces
  ++steps_done_;
  // Only a model that has generated (a GRPO rollout, an eval) has packed inference weights to refresh; packing them
  // for a model that never generates (SFT) would cost a second copy of the weights for nothing.
  if (model_->times_packed() > 0) model_->refresh_inference_weights();
  return s;
}

double Optimizer::clip_slice(torch::Tensor& slice_gradient, double max_norm) {
  torch::NoGradGuard ng;
  // Each piece's norm as clip_grad_norm_ takes each parameter's (a piece that is a whole parameter: the same
  // reduction over the same values), their squares summed in float64 and all-reduced: the global norm from the
  // shards, equal to the unsharded one but for the order of float32 additions.
  std::vector<torch::Tensor> norms;
  int64_t off = 0;
  for (const auto& pc : pieces_) {
    norms.push_back(torch::linalg_vector_norm(slice_gradient.narrow(0, off, pc.piece.numel()), 2));
    off += pc.piece.numel();
  }
  auto sq = norms.empty() ? torch::zeros({1}, slice_gradient.options().dtype(torch::kFloat64))
                          : torch::stack(norms).to(torch::kFloat64).pow(2).sum().reshape({1});
  std::vector<torch::Tensor> t{sq};
  shard_->all_reduce_sum(t);
  // From here clip_grad_norm_'s own arithmetic: the total as a tensor of the gradient's dtype, the coefficient
  // max_norm / (total + 1e-6) clamped to 1 and multiplied in (skipped when the norm is not finite: no update).
  auto total = t[0].sqrt().to(slice_gradient.scalar_type()).reshape({});
  const double norm = total.item<double>();
  if (std::isfinite(norm))
    slice_gradient.mul_(torch::clamp(max_norm / (total + 1e-6), std::nullopt, 1.0));
  return norm;
}

void Optimizer::step_sharded(const torch::Tensor& slice_gradient) {
  // The pieces' gradients are views of the clipped slice gradient, in the slice's order: AdamW reads them and writes
  // the parameters' own elements, so nothing is copied.
  int64_t off = 0;
  for (auto& pc : pieces_) {
    pc.piece.mutable_grad() = slice_gradient.narrow(0, off, pc.piece.numel()).view_as(pc.piece);
    off += pc.piece.numel();
  }
  fused_adamw_step(*adamw_);
  // Dropped now, so no piece holds on to a view of the slice gradient after step() returns.
  for (auto& pc : pieces_) pc.piece.mutable_grad().reset();
  // Every rank now holds its slice updated and the rest stale: zero the rest and sum the ranks' bits.
  torch::NoGradGuard ng;
  std::vector<std::pair<int64_t, int64_t>> mine(params_.size(), {0, 0});  // [begin, end) of each parameter's piece
  for (const auto& pc : pieces_) mine[pc.param] = {pc.begin, pc.begin + pc.piece.numel()};
  for (size_t i = 0; i < params_.size(); ++i) {
    auto flat = params_[i].detach().view({-1});
    const auto [b, e] = mine[i];
    if (b > 0) flat.narrow(0, 0, b).zero_();
    if (e > b && e < flat.numel()) flat.narrow(0, e, flat.numel() - e).zero_();
    if (e == b) flat.zero_();
  }
  dist::assemble_slices(*shard_, params_);
}

int64_t Optimizer::state_bytes() const {
  int64_t bytes = 0;
  for (const auto& [key, state] : adamw_->state()) {
    const auto& st = static_cast<const torch::optim::AdamWParamState&>(*state);
    for (const auto& t : {st.exp_avg(), st.exp_avg_sq(), st.max_exp_avg_sq()})
      if (t.defined()) bytes += t.numel() * t.element_size();
  }
  return bytes;
}

void log_rank_memory(int rank, const Optimizer& opt, int64_t rss_before_load) {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const int64_t peak = static_cast<int64_t>(ru.ru_maxrss) * 1024;
  std::string above;
  if (rss_before_load >= 0)
    above = fmt::format(" ({} MiB above the {} MiB resident before loading)", (peak - rss_before_load) >> 20,
                        rss_before_load >> 20);
  log::info("rank {}: optimizer state {} bytes, gradients {} bytes at the last step{}, peak RSS {} MiB{}", rank,
            opt.state_bytes(), opt.gradient_bytes(), opt.sharded() ? " (--shard)" : "", peak >> 20, above);
}

int64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return -1;
  return resident * ::sysconf(_SC_PAGESIZE);
}

void log_memory(const char* what, int64_t n) {
  if (log::level() > log::Level::debug) return;
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const auto heap = ::mallinfo2();  // every arena's
  log::debug("rank {} memory at {} {}: resident {} MiB (peak {}), heap in use {} MiB, free {} MiB kept by glibc, {} MiB "
             "of freed large blocks kept by the block cache",
             dist::dist_env().rank, what, n, resident_bytes() >> 20, ru.ru_maxrss >> 10, heap.uordblks >> 20,
             heap.fordblks >> 20, model::block_cache_stats().cached_bytes >> 20);
}

std::optional<std::string> BadStepStreak::record(const StepStats& s, int64_t step) {
  streak_ = s.skipped ? streak_ + 1 : 0;
  if (streak_ < limit_) return std::nullopt;
  return "--max-bad-steps " + std::to_string(limit_) + ": steps " + std::to_string(step - streak_ + 1) + " to " +
         std::to_string(step) + " all had a non-finite gradient norm (" + std::to_string(s.grad_norm) +
         "); the run stops (lower --lr, or check the data)";
}

void inject_test_nan(const std::vector<torch::Tensor>& params, int64_t step, int rank) {
  const char* steps = std::getenv("CRUCIBLE_TEST_NAN_AT_STEP");
  if (!steps || params.empty()) return;
  if (const char* r = std::getenv("CRUCIBLE_TEST_NAN_RANK"); r && std::atoi(r) != rank) return;
  if ((std::string(",") + steps + ",").find("," + std::to_string(step) + ",") == std::string::npos) return;
  torch::NoGradGuard ng;
  auto& g = params[0].mutable_grad();
  if (!g.defined()) g = torch::zeros_like(params[0]);
  g.view({-1})[0] = std::numeric_limits<float>::quiet_NaN();
}

}  // namespace crucible::trainer
