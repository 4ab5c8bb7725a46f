#include <gtest/gtest.h>

#include "core/error.h"
#include "model/device.h"

using namespace crucible;

TEST(Device, ParsesCpuAndAuto) {
  EXPECT_TRUE(model::parse_device("cpu").is_cpu());
  auto a = model::parse_device("auto");
  EXPECT_EQ(a.is_cuda(), model::cuda_available());
  EXPECT_EQ(model::torch_version().rfind("2.11", 0), 0u) << model::torch_version();
}

TEST(Device, RejectsUnknownAndMissingDevices) {
  EXPECT_THROW(model::parse_device("tpu"), InputError);
  EXPECT_THROW(model::parse_device("cuda:x"), InputError);
  EXPECT_THROW(model::parse_device("cuda:99"), InputError);
  try {
    model::parse_device("gpu");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--device"), std::string::npos);
  }
}
