#include "model/random_init.h"

#include <fmt/format.h>

#include <cmath>
#include <numbers>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/json_io.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "model/text/text_util.h"

namespace crucible::model {

namespace {

constexpr const char* kSpecials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
constexpr const char* kThinkTags[] = {"<think>", "</think>"};

ModelConfig config_of(const RandomLlamaSpec& s, int64_t vocab, int64_t eos) {
  ModelConfig c;
  c.model_type = "llama";
  c.vocab_size = vocab;
  c.hidden_size = s.hidden;
  c.intermediate_size = s.ffn;
  c.num_hidden_layers = s.layers;
  c.num_attention_heads = s.heads;
  c.num_key_value_heads = s.kv_heads;
  c.head_dim = s.heads > 0 ? s.hidden / s.heads : 0;
  c.max_position_embeddings = s.max_positions;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = true;
  c.eos_token_ids = {eos};
  c.torch_dtype = "float32";
  return c;
}

// N(0, std²) from mt19937_64's raw output by Box-Muller: std::normal_distribution's algorithm is the library's, and
// the weights must be the same bytes wherever the seed is given.
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  float operator()(double std) {
    if (has_spare_) {
      has_spare_ = false;
      return static_cast<float>(spare_ * std);
    }
    double u1 = (static_cast<double>(rng_() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]: log never sees 0
    double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return static_cast<float>(r * std::cos(2.0 * std::numbers::pi * u2) * std);
  }

 private:
  std::mt19937_64 rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace

text::VocabSpec byte_level_vocab() {
  text::VocabSpec v;
  v.source = "byte_level_vocab";
  v.model = "gpt2";
  v.pre = "gpt-2";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(text::detail::byte_to_unicode(static_cast<unsigned char>(b)));
    v.token_types.push_back(1);
  }
  for (const char* s : kSpecials) {
    v.tokens.push_back(s);
    v.token_types.push_back(3);
  }
  for (const char* s : kThinkTags) {
    v.tokens.push_back(s);
    v.token_types.push_back(4);
  }
  v.eos_id = 258;  // <|im_end|>
  v.pad_id = 256;  // <|endoftext|>
  v.add_bos = false;
  v.add_eos = false;
  return v;
}

const std::string& chatml_template() {
  static const std::string t =
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  return t;
}

int64_t random_llama_parameters(const RandomLlamaSpec& s) {
  const int64_t vocab = static_cast<int64_t>(byte_level_vocab().tokens.size());
  const int64_t hd = s.hidden / s.heads;
  const int64_t per_layer = 2 * s.hidden + s.hidden * hd * (2 * s.heads + 2 * s.kv_heads) + 3 * s.hidden * s.ffn;
  return vocab * s.hidden + s.layers * per_layer + s.hidden;
}

void write_random_llama(const RandomLlamaSpec& s, const std::string& dir) {
  auto positive = [](int64_t v, const char* name) {
    if (v <= 0) throw InputError("init-model", name, fmt::format("expected a positive number, got {}", v));
  };
  positive(s.layers, "--layers");
  positive(s.hidden, "--dim");
  positive(s.heads, "--heads");
  positive(s.kv_heads, "--kv-heads");
  positive(s.ffn, "--ffn");
  positive(s.max_positions, "--max-positions");
  if (s.hidden % s.heads != 0)
    throw InputError("init-model", "--heads", fmt::format("{} heads do not divide --dim {}", s.heads, s.hidden));
  if (s.heads % s.kv_heads != 0)
    throw InputError("init-model", "--kv-heads", fmt::format("{} kv heads do not divide {} heads", s.kv_heads, s.heads));
  if ((s.hidden / s.heads) % 2 != 0)
    throw InputError("init-model", "--heads", fmt::format("head dim {} must be even (rotary)", s.hidden / s.heads));
  if (!(s.init_std > 0)) throw InputError("init-model", "--init-std", "expected a positive number");

  const text::VocabSpec vocab = byte_level_vocab();
  const int64_t V = static_cast<int64_t>(vocab.tokens.size());
  ModelConfig config = config_of(s, V, *vocab.eos_id);
  config.validate("init-model");
  const int64_t D = s.hidden, hd = D / s.heads, Q = s.heads * hd, KV = s.kv_heads * hd, F = s.ffn;

  // Drawn in a fixed order (embedding, then each layer's tensors in the order listed), one stream for the model.
  Normal normal(s.seed);
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
  };
  std::vector<Tensor> tensors;
  auto random = [&](std::string name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    Tensor t{std::move(name), std::move(shape), std::vector<float>(static_cast<size_t>(n))};
    for (auto& x : t.values) x = normal(s.init_std);
    tensors.push_back(std::move(t));
  };
  auto ones = [&](std::string name, int64_t n) {
    tensors.push_back({std::move(name), {n}, std::vector<float>(static_cast<size_t>(n), 1.0f)});
  };
  random("model.embed_tokens.weight", {V, D});
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    ones(p + "input_layernorm.weight", D);
    random(p + "self_attn.q_proj.weight", {Q, D});
    random(p + "self_attn.k_proj.weight", {KV, D});
    random(p + "self_attn.v_proj.weight", {KV, D});
    random(p + "self_attn.o_proj.weight", {D, Q});
    ones(p + "post_attention_layernorm.weight", D);
    random(p + "mlp.gate_proj.weight", {F, D});
    random(p + "mlp.up_proj.weight", {F, D});
    random(p + "mlp.down_proj.weight", {D, F});
  }
  ones("model.norm.weight", D);

  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::vector<SafetensorsWriteEntry> entries;
  for (const auto& t : tensors)
    entries.push_back({t.name, "F32", t.shape, t.values.data(), t.values.size() * sizeof(float)});
  write_safetensors(dir + "/model.safetensors", entries, {{"format", "pt"}});
  write_text_file_atomic(dir + "/config.json", config.to_hf_json().dump(2) + "\n");
  write_text_file_atomic(dir + "/generation_config.json",
                         Json{{"eos_token_id", *vocab.eos_id}, {"pad_token_id", *vocab.pad_id}}.dump(2) + "\n");
  text::write_hf_tokenizer_files(vocab, chatml_template(), dir);
}

}  // namespace crucible::model
