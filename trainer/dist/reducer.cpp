#include "trainer/dist/reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <fmt/format.h>

#include <stdexcept>
#include <unordered_set>

#include "core/error.h"

namespace crucible::trainer::dist {

GradReducer::GradReducer(Comm& comm, std::vector<torch::Tensor> params, int64_t bucket_bytes,
                         int64_t first_bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  std::unordered_set<const void*> seen;
  for (const auto& p : params_)
    if (!p.requires_grad() || !p.is_leaf() || !seen.insert(p.unsafeGetTensorImpl()).second)
      throw std::logic_error("GradReducer: every parameter must be a distinct leaf that requires grad");
  // Reverse registration order: the order backward produces the gradients in, roughly (DDP's first guess).
  bucket_of_.assign(params_.size(), 0);
  int64_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    const int64_t size = p.numel() * p.element_size();
    const int64_t cap = members_.size() <= 1 ? first_bucket_bytes : bucket_bytes;
    const bool fits = !members_.empty() && bytes + size <= cap &&
                      params_[members_.back()[0]].scalar_type() == p.scalar_type() &&
                      params_[members_.back()[0]].device() == p.device();
    if (!fits) {
      members_.emplace_back();
      bytes = 0;
    }
    members_.back().push_back(k);
    bucket_of_[k] = members_.size() - 1;
    bytes += size;
  }
  stats_.buckets = static_cast<int64_t>(members_.size());
  // A post hook of the parameter's AccumulateGrad node runs after .grad took this backward's sum: DDP's hook point.
  for (size_t k = 0; k < params_.size(); ++k) {
    auto acc = torch::autograd::impl::grad_accumulator(params_[k]);
    hook_keys_.push_back(acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          on_gradient(k);
          return outputs;
        })));
    accumulators_.push_back(std::move(acc));
  }
}

GradReducer::~GradReducer() {
  for (size_t k = 0; k < accumulators_.size(); ++k) accumulators_[k]->del_post_hook(hook_keys_[k]);
}

void GradReducer::begin_step(double scale) {
  std::lock_guard lock(mu_);
  if (!work_.empty()) throw std::logic_error("GradReducer::begin_step before the previous step's finish()");
  torch::NoGradGuard ng;
  armed_ = false;
  scale_ = scale;
  next_ = 0;
  param_ready_.assign(params_.size(), 0);
  bucket_pending_.clear();
  flat_.clear();
  for (const auto& m : members_) {
    int64_t n = 0;
    for (size_t k : m) n += params_[k].numel();
    auto flat = torch::zeros({n}, params_[m[0]].options().requires_grad(false));
    int64_t off = 0;
    for (size_t k : m) {
      auto& g = params_[k].mutable_grad();
      // detach(): the same memory without the view's autograd record, since torch::optim's zero_grad detaches the
      // gradient in place, which autograd refuses for a view (DDP's gradient_as_bucket_view meets the same).
      auto view = flat.narrow(0, off, params_[k].numel()).view_as(params_[k]).detach();
      if (g.defined()) view.copy_(g);
      // AccumulateGrad adds into a defined .grad in place (backward runs without grad mode), so every micro-batch's
      // gradient lands in the bucket's buffer.
      g = view;
      off += params_[k].numel();
    }
    flat_.push_back(flat);
    bucket_pending_.push_back(m.size());
  }
  inflight_.assign(members_.size(), {});
  work_.assign(members_.size(), {});
}

void GradReducer::arm() {
  std::lock_guard lock(mu_);
  armed_ = true;
}

void GradReducer::on_gradient(size_t param) {
  std::lock_guard lock(mu_);
  if (!armed_) return;  // an earlier micro-batch: accumulate only
  const size_t b = bucket_of_[param];
  if (work_[b])
    throw std::logic_error(fmt::format("GradReducer: parameter {} received a gradient after its bucket's all-reduce "
                                       "started (a parameter used in two graphs of one backward?)",
                                       param));
  if (param_ready_[param]) return;
  param_ready_[param] = 1;
  --bucket_pending_[b];
  while (next_ < members_.size() && bucket_pending_[next_] == 0) launch(next_++, /*in_backward=*/true);
}

void GradReducer::launch(size_t b, bool in_backward) {
  torch::NoGradGuard ng;
  // The same product the gradient would get alone: scaling a flat buffer is elementwise.
  if (scale_ != 1.0) flat_[b].mul_(scale_);
  inflight_[b] = {flat_[b]};
  work_[b] = comm_.start_all_reduce_sum(inflight_[b]);
  ++stats_.launched;
  if (in_backward) ++stats_.launched_in_backward;
}

void GradReducer::finish() {
  std::unique_lock lock(mu_);
  armed_ = false;
  while (next_ < members_.size()) launch(next_++, /*in_backward=*/false);
  auto work = std::move(work_);
  work_.clear();
  lock.unlock();
  for (size_t b = 0; b < work.size(); ++b)
    comm_.wait_for(fmt::format("gradient all_reduce (bucket {} of {})", b + 1, work.size()), work[b]);
  // The .grad views keep the buffers alive until the optimizer frees the gradients.
  std::lock_guard relock(mu_);
  flat_.clear();
  inflight_.clear();
}

GradReducer::Stats GradReducer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string GradReducer::describe() const {
  const auto s = stats();
  return fmt::format("gradient all-reduce: {} bucket{} a step, {} of {} started during backward", s.buckets,
                     s.buckets == 1 ? "" : "s", s.launched_in_backward, s.launched);
}

}  // namespace crucible::trainer::dist
