#include "model/device.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "core/error.h"

namespace crucible::model {

bool cuda_available() { return torch::cuda::is_available(); }
int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }
std::string torch_version() { return TORCH_VERSION; }

torch::Device parse_device(const std::string& spec) {
  if (spec == "auto") return cuda_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  int index = 0;
  if (spec == "cuda") {
    index = 0;
  } else if (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 &&
             spec.find_first_not_of("0123456789", 5) == std::string::npos) {
    index = std::stoi(spec.substr(5));
  } else {
    throw InputError("--device", "", fmt::format("unknown device '{}' (auto, cpu, cuda, cuda:N)", spec));
  }
  int count = cuda_available() ? cuda_device_count() : 0;
  if (index >= count)
    throw InputError("--device", "",
                     fmt::format("device '{}' is not available: this machine has {} CUDA device(s)", spec, count));
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace crucible::model
