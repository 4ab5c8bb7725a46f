# CUDA kernels compile wherever nvcc exists; they run only where a GPU does (tests skip themselves otherwise).
if(NOT CMAKE_CUDA_COMPILER)
  set(CMAKE_CUDA_COMPILER ${CRUCIBLE_NVCC})
endif()
enable_language(CUDA)
if(NOT CMAKE_CUDA_ARCHITECTURES)
  # Hopper (H100/H200) is where the lent GPUs are; 80 covers A100. PTX of the newest for the rest.
  set(CMAKE_CUDA_ARCHITECTURES 80-real 90)
endif()
# Kernels are plain pointer code; C++17 is what CMake 3.25 knows how to ask nvcc 13 for.
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
find_package(CUDAToolkit REQUIRED)
