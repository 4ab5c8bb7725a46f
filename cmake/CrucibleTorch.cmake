# LibTorch comes from the pinned torch wheel in the project venv (scripts/setup). We ask that Python for
# torch.utils.cmake_prefix_path instead of hard-coding site-packages, as the wheel documents.
set(CRUCIBLE_PYTHON "" CACHE FILEPATH "Python of the venv that holds the torch wheel (scripts/setup writes it)")
if(NOT CRUCIBLE_PYTHON)
  if(DEFINED ENV{CRUCIBLE_VENV})
    set(CRUCIBLE_PYTHON $ENV{CRUCIBLE_VENV}/bin/python)
  else()
    set(CRUCIBLE_PYTHON $ENV{HOME}/.cache/crucible/venv-torch-2.11.0/bin/python)
  endif()
endif()
if(NOT Torch_DIR)
  execute_process(COMMAND ${CRUCIBLE_PYTHON} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
                  OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "crucible: cannot import torch from ${CRUCIBLE_PYTHON} (${_err}).\n"
                        "Run scripts/setup first, or pass -DCRUCIBLE_TORCH=OFF for the torch-free build.")
  endif()
  set(Torch_DIR ${_torch_prefix}/Torch CACHE PATH "LibTorch CMake config (from torch.utils.cmake_prefix_path)")
endif()
# The wheel's Caffe2 config probes the CUDA toolkit itself; we link against the wheel's libraries only. Naming the
# architectures stops it from compiling and running a GPU-detection program (which fails without a GPU, and under
# C++20 with CMake 3.25's nvcc support).
if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST} AND NOT TORCH_CUDA_ARCH_LIST)
  set(TORCH_CUDA_ARCH_LIST "8.0;9.0")
endif()

find_package(Torch REQUIRED)
message(STATUS "crucible: LibTorch ${Torch_VERSION} from ${Torch_DIR}")

# torch_cxx_flags carries -D_GLIBCXX_USE_CXX11_ABI; keep it on targets that link torch only.
add_library(crucible_torch INTERFACE)
target_link_libraries(crucible_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(crucible_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
# The wheel's ATen is built on OpenMP (ATen/Config.h: AT_PARALLEL_OPENMP), and at::parallel_for is a header template:
# it runs on torch's thread pool only where the including translation unit is compiled with OpenMP (_OPENMP defines
# INTRA_OP_PARALLEL), and silently on the calling thread otherwise (kernels/torch/parallel.h stops such a build).
# -fopenmp is for C++ only (nvcc takes no such flag). The OpenMP runtime linked is the wheel's own libgomp, so torch
# and our code share one runtime and one thread pool (a second libgomp would start its own team, sized by the core
# count rather than at::set_num_threads); a wheel without one bundled falls back to the compiler's.
target_compile_options(crucible_torch INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-fopenmp>)
file(GLOB _crucible_torch_gomp "${TORCH_INSTALL_PREFIX}/lib/libgomp*.so*" "${TORCH_INSTALL_PREFIX}/../torch.libs/libgomp*.so*")
if(_crucible_torch_gomp)
  list(GET _crucible_torch_gomp 0 _crucible_torch_gomp)
  target_link_libraries(crucible_torch INTERFACE ${_crucible_torch_gomp})
else()
  find_package(OpenMP REQUIRED COMPONENTS CXX)
  target_link_libraries(crucible_torch INTERFACE OpenMP::OpenMP_CXX)
  set(_crucible_torch_gomp "the compiler's (${OpenMP_CXX_LIB_NAMES})")
endif()
message(STATUS "crucible: OpenMP runtime ${_crucible_torch_gomp}")

# One precompiled header shared by every torch translation unit: torch headers cost ~30 s per TU on 2 cores.
# Torch libraries reuse it with target_precompile_headers(<tgt> REUSE_FROM crucible_torch_pch).
add_library(crucible_torch_pch STATIC ${CMAKE_SOURCE_DIR}/cmake/torch_pch.cpp)
target_link_libraries(crucible_torch_pch PUBLIC crucible_torch PRIVATE crucible_warnings)  # same flags as its users, or GCC ignores the PCH
target_precompile_headers(crucible_torch_pch PUBLIC ${CMAKE_SOURCE_DIR}/cmake/torch_pch.h)
