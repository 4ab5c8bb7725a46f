#include "trainer/dist/reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_set>

#include "core/error.h"

namespace crucible::trainer::dist {

GradReducer::GradReducer(Comm& comm, std::vector<torch::Tensor> params, Mode mode, int64_t bucket_bytes,
                         int64_t first_bucket_bytes)
    : comm_(comm), mode_(mode), params_(std::move(params)) {
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
  for (const auto& p : params_) {
    param_offset_.push_back(total_);
    total_ += p.numel();
  }
  slice_ = contiguous_share(static_cast<size_t>(total_), comm_.rank(), comm_.world_size());
  if (mode_ == Mode::reduce_scatter)
    for (const auto& p : params_)  // one flat slice gradient for them all
      if (p.scalar_type() != params_[0].scalar_type() || p.device() != params_[0].device())
        throw std::logic_error("GradReducer: reduce_scatter needs every parameter of one dtype and device");
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
  scale_ = scale;
  pass_ = 0;
  passes_ = -1;
  start_pass();
  if (mode_ == Mode::reduce_scatter) {
    // Every element of the slice is written by exactly one bucket's reduce-scatter: no zeros needed. Gradients
    // already defined (a test's injected NaN) stay where they are and are collected at launch.
    slice_grad_ = torch::empty({static_cast<int64_t>(slice_.count)},
                               params_.front().options().requires_grad(false));
    return;
  }
  // The buckets' buffers live as long as the reducer (DDP's buckets do): a step zeroes them instead of allocating
  // and faulting in the model's size again. (Tried as the cause of the 2-rank peak's gap to the plan, heap churn
  // beside the activations: the peak moved by less than run-to-run noise, benchmarks/RESULTS.md, session 11.)
  flat_.resize(members_.size());
  for (size_t b = 0; b < members_.size(); ++b) {
    const auto& m = members_[b];
    if (!flat_[b].defined()) {
      int64_t n = 0;
      for (size_t k : m) n += params_[k].numel();
      flat_[b] = torch::empty({n}, params_[m[0]].options().requires_grad(false));
    }
    int64_t off = 0;
    for (size_t k : m) {
      auto& g = params_[k].mutable_grad();
      // detach(): the same memory without the view's autograd record, since torch::optim's zero_grad detaches the
      // gradient in place, which autograd refuses for a view (DDP's gradient_as_bucket_view meets the same).
      auto view = flat_[b].narrow(0, off, params_[k].numel()).view_as(params_[k]).detach();
      // AccumulateGrad adds into a defined .grad in place (backward runs without grad mode), so every micro-batch's
      // gradient lands in the bucket's buffer. A gradient still defined keeps its values (it may be the view itself).
      if (!g.defined())
        view.zero_();
      else if (g.data_ptr() != view.data_ptr())
        view.copy_(g);
      g = view;
      off += params_[k].numel();
    }
  }
}

void GradReducer::start_pass() {
  armed_ = false;
  next_ = 0;
  param_ready_.assign(params_.size(), 0);
  bucket_pending_.clear();
  inflight_.assign(members_.size(), {});
  work_.assign(members_.size(), {});
  for (const auto& m : members_) bucket_pending_.push_back(m.size());
}

BackwardHooks GradReducer::hooks() {
  BackwardHooks h;
  h.plan = [this](int64_t passes) { plan_passes(passes); };
  if (mode_ == Mode::all_reduce) {
    h.before = [this](bool last) {
      if (last) arm();
    };
    h.after = [] {};
  } else {
    h.before = [this](bool) { arm(); };
    h.after = [this] { end_pass(); };
  }
  return h;
}

void GradReducer::arm() {
  std::lock_guard lock(mu_);
  armed_ = true;
}

void GradReducer::plan_passes(int64_t passes) {
  if (mode_ != Mode::reduce_scatter) return;
  std::vector<torch::Tensor> t{torch::tensor({passes}, torch::kInt64).to(params_.front().device())};
  comm_.all_reduce_max(t);
  std::lock_guard lock(mu_);
  passes_ = t[0].to(torch::kCPU).item<int64_t>();
}

void GradReducer::end_pass() {
  std::lock_guard lock(mu_);
  if (mode_ != Mode::reduce_scatter) throw std::logic_error("GradReducer::end_pass: reduce_scatter mode only");
  // The step's last pass is left in flight: finish() completes it, after whatever the loop does next (GRPO's
  // forward of the skipped sequences) has overlapped it.
  if (passes_ >= 0 && pass_ + 1 >= passes_) return;
  launch_rest_and_wait();
  ++pass_;
  start_pass();
}

void GradReducer::on_gradient(size_t param) {
  std::lock_guard lock(mu_);
  if (!armed_) return;  // an earlier micro-batch: accumulate only
  const size_t b = bucket_of_[param];
  // Buckets launch in order, so b < next_ is "launched" (a reduce-scattered bucket is retired, its Work gone, once
  // the next one launches; its late gradient would land in a .grad nobody sends).
  if (b < next_)
    throw std::logic_error(fmt::format("GradReducer: parameter {} received a gradient after its bucket's {} "
                                       "started (a parameter used in two graphs of one backward?)",
                                       param, mode_ == Mode::all_reduce ? "all-reduce" : "reduce-scatter"));
  if (param_ready_[param]) return;
  param_ready_[param] = 1;
  --bucket_pending_[b];
  while (next_ < members_.size() && bucket_pending_[next_] == 0) launch(next_++, /*in_backward=*/true);
}

void GradReducer::launch(size_t b, bool in_backward) {
  torch::NoGradGuard ng;
  if (mode_ == Mode::all_reduce) {
    // The same product the gradient would get alone: scaling a flat buffer is elementwise.
    if (scale_ != 1.0) flat_[b].mul_(scale_);
    inflight_[b] = {flat_[b]};
    work_[b] = comm_.start_all_reduce_sum(inflight_[b]);
  } else {
    // Bucket b-1 is waited for first (it had the time backward took to fill bucket b) and its buffer freed: one
    // bucket's buffer in flight, beside the .grad tensors being copied into the next one.
    if (b > 0) retire(b - 1);
    // The bucket's parameters are consecutive (members_ lists them in reverse): its buffer is elements
    // [first, last) of the flattening, laid in registration order.
    const auto& m = members_[b];
    const size_t lo_param = m.back();
    const int64_t first = param_offset_[lo_param];
    torch::Tensor flat;
    if (const auto& g = params_[m[0]].grad(); m.size() == 1 && g.defined() && g.is_contiguous()) {
      flat = g.view({-1});  // a bucket of one parameter (an embedding past the cap) is sent from its .grad: no copy
    } else {
      // Copied into one staging buffer kept for the reducer's life (bucket b-1, its last user, was retired above).
      int64_t n = 0;
      for (size_t k : m) n += params_[k].numel();
      if (!stage_.defined() || stage_.numel() < n)
        stage_ = torch::empty({n}, params_[m[0]].options().requires_grad(false));
      flat = stage_.narrow(0, 0, n);
      int64_t off = 0;
      for (auto it = m.rbegin(); it != m.rend(); ++it) {
        const auto& gi = params_[*it].grad();
        auto dst = flat.narrow(0, off, params_[*it].numel());
        if (gi.defined())
          dst.copy_(gi.reshape({-1}));
        else
          dst.zero_();
        off += params_[*it].numel();
      }
    }
    for (size_t k : m) params_[k].mutable_grad().reset();  // the whole-size gradient ends here (ZeRO-2)
    if (scale_ != 1.0) flat.mul_(scale_);
    const int64_t last = first + flat.numel();
    // Piece q: the bucket's elements inside rank q's slice (often all of them in one rank's).
    std::vector<torch::Tensor> pieces;
    for (int q = 0; q < comm_.world_size(); ++q) {
      const auto s = contiguous_share(static_cast<size_t>(total_), q, comm_.world_size());
      const int64_t a = std::clamp(static_cast<int64_t>(s.first), first, last);
      const int64_t e = std::clamp(static_cast<int64_t>(s.first + s.count), first, last);
      pieces.push_back(flat.narrow(0, a - first, e - a));
    }
    // Where this rank's piece lands in its slice (an empty piece: anywhere, 0).
    const int64_t mine = pieces[static_cast<size_t>(comm_.rank())].numel();
    const auto lo = static_cast<int64_t>(slice_.first);
    const int64_t at = mine > 0 ? std::max(first, lo) - lo : 0;
    auto out = slice_grad_.narrow(0, at, mine);
    if (pass_ == 0) {  // the first pass writes every element of the slice
      inflight_[b] = {flat, out};
      work_[b] = comm_.start_reduce_scatter_sum(out, pieces);
    } else {  // a later one is received apart and added when retired
      auto received = torch::empty_like(out);
      inflight_[b] = {flat, received, out};
      work_[b] = comm_.start_reduce_scatter_sum(received, pieces);
    }
    int64_t alive = 0;
    for (const auto& f : inflight_) alive += f.empty() ? 0 : 1;
    stats_.most_buffers_alive = std::max(stats_.most_buffers_alive, alive);
  }
  ++stats_.launched;
  if (in_backward) ++stats_.launched_in_backward;
}

void GradReducer::retire(size_t b) {
  if (!work_[b]) return;
  comm_.wait_for(fmt::format("gradient {} (bucket {} of {})",
                             mode_ == Mode::all_reduce ? "all_reduce" : "reduce_scatter", b + 1, work_.size()),
                 work_[b]);
  work_[b].reset();
  if (inflight_[b].size() == 3) {
    torch::NoGradGuard ng;
    inflight_[b][2].add_(inflight_[b][1]);  // a later pass's pieces into the slice gradient
  }
  inflight_[b].clear();
}

void GradReducer::launch_rest_and_wait() {
  armed_ = false;
  while (next_ < members_.size()) launch(next_++, /*in_backward=*/false);
  for (size_t b = 0; b < work_.size(); ++b) retire(b);
}

void GradReducer::finish() {
  std::lock_guard lock(mu_);
  if (mode_ == Mode::reduce_scatter) {
    // The passes other ranks run and this one did not (or, when no rank ran any, the one that writes the slice).
    // Never planned (arm() before the last backward, no hooks): one pass, the last backward's.
    const int64_t total = passes_ < 0 ? 1 : std::max<int64_t>(passes_, 1);
    if (pass_ > total)
      throw std::logic_error(fmt::format("GradReducer: {} backward passes reduced, {} planned", pass_, total));
    // The pass in progress (a loop without hooks.after, or one that ended mid-pass) and those still to match.
    while (pass_ < total) {
      launch_rest_and_wait();
      if (++pass_ < total) start_pass();
    }
  } else {
    launch_rest_and_wait();
  }
  work_.clear();
  inflight_.clear();  // all_reduce: the buckets' buffers stay (the .grad views of this step, next step's buffers)
}

torch::Tensor GradReducer::take_slice_gradient() {
  std::lock_guard lock(mu_);
  if (!work_.empty()) throw std::logic_error("GradReducer::take_slice_gradient before finish()");
  return std::move(slice_grad_);
}

GradReducer::Stats GradReducer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string GradReducer::describe() const {
  const auto s = stats();
  return fmt::format("gradient {}: {} bucket{} a step, {} of {} started during backward",
                     mode_ == Mode::all_reduce ? "all-reduce" : "reduce-scatter", s.buckets, s.buckets == 1 ? "" : "s",
                     s.launched_in_backward, s.launched);
}

}  // namespace crucible::trainer::dist
