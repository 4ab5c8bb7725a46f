// The CUDA path of LibTorch as crucible links it: skips itself, loudly, on a machine without a GPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/device.h"

TEST(GpuSmoke, MatmulOnCudaMatchesCpu) {
  if (!crucible::model::cuda_available()) GTEST_SKIP() << "no CUDA device on this machine: GPU test skipped";
  torch::manual_seed(0);
  auto a = torch::randn({64, 128});
  auto b = torch::randn({128, 32});
  auto cpu = torch::matmul(a, b);
  auto gpu = torch::matmul(a.to(torch::kCUDA), b.to(torch::kCUDA)).cpu();
  EXPECT_TRUE(torch::allclose(cpu, gpu, 1e-4, 1e-4));
}
