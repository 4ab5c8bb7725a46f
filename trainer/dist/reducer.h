// The data-parallel gradient sum, overlapped with backward: what DDP's Reducer does, for crucible's steps of several
// micro-batches (trainer/README.md, "Past one process"). Two modes: all-reduce (every rank ends with the whole
// gradient) and, for --shard, reduce-scatter (each rank ends with the gradient of its own 1/W slice only: ZeRO-2).
//
//   dist::GradReducer reducer(*comm, params, mode);  // once: buckets, one hook per parameter
//   every optimizer step:
//     reducer.begin_step(scale);                // all_reduce: each .grad becomes a view of its bucket's flat buffer
//     auto h = reducer.hooks();                 // the step's loop calls them (trainer/backward_hooks.h):
//       h.plan(passes)                          //   reduce_scatter: the ranks agree on the most passes (all_reduce: -)
//       h.before(last); backward; h.after();    //   around every backward pass
//     reducer.finish();                         // starts the buckets not started, waits for all of them
//     opt.step(reducer.take_slice_gradient());  // reduce_scatter: this rank's slice; all_reduce: undefined
//   all_reduce: backward passes but the last accumulate locally, no communication (DDP's no_sync); before(true) arms
//     the reducer, so in the last one a bucket's all-reduce starts once its last gradient lands.
//   reduce_scatter: every pass is armed and ends with its own reduce-scatter (after(): the rest of the buckets, then
//     a wait), summed into the slice gradient: DeepSpeed ZeRO-2's per-micro-batch reduction. The ranks' pass
//     counts differ (their shares of a batch do), so plan() all-reduces the largest and finish() runs the missing
//     passes as reduce-scatters of zeros: every rank takes part in the same collectives in the same order.
//
// Buckets hold parameters in reverse registration order (backward produces the last layers' gradients first), the
// first one small (1 MiB) so communication starts early, the others about 25 MB, as DDP's defaults. At launch a
// bucket's flat buffer is multiplied by `scale` (this rank's share of the global normaliser) and summed over the
// ranks.
//   all_reduce: every .grad is a view of its bucket's buffer, summed in place: nothing is copied in or out, and after
//     finish() each rank holds the gradient of the global batch in .grad. The buffers are allocated once and zeroed
//     by each begin_step.
//   reduce_scatter: all parameters flattened in registration order are cut into W contiguous slices
//     (dist::contiguous_share, the slices trainer::Optimizer's --shard updates). The .grad tensors are ordinary
//     (AccumulateGrad allocates them); when a bucket is ready its gradients are copied into a staging buffer (one,
//     kept across buckets and steps; a bucket's parameters are consecutive, so it holds one contiguous run of the
//     flattening), the .grad tensors are released, and the buffer is reduce-scattered with unequal pieces: each rank
//     receives the sum of the elements of its slice that the bucket holds, written straight into its slice gradient
//     (1/W of the parameters). Launching bucket b first waits for bucket b-1 (and so frees the staging buffer for
//     it), so one bucket's buffer is in flight at a time
//     (beside, while it is made, the .grad tensors it copies: two bucket sizes at most; a bucket of one parameter,
//     such as an embedding larger than the cap, is sent from its .grad without a copy). After finish()
//     no parameter has a .grad. Each backward pass is reduced before the next one starts, so the whole gradient
//     never exists at once, however many micro-batches a step has: each bucket is freed as backward fills it (a
//     pass after the first receives its pieces into a temporary and adds them to the slice gradient).
//
// Every rank starts its buckets in the same order (bucket b only after buckets 0..b-1), whatever order the hooks fire
// in, so the collectives match. A parameter that gets no gradient in the last backward (unused by this rank's
// micro-batch, or a rank that ran no backward at all) holds zeros or its earlier micro-batches' sum and is sent by
// finish(): no rank waits for a gradient that never comes. Parameters must be distinct leaf tensors.
#pragma once
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "trainer/backward_hooks.h"
#include "trainer/dist/comm.h"
#include "trainer/dist/split.h"

namespace torch::autograd {
struct Node;
}

namespace crucible::trainer::dist {

class GradReducer {
 public:
  enum class Mode { all_reduce, reduce_scatter };
  GradReducer(Comm& comm, std::vector<torch::Tensor> params, Mode mode = Mode::all_reduce,
              int64_t bucket_bytes = 25 << 20, int64_t first_bucket_bytes = 1 << 20);
  ~GradReducer();  // removes the hooks
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Before the step's first backward. A gradient already defined is kept (copied into its view).
  void begin_step(double scale);
  // The calls a step's loop makes around its backward passes (see the top of this file); valid for the reducer's life.
  BackwardHooks hooks();
  // From now on (this backward pass) a bucket whose every gradient has landed starts its collective.
  void arm();
  // reduce_scatter: this rank runs `passes` backward passes this step; every rank learns the most (a collective,
  // once a step, before the first pass: every rank calls it, 0 when it runs none, or none does). all_reduce: nothing.
  void plan_passes(int64_t passes);
  // reduce_scatter, after a backward pass: its remaining buckets started, every bucket waited for (the step's last
  // pass: left to finish()).
  void end_pass();
  // After the last backward (or instead of it): starts what has not started, in bucket order, then waits for every
  // bucket (the Comm's timeout; a dead rank is a RunError naming the bucket); reduce_scatter: first the passes other
  // ranks run and this one did not, as reduce-scatters of zeros.
  void finish();
  // reduce_scatter, after finish(): this rank's slice of the summed gradient (flat, float32 for float32 parameters),
  // handed over (the reducer keeps no reference). all_reduce: an undefined tensor (the gradient is in .grad).
  torch::Tensor take_slice_gradient();
  Mode mode() const { return mode_; }
  // This rank's slice [first, first + count) of all parameters flattened in order (reduce_scatter's, --shard's).
  Share slice() const { return slice_; }

  struct Stats {
    int64_t buckets = 0;               // per step
    int64_t launched_in_backward = 0;  // summed over steps: buckets whose all-reduce a hook started
    int64_t launched = 0;              // summed over steps
    int64_t most_buffers_alive = 0;    // reduce_scatter: the most bucket buffers alive at once (1)
  };
  Stats stats() const;
  // "gradient all-reduce: B buckets a step, L of N started during backward" (reduce_scatter: "gradient
  // reduce-scatter: …"; each rank logs it at the end of a run).
  std::string describe() const;
  // Parameter indices (into the constructor's list) of each bucket, in launch order.
  const std::vector<std::vector<size_t>>& buckets() const { return members_; }

 private:
  void on_gradient(size_t param);  // an AccumulateGrad post hook: param's .grad has its sum for this backward
  void launch(size_t bucket, bool in_backward);
  void retire(size_t bucket);  // waits for the bucket's collective and drops its buffers
  void launch_rest_and_wait();  // starts the buckets not started, in order, and waits for every one
  void start_pass();            // no bucket ready or started

  Comm& comm_;
  Mode mode_;
  Share slice_;                          // this rank's elements of the flattening
  std::vector<int64_t> param_offset_;    // parameter -> its first element in the flattening
  int64_t total_ = 0;                    // elements of all parameters
  std::vector<torch::Tensor> params_;
  std::vector<std::vector<size_t>> members_;  // bucket -> parameters
  std::vector<size_t> bucket_of_;             // parameter -> bucket
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // the params hold them weakly: kept alive here
  std::vector<uintptr_t> hook_keys_;

  mutable std::mutex mu_;  // hooks may run on autograd's device threads (CUDA)
  bool armed_ = false;
  double scale_ = 1.0;
  std::vector<torch::Tensor> flat_;  // all_reduce: per bucket, its buffer (the .grad views'), kept across steps
  torch::Tensor stage_;              // reduce_scatter: the buffer a bucket's gradients are copied into, kept
  torch::Tensor slice_grad_;         // reduce_scatter: this step's gradient of the slice
  std::vector<std::vector<torch::Tensor>> inflight_;  // per bucket: what its Work reads and writes, until retired
  std::vector<c10::intrusive_ptr<c10d::Work>> work_;
  std::vector<char> param_ready_;
  std::vector<size_t> bucket_pending_;  // parameters of the bucket still without their last gradient
  size_t next_ = 0;                     // the next bucket to launch
  int64_t pass_ = 0;                    // reduce_scatter: backward passes reduced this step
  int64_t passes_ = -1;                 // reduce_scatter: passes every rank runs this step (-1: not agreed yet)
  Stats stats_;
};

}  // namespace crucible::trainer::dist
