// model/block_cache.h: torch's CPU allocator with large blocks kept for reuse. Installed once per process, here
// with a 1 MiB threshold and an 8 MiB cap so the cases stay small.
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/block_cache.h"

using crucible::model::block_cache_stats;
using crucible::model::install_block_cache;

namespace {
constexpr int64_t kMiB = 1 << 20;
torch::Tensor floats(int64_t bytes) { return torch::empty({bytes / 4}, torch::kFloat32); }

class BlockCache : public ::testing::Test {
 protected:
  void SetUp() override { install_block_cache(size_t{1} << 20, size_t{8} << 20); }
};
}  // namespace

TEST_F(BlockCache, AFreedBlockServesTheNextAllocationThatFitsIt) {
  const void* first = nullptr;
  {
    auto t = floats(4 * kMiB);
    t.fill_(7.0f);  // dirty: a reused block is not zeroed, torch::zeros must still write its zeros
    first = t.data_ptr();
  }
  const auto before = block_cache_stats();
  auto z = torch::zeros({(4 * kMiB - 4096) / 4});  // a little smaller: rounds to the same 2 MiB multiple
  EXPECT_EQ(z.data_ptr(), first);
  EXPECT_EQ(block_cache_stats().hits, before.hits + 1);
  EXPECT_EQ(z.abs().max().item<float>(), 0.0f);
}

TEST_F(BlockCache, ABlockMoreThanAnEighthTooBigIsNotHandedOut) {
  const void* big = nullptr;
  {
    auto t = floats(8 * kMiB);
    big = t.data_ptr();
  }
  const auto before = block_cache_stats();
  auto t = floats(2 * kMiB);
  EXPECT_NE(t.data_ptr(), big);
  EXPECT_EQ(block_cache_stats().misses, before.misses + 1);
}

TEST_F(BlockCache, WhatTheCapCannotHoldIsUnmappedAndSmallBlocksAreNotCached) {
  auto drained = floats(8 * kMiB);  // takes the cache's 8 MiB block if an earlier test left one: it starts empty
  auto a = floats(6 * kMiB), b = floats(6 * kMiB), small = floats(kMiB / 2);
  const auto before = block_cache_stats();
  a.reset();
  b.reset();
  small.reset();
  const auto after = block_cache_stats();
  EXPECT_EQ(after.released, before.released + 1);  // 6 + 6 MiB > the 8 MiB cap
  EXPECT_EQ(after.cached_bytes, before.cached_bytes + 6 * kMiB);
}

TEST_F(BlockCache, RawAllocationsOfEitherSizeFreeThroughTheRawDeleter) {
  auto* alloc = c10::GetCPUAllocator();
  ASSERT_NE(alloc->raw_deleter(), nullptr);
  void* small = alloc->raw_allocate(100);
  void* large = alloc->raw_allocate(3 * kMiB);
  static_cast<char*>(small)[99] = 1;
  static_cast<char*>(large)[3 * kMiB - 1] = 1;
  const auto before = block_cache_stats();
  alloc->raw_deallocate(small);
  alloc->raw_deallocate(large);
  const auto after = block_cache_stats();
  EXPECT_EQ(after.cached_bytes + (after.released - before.released) * 4 * kMiB, before.cached_bytes + 4 * kMiB);
}

TEST_F(BlockCache, NotHoldingUnmapsWhatIsHeldAndWhatIsFreed) {
  auto a = floats(4 * kMiB), b = floats(2 * kMiB);
  a.reset();
  ASSERT_GE(block_cache_stats().cached_bytes, 4 * kMiB);
  crucible::model::hold_freed_blocks(false);
  EXPECT_EQ(block_cache_stats().cached_bytes, 0);
  b.reset();
  EXPECT_EQ(block_cache_stats().cached_bytes, 0);
  crucible::model::hold_freed_blocks(true);
  floats(2 * kMiB).reset();
  EXPECT_EQ(block_cache_stats().cached_bytes, 2 * kMiB);
}

TEST_F(BlockCache, AMissUnmapsFreeBlocksRatherThanRiseAboveTheMostEverLive) {
  floats(4 * kMiB).reset();  // the most ever live: 4 MiB; now held
  ASSERT_EQ(block_cache_stats().cached_bytes, 4 * kMiB);
  const auto before = block_cache_stats();
  auto big = floats(6 * kMiB);  // no fit: 4 held + 6 > 6, the held block goes
  EXPECT_EQ(block_cache_stats().cached_bytes, 0);
  EXPECT_EQ(block_cache_stats().released, before.released + 1);
  big.reset();
  auto small = floats(2 * kMiB);  // no fit either (6 MiB is more than 1/8 too big), and 6 held + 2 > 6 ever live
  EXPECT_EQ(block_cache_stats().cached_bytes, 0);
  EXPECT_EQ(block_cache_stats().released, before.released + 2);
}
