// Torch's CPU allocator with large blocks kept for reuse.
//
// Why: glibc hands every block above its mmap threshold (32 MiB, the most it allows) to the kernel on free and maps
// a fresh one on the next malloc, so each of a training step's large tensors ([V, D] embedding and lm_head
// gradients, logits chunks and their gradients, the packed lm_head) is page-faulted and zeroed by the kernel,
// 4 KiB at a time, every micro-batch of every step: ~0.7 GB a step of SmolLM2-135M GRPO, ~3 GB/s on the 2-core VM.
// A step allocates the same sizes in the same order, so a freed block is usually what the next allocation wants.
//
// What it does: blocks of at least `min_bytes` are mapped by this allocator and, when freed, kept (up to
// `max_cached_bytes` in all) for the next allocation that fits one of them with at most 1/8 to spare; smaller
// blocks go to torch's default allocator (glibc's heap, already reused). It never maps more than the most its live
// blocks ever held at once: an allocation no free block fits first unmaps the longest-unused free blocks until it
// fits under that mark, so the process's peak is what it was without the cache (give or take a reused block's
// 1/8 and the 2 MiB rounding), while between peaks the kept blocks stay resident. It never splits or merges blocks.
// Thread-safe; blocks allocated before install() keep the allocator that made them (a DataPtr carries its deleter).
#pragma once
#include <cstddef>
#include <cstdint>

namespace crucible::model {

struct BlockCacheStats {
  int64_t hits = 0, misses = 0;      // large allocations served from the cache / newly mapped
  int64_t cached_bytes = 0;          // free blocks held now
  int64_t released = 0;              // freed blocks unmapped because the cache was full
};

// Makes the cache torch's CPU allocator (once per process; later calls change nothing). Off when the environment
// sets CRUCIBLE_BLOCK_CACHE=0.
void install_block_cache(size_t min_bytes = size_t{32} << 20, size_t max_cached_bytes = size_t{1} << 30);
// Off: freed blocks are unmapped at once and what the cache holds is unmapped now (a checkpoint load frees
// weight-sized blocks that nothing will ask for again); on again afterwards. No-op without install_block_cache().
void hold_freed_blocks(bool on);
BlockCacheStats block_cache_stats();

}  // namespace crucible::model
