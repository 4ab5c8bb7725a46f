// dist::GradReducer on 2 Gloo ranks in one process (a thread each, loopback TCPStore): the gradient all-reduce
// overlapped with the step's last backward. Buckets small enough that the model spans several, so the test sees
// buckets start inside backward (counted by the hooks that started them) and none during the earlier micro-batches
// (no_sync); the summed gradients equal the ranks' local gradients, scaled and added in the same float64 arithmetic;
// a parameter no graph reaches and a rank that runs no backward at all take part as zeros instead of deadlocking.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "trainer/dist/comm.h"
#include "trainer/dist/launch.h"
#include "trainer/dist/reducer.h"

namespace crucible::trainer::dist {
namespace {

// A 3-layer MLP in float64 and one parameter that no loss uses, registered first (so in the last bucket: a bucket
// whose parameter never gets a gradient holds every later bucket until finish(), since buckets start in order);
// every rank builds the same one (same seed).
struct Net {
  torch::nn::Sequential mlp{nullptr};
  torch::Tensor unused;
  std::vector<torch::Tensor> params() const {
    std::vector<torch::Tensor> p{unused};
    for (auto& t : mlp->parameters()) p.push_back(t);
    return p;
  }
};

// torch's default generator is one for the process and the ranks are threads: seeding and drawing hold this lock.
std::mutex& rng_lock() {
  static std::mutex mu;
  return mu;
}

Net make_net() {
  std::lock_guard lock(rng_lock());
  torch::manual_seed(3);
  Net n;
  n.mlp = torch::nn::Sequential(torch::nn::Linear(8, 16), torch::nn::Tanh(), torch::nn::Linear(16, 16),
                                torch::nn::Tanh(), torch::nn::Linear(16, 4));
  n.mlp->to(torch::kFloat64);
  n.unused = torch::randn({5}, torch::kFloat64).requires_grad_(true);
  return n;
}

// Micro-batch k of rank r: a loss that differs per rank and per micro-batch.
torch::Tensor loss_of(Net& n, int rank, int k) {
  torch::Tensor x;
  {
    std::lock_guard lock(rng_lock());
    torch::manual_seed(100 + 10 * rank + k);
    x = torch::randn({3, 8}, torch::kFloat64);
  }
  return n.mlp->forward(x).pow(2).sum() * (1.0 + 0.5 * k);
}

// Rank r's gradient alone: its micro-batches' backward, no communication.
std::vector<torch::Tensor> local_gradients(int rank, int micro_batches) {
  auto n = make_net();
  for (int k = 0; k < micro_batches; ++k) loss_of(n, rank, k).backward();
  std::vector<torch::Tensor> g;
  for (auto& p : n.params()) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return g;
}

// Runs fn(comm, rank) on 2 ranks, each a thread with its own process group; rethrows the first failure.
void on_two_ranks(const std::function<void(Comm&, int)>& fn) {
  const int port = free_port();
  std::vector<std::exception_ptr> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      try {
        DistEnv env;
        env.rank = r;
        env.world_size = 2;
        env.master_port = port;
        env.source = "test";
        auto comm = Comm::open(env, torch::kCPU, std::chrono::seconds(60));
        fn(*comm, r);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

struct RankResult {
  std::vector<torch::Tensor> grads;
  GradReducer::Stats after_first_backward, after_step;
  size_t buckets = 0;
};

TEST(GradReducer, StartsBucketsDuringTheLastBackwardAndSumsLikeOneProcess) {
  torch::set_num_threads(1);
  const double scale[2] = {0.25, 0.75};  // each rank's share of a global normaliser
  std::vector<RankResult> out(2);
  on_two_ranks([&](Comm& comm, int r) {
    auto n = make_net();
    // 1 KiB buckets (the first 256 B): the MLP's 476 float64 values fall into several.
    GradReducer reducer(comm, n.params(), 1024, 256);
    torch::optim::SGD sgd(n.params(), torch::optim::SGDOptions(0.0));  // its zero_grad frees the gradients as ours does
    auto& o = out[static_cast<size_t>(r)];
    o.buckets = reducer.buckets().size();
    for (int step = 0; step < 2; ++step) {  // the second step reuses the hooks on fresh buffers
      sgd.zero_grad(/*set_to_none=*/true);
      reducer.begin_step(scale[r]);
      loss_of(n, r, 0).backward();
      if (step == 0) o.after_first_backward = reducer.stats();
      reducer.arm();
      loss_of(n, r, 1).backward();
      reducer.finish();
    }
    o.after_step = reducer.stats();
    for (auto& p : n.params()) o.grads.push_back(p.grad().clone());
  });
  const auto g0 = local_gradients(0, 2), g1 = local_gradients(1, 2);
  for (int r = 0; r < 2; ++r) {
    const auto& o = out[static_cast<size_t>(r)];
    // Reverse registration order, 256 B then 1 KiB: [b3] [w3 b2] [w2] [b1] [w1] [unused].
    ASSERT_EQ(o.buckets, 6u);
    EXPECT_EQ(o.after_first_backward.launched, 0) << "an earlier micro-batch must not communicate";
    EXPECT_EQ(o.after_step.launched, 2 * 6);
    // Every bucket but unused's starts inside the last backward (a hook started it), in both steps.
    EXPECT_EQ(o.after_step.launched_in_backward, 2 * 5) << "buckets did not start before backward returned";
    for (size_t i = 0; i < g0.size(); ++i) {
      auto want = g0[i] * scale[0] + g1[i] * scale[1];
      EXPECT_TRUE(torch::allclose(o.grads[i], want, 1e-14, 0)) << "rank " << r << " parameter " << i;
    }
    EXPECT_EQ(o.grads[0].abs().max().item<double>(), 0.0) << "the unused parameter's gradient is zero";
  }
}

// A rank whose share of the batch is empty runs no backward, so none of its hooks fire: finish() sends its zeros and
// the other rank, whose buckets started inside its backward, gets its own gradient back instead of waiting forever.
TEST(GradReducer, ARankWithNoBackwardTakesPartAsZeros) {
  torch::set_num_threads(1);
  std::vector<RankResult> out(2);
  on_two_ranks([&](Comm& comm, int r) {
    auto n = make_net();
    GradReducer reducer(comm, n.params(), 1024, 256);
    reducer.begin_step(r == 0 ? 1.0 : 0.0);
    if (r == 0) {
      loss_of(n, 0, 0).backward();
      reducer.arm();
      loss_of(n, 0, 1).backward();
    }
    reducer.finish();
    auto& o = out[static_cast<size_t>(r)];
    o.after_step = reducer.stats();
    for (auto& p : n.params()) o.grads.push_back(p.grad().clone());
  });
  const auto g0 = local_gradients(0, 2);
  EXPECT_EQ(out[0].after_step.launched_in_backward, 5);
  EXPECT_EQ(out[1].after_step.launched_in_backward, 0);
  for (int r = 0; r < 2; ++r)
    for (size_t i = 0; i < g0.size(); ++i)
      EXPECT_TRUE(torch::equal(out[static_cast<size_t>(r)].grads[i], g0[i])) << "rank " << r << " parameter " << i;
}

}  // namespace
}  // namespace crucible::trainer::dist
