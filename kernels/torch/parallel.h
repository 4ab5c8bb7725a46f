// at::parallel_for from crucible's own translation units. It is a header template: it runs on torch's intra-op pool
// only where the including translation unit is compiled with the wheel's threading (OpenMP: _OPENMP defines
// INTRA_OP_PARALLEL), and silently on the calling thread otherwise. cmake/CrucibleTorch.cmake adds -fopenmp to every
// torch-linked target; a file that calls at::parallel_for includes this header, so a build that loses the flag fails
// here instead of running the decode attention, the sampler's rows and the fused layers on one core (as it did until
// 2026-12-07).
#pragma once
#include <ATen/Parallel.h>

#include <cstdint>

#ifndef INTRA_OP_PARALLEL
#error "at::parallel_for would run serially in this translation unit: compile it with OpenMP (cmake/CrucibleTorch.cmake)"
#endif

namespace crucible::kernels {

// How many distinct threads ran the tasks of at::parallel_for(0, n, 1, …) called from a library translation unit:
// min(n, at::get_num_threads()) when the pool is reached (the test of the above at run time).
int64_t parallel_for_threads(int64_t n);

}  // namespace crucible::kernels
