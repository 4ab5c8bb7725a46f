// Attention of one new token per sequence (a decode step) against a KV cache, for grouped-query attention: query head
// h reads kv head h / G (G = H / K, HF's repeat_kv). Per (sequence, kv head) the G query heads go through the cache
// rows of that head once (in tiles that stay in cache), softmax in float32 with the running maximum subtracted, and
// the weighted sum of the value rows. The visible positions of a sequence are [lo, hi) (causal: hi = its position
// + 1; a sliding window raises lo). Same maths as scaled_dot_product_attention with scale 1/sqrt(E); only the
// summation order and the exp (a float32 polynomial within 2 ulp of expf) differ.
//
// Why a kernel: torch runs this as B·K small GEMMs per layer, and at B = 128 the per-call overhead made attention
// ~25% of a decode step while its arithmetic is ~4% (benchmarks/RESULTS.md). Torch-free: raw pointers and strides.
#pragma once
#include <cstdint>

namespace crucible::kernels {

struct DecodeAttentionArgs {
  const float* q = nullptr;  // row b, head h: q + b * q_row_stride + h * E (E contiguous floats)
  int64_t q_row_stride = 0;
  // cache of slot s, kv head k, position l: base + s * slot_stride + k * head_stride + l * E (E contiguous floats)
  const float* keys = nullptr;
  const float* values = nullptr;
  int64_t slot_stride = 0, head_stride = 0;
  const int64_t* slot_B = nullptr;  // cache slot of each row
  const int64_t* lo_B = nullptr;    // first visible position of each row
  const int64_t* hi_B = nullptr;    // one past the last visible position (> lo)
  int64_t H = 0, K = 0, E = 0;
  float* out = nullptr;  // row b, head h: out + b * out_row_stride + h * E
  int64_t out_row_stride = 0;
};

// Runs the work items [begin, end) of the B · K items (item i = row i / K, kv head i % K). Single-threaded: callers
// split the items across threads.
void decode_attention(const DecodeAttentionArgs& a, int64_t begin, int64_t end);

}  // namespace crucible::kernels
