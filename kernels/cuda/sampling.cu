// Top-k / top-p / min-p sampling (kernels/sampling.h), CUDA. One block per row, no sorting, no scratch memory.
//
// Every filter is a cut in the order "most likely first, ties to the lower id": a key (the order-preserving bits of
// z = logit / T) and, for the group of tokens that share that key, an id cut. Each cut is found by bisection (over
// the 32 key bits, then over ids), each step one block-wide pass that counts the tokens, or sums their mass
// exp(z - max z) in double, under a predicate. A row of 152k tokens is re-read ~100-150 times (from L2): simple and
// exact rather than fast; a batch of rollout rows is still well under a millisecond of work per row on an H100.
// Not tuned: no GPU was lent while it was written (README.md says which checks have run where).
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/sampling.h"

namespace crucible::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ uint32_t key_of(float z) {
  const uint32_t b = __float_as_uint(z);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float z_of_key(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

struct Row {
  const float* x;
  int64_t V;
  float T;
  float xmax;
  // + 0.0f turns -0 into +0: the CPU compares floats (-0 == +0, a tie), the bisection compares bits.
  __device__ __forceinline__ float z(int64_t j) const { return x[j] / T + 0.0f; }
  __device__ __forceinline__ double mass(float z) const { return exp(static_cast<double>(z - xmax)); }
};

// A cut keeps key > key_cut, and of the tokens with key == key_cut those with id <= id_cut.
struct Cut {
  bool on = false;
  uint32_t key = 0;
  int64_t id = 0;
  __device__ __forceinline__ bool keeps(uint32_t k, int64_t j) const { return !on || k > key || (k == key && j <= id); }
};

struct Filter {
  Cut top_k, top_p;
  bool min_p_on = false;
  float min_p_threshold = 0;
  __device__ __forceinline__ bool keeps(float z, uint32_t k, int64_t j) const {
    return top_k.keeps(k, j) && top_p.keeps(k, j) && (!min_p_on || z >= min_p_threshold);
  }
};

struct CountMass {
  unsigned count;
  double mass;
};

__device__ CountMass block_sum(CountMass v) {
  __shared__ unsigned s_count[kWarps];
  __shared__ double s_mass[kWarps];
  for (int off = 16; off > 0; off >>= 1) {
    v.count += __shfl_xor_sync(0xffffffffu, v.count, off);
    v.mass += __shfl_xor_sync(0xffffffffu, v.mass, off);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // the previous call's readers are done with the shared slots
  if (lane == 0) {
    s_count[warp] = v.count;
    s_mass[warp] = v.mass;
  }
  __syncthreads();
  CountMass total{0u, 0.0};
  for (int w = 0; w < kWarps; ++w) {  // every thread sums the same slots in the same order: identical results
    total.count += s_count[w];
    total.mass += s_mass[w];
  }
  return total;
}

// Count (and, if want_mass, mass) of the tokens j where pred(z, key, j).
template <class Pred>
__device__ CountMass scan(const Row& r, bool want_mass, Pred pred) {
  CountMass v{0u, 0.0};
  for (int64_t j = threadIdx.x; j < r.V; j += kThreads) {
    const float z = r.z(j);
    if (pred(z, key_of(z), j)) {
      ++v.count;
      if (want_mass) v.mass += r.mass(z);
    }
  }
  return block_sum(v);
}

// The largest key k with ok(k) true, for ok monotone (true up to some key, false above); ok(0) must hold.
template <class Ok>
__device__ uint32_t max_key_where(Ok ok) {
  uint32_t prefix = 0;
  for (int bit = 31; bit >= 0; --bit) {
    const uint32_t cand = prefix | (1u << bit);
    if (ok(cand)) prefix = cand;
  }
  return prefix;
}

// The smallest id c in [0, V) with ok(c) true, for ok monotone (false below some id, true from it); V - 1 if none.
template <class Ok>
__device__ int64_t min_id_where(int64_t V, Ok ok) {
  int64_t lo = 0, hi = V - 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (ok(mid)) hi = mid; else lo = mid + 1;
  }
  return lo;
}

__device__ float block_max(float v) {
  __shared__ float s[kWarps];
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  __syncthreads();
  if (threadIdx.x % 32 == 0) s[threadIdx.x / 32] = v;
  __syncthreads();
  float m = s[0];
  for (int w = 1; w < kWarps; ++w) m = fmaxf(m, s[w]);
  return m;
}

__global__ void __launch_bounds__(kThreads)
    sample_rows_kernel(const float* __restrict__ logits, int64_t V, int64_t row_stride,
                       const SampleParams* __restrict__ params, const double* __restrict__ uniforms,
                       int64_t* __restrict__ tokens, double* __restrict__ sampling_logprob) {
  const int64_t row = blockIdx.x;
  const SampleParams p = params[row];
  Row r{logits + row * row_stride, V, 1.0f, 0.0f};  // int64 offset: rows · V passes 2^31 on big batches

  if (p.temperature <= 0) {
    // Greedy: the first index of the largest raw logit (std::max_element), as the smallest id among maxima.
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < V; j += kThreads) m = fmaxf(m, r.x[j]);
    m = block_max(m);
    const int64_t id = min_id_where(V, [&](int64_t c) {
      return scan(r, false, [&](float, uint32_t, int64_t j) { return j <= c && r.x[j] == m; }).count > 0;
    });
    if (threadIdx.x == 0) {
      tokens[row] = id;
      if (sampling_logprob) sampling_logprob[row] = 0;
    }
    return;
  }
  r.T = static_cast<float>(p.temperature);
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < V; j += kThreads) m = fmaxf(m, r.z(j));
  r.xmax = block_max(m);

  Filter f;
  if (p.top_k > 0 && p.top_k < V) {
    const unsigned k = static_cast<unsigned>(p.top_k);
    const uint32_t vk = max_key_where([&](uint32_t v) {
      return scan(r, false, [&](float, uint32_t key, int64_t) { return key >= v; }).count >= k;
    });
    const unsigned above = scan(r, false, [&](float, uint32_t key, int64_t) { return key > vk; }).count;
    const unsigned need = k - above;  // >= 1 tokens of the group at vk, lowest ids first
    f.top_k.id = min_id_where(V, [&](int64_t c) {
      return scan(r, false, [&](float, uint32_t key, int64_t j) { return key == vk && j <= c; }).count >= need;
    });
    f.top_k.key = vk;
    f.top_k.on = true;
  }
  if (p.top_p < 1.0) {
    const Cut kcut = f.top_k;
    const double total = scan(r, true, [&](float, uint32_t key, int64_t j) { return kcut.keeps(key, j); }).mass;
    const double target = p.top_p * total;  // the nucleus: the shortest prefix whose mass reaches target
    if (total >= target) {
      const uint32_t vp = max_key_where([&](uint32_t v) {
        return scan(r, true, [&](float, uint32_t key, int64_t j) { return kcut.keeps(key, j) && key >= v; }).mass >=
               target;
      });
      const CountMass above =
          scan(r, true, [&](float, uint32_t key, int64_t j) { return kcut.keeps(key, j) && key > vp; });
      const CountMass group =
          scan(r, false, [&](float, uint32_t key, int64_t j) { return kcut.keeps(key, j) && key == vp; });
      const double each = r.mass(z_of_key(vp));
      double want = ceil((target - above.mass) / each);
      want = fmin(fmax(want, 1.0), static_cast<double>(group.count));
      const unsigned need = static_cast<unsigned>(want);
      f.top_p.id = min_id_where(V, [&](int64_t c) {
        return scan(r, false, [&](float, uint32_t key, int64_t j) {
                 return kcut.keeps(key, j) && key == vp && j <= c;
               }).count >= need;
      });
      f.top_p.key = vp;
      f.top_p.on = true;
    }
  }
  if (p.min_p > 0) {
    f.min_p_on = true;
    f.min_p_threshold = r.xmax + logf(static_cast<float>(p.min_p));
  }

  const CountMass kept = scan(r, true, [&](float z, uint32_t key, int64_t j) { return f.keeps(z, key, j); });
  const double target = uniforms[row] * kept.mass;
  int64_t chosen;
  if (p.top_p < 1.0) {
    // Walk most likely first: the group (key) where the running mass passes target, then the id within it.
    const bool passes = kept.mass > target;
    uint32_t vs;
    if (passes) {
      vs = max_key_where([&](uint32_t v) {
        return scan(r, true, [&](float z, uint32_t key, int64_t j) { return f.keeps(z, key, j) && key >= v; }).mass >
               target;
      });
    } else {  // rounding left no token past target: the last of the walk, the least likely kept token
      vs = max_key_where([&](uint32_t v) {
        return scan(r, false, [&](float z, uint32_t key, int64_t j) { return f.keeps(z, key, j) && key >= v; })
                   .count == kept.count;
      });
    }
    const CountMass above =
        scan(r, true, [&](float z, uint32_t key, int64_t j) { return f.keeps(z, key, j) && key > vs; });
    const CountMass group =
        scan(r, false, [&](float z, uint32_t key, int64_t j) { return f.keeps(z, key, j) && key == vs; });
    double want = passes ? floor((target - above.mass) / r.mass(z_of_key(vs))) + 1.0 : 1e300;
    want = fmin(fmax(want, 1.0), static_cast<double>(group.count));
    const unsigned need = static_cast<unsigned>(want);
    chosen = min_id_where(V, [&](int64_t c) {
      return scan(r, false, [&](float z, uint32_t key, int64_t j) {
               return f.keeps(z, key, j) && key == vs && j <= c;
             }).count >= need;
    });
  } else {
    // Walk in id order: the first id where the running mass passes target (the last kept id if none does).
    const bool passes = kept.mass > target;
    chosen = min_id_where(V, [&](int64_t c) {
      const CountMass upto = scan(r, true, [&](float z, uint32_t key, int64_t j) { return f.keeps(z, key, j) && j <= c; });
      return passes ? upto.mass > target : upto.count == kept.count;
    });
  }
  if (threadIdx.x == 0) {
    tokens[row] = chosen;
    if (sampling_logprob) sampling_logprob[row] = static_cast<double>(r.z(chosen) - r.xmax) - log(kept.mass);
  }
}

}  // namespace

void sample_rows_cuda(const SampleRows& rows, int64_t* tokens, double* sampling_logprob, void* stream) {
  if (rows.n_rows == 0) return;
  sample_rows_kernel<<<static_cast<unsigned>(rows.n_rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      rows.logits, rows.vocab, rows.row_stride, rows.params, rows.uniforms, tokens, sampling_logprob);
  CRUCIBLE_CUDA_CHECK_LAUNCH("sample_rows_kernel");
}

}  // namespace crucible::kernels
