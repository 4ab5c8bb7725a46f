// Fused log-softmax + gather + entropy (kernels/logprob.h), CUDA. One block per row.
// Forward: each thread folds its strided elements into (m, s, t) = (running max, Σ exp(z-m), Σ exp(z-m)·(z-m)),
// rescaling when its max grows (online softmax: one read of the row), then the block merges the triples. Keeping
// t relative to m (not Σ p·z) avoids the cancellation of lse - E[z] on peaked rows.
// Backward: elementwise given the row's lse and entropy, so any element order works and in-place is safe.
#include <cmath>
#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/logprob.h"

namespace crucible::kernels {
namespace {

constexpr int kThreads = 256;

struct RowStats {
  float m, s, t;
};

__device__ __forceinline__ RowStats merge(RowStats a, RowStats b) {
  if (a.m == -INFINITY) return b;
  if (b.m == -INFINITY) return a;
  const float m = fmaxf(a.m, b.m);
  const float ca = expf(a.m - m), cb = expf(b.m - m);
  return {m, a.s * ca + b.s * cb, ca * (a.t + a.s * (a.m - m)) + cb * (b.t + b.s * (b.m - m))};
}

__device__ __forceinline__ RowStats block_merge(RowStats v) {
  __shared__ RowStats warp_part[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) {
    RowStats o{__shfl_xor_sync(0xffffffffu, v.m, off), __shfl_xor_sync(0xffffffffu, v.s, off),
               __shfl_xor_sync(0xffffffffu, v.t, off)};
    v = merge(v, o);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kThreads / 32 ? warp_part[lane] : RowStats{-INFINITY, 0.f, 0.f};
    for (int off = 16; off > 0; off >>= 1) {
      RowStats o{__shfl_xor_sync(0xffffffffu, v.m, off), __shfl_xor_sync(0xffffffffu, v.s, off),
                 __shfl_xor_sync(0xffffffffu, v.t, off)};
      v = merge(v, o);
    }
    if (lane == 0) warp_part[0] = v;
  }
  __syncthreads();
  return warp_part[0];
}

__global__ void __launch_bounds__(kThreads)
    logprob_forward_kernel(const float* __restrict__ logits, int64_t vocab, int64_t row_stride,
                           const int64_t* __restrict__ targets, float temperature, float* __restrict__ logp,
                           float* __restrict__ entropy, float* __restrict__ lse) {
  const int64_t row = blockIdx.x;
  const float* x = logits + row * row_stride;  // int64 before the multiply: N·V passes 2^31 at 16k rows of 150k
  RowStats st{-INFINITY, 0.f, 0.f};
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    const float z = x[j] / temperature;
    if (z == -INFINITY) continue;
    if (z > st.m) {
      if (st.m == -INFINITY) {
        st = {z, 1.f, 0.f};
      } else {
        const float c = expf(st.m - z);
        st.t = c * (st.t + st.s * (st.m - z));
        st.s = st.s * c + 1.f;
        st.m = z;
      }
    } else {
      const float d = z - st.m, e = expf(d);
      st.s += e;
      st.t += e * d;
    }
  }
  st = block_merge(st);
  if (threadIdx.x == 0) {
    const float log_s = logf(st.s);
    const float row_lse = st.m + log_s;
    const int64_t tgt = targets[row];
    logp[row] = (tgt >= 0 && tgt < vocab) ? x[tgt] / temperature - row_lse : 0.f;
    entropy[row] = log_s - st.t / st.s;
    if (lse) lse[row] = row_lse;
  }
}

__global__ void __launch_bounds__(kThreads)
    logprob_backward_kernel(const float* logits, int64_t vocab, int64_t row_stride, const int64_t* __restrict__ targets,
                            float temperature, const float* __restrict__ lse, const float* __restrict__ entropy,
                            const float* __restrict__ dlogp, const float* __restrict__ dentropy, float* dlogits,
                            int64_t dlogits_stride) {
  const int64_t row = blockIdx.x;
  const float* x = logits + row * row_stride;
  float* g = dlogits + row * dlogits_stride;  // may alias x: each element is read, then written, by one thread
  const int64_t tgt = targets[row];
  const bool has_target = tgt >= 0 && tgt < vocab;
  const float gl = (dlogp && has_target) ? dlogp[row] : 0.f, ge = dentropy ? dentropy[row] : 0.f;
  const float row_lse = lse[row], h = entropy[row];
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    const float logp_j = x[j] / temperature - row_lse;
    const float p = expf(logp_j);
    float v = p == 0.f ? 0.f : -gl * p - ge * p * (logp_j + h);
    if (j == tgt) v += gl;
    g[j] = v / temperature;
  }
}

}  // namespace

bool cuda_kernels_built() { return true; }

void logprob_forward_cuda(const LogprobRows& r, float* logp, float* entropy, float* lse, void* stream) {
  if (r.n_rows == 0) return;
  logprob_forward_kernel<<<static_cast<unsigned>(r.n_rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      r.logits, r.vocab, r.row_stride, r.targets, r.temperature, logp, entropy, lse);
  CRUCIBLE_CUDA_CHECK_LAUNCH("logprob_forward_kernel");
}

void logprob_backward_cuda(const LogprobRows& r, const float* lse, const float* entropy, const float* dlogp,
                           const float* dentropy, float* dlogits, int64_t dlogits_stride, void* stream) {
  if (r.n_rows == 0) return;
  logprob_backward_kernel<<<static_cast<unsigned>(r.n_rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      r.logits, r.vocab, r.row_stride, r.targets, r.temperature, lse, entropy, dlogp, dentropy, dlogits,
      dlogits_stride);
  CRUCIBLE_CUDA_CHECK_LAUNCH("logprob_backward_kernel");
}

}  // namespace crucible::kernels
