// Built against the wheel's c10d headers; ProcessGroupGloo.hpp needs gloo's headers, which the wheel does not ship:
// third_party/gloo-headers/README.md says where they come from and why declarations are all that is needed.
// USE_C10D_GLOO / USE_C10D_NCCL, which unlock those headers, come with the wheel's CMake config (TorchConfig's
// compile definitions), as the wheel was built with both.
#include "trainer/dist/comm.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef CRUCIBLE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <fmt/format.h>

#include <stdexcept>

#include "core/error.h"

namespace crucible::trainer::dist {

std::shared_ptr<Comm> Comm::open(const DistEnv& env, const torch::Device& device, std::chrono::milliseconds timeout) {
  if (!env.distributed()) return nullptr;
  std::shared_ptr<Comm> c(new Comm());
  c->env_ = env;
  c->timeout_ = timeout;
  const std::string where = fmt::format("{}:{}", env.master_addr, env.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = env.world_size;
    so.waitWorkers = true;
    so.timeout = timeout;
    c->store_ = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    throw RunError(fmt::format("rank {}/{}: rendezvous at MASTER_ADDR:MASTER_PORT = {} failed within {} s: {}",
                               env.rank, env.world_size, where, timeout.count() / 1000, e.what()));
  }
  if (device.is_cuda()) {
#ifdef CRUCIBLE_C10D_NCCL
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = timeout;
    c->backend_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(c->store_, env.rank, env.world_size, o);
#else
    throw InputError("train", "--device",
                     "a CUDA device needs NCCL, and this build has no ProcessGroupNCCL (torch or crucible built "
                     "without CUDA, or nccl.h not found at configure time)");
#endif
  } else {
    auto o = c10d::ProcessGroupGloo::Options::create(timeout);
    // The interface that reaches MASTER_ADDR's host name; loopback for a single node.
    o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(
        env.master_addr == "localhost" ? "127.0.0.1" : env.master_addr));
    o->threads = 1;
    c->backend_ = c10::make_intrusive<c10d::ProcessGroupGloo>(c->store_, env.rank, env.world_size, o);
  }
  return c;
}

Comm::~Comm() = default;

std::string Comm::backend_name() const { return backend_ ? backend_->getBackendName() : "none"; }

void Comm::wait(const std::string& what, const std::function<void()>& op) {
  try {
    op();
  } catch (const std::exception& e) {
    throw RunError(fmt::format("rank {}/{}: {} failed (another rank died or timed out after {} s): {}", env_.rank,
                               env_.world_size, what, timeout_.count() / 1000, e.what()));
  }
}

void Comm::all_reduce_sum(std::vector<torch::Tensor>& t) {
  wait("all_reduce", [&] { backend_->allreduce(t)->wait(timeout_); });
}

c10::intrusive_ptr<c10d::Work> Comm::start_all_reduce_sum(std::vector<torch::Tensor>& t) {
  c10::intrusive_ptr<c10d::Work> work;
  wait("all_reduce", [&] { work = backend_->allreduce(t); });
  return work;
}

c10::intrusive_ptr<c10d::Work> Comm::start_reduce_scatter_sum(torch::Tensor& output,
                                                             std::vector<torch::Tensor>& inputs) {
  if (static_cast<int>(inputs.size()) != world_size() || inputs[static_cast<size_t>(rank())].numel() != output.numel())
    throw std::logic_error("Comm::start_reduce_scatter_sum: one input per rank, this rank's the size of the output");
  std::vector<torch::Tensor> out{output};
  std::vector<std::vector<torch::Tensor>> in{inputs};
  c10::intrusive_ptr<c10d::Work> work;
  wait("reduce_scatter", [&] { work = backend_->reduce_scatter(out, in); });
  return work;
}

void Comm::wait_for(const std::string& what, const c10::intrusive_ptr<c10d::Work>& work) {
  wait(what, [&] { work->wait(timeout_); });
}

void Comm::all_reduce_max(std::vector<torch::Tensor>& t) {
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::MAX;
  wait("all_reduce(max)", [&] { backend_->allreduce(t, o)->wait(timeout_); });
}

void Comm::broadcast(std::vector<torch::Tensor>& t, int root) {
  c10d::BroadcastOptions o;
  o.rootRank = root;
  wait("broadcast", [&] { backend_->broadcast(t, o)->wait(timeout_); });
}

void Comm::barrier() {
  wait("barrier", [&] { backend_->barrier()->wait(timeout_); });
}

std::vector<std::string> Comm::gather_strings(const std::string& mine) {
  const std::string prefix = "crucible/gather/" + std::to_string(gathers_++) + "/";
  std::vector<std::string> out;
  wait("gather", [&] {
    if (rank() != 0) {
      store_->set(prefix + std::to_string(rank()), std::vector<uint8_t>(mine.begin(), mine.end()));
      return;
    }
    out.push_back(mine);
    for (int r = 1; r < world_size(); ++r) {
      const auto key = prefix + std::to_string(r);
      auto bytes = store_->get(key);  // waits for rank r, at most the store's timeout
      out.emplace_back(bytes.begin(), bytes.end());
      store_->deleteKey(key);
    }
  });
  return out;
}

std::string rank_device(const std::string& device, const DistEnv& env) {
  if (!env.distributed()) return device;
  const bool cuda = device == "cuda" || (device == "auto" && torch::cuda::is_available());
  return cuda ? "cuda:" + std::to_string(env.local_rank) : device;
}

namespace {

// Runs `fn` on flat buckets of same-dtype tensors, copying back in place afterwards.
template <typename Fn>
void for_buckets(const std::vector<torch::Tensor>& ts, int64_t bucket_bytes, Fn fn) {
  size_t i = 0;
  while (i < ts.size()) {
    std::vector<torch::Tensor> bucket{ts[i]};
    int64_t bytes = ts[i].numel() * ts[i].element_size();
    size_t j = i + 1;
    while (j < ts.size() && ts[j].scalar_type() == ts[i].scalar_type() && ts[j].device() == ts[i].device() &&
           bytes + ts[j].numel() * ts[j].element_size() <= bucket_bytes) {
      bytes += ts[j].numel() * ts[j].element_size();
      bucket.push_back(ts[j++]);
    }
    std::vector<torch::Tensor> flat;
    for (auto& t : bucket) flat.push_back(t.reshape({-1}));
    std::vector<torch::Tensor> one{torch::cat(flat)};
    fn(one);
    int64_t off = 0;
    for (auto& t : bucket) {
      t.copy_(one[0].narrow(0, off, t.numel()).view_as(t));
      off += t.numel();
    }
    i = j;
  }
}

}  // namespace

void assemble_slices(Comm& comm, const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> bits;
  for (const auto& p : params) {
    // Summed as integers of the same width: one rank's bits plus zeros are those bits, -0.0 and NaN included.
    // (2-byte types: summed as themselves, exact but for the sign of a zero and a NaN's payload.)
    const auto size = p.element_size();
    bits.push_back(size == 8 ? p.detach().view(torch::kInt64) : size == 4 ? p.detach().view(torch::kInt32) : p.detach());
  }
  for_buckets(bits, 25 << 20, [&](std::vector<torch::Tensor>& flat) { comm.all_reduce_sum(flat); });
}

void broadcast_parameters(Comm& comm, const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> data;
  for (const auto& p : params) data.push_back(p.detach());
  for_buckets(data, 25 << 20, [&](std::vector<torch::Tensor>& flat) { comm.broadcast(flat, 0); });
}

}  // namespace crucible::trainer::dist
