// Weights in "int groups": every value of a row is q · scale + offset, with q an int8 and (scale, offset) shared by a
// group of 16 consecutive values of that row. Every integer GGUF block format (Q4_0 … Q8_0, the K-quants, IQ4_NL)
// is exactly this form once its block scales are multiplied out (model/gguf_weights.cpp decodes them), so an engine
// can keep a quantised checkpoint's weights in 12 bits per value instead of 32 and still compute with the very
// float32 values a dequantisation gives: each weight is formed as fl(fl(q · scale) + offset) — the order
// dequantisation uses, no fused multiply-add — then multiplied in float32. Only the summation order differs from a
// dense float32 matmul over the dequantised matrix.
//
// Layout of a [rows, cols] matrix (cols a multiple of 16): q row-major [rows, cols]; scale and offset [rows, cols/16].
// Torch-free: raw pointers and sizes. AVX2 + FMA where the CPU has them (checked at run time), plain C++ otherwise.
#pragma once
#include <cstdint>

namespace crucible::kernels {

inline constexpr int64_t kIntGroup = 16;

// y[i] = fl(fl(q[i] · scale[i/16]) + offset[i/16]) for i < n (n a multiple of 16).
void dequantize_int_groups(const int8_t* q, const float* scale, const float* offset, int64_t n, float* y);

// y[r · ldy + o] = Σ_c x[r · cols + c] · w[o, c] for r < R and lo <= o < hi, w the int-group matrix above (its rows
// of `cols` values). Up to 8 rows: one pass over the int8 rows [lo, hi) of w (decode steps, where the time is the
// weights' memory traffic). More rows: 16 rows of w at a time dequantised into a float32 panel that 6 x 16 register
// blocks of the product run over (compute-bound). Single-threaded; callers split [lo, hi) across threads.
void int_group_matmul(const float* x, int64_t R, int64_t cols, const int8_t* q, const float* scale, const float* offset,
                      int64_t lo, int64_t hi, float* y, int64_t ldy);

bool int_groups_vectorised();  // whether int_group_matmul runs the AVX2 path on this CPU

}  // namespace crucible::kernels
