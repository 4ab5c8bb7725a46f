// The per-sequence state that Engine::generate and EngineSession both keep (internal to model/; torch-linked).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/engine.h"

namespace crucible::model::detail {

struct Prefix {  // a prefilled prompt kept for samples that did not get a slot at prefill time
  std::vector<torch::Tensor> k_KPE, v_KPE;
  std::vector<float> logits_V;
};

struct Sequence {
  size_t request = 0;
  int64_t sample = 0;
  int64_t len = 0;  // positions filled in the cache
  TokenId next_input = 0;
  std::optional<Sampler> sampler;
  std::vector<TokenId> out;
  std::string text;
  std::optional<text::StreamDecoder> decoder;
};

}  // namespace crucible::model::detail
