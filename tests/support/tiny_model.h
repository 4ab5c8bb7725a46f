// A tiny Llama-shaped ModelConfig for tests that build random models (the trainer's, the model's): every size
// named, tied embeddings unless asked.
#pragma once
#include <cstdint>

#include "model/config.h"

namespace crucible::testing {

struct TinySizes {
  int64_t vocab = 64, hidden = 16, intermediate = 32, layers = 1, heads = 2, kv_heads = 1, head_dim = 8;
  bool tied = true;
};

inline model::ModelConfig tiny_model_config(const TinySizes& s) {
  model::ModelConfig c;
  c.vocab_size = s.vocab;
  c.hidden_size = s.hidden;
  c.intermediate_size = s.intermediate;
  c.num_hidden_layers = s.layers;
  c.num_attention_heads = s.heads;
  c.num_key_value_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.tie_word_embeddings = s.tied;
  return c;
}

}  // namespace crucible::testing
