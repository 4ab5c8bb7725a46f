// The shape of a decoder-only transformer, as Hugging Face's config.json spells it. One struct covers Llama 2/3
// (incl. Llama-3 rope scaling), Qwen2/2.5 (q/k/v bias), Qwen3 (q/k RMSNorm), Mistral and SmolLM2 (a Llama); the
// checkpoint loaders fill it from config.json, GGUF metadata or a llama2.c header, and the saver writes it back.
// Torch-free so the CLI facade and tests can read it without torch headers.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crucible::model {

struct RopeScaling {
  std::string type;  // "llama3" (the only non-default kind we implement), "linear"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type = "llama";  // "llama" | "qwen2" | "qwen3" | "mistral"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads unless the config says otherwise (Qwen3)
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<RopeScaling> rope_scaling;
  std::optional<int64_t> sliding_window;  // Mistral; only applied when set and use_sliding_window is not false
  bool attention_bias = false;             // q/k/v projections carry a bias (Qwen2)
  bool qk_norm = false;                    // RMSNorm over each head of q and k before rope (Qwen3)
  bool tie_word_embeddings = false;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype = "float32";  // what the checkpoint stores; informational

  // InputError naming `origin` and the key for a missing or ill-typed key, or an architecture we do not implement.
  static ModelConfig from_hf_json(const nlohmann::json& j, const std::string& origin);
  static ModelConfig from_hf_file(const std::string& config_json_path);
  // A config.json that transformers loads as the matching *ForCausalLM.
  nlohmann::json to_hf_json() const;
  // Checks the numbers fit together (heads divide, kv heads divide heads, …); InputError naming `origin`.
  void validate(const std::string& origin) const;
};

}  // namespace crucible::model
