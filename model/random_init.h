// Models from scratch: a Llama-architecture Hugging Face folder with seeded random weights and a byte-level
// tokenizer small enough for tiny models (`crucible init-model`, `crucible demo`). Torch-free: the weights are drawn
// here and written with write_safetensors, so the same seed gives the same bytes on every machine.
//
// The folder holds config.json (LlamaForCausalLM, tied embeddings), generation_config.json, model.safetensors
// (float32), tokenizer.json, tokenizer_config.json (with a ChatML chat template) and special_tokens_map.json: what
// `crucible eval --model`, `crucible train sft|grpo --model` and transformers' from_pretrained load.
#pragma once
#include <cstdint>
#include <string>

#include "model/text/tokenizer.h"

namespace crucible::model {

struct RandomLlamaSpec {
  int64_t layers = 2;
  int64_t hidden = 64;      // hidden_size
  int64_t heads = 4;        // num_attention_heads
  int64_t kv_heads = 4;     // num_key_value_heads (divides heads)
  int64_t ffn = 256;        // intermediate_size
  int64_t max_positions = 512;
  double init_std = 0.02;   // transformers' initializer_range: linear and embedding weights ~ N(0, std²); norms = 1
  uint64_t seed = 0;
};

// The byte-level vocabulary of these models: the 256 bytes (GPT-2's byte-to-unicode spelling, no merges, so every
// byte is a token), then <|endoftext|>, <|im_start|>, <|im_end|> (control tokens; <|im_end|> ends a turn and is
// the EOS) and <think>, </think> (user-defined, not special: they stay in decoded text for the format reward).
text::VocabSpec byte_level_vocab();
// ChatML: "<|im_start|>role\ncontent<|im_end|>\n" per message, "<|im_start|>assistant\n" as the generation prompt.
const std::string& chatml_template();

// Writes the folder `dir` (created; files replaced). InputError naming the setting when the shape does not fit
// together (heads dividing hidden, kv_heads dividing heads, sizes positive).
void write_random_llama(const RandomLlamaSpec& spec, const std::string& dir);
// Parameters of the model the spec describes (tied embeddings counted once).
int64_t random_llama_parameters(const RandomLlamaSpec& spec);

}  // namespace crucible::model
