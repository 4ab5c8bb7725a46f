// dist::GradReducer on 2 Gloo ranks in one process (a thread each, loopback TCPStore): the gradient all-reduce
// overlapped with the step's last backward. Buckets small enough that the model spans several, so the test sees
// buckets start inside backward (counted by the hooks that started them) and none during the earlier micro-batches
// (no_sync); the summed gradients equal the ranks' local gradients, scaled and added in the same float64 arithmetic;
// a parameter no graph reaches and a rank that runs no backward at all take part as zeros instead of deadlocking.
// --shard's reduce-scatter mode: each rank ends with its slice of the same sum and no .grad at all (one bucket buffer
// alive at a time), and the sharded optimizer step on those slices (global norm from the ranks' summed squares,
// clip, AdamW, all-gather) equals the unsharded step on the whole sum.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "model/config.h"
#include "model/transformer.h"
#include "trainer/dist/comm.h"
#include "trainer/dist/launch.h"
#include "trainer/dist/reducer.h"
#include "trainer/optimizer.h"

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
    GradReducer reducer(comm, n.params(), GradReducer::Mode::all_reduce, 1024, 256);
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
    GradReducer reducer(comm, n.params(), GradReducer::Mode::all_reduce, 1024, 256);
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

// The same two steps in reduce_scatter mode: no bucket starts during the earlier micro-batch, the 5 the last backward
// reaches start inside it, one bucket buffer is alive at a time, no parameter keeps a .grad, and each rank's slice
// gradient is its part of the same sum.
TEST(GradReducer, ReduceScatterLeavesEachRankItsSliceOfTheSumAndNoWholeGradient) {
  torch::set_num_threads(1);
  const double scale[2] = {0.25, 0.75};
  std::vector<RankResult> out(2);
  std::vector<torch::Tensor> slices(2);
  std::vector<Share> shares(2);
  std::vector<int64_t> grads_left(2, -1);
  on_two_ranks([&](Comm& comm, int r) {
    auto n = make_net();
    GradReducer reducer(comm, n.params(), GradReducer::Mode::reduce_scatter, 1024, 256);
    auto& o = out[static_cast<size_t>(r)];
    o.buckets = reducer.buckets().size();
    int64_t left = 0;
    for (int step = 0; step < 2; ++step) {
      reducer.begin_step(scale[r]);
      loss_of(n, r, 0).backward();
      if (step == 0) o.after_first_backward = reducer.stats();
      reducer.arm();
      loss_of(n, r, 1).backward();
      reducer.finish();
      for (auto& p : n.params()) left += p.grad().defined() ? 1 : 0;
      slices[static_cast<size_t>(r)] = reducer.take_slice_gradient();
    }
    o.after_step = reducer.stats();
    shares[static_cast<size_t>(r)] = reducer.slice();
    grads_left[static_cast<size_t>(r)] = left;
  });
  const auto g0 = local_gradients(0, 2), g1 = local_gradients(1, 2);
  std::vector<torch::Tensor> flat;
  for (size_t i = 0; i < g0.size(); ++i) flat.push_back((g0[i] * scale[0] + g1[i] * scale[1]).reshape({-1}));
  const auto want = torch::cat(flat);
  EXPECT_EQ(shares[0].first, 0u);
  EXPECT_EQ(shares[0].count + shares[1].count, static_cast<size_t>(want.numel()));
  EXPECT_EQ(shares[1].first, shares[0].count);
  for (int r = 0; r < 2; ++r) {
    const auto& o = out[static_cast<size_t>(r)];
    ASSERT_EQ(o.buckets, 6u);
    EXPECT_EQ(o.after_first_backward.launched, 0) << "an earlier micro-batch must not communicate";
    EXPECT_EQ(o.after_step.launched, 2 * 6);
    EXPECT_EQ(o.after_step.launched_in_backward, 2 * 5) << "buckets did not start before backward returned";
    EXPECT_EQ(o.after_step.most_buffers_alive, 1) << "a bucket's buffer outlived the next bucket's launch";
    EXPECT_EQ(grads_left[static_cast<size_t>(r)], 0) << "a whole-size .grad survived the reduce-scatter";
    const auto& sh = shares[static_cast<size_t>(r)];
    const auto& got = slices[static_cast<size_t>(r)];
    ASSERT_EQ(got.numel(), static_cast<int64_t>(sh.count));
    EXPECT_TRUE(torch::allclose(got, want.narrow(0, static_cast<int64_t>(sh.first), got.numel()), 1e-14, 0))
        << "rank " << r;
  }
}

// --shard with several micro-batches (ZeRO-2): through hooks(), every backward pass is reduce-scattered before the
// next one starts, so no whole-size .grad outlives its pass, and ranks with different pass counts (3 and 1: the ranks
// agree on 3, the one with fewer sends zeros for the passes it lacks) end with their slices of the scaled sum.
TEST(GradReducer, ReduceScatterEveryPassWithUnequalPassCounts) {
  torch::set_num_threads(1);
  const double scale[2] = {0.25, 0.75};
  const int passes[2] = {3, 1};
  std::vector<torch::Tensor> slices(2);
  std::vector<Share> shares(2);
  std::vector<int64_t> grads_between(2, -1), launched(2, 0);
  on_two_ranks([&](Comm& comm, int r) {
    auto n = make_net();
    GradReducer reducer(comm, n.params(), GradReducer::Mode::reduce_scatter, 1024, 256);
    reducer.begin_step(scale[r]);
    auto h = reducer.hooks();
    h.plan(passes[r]);
    int64_t between = 0;
    for (int k = 0; k < passes[r]; ++k) {
      h.before(k + 1 == passes[r]);
      loss_of(n, r, k).backward();
      h.after();
      if (k + 1 < passes[r])
        for (auto& p : n.params()) between += p.grad().defined() ? 1 : 0;
    }
    reducer.finish();
    for (auto& p : n.params()) between += p.grad().defined() ? 1 : 0;
    grads_between[static_cast<size_t>(r)] = between;
    launched[static_cast<size_t>(r)] = reducer.stats().launched;
    slices[static_cast<size_t>(r)] = reducer.take_slice_gradient();
    shares[static_cast<size_t>(r)] = reducer.slice();
  });
  const auto g0 = local_gradients(0, passes[0]), g1 = local_gradients(1, passes[1]);
  std::vector<torch::Tensor> flat;
  for (size_t i = 0; i < g0.size(); ++i) flat.push_back((g0[i] * scale[0] + g1[i] * scale[1]).reshape({-1}));
  const auto want = torch::cat(flat);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(grads_between[static_cast<size_t>(r)], 0) << "rank " << r << ": a whole-size .grad outlived its pass";
    EXPECT_EQ(launched[static_cast<size_t>(r)], 3 * 6) << "rank " << r << ": every rank runs 3 passes of 6 buckets";
    const auto& sh = shares[static_cast<size_t>(r)];
    const auto& got = slices[static_cast<size_t>(r)];
    ASSERT_EQ(got.numel(), static_cast<int64_t>(sh.count));
    EXPECT_TRUE(torch::allclose(got, want.narrow(0, static_cast<int64_t>(sh.first), got.numel()), 1e-13, 0))
        << "rank " << r;
  }
}

// A rank with no backward in reduce_scatter mode sends zeros: both slices hold rank 0's gradient alone.
TEST(GradReducer, ReduceScatterWithARankThatRunsNoBackward) {
  torch::set_num_threads(1);
  std::vector<torch::Tensor> slices(2);
  std::vector<Share> shares(2);
  on_two_ranks([&](Comm& comm, int r) {
    auto n = make_net();
    GradReducer reducer(comm, n.params(), GradReducer::Mode::reduce_scatter, 1024, 256);
    reducer.begin_step(r == 0 ? 1.0 : 0.0);
    if (r == 0) {
      loss_of(n, 0, 0).backward();
      reducer.arm();
      loss_of(n, 0, 1).backward();
    }
    reducer.finish();
    slices[static_cast<size_t>(r)] = reducer.take_slice_gradient();
    shares[static_cast<size_t>(r)] = reducer.slice();
  });
  std::vector<torch::Tensor> flat;
  for (auto& g : local_gradients(0, 2)) flat.push_back(g.reshape({-1}));
  const auto want = torch::cat(flat);
  for (int r = 0; r < 2; ++r)
    EXPECT_TRUE(torch::equal(slices[static_cast<size_t>(r)],
                             want.narrow(0, static_cast<int64_t>(shares[static_cast<size_t>(r)].first),
                                         static_cast<int64_t>(shares[static_cast<size_t>(r)].count))))
        << "rank " << r;
}

// A tiny float32 Transformer, 3 steps with a clip that bites: 2 ranks with --shard (reduce-scattered slices, the norm
// from the ranks' summed squares) against one unsharded Optimizer fed the same summed gradient. Every step's
// pre-clip norm and the final parameters agree within 1e-6 relative, and each rank held half the gradient bytes.
TEST(GradReducer, ShardedOptimizerStepEqualsTheUnshardedOneWithTheSameNorm) {
  torch::set_num_threads(1);
  const auto cfg = model::ModelConfig::from_hf_json(
      nlohmann::json::parse(R"({"model_type": "llama", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24,
                                "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1})"),
      "test");
  model::Transformer ref(nullptr);
  {
    std::lock_guard lock(rng_lock());
    torch::manual_seed(7);
    ref = model::Transformer(cfg);
  }
  auto copy_of_ref = [&] {
    model::Transformer m(cfg);
    torch::NoGradGuard ng;
    auto src = ref->parameters();
    auto dst = m->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
    return m;
  };
  // Rank r's local gradient of parameter `name` at `step` (float32, as backward makes it).
  auto grad_of = [](const std::string& name, const torch::Tensor& p, int step, int r) {
    return (torch::cos(torch::arange(p.numel(), torch::kFloat32) * 0.37 + 1.3 * step + 0.1 * name.size() + r) * 0.05)
        .reshape(p.sizes());
  };
  const double scale[2] = {0.4, 0.6};
  OptimConfig oc;
  oc.lr = 1e-2;
  oc.max_grad_norm = 0.05;  // below every step's norm: the clip scales each step
  const int steps = 3;
  std::vector<std::vector<double>> norms(2);
  std::vector<int64_t> grad_bytes(2), state_bytes(2);
  std::vector<std::vector<torch::Tensor>> final_params(2);
  std::mutex model_lock;  // building modules from two threads: one at a time
  on_two_ranks([&](Comm& comm, int r) {
    model::Transformer m{nullptr};
    {
      std::lock_guard lock(model_lock);
      m = copy_of_ref();
    }
    Optimizer opt(m, oc, steps, &comm);
    std::vector<torch::Tensor> params;
    for (auto& p : m->parameters()) params.push_back(p);
    GradReducer reducer(comm, params, GradReducer::Mode::reduce_scatter, 1024, 256);
    for (int s = 0; s < steps; ++s) {
      reducer.begin_step(scale[r]);
      for (auto& item : m->named_parameters()) item.value().mutable_grad() = grad_of(item.key(), item.value(), s, r);
      reducer.arm();
      reducer.finish();
      const auto st = opt.step(reducer.take_slice_gradient());
      norms[static_cast<size_t>(r)].push_back(st.grad_norm);
    }
    grad_bytes[static_cast<size_t>(r)] = opt.gradient_bytes();
    state_bytes[static_cast<size_t>(r)] = opt.state_bytes();
    for (auto& p : m->parameters()) final_params[static_cast<size_t>(r)].push_back(p.detach().clone());
  });
  auto one = copy_of_ref();
  Optimizer opt(one, oc, steps);
  std::vector<double> want_norms;
  for (int s = 0; s < steps; ++s) {
    for (auto& item : one->named_parameters()) {
      auto g0 = grad_of(item.key(), item.value(), s, 0).mul(scale[0]);
      auto g1 = grad_of(item.key(), item.value(), s, 1).mul(scale[1]);
      item.value().mutable_grad() = g0 + g1;
    }
    want_norms.push_back(opt.step().grad_norm);
  }
  for (int r = 0; r < 2; ++r) {
    for (int s = 0; s < steps; ++s) {
      EXPECT_GT(want_norms[static_cast<size_t>(s)], oc.max_grad_norm) << "the clip must bite";
      EXPECT_NEAR(norms[static_cast<size_t>(r)][static_cast<size_t>(s)] / want_norms[static_cast<size_t>(s)], 1.0, 1e-6)
          << "rank " << r << " step " << s;
    }
    const auto p1 = one->parameters();
    for (size_t i = 0; i < p1.size(); ++i) {
      const double scale_i = p1[i].abs().max().item<double>();
      const double diff = (final_params[static_cast<size_t>(r)][i] - p1[i]).abs().max().item<double>();
      EXPECT_LE(diff, 1e-6 * scale_i) << "rank " << r << " parameter " << i;
    }
  }
  // Each rank held its slice's gradient only and its slice's moments: the two halves add up to the unsharded figures.
  EXPECT_EQ(grad_bytes[0] + grad_bytes[1], opt.gradient_bytes());
  EXPECT_EQ(state_bytes[0] + state_bytes[1], opt.state_bytes());
  for (int r = 0; r < 2; ++r) EXPECT_LE(std::abs(2 * grad_bytes[static_cast<size_t>(r)] - opt.gradient_bytes()), 8);
}

}  // namespace
}  // namespace crucible::trainer::dist
