// trainer/dist/env.h (torchrun and Slurm variables, Slurm node lists) and trainer/dist/split.h (the per-rank share
// of a batch): torch-free, no process is started.
#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include "core/error.h"
#include "trainer/dist/env.h"
#include "trainer/dist/launch.h"
#include "trainer/dist/split.h"

namespace crucible::trainer::dist {
namespace {

DistEnv from(const std::map<std::string, std::string>& vars) {
  return dist_env([&](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    from(vars);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(DistEnv, NothingSetIsOneProcess) {
  auto e = from({});
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.rank, 0);
  EXPECT_FALSE(e.distributed());
  EXPECT_EQ(e.source, "single");
}

TEST(DistEnv, Torchrun) {
  auto e = from({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.2"},
                 {"MASTER_PORT", "29511"}});
  EXPECT_EQ(e.source, "torchrun");
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.master_addr, "10.0.0.2");
  EXPECT_EQ(e.master_port, 29511);
  EXPECT_TRUE(e.distributed());
}

TEST(DistEnv, TorchrunWinsOverSlurm) {
  auto e = from({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"SLURM_PROCID", "0"},
                 {"SLURM_NTASKS", "16"}, {"SLURM_JOB_NODELIST", "n[1-2]"}});
  EXPECT_EQ(e.source, "torchrun");
  EXPECT_EQ(e.world_size, 2);
  EXPECT_EQ(e.master_port, 29500);
}

TEST(DistEnv, Slurm) {
  auto e = from({{"SLURM_PROCID", "9"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "1"},
                 {"SLURM_JOB_NODELIST", "gpu-node[07-08]"}, {"MASTER_PORT", "12345"}});
  EXPECT_EQ(e.source, "slurm");
  EXPECT_EQ(e.rank, 9);
  EXPECT_EQ(e.world_size, 16);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.master_addr, "gpu-node07");
  EXPECT_EQ(e.master_port, 12345);
  // MASTER_ADDR, when the batch script sets it, overrides the node list.
  EXPECT_EQ(from({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "a[1-2]"},
                  {"MASTER_ADDR", "head"}})
                .master_addr,
            "head");
}

TEST(DistEnv, BadValuesNameTheVariable) {
  EXPECT_NE(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}).find("RANK"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}).find("'2' is not an integer in [0, 1]"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}}).find("WORLD_SIZE"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}}).find("MASTER_ADDR"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}).find("SLURM_JOB_NODELIST"), std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "n[1-2"}})
                .find("SLURM_JOB_NODELIST"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "0"}}).find("SLURM_NTASKS"), std::string::npos);
}

TEST(DistEnv, FirstSlurmHost) {
  EXPECT_EQ(first_slurm_host("node01"), "node01");
  EXPECT_EQ(first_slurm_host("node01,node02"), "node01");
  EXPECT_EQ(first_slurm_host("node[01-04,07]"), "node01");
  EXPECT_EQ(first_slurm_host("node[07,01-04]"), "node07");
  EXPECT_EQ(first_slurm_host("node[3]"), "node3");
  EXPECT_EQ(first_slurm_host("rack1-n[002-010],gpu[1-2]"), "rack1-n002");
  EXPECT_EQ(first_slurm_host("a-[3,5]-x[2-4]"), "a-3-x2");
  EXPECT_THROW(first_slurm_host(""), InputError);
  EXPECT_THROW(first_slurm_host("n[]"), InputError);
  EXPECT_THROW(first_slurm_host("n[a-b]"), InputError);
  EXPECT_THROW(first_slurm_host("n]1["), InputError);
}

TEST(DistSplit, EveryItemOnceBalancedAndDeterministic) {
  const std::vector<int64_t> cost{5, 9, 1, 9, 3, 3, 7, 2};
  for (int world : {1, 2, 3, 8, 11}) {
    std::vector<int> seen(cost.size(), 0);
    int64_t lo = INT64_MAX, hi = 0;
    for (int r = 0; r < world; ++r) {
      auto mine = balanced_share(cost, r, world);
      EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
      EXPECT_EQ(mine, balanced_share(cost, r, world));
      int64_t load = 0;
      for (size_t i : mine) {
        ++seen[i];
        load += cost[i];
      }
      lo = std::min(lo, load);
      hi = std::max(hi, load);
    }
    for (int s : seen) EXPECT_EQ(s, 1) << "world " << world;
    // Greedy longest-first: no rank exceeds another by more than the largest item.
    EXPECT_LE(hi - lo, 9) << "world " << world;
  }
  // 2 ranks, longest first 9,9,7,5,3,3,2,1: loads 20 and 19.
  auto a = balanced_share(cost, 0, 2), b = balanced_share(cost, 1, 2);
  int64_t la = 0, lb = 0;
  for (size_t i : a) la += cost[i];
  for (size_t i : b) lb += cost[i];
  EXPECT_EQ(la + lb, std::accumulate(cost.begin(), cost.end(), int64_t{0}));
  EXPECT_LE(std::abs(la - lb), 1);
}

TEST(DistSplit, ContiguousShareCoversInOrder) {
  for (int world : {1, 2, 3, 5}) {
    for (size_t n : {0u, 1u, 4u, 7u, 10u}) {
      size_t next = 0;
      for (int r = 0; r < world; ++r) {
        auto s = contiguous_share(n, r, world);
        EXPECT_EQ(s.first, next) << n << " items, rank " << r << "/" << world;
        EXPECT_LE(s.count, n / world + 1);
        EXPECT_GE(s.count, n / world);
        next += s.count;
      }
      EXPECT_EQ(next, n);
    }
  }
  EXPECT_EQ(contiguous_share(7, 0, 2).count, 4u);
  EXPECT_EQ(contiguous_share(7, 1, 2).first, 4u);
}

TEST(DistLaunch, NprocFlagRemoved) {
  EXPECT_EQ(without_nproc_flag({"crucible", "train", "sft", "--nproc-per-node", "2", "--steps", "3"}),
            (std::vector<std::string>{"crucible", "train", "sft", "--steps", "3"}));
  EXPECT_EQ(without_nproc_flag({"crucible", "--nproc-per-node=4", "x"}),
            (std::vector<std::string>{"crucible", "x"}));
  auto own = own_arguments();
  ASSERT_FALSE(own.empty());
  EXPECT_NE(own[0].find("test_trainer_dist_env"), std::string::npos);
}

}  // namespace
}  // namespace crucible::trainer::dist
