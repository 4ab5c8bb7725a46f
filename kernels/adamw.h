// One AdamW step over a flat float32 array (parameter, gradient, the two moments), in one pass: what
// torch.optim.AdamW computes per element, with decoupled weight decay and bias corrections folded into scalars the
// caller computes once per step. Torch-free; trainer/optimizer.cpp calls it for each CPU parameter.
//
//   p  <- p · (1 − lr · wd)
//   m  <- β1 · m + (1 − β1) · g
//   v  <- β2 · v + (1 − β2) · g · g
//   p  <- p − step_size · m / (√v / √(1 − β2^t) + ε)          step_size = lr / (1 − β1^t)
//
// Every element goes through the same sequence of float operations (no FMA contraction, the AVX2 lanes and the
// scalar tail compute alike), so the result does not depend on how the array is split: a --shard rank updating a
// slice of a parameter writes exactly the bits one process updating the whole parameter writes.
#pragma once
#include <cstdint>

namespace crucible::kernels {

struct AdamWStep {
  float decay = 1.0f;       // 1 − lr · weight_decay
  float beta1 = 0.9f, beta2 = 0.999f;
  float one_minus_beta1 = 0.1f, one_minus_beta2 = 0.001f;  // computed in double by the caller (1.0f - 0.999f is off
                                                            // by 1.3e-5 relative)
  float step_size = 0.0f;   // lr / (1 − β1^t)
  float sqrt_bias2 = 1.0f;  // √(1 − β2^t)
  float eps = 1e-8f;

  // The scalars of step t (>= 1), computed in double.
  static AdamWStep at(double lr, double weight_decay, double beta1, double beta2, double eps, int64_t t);
};

// n elements; the four arrays must not overlap. Threads over ranges of at least 64 Ki elements.
void adamw_step_cpu(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n, const AdamWStep& s);

}  // namespace crucible::kernels
