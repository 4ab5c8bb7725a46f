// config.json <-> ModelConfig. Reads both spellings of rope settings: transformers <5 (`rope_theta`,
// `rope_scaling`) and 5.x (`rope_parameters` holding rope_theta and rope_type); writes both so either loads it.
#include "model/config.h"

#include <fstream>
#include <map>

#include "core/error.h"

namespace crucible::model {
namespace {

using nlohmann::json;

int64_t require_int(const json& j, const std::string& key, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) throw InputError(origin, key, "missing");
  if (!it->is_number_integer()) throw InputError(origin, key, "expected an integer, got " + it->dump());
  return it->get<int64_t>();
}

double number_or(const json& j, const std::string& key, double fallback, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw InputError(origin, key, "expected a number, got " + it->dump());
  return it->get<double>();
}

std::optional<int64_t> optional_int(const json& j, const std::string& key, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) throw InputError(origin, key, "expected an integer, got " + it->dump());
  return it->get<int64_t>();
}

bool bool_or(const json& j, const std::string& key, bool fallback, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw InputError(origin, key, "expected true or false, got " + it->dump());
  return it->get<bool>();
}

}  // namespace

ModelConfig ModelConfig::from_hf_json(const json& j, const std::string& origin) {
  if (!j.is_object()) throw InputError(origin, "(root)", "expected a JSON object");
  ModelConfig c;
  auto mt = j.find("model_type");
  if (mt == j.end() || !mt->is_string()) throw InputError(origin, "model_type", "missing (expected a string)");
  c.model_type = mt->get<std::string>();
  if (c.model_type != "llama" && c.model_type != "qwen2" && c.model_type != "qwen3" && c.model_type != "mistral")
    throw InputError(origin, "model_type",
                     "unknown architecture '" + c.model_type + "' (supported: llama, qwen2, qwen3, mistral)");
  c.vocab_size = require_int(j, "vocab_size", origin);
  c.hidden_size = require_int(j, "hidden_size", origin);
  c.intermediate_size = require_int(j, "intermediate_size", origin);
  c.num_hidden_layers = require_int(j, "num_hidden_layers", origin);
  c.num_attention_heads = require_int(j, "num_attention_heads", origin);
  c.num_key_value_heads = optional_int(j, "num_key_value_heads", origin).value_or(c.num_attention_heads);
  if (c.num_attention_heads <= 0) throw InputError(origin, "num_attention_heads", "must be positive");
  c.head_dim = optional_int(j, "head_dim", origin).value_or(c.hidden_size / c.num_attention_heads);
  c.max_position_embeddings = optional_int(j, "max_position_embeddings", origin).value_or(2048);
  c.rms_norm_eps = number_or(j, "rms_norm_eps", 1e-6, origin);
  c.tie_word_embeddings = bool_or(j, "tie_word_embeddings", false, origin);
  c.attention_bias = c.model_type == "qwen2" ? true : bool_or(j, "attention_bias", false, origin);
  c.qk_norm = c.model_type == "qwen3";
  if (bool_or(j, "mlp_bias", false, origin)) throw InputError(origin, "mlp_bias", "true is not supported");
  if (auto act = j.find("hidden_act"); act != j.end() && act->is_string() && *act != "silu")
    throw InputError(origin, "hidden_act", "unsupported activation '" + act->get<std::string>() + "' (only silu)");

  // Rope: 5.x nests everything in rope_parameters; older files have rope_theta + rope_scaling.
  json rope = json::object();
  if (auto rp = j.find("rope_parameters"); rp != j.end() && rp->is_object()) rope = *rp;
  if (auto rs = j.find("rope_scaling"); rs != j.end() && rs->is_object())
    for (auto& [k, v] : rs->items()) rope[k] = v;
  c.rope_theta = number_or(rope, "rope_theta", number_or(j, "rope_theta", 10000.0, origin), origin);
  std::string rope_type = "default";
  if (auto t = rope.find("rope_type"); t != rope.end() && t->is_string()) rope_type = *t;
  else if (auto t2 = rope.find("type"); t2 != rope.end() && t2->is_string()) rope_type = *t2;
  if (rope_type == "llama3" || rope_type == "linear") {
    RopeScaling s;
    s.type = rope_type;
    s.factor = number_or(rope, "factor", 1.0, origin);
    s.low_freq_factor = number_or(rope, "low_freq_factor", 1.0, origin);
    s.high_freq_factor = number_or(rope, "high_freq_factor", 4.0, origin);
    s.original_max_position_embeddings =
        optional_int(rope, "original_max_position_embeddings", origin).value_or(8192);
    c.rope_scaling = s;
  } else if (rope_type != "default") {
    throw InputError(origin, "rope_scaling.rope_type", "unsupported rope type '" + rope_type + "'");
  }

  if (bool_or(j, "use_sliding_window", c.model_type == "mistral", origin))
    c.sliding_window = optional_int(j, "sliding_window", origin);
  c.bos_token_id = optional_int(j, "bos_token_id", origin);
  if (auto e = j.find("eos_token_id"); e != j.end()) {
    if (e->is_number_integer()) c.eos_token_ids.push_back(e->get<int64_t>());
    else if (e->is_array())
      for (const auto& x : *e) {
        if (!x.is_number_integer()) throw InputError(origin, "eos_token_id", "expected integers");
        c.eos_token_ids.push_back(x.get<int64_t>());
      }
    else if (!e->is_null()) throw InputError(origin, "eos_token_id", "expected an integer or a list");
  }
  if (auto d = j.find("torch_dtype"); d != j.end() && d->is_string()) c.torch_dtype = *d;
  else if (auto d2 = j.find("dtype"); d2 != j.end() && d2->is_string()) c.torch_dtype = *d2;
  c.validate(origin);
  return c;
}

ModelConfig ModelConfig::from_hf_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "(file)", "cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(path, "(json)", e.what());
  }
  return from_hf_json(j, path);
}

void ModelConfig::validate(const std::string& origin) const {
  auto positive = [&](int64_t v, const char* key) {
    if (v <= 0) throw InputError(origin, key, "must be positive, got " + std::to_string(v));
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(intermediate_size, "intermediate_size");
  positive(num_hidden_layers, "num_hidden_layers");
  positive(num_attention_heads, "num_attention_heads");
  positive(num_key_value_heads, "num_key_value_heads");
  positive(head_dim, "head_dim");
  if (head_dim % 2 != 0) throw InputError(origin, "head_dim", "must be even for rotary embeddings");
  if (num_attention_heads % num_key_value_heads != 0)
    throw InputError(origin, "num_key_value_heads", "must divide num_attention_heads");
}

json ModelConfig::to_hf_json() const {
  static const std::map<std::string, std::string> arch = {
      {"llama", "LlamaForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"},
      {"qwen3", "Qwen3ForCausalLM"}, {"mistral", "MistralForCausalLM"}};
  json j = {{"architectures", {arch.at(model_type)}},
            {"model_type", model_type},
            {"vocab_size", vocab_size},
            {"hidden_size", hidden_size},
            {"intermediate_size", intermediate_size},
            {"num_hidden_layers", num_hidden_layers},
            {"num_attention_heads", num_attention_heads},
            {"num_key_value_heads", num_key_value_heads},
            {"head_dim", head_dim},
            {"max_position_embeddings", max_position_embeddings},
            {"rms_norm_eps", rms_norm_eps},
            {"rope_theta", rope_theta},
            {"hidden_act", "silu"},
            {"tie_word_embeddings", tie_word_embeddings},
            {"torch_dtype", torch_dtype},
            {"use_cache", true}};
  json rope = {{"rope_theta", rope_theta}, {"rope_type", "default"}};
  if (rope_scaling) {
    json s = {{"rope_type", rope_scaling->type}, {"factor", rope_scaling->factor}};
    if (rope_scaling->type == "llama3") {
      s["low_freq_factor"] = rope_scaling->low_freq_factor;
      s["high_freq_factor"] = rope_scaling->high_freq_factor;
      s["original_max_position_embeddings"] = rope_scaling->original_max_position_embeddings;
    }
    j["rope_scaling"] = s;
    for (auto& [k, v] : s.items()) rope[k] = v;
  }
  j["rope_parameters"] = rope;
  if (model_type == "llama" || model_type == "mistral") j["attention_bias"] = attention_bias;
  if (model_type == "qwen2" || model_type == "qwen3" || model_type == "mistral") {
    j["use_sliding_window"] = sliding_window.has_value();
    j["sliding_window"] = sliding_window ? json(*sliding_window) : json(nullptr);
  }
  if (bos_token_id) j["bos_token_id"] = *bos_token_id;
  if (eos_token_ids.size() == 1) j["eos_token_id"] = eos_token_ids[0];
  else if (!eos_token_ids.empty()) j["eos_token_id"] = eos_token_ids;
  return j;
}

}  // namespace crucible::model
