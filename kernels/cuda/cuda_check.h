// One check for every CUDA runtime call in kernels/cuda: the failing call, where, and what to look at.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace crucible::kernels::detail {

inline void cuda_check(cudaError_t err, const char* what, const char* file, int line) {
  if (err == cudaSuccess) return;
  throw std::runtime_error(std::string("CUDA error in ") + what + " (" + file + ":" + std::to_string(line) +
                           "): " + cudaGetErrorString(err) +
                           ". A launch failure here often means the binary lacks code for this GPU's architecture "
                           "(CMAKE_CUDA_ARCHITECTURES, cmake/CrucibleCuda.cmake) or a pointer is not on the device.");
}

}  // namespace crucible::kernels::detail

#define CRUCIBLE_CUDA_CHECK(call) ::crucible::kernels::detail::cuda_check((call), #call, __FILE__, __LINE__)
// After a <<<...>>> launch: launch-configuration errors surface at once, execution errors at the next sync.
#define CRUCIBLE_CUDA_CHECK_LAUNCH(name) ::crucible::kernels::detail::cuda_check(cudaGetLastError(), name, __FILE__, __LINE__)
