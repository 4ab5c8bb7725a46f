// HF folders and llama2.c files in, HF folders out; load_model() (shared by every format) copies tensors into the
// module and refuses a checkpoint that does not match its config. GGUF lives in gguf_weights.cpp.
#include "model/checkpoint.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "model/safetensors.h"
#include "model/text/gguf.h"
#include "model/text/tokenizer.h"

namespace crucible::model {
namespace fs = std::filesystem;
namespace {

torch::Dtype torch_dtype_of(const std::string& st_dtype, const std::string& origin, const std::string& name) {
  if (st_dtype == "F32") return torch::kFloat32;
  if (st_dtype == "F16") return torch::kFloat16;
  if (st_dtype == "BF16") return torch::kBFloat16;
  if (st_dtype == "F64") return torch::kFloat64;
  throw InputError(origin, "tensor '" + name + "'.dtype",
                   "dtype " + st_dtype + " is not a floating-point weight type (F32, F16, BF16)");
}

std::string st_dtype_of(torch::Dtype d) {
  if (d == torch::kFloat32) return "F32";
  if (d == torch::kFloat16) return "F16";
  if (d == torch::kBFloat16) return "BF16";
  throw InputError("save", "dtype", "only float32, float16 and bfloat16 can be saved");
}

void add_safetensors_file(Checkpoint& ck, const std::string& file) {
  auto mapped = std::make_shared<MappedFile>(file);
  auto header = parse_safetensors_header(mapped->data(), mapped->size(), file);
  for (const auto& e : header.entries) {
    if (ck.tensors.count(e.name)) throw InputError(file, "tensor '" + e.name + "'", "appears in two shards");
    const auto dtype = torch_dtype_of(e.dtype, file, e.name);
    const uint8_t* ptr = mapped->data() + header.data_offset + e.begin;
    const uint64_t n_bytes = e.end - e.begin;
    ck.tensors[e.name] = {e.shape, [mapped, ptr, n_bytes, shape = e.shape, dtype](torch::Tensor& dst) {
                            dst.copy_(torch::from_blob(const_cast<uint8_t*>(ptr), shape, torch::TensorOptions().dtype(dtype)));
                            MappedFile::release_pages(ptr, n_bytes);
                          }};
    ck.tensor_file[e.name] = file;
  }
  ck.keep_alive.push_back(mapped);
}

std::string dtype_name(torch::Dtype d) {
  if (d == torch::kFloat32) return "float32";
  if (d == torch::kFloat16) return "float16";
  if (d == torch::kBFloat16) return "bfloat16";
  return "float32";
}

}  // namespace

torch::Tensor CheckpointTensor::read() const {
  auto t = torch::empty(shape, torch::kFloat32);
  read_into(t);
  return t;
}

std::string Checkpoint::origin_of(const std::string& name) const {
  auto it = tensor_file.find(name);
  return it != tensor_file.end() ? it->second : path;
}

Checkpoint load_hf_folder(const std::string& dir) {
  Checkpoint ck;
  ck.path = dir;
  ck.format = "hf";
  ck.config = ModelConfig::from_hf_file((fs::path(dir) / "config.json").string());
  const auto index = fs::path(dir) / "model.safetensors.index.json";
  const auto single = fs::path(dir) / "model.safetensors";
  if (fs::exists(index)) {
    std::ifstream in(index);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(index.string(), "(json)", e.what());
    }
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) throw InputError(index.string(), "weight_map", "missing (expected an object)");
    std::set<std::string> shards;
    for (auto& [name, file] : wm->items()) {
      if (!file.is_string()) throw InputError(index.string(), "weight_map." + name, "expected a file name");
      const auto f = file.get<std::string>();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
        throw InputError(index.string(), "weight_map." + name, "shard name must be a plain file name");
      shards.insert(f);
    }
    for (const auto& s : shards) add_safetensors_file(ck, (fs::path(dir) / s).string());
    for (auto& [name, file] : wm->items())
      if (!ck.tensors.count(name))
        throw InputError(index.string(), "weight_map." + name, "tensor not found in " + file.get<std::string>());
  } else if (fs::exists(single)) {
    add_safetensors_file(ck, single.string());
  } else {
    throw InputError(dir, "model.safetensors", "neither model.safetensors nor model.safetensors.index.json found");
  }
  return ck;
}

Checkpoint load_llama2c(const std::string& path) {
  auto mapped = std::make_shared<MappedFile>(path);
  const uint8_t* p = mapped->data();
  const uint64_t size = mapped->size();
  auto read_i32 = [&](uint64_t off, const char* field) {
    if (off + 4 > size) throw InputError(path, field, "file too short for the header");
    int32_t v;
    std::memcpy(&v, p + off, 4);
    return v;
  };
  uint64_t off = 0;
  bool shared_classifier = true;
  if (size >= 8 && read_i32(0, "magic") == 0x616b3432) {  // "ak42": llama2.c export v1/v2
    const int32_t version = read_i32(4, "version");
    if (version != 1)
      throw InputError(path, "version", "llama2.c export version " + std::to_string(version) +
                                            " is not supported (only 0 = legacy and 1 = float32)");
    off = 8;
  }
  int32_t h[7];
  const char* names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i) h[i] = read_i32(off + 4 * i, names[i]);
  if (off == 8) {
    if (8 + 28 >= size) throw InputError(path, "shared_classifier", "file too short for the header");
    shared_classifier = p[8 + 28] != 0;
  } else {
    shared_classifier = h[5] > 0;
  }
  const int64_t dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv = h[4],
                vocab = std::abs(static_cast<int64_t>(h[5])), seq_len = h[6];
  for (int i = 0; i < 7; ++i)
    if (i != 5 && (h[i] <= 0 || h[i] > (1 << 20))) throw InputError(path, names[i], "out of range: " + std::to_string(h[i]));
  if (vocab == 0 || vocab > (1 << 22)) throw InputError(path, "vocab_size", "out of range");
  if (dim % n_heads != 0) throw InputError(path, "n_heads", "does not divide dim");
  if (n_heads % n_kv != 0) throw InputError(path, "n_kv_heads", "does not divide n_heads");
  const int64_t head = dim / n_heads, kv_dim = n_kv * head;

  ModelConfig c;
  c.model_type = "llama";
  c.vocab_size = vocab;
  c.hidden_size = dim;
  c.intermediate_size = hidden;
  c.num_hidden_layers = n_layers;
  c.num_attention_heads = n_heads;
  c.num_key_value_heads = n_kv;
  c.head_dim = head;
  c.max_position_embeddings = seq_len;
  c.rms_norm_eps = 1e-5;  // run.c's constant
  c.rope_theta = 10000.0;
  c.tie_word_embeddings = shared_classifier;
  c.bos_token_id = 1;
  c.eos_token_ids = {1};  // run.c stops on BOS: in llama2.c training data BOS delimits the stories
  c.validate(path);

  Checkpoint ck;
  ck.path = path;
  ck.format = "llama2c";
  ck.config = c;
  uint64_t pos = off == 8 ? 256 : 28;  // v1 pads its header to 256 bytes
  auto take = [&](const std::string& field, std::vector<int64_t> shape) {
    int64_t numel = 1;
    for (auto d : shape) numel *= d;
    const uint64_t bytes = static_cast<uint64_t>(numel) * 4;
    if (pos + bytes > size)
      throw InputError(path, field, "file truncated: needs " + std::to_string(pos + bytes) + " bytes, has " +
                                        std::to_string(size));
    auto t = torch::from_blob(const_cast<uint8_t*>(p + pos), shape, torch::kFloat32);
    pos += bytes;
    return t;
  };
  // A view of the mapping, read (and its rotary rows reordered) when the model takes it.
  auto lazy = [&](const torch::Tensor& view, int64_t rotary_heads = 0) -> CheckpointTensor {
    return {view.sizes().vec(), [mapped, view, rotary_heads](torch::Tensor& dst) {
              dst.copy_(rotary_heads ? unpermute_rotary_rows(view, rotary_heads) : view);
              MappedFile::release_pages(view.data_ptr(), view.nbytes());
            }};
  };
  auto per_layer = [&](const std::string& hf_suffix, const std::string& field, std::vector<int64_t> shape,
                       int64_t rotary_heads = 0) {
    std::vector<int64_t> full = {n_layers};
    full.insert(full.end(), shape.begin(), shape.end());
    auto all = take(field, full);
    for (int64_t l = 0; l < n_layers; ++l)
      ck.tensors["model.layers." + std::to_string(l) + "." + hf_suffix] = lazy(all[l], rotary_heads);
  };
  ck.tensors["model.embed_tokens.weight"] = lazy(take("token_embedding_table", {vocab, dim}));
  per_layer("input_layernorm.weight", "rms_att_weight", {dim});
  // run.c rotates interleaved pairs; our module (like HF) rotates half-split pairs, so q/k rows are reordered.
  per_layer("self_attn.q_proj.weight", "wq", {n_heads * head, dim}, n_heads);
  per_layer("self_attn.k_proj.weight", "wk", {kv_dim, dim}, n_kv);
  per_layer("self_attn.v_proj.weight", "wv", {kv_dim, dim});
  per_layer("self_attn.o_proj.weight", "wo", {dim, n_heads * head});
  per_layer("post_attention_layernorm.weight", "rms_ffn_weight", {dim});
  per_layer("mlp.gate_proj.weight", "w1", {hidden, dim});
  per_layer("mlp.down_proj.weight", "w2", {dim, hidden});
  per_layer("mlp.up_proj.weight", "w3", {hidden, dim});
  ck.tensors["model.norm.weight"] = lazy(take("rms_final_weight", {dim}));
  if (off != 8) take("freq_cis", {seq_len, head});  // legacy files carry precomputed rope tables; we recompute
  if (!shared_classifier) ck.tensors["lm_head.weight"] = lazy(take("wcls", {vocab, dim}));
  ck.keep_alive.push_back(mapped);
  return ck;
}

Checkpoint load_checkpoint(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_hf_folder(path);
  if (!fs::exists(path, ec)) throw InputError(path, "--model", "no such file or directory");
  const auto ext = fs::path(path).extension().string();
  if (ext == ".gguf") return load_gguf(path);
  if (ext == ".safetensors") return load_hf_folder(fs::path(path).parent_path().string());
  return load_llama2c(path);
}

Transformer load_model(Checkpoint ck, torch::Device device, torch::Dtype dtype, bool inference_only,
                       bool keep_int_groups) {
  Transformer model(ck.config, /*initialise=*/false);
  torch::NoGradGuard no_grad;
  std::map<const c10::TensorImpl*, std::string> name_of;
  for (const auto& item : model->named_parameters()) name_of[item.value().unsafeGetTensorImpl()] = item.key();
  std::set<std::string> used;
  // Reads every parameter of `part` not read yet, straight into the parameter's own (unwritten) memory.
  auto fill = [&](torch::nn::Module& part) {
    for (auto& param : part.parameters()) {
      const std::string& name = name_of.at(param.unsafeGetTensorImpl());
      if (used.count(name)) continue;
      auto it = ck.tensors.find(name);
      if (it == ck.tensors.end()) throw InputError(ck.path, "tensor '" + name + "'", "missing from the checkpoint");
      if (c10::IntArrayRef(it->second.shape) != param.sizes()) {
        std::ostringstream os;
        os << "shape " << c10::IntArrayRef(it->second.shape) << " does not match the config's " << param.sizes();
        throw InputError(ck.origin_of(name), "tensor '" + name + "'", os.str());
      }
      it->second.read_into(param);
      used.insert(name);
    }
  };
  // Inference on the CPU in float32: each part is packed (and its dense weights freed) right after it is read.
  // A linear weight the checkpoint stores in integer blocks is kept as such (int groups), not as float32.
  auto groups_of = [&](const torch::Tensor& param) -> std::optional<IntGroupWeight> {
    auto it = ck.tensors.find(name_of.at(param.unsafeGetTensorImpl()));
    if (it == ck.tensors.end() || !it->second.read_groups) return std::nullopt;
    return it->second.read_groups();
  };
  if (inference_only && device.is_cpu() && dtype == torch::kFloat32)
    model->release_dense_weights(
        fill, keep_int_groups ? std::function<std::optional<IntGroupWeight>(const torch::Tensor&)>(groups_of) : nullptr);
  fill(*model);  // everything (no packed path) or what packing left: norms, embeddings
  for (const auto& [name, t] : ck.tensors)
    if (!used.count(name) && name != "lm_head.weight" && name.find("rotary_emb") == std::string::npos)
      log::warn("{}: tensor '{}' is not used by the model", ck.origin_of(name), name);
  ck.tensors.clear();
  ck.keep_alive.clear();
  model->to(device, dtype);
  model->eval();
  return model;
}

void save_hf_folder(Transformer& model, const std::string& dir, torch::Dtype dtype,
                    const std::string& tokenizer_source) {
  model->restore_dense_weights();  // an inference-only model freed them (transformer.h)
  fs::create_directories(dir);
  auto cfg = model->config();
  cfg.torch_dtype = dtype_name(dtype);
  {
    std::ofstream out(fs::path(dir) / "config.json");
    out << cfg.to_hf_json().dump(2) << "\n";
    if (!out) throw RunError("cannot write " + (fs::path(dir) / "config.json").string());
  }
  {
    nlohmann::json gen = {{"_from_model_config", true}};
    if (cfg.bos_token_id) gen["bos_token_id"] = *cfg.bos_token_id;
    if (cfg.eos_token_ids.size() == 1) gen["eos_token_id"] = cfg.eos_token_ids[0];
    else if (!cfg.eos_token_ids.empty()) gen["eos_token_id"] = cfg.eos_token_ids;
    std::ofstream out(fs::path(dir) / "generation_config.json");
    out << gen.dump(2) << "\n";
  }
  std::vector<torch::Tensor> keep;
  std::vector<SafetensorsWriteEntry> entries;
  const auto st = st_dtype_of(dtype);
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    auto t = item.value().detach().to(torch::kCPU, dtype).contiguous();
    keep.push_back(t);
    entries.push_back({name, st, t.sizes().vec(), t.data_ptr(), static_cast<uint64_t>(t.nbytes())});
  }
  write_safetensors((fs::path(dir) / "model.safetensors").string(), entries, {{"format", "pt"}});
  if (tokenizer_source.empty()) return;
  if (fs::path(tokenizer_source).extension() == ".gguf") {
    // A GGUF carries its tokenizer as metadata: written out as the files transformers reads.
    auto gguf = text::GgufFile::open(tokenizer_source);
    text::write_hf_tokenizer_files(gguf.vocab(), gguf.chat_template(), dir);
    return;
  }
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                        "vocab.json", "merges.txt", "chat_template.jinja"}) {
    auto src = fs::path(tokenizer_source) / f;
    if (fs::exists(src)) fs::copy_file(src, fs::path(dir) / f, fs::copy_options::overwrite_existing);
  }
}

}  // namespace crucible::model
