// Precompiled header for the torch translation units (model/, harness engine, trainer/). Never include this from
// torch-free code.
#pragma once
#include <torch/torch.h>
