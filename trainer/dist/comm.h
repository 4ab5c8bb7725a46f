// The collectives of a data-parallel run: PyTorch's own c10d (TCPStore rendezvous, ProcessGroupGloo on the CPU,
// ProcessGroupNCCL on CUDA when torch and crucible were built with CUDA). Nothing here moves bytes itself.
//
//   auto comm = dist::Comm::open(dist::dist_env(), device, std::chrono::seconds(300));  // nullptr: one process
//   comm->all_reduce_sum(tensors);   // in place, every rank ends with the sum
//
// The data-parallel gradient sum, overlapped with backward, is GradReducer (dist/reducer.h), built on this.
//
// Every collective waits at most `timeout`: a rank that died makes the others throw RunError (naming the operation
// and the rank) instead of hanging.
#pragma once
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trainer/dist/env.h"

namespace crucible::trainer::dist {

class Comm {
 public:
  // nullptr when env.world_size == 1. Rank 0 hosts the TCPStore on master_port; every rank waits for all others
  // (RunError after `timeout`, naming MASTER_ADDR:MASTER_PORT). device: cpu -> Gloo, cuda:N -> NCCL.
  static std::shared_ptr<Comm> open(const DistEnv& env, const torch::Device& device, std::chrono::milliseconds timeout);

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  const DistEnv& env() const { return env_; }
  std::string backend_name() const;

  void all_reduce_sum(std::vector<torch::Tensor>& tensors);
  // The same sum, started and not waited for (the tensors must not be touched until wait_for returns): what
  // GradReducer launches from inside backward. Every rank must start its collectives in the same order.
  c10::intrusive_ptr<c10d::Work> start_all_reduce_sum(std::vector<torch::Tensor>& tensors);
  // Waits for a started collective at most the timeout; a failure is the RunError the blocking calls throw, naming
  // `what`.
  void wait_for(const std::string& what, const c10::intrusive_ptr<c10d::Work>& work);
  // --shard's gradient sum, started and not waited for: `inputs` holds W pieces of one flat buffer (piece q: the
  // elements rank q owns; sizes may differ and be 0), `output` ends as the sum over the ranks of this rank's piece
  // (its size: inputs[rank]'s). c10d reduce_scatter: Gloo and NCCL both take unequal pieces.
  c10::intrusive_ptr<c10d::Work> start_reduce_scatter_sum(torch::Tensor& output, std::vector<torch::Tensor>& inputs);
  void all_reduce_max(std::vector<torch::Tensor>& tensors);
  void broadcast(std::vector<torch::Tensor>& tensors, int root);
  void barrier();
  // Rank 0 gets every rank's bytes in rank order (the others get {}), through the rendezvous TCPStore: for a step's
  // small records (GRPO's rollouts, which rank 0 alone stores), not for tensors.
  std::vector<std::string> gather_strings(const std::string& mine);

  ~Comm();

 private:
  Comm() = default;
  void wait(const std::string& what, const std::function<void()>& op);
  DistEnv env_;
  std::chrono::milliseconds timeout_{0};
  int64_t gathers_ = 0;  // keys of gather_strings: one prefix per call
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;
};

// The device of this rank: with several ranks on CUDA, rank r of a node takes cuda:LOCAL_RANK.
std::string rank_device(const std::string& device, const DistEnv& env);

// --shard's all-gather, in place: every rank holds its own slice of `params` and zeros elsewhere; the ranks' bit
// patterns are summed as integers in buckets, so each element ends as exactly its owner's value (-0.0 and NaN
// included, which a float sum would not keep; 2-byte types are summed as floats). No buffer the size of the parameters beyond one bucket.
void assemble_slices(Comm& comm, const std::vector<torch::Tensor>& params);

// Makes every rank start from rank 0's parameters (and checks nothing else: the optimizer state starts empty).
void broadcast_parameters(Comm& comm, const std::vector<torch::Tensor>& params);

}  // namespace crucible::trainer::dist
