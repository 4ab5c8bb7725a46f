# CUDA kernels compile wherever nvcc exists; they run only where a GPU does (tests skip themselves otherwise).
if(NOT CMAKE_CUDA_COMPILER)
  set(CMAKE_CUDA_COMPILER ${CRUCIBLE_NVCC})
endif()
# Before enable_language(CUDA): afterwards CMake has already filled in nvcc's own default (sm_75), and a test of
# "not set" never fires. Hopper (H100/H200) is where the lent GPUs are; 80 covers A100; 90 also embeds PTX so
# newer GPUs JIT it. A build folder configured before this fix keeps its cached value: pass
# -DCMAKE_CUDA_ARCHITECTURES="80-real;90" once (scripts/device-check does).
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90" CACHE STRING "GPU architectures the CUDA kernels are compiled for")
endif()
# The shared CUDA runtime, as the torch wheel uses: one runtime in the process, so torch's current stream and
# allocations are ours too (the static default would link a second copy next to torch's libcudart.so).
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
enable_language(CUDA)
# Kernels are plain pointer code; C++17 is what CMake 3.25 knows how to ask nvcc 13 for.
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
find_package(CUDAToolkit REQUIRED)
