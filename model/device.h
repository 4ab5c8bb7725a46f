// Where tensors live: parsing a user's --device and telling what the machine has. CPU is always there; CUDA only
// where a GPU is (everything has a CPU path; GPU tests skip themselves otherwise).
#pragma once
#include <torch/types.h>

#include <string>

namespace crucible::model {

// "auto" (CUDA if available, else CPU), "cpu", "cuda", "cuda:N". InputError (field --device) on anything else, or
// on a CUDA device this machine does not have.
torch::Device parse_device(const std::string& spec);

bool cuda_available();
int cuda_device_count();
std::string torch_version();  // "2.11.0"

}  // namespace crucible::model
