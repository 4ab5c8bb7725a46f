// Torch's CPU allocator with large blocks kept for reuse: block_cache.h.
#include "model/block_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

namespace crucible::model {
namespace {

constexpr size_t kPage = size_t{2} << 20;  // blocks are whole 2 MiB multiples: transparent huge pages can back them

class BlockCache final : public c10::Allocator {
 public:
  BlockCache(c10::Allocator* base, size_t min_bytes, size_t max_cached)
      : base_(base), base_raw_(base->raw_deleter()), min_bytes_(min_bytes), max_cached_(max_cached) {}

  c10::DataPtr allocate(size_t n) override {
    if (n < min_bytes_) return base_->allocate(n);
    const size_t need = (n + kPage - 1) / kPage * kPage;
    void* p = nullptr;
    size_t bytes = need;
    std::vector<std::pair<void*, size_t>> evicted;
    {
      std::lock_guard lock(mu_);
      // The smallest free block that fits with at most 1/8 to spare: a step's [N, V] logits differ by a few rows
      // between micro-batches, a [V, D] gradient is the same size every time.
      auto it = free_.lower_bound(need);
      if (it != free_.end() && it->first <= need + need / 8) {
        p = it->second.block;
        bytes = it->first;
        cached_ -= bytes;
        free_.erase(it);
        ++stats_.hits;
      } else {
        ++stats_.misses;
        // Mapping a new block while free ones sit unused would raise the process's peak above what the live
        // blocks ever needed at once: unmap the longest-unused free blocks until live + cached + this one fits
        // under the most ever live.
        max_live_ = std::max(max_live_, live_ + need);
        while (!free_.empty() && live_ + cached_ + need > max_live_) {
          auto oldest = std::min_element(free_.begin(), free_.end(),
                                         [](const auto& a, const auto& b) { return a.second.freed < b.second.freed; });
          evicted.emplace_back(oldest->second.block, oldest->first);
          cached_ -= oldest->first;
          size_of_.erase(oldest->second.block);
          free_.erase(oldest);
          ++stats_.released;
        }
      }
      live_ += bytes;
      max_live_ = std::max(max_live_, live_);
    }
    for (const auto& [block, size] : evicted) munmap(block, size);
    if (!p) p = map(need);
    return {p, p, &BlockCache::free_any, c10::Device(c10::DeviceType::CPU)};
  }

  // raw_allocate()/raw_deallocate() (oneDNN's buffers use them) free through this one function whichever
  // allocator made the block: ours are found in size_of_, the rest go to the base's own raw deleter.
  c10::DeleterFnPtr raw_deleter() const override { return &BlockCache::free_any; }

  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }

  void hold(bool on) {
    {
      std::lock_guard lock(mu_);
      holding_ = on;
    }
    if (!on) drop_cached();
  }

  BlockCacheStats stats() {
    std::lock_guard lock(mu_);
    auto s = stats_;
    s.cached_bytes = static_cast<int64_t>(cached_);
    return s;
  }

  static BlockCache*& instance() {
    static BlockCache* cache = nullptr;  // never destroyed: tensors may be freed during static destruction
    return cache;
  }

 private:
  void* map(size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      // Free blocks held here may be what stands between this allocation and the memory it needs.
      drop_cached();
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) {
        std::lock_guard lock(mu_);
        live_ -= bytes;
        throw std::bad_alloc();
      }
    }
    std::lock_guard lock(mu_);
    size_of_[p] = bytes;
    return p;
  }

  void drop_cached() {
    std::multimap<size_t, Free> drop;
    {
      std::lock_guard lock(mu_);
      drop.swap(free_);
      cached_ = 0;
      for (const auto& [bytes, f] : drop) size_of_.erase(f.block);
      stats_.released += static_cast<int64_t>(drop.size());
    }
    for (const auto& [bytes, f] : drop) munmap(f.block, bytes);
  }

  // Keeps a block of ours while the cache has room, unmaps it otherwise; anything else goes to the base's deleter.
  static void free_any(void* p) {
    auto& c = *instance();
    size_t bytes = 0;
    {
      std::lock_guard lock(c.mu_);
      auto it = c.size_of_.find(p);
      if (it == c.size_of_.end()) {
        bytes = 0;
      } else {
        c.live_ -= it->second;
        if (c.holding_ && c.cached_ + it->second <= c.max_cached_) {
          c.free_.emplace(it->second, Free{p, ++c.frees_});
          c.cached_ += it->second;
          return;
        }
        bytes = it->second;
        c.size_of_.erase(it);
        ++c.stats_.released;
      }
    }
    if (bytes) munmap(p, bytes);
    else c.base_raw_(p);
  }

  struct Free {
    void* block;
    uint64_t freed;  // order of freeing: the oldest goes first when room is needed
  };
  c10::Allocator* base_;
  c10::DeleterFnPtr base_raw_;
  const size_t min_bytes_, max_cached_;
  std::mutex mu_;
  std::multimap<size_t, Free> free_;           // capacity -> free block
  std::unordered_map<void*, size_t> size_of_;  // every block this allocator mapped and has not unmapped
  size_t cached_ = 0, live_ = 0, max_live_ = 0;
  uint64_t frees_ = 0;
  bool holding_ = true;
  BlockCacheStats stats_;
};

}  // namespace

void install_block_cache(size_t min_bytes, size_t max_cached_bytes) {
  static std::once_flag once;
  std::call_once(once, [&] {
    if (const char* e = std::getenv("CRUCIBLE_BLOCK_CACHE"); e && std::strcmp(e, "0") == 0) return;
    auto* base = c10::GetCPUAllocator();
    if (!base->raw_deleter()) return;  // a custom allocator already installed that raw_deallocate cannot reach
    BlockCache::instance() = new BlockCache(base, min_bytes, max_cached_bytes);
    // Priority above the default's 0: a later SetCPUAllocator of lower priority (torch's own) cannot undo it.
    c10::SetCPUAllocator(BlockCache::instance(), /*priority=*/1);
  });
}

void hold_freed_blocks(bool on) {
  if (auto* c = BlockCache::instance()) c->hold(on);
}

BlockCacheStats block_cache_stats() {
  auto* c = BlockCache::instance();
  return c ? c->stats() : BlockCacheStats{};
}

}  // namespace crucible::model
