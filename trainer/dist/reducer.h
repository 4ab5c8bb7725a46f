// The data-parallel gradient sum, overlapped with backward: what DDP's Reducer does, for crucible's steps of several
// micro-batches (trainer/README.md, "Past one process").
//
//   dist::GradReducer reducer(*comm, params);   // once: buckets, one hook per parameter
//   every optimizer step:
//     reducer.begin_step(scale);                // each .grad becomes a view of its bucket's flat buffer (zeros)
//     backward of every micro-batch but the last   // accumulates locally, no communication (DDP's no_sync)
//     reducer.arm();  last micro-batch's backward  // a bucket's all-reduce starts once its last gradient lands
//     reducer.finish();                         // starts the buckets not started, waits for all of them
//
// Buckets hold parameters in reverse registration order (backward produces the last layers' gradients first), the
// first one small (1 MiB) so communication starts early, the others about 25 MB, as DDP's defaults. At launch a
// bucket's flat buffer is multiplied by `scale` (this rank's share of the global normaliser) and summed in place
// over the ranks: since every .grad is a view of that buffer, nothing is copied in or out, and after finish() each
// rank holds the gradient of the global batch.
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

#include "trainer/dist/comm.h"

namespace torch::autograd {
struct Node;
}

namespace crucible::trainer::dist {

class GradReducer {
 public:
  GradReducer(Comm& comm, std::vector<torch::Tensor> params, int64_t bucket_bytes = 25 << 20,
              int64_t first_bucket_bytes = 1 << 20);
  ~GradReducer();  // removes the hooks
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Before the step's first backward. A gradient already defined is kept (copied into its view).
  void begin_step(double scale);
  // Before the step's last backward: from now on a bucket whose every gradient has landed starts its all-reduce.
  void arm();
  // After the last backward (or instead of it): starts what has not started, in bucket order, then waits for every
  // bucket (the Comm's timeout; a dead rank is a RunError naming the bucket).
  void finish();

  struct Stats {
    int64_t buckets = 0;               // per step
    int64_t launched_in_backward = 0;  // summed over steps: buckets whose all-reduce a hook started
    int64_t launched = 0;              // summed over steps
  };
  Stats stats() const;
  // "gradient all-reduce: B buckets a step, L of N started during backward" (each rank logs it at the end of a run).
  std::string describe() const;
  // Parameter indices (into the constructor's list) of each bucket, in launch order.
  const std::vector<std::vector<size_t>>& buckets() const { return members_; }

 private:
  void on_gradient(size_t param);  // an AccumulateGrad post hook: param's .grad has its sum for this backward
  void launch(size_t bucket, bool in_backward);

  Comm& comm_;
  std::vector<torch::Tensor> params_;
  std::vector<std::vector<size_t>> members_;  // bucket -> parameters
  std::vector<size_t> bucket_of_;             // parameter -> bucket
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // the params hold them weakly: kept alive here
  std::vector<uintptr_t> hook_keys_;

  mutable std::mutex mu_;  // hooks may run on autograd's device threads (CUDA)
  bool armed_ = false;
  double scale_ = 1.0;
  std::vector<torch::Tensor> flat_;  // per bucket, this step's buffer
  std::vector<std::vector<torch::Tensor>> inflight_;  // per bucket: the tensor list the Work holds
  std::vector<c10::intrusive_ptr<c10d::Work>> work_;
  std::vector<char> param_ready_;
  std::vector<size_t> bucket_pending_;  // parameters of the bucket still without their last gradient
  size_t next_ = 0;                     // the next bucket to launch
  Stats stats_;
};

}  // namespace crucible::trainer::dist
