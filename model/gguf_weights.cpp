// GGUF -> Checkpoint: config from the `<arch>.*` metadata, tensors renamed to HF names and dequantised to float32
// one at a time as the model reads them (the file stays mapped until then; each tensor's pages are dropped once read).
// The block layouts follow ggml-quants.c (dequantize_row_*); tests compare each against gguf-py's quants.py.
// llama.cpp's converter permutes q/k rows of "llama" models into the interleaved rotary order; we undo it so the
// module sees HF's half-split order. qwen2/qwen3 are stored unpermuted (NEOX rope).
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstring>
#include <regex>

#include "core/error.h"
#include "kernels/int_groups.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "model/text/gguf.h"

namespace crucible::model {
namespace {

using text::GgmlType;

float f16(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
}

void get_scale_min_k4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Every integer block format below is decoded into int groups (kernels/int_groups.h): per 16 consecutive values one
// (scale, offset) and an int8 each, value = fl(fl(q · scale) + offset) — the block's own formula with its scales
// multiplied out (Q6_K's d · sc, the K-quants' d · sc and dmin · m) — so dequantisation and the engine's int-group
// matmul compute from the same three numbers. `Groups` receives them: emit(scale, offset, q[16]).
struct Groups {
  int8_t* q;
  float* scale;
  float* offset;
  void emit(float s, float m, const int* v) {
    for (int i = 0; i < 16; ++i) *q++ = static_cast<int8_t>(v[i]);
    *scale++ = s;
    *offset++ = m;
  }
  // 32 values sharing one scale and offset: two groups.
  void emit32(float s, float m, const int* v) {
    emit(s, m, v);
    emit(s, m, v + 16);
  }
};

// Q4_K and Q5_K share their block head (f16 d, f16 dmin, 12 bytes of 6-bit scales and mins) and their order: four
// pairs of 32-value sub-blocks, the pair's low nibbles first, then its high nibbles. `value(pair, l, high)` is the
// l-th quantised value of that half of the pair; value = d·sc · q − dmin·m.
template <typename Value>
void decode_k4_block(const uint8_t* block, Groups& out, Value&& value) {
  const float d = f16(block), dmin = f16(block + 2);
  const uint8_t* scales = block + 4;
  int v[32];
  for (int pair = 0; pair < 4; ++pair) {
    for (int half = 0; half < 2; ++half) {
      uint8_t sc, m;
      get_scale_min_k4(2 * pair + half, scales, sc, m);
      for (int l = 0; l < 32; ++l) v[l] = value(pair, l, half == 1);
      out.emit32(d * sc, -(dmin * m), v);
    }
  }
}

// ggml's kvalues_iq4nl: the 16 levels IQ4_NL's 4-bit indices select.
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// One block of `type` at src (the block layouts follow ggml-quants.c's dequantize_row_*).
void decode_block(GgmlType type, const uint8_t* src, Groups& out) {
  int v[32];
  switch (type) {
    case GgmlType::Q8_0:  // 32 x int8, one f16 scale
      for (int j = 0; j < 32; ++j) v[j] = static_cast<int8_t>(src[2 + j]);
      out.emit32(f16(src), 0.0f, v);
      return;
    case GgmlType::Q4_0:  // 32 x 4-bit, offset 8, one f16 scale; low nibbles first
    case GgmlType::IQ4_NL:  // 32 x 4-bit indices into a fixed non-linear table, one f16 scale
      for (int j = 0; j < 16; ++j) {
        const int lo = src[2 + j] & 0xF, hi = src[2 + j] >> 4;
        v[j] = type == GgmlType::Q4_0 ? lo - 8 : kIq4nlValues[lo];
        v[j + 16] = type == GgmlType::Q4_0 ? hi - 8 : kIq4nlValues[hi];
      }
      out.emit32(f16(src), 0.0f, v);
      return;
    case GgmlType::Q4_1:  // 32 x 4-bit, f16 scale and f16 minimum
      for (int j = 0; j < 16; ++j) {
        v[j] = src[4 + j] & 0xF;
        v[j + 16] = src[4 + j] >> 4;
      }
      out.emit32(f16(src), f16(src + 2), v);
      return;
    case GgmlType::Q5_0:  // 32 x 5-bit, offset 16, one f16 scale; the 32 fifth bits packed in a little-endian u32
    case GgmlType::Q5_1: {  // 32 x 5-bit, f16 scale and f16 minimum
      const bool with_min = type == GgmlType::Q5_1;
      const uint8_t* p = src + (with_min ? 4 : 2);
      uint32_t qh;
      std::memcpy(&qh, p, 4);
      const uint8_t* qs = p + 4;
      const int offset = with_min ? 0 : 16;
      for (int j = 0; j < 16; ++j) {
        v[j] = ((qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)) - offset;
        v[j + 16] = ((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - offset;
      }
      out.emit32(f16(src), with_min ? f16(src + 2) : 0.0f, v);
      return;
    }
    case GgmlType::Q2_K: {  // 256 = 16 x 16, 2-bit values; per sub-block a 4-bit scale and a 4-bit min (f16 d, dmin)
      const uint8_t* scales = src;
      const uint8_t* q = src + 16;
      const float d = f16(src + 80), dmin = f16(src + 82);
      int is = 0;
      for (int half = 0; half < 2; ++half, q += 32) {
        for (int shift = 0; shift < 8; shift += 2) {
          for (int part = 0; part < 2; ++part) {
            const uint8_t sc = scales[is++];
            for (int l = 0; l < 16; ++l) v[l] = (q[l + 16 * part] >> shift) & 3;
            out.emit(d * (sc & 0xF), -(dmin * (sc >> 4)), v);
          }
        }
      }
      return;
    }
    case GgmlType::Q3_K: {  // 256 = 16 x 16, 3-bit values (2 low bits in qs, the high bit in hmask), 6-bit scales
      const uint8_t* hm = src;
      const uint8_t* q = src + 32;
      const float d = f16(src + 108);
      // The 16 six-bit scales: low 4 bits in bytes 0-7 (two per byte), high 2 bits in bytes 8-11 (four per byte).
      int8_t scales[16];
      const uint8_t* packed = src + 96;
      for (int k = 0; k < 16; ++k) {
        const int low = k < 8 ? packed[k] & 0xF : packed[k - 8] >> 4;
        const int high = (packed[8 + k % 4] >> (2 * (k / 4))) & 3;
        scales[k] = static_cast<int8_t>((low | (high << 4)) - 32);
      }
      int is = 0;
      uint8_t m = 1;
      for (int half = 0; half < 2; ++half, q += 32) {
        for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
          for (int part = 0; part < 2; ++part) {
            for (int l = 0; l < 16; ++l)
              v[l] = ((q[l + 16 * part] >> shift) & 3) - ((hm[l + 16 * part] & m) ? 0 : 4);
            out.emit(d * scales[is++], 0.0f, v);
          }
        }
      }
      return;
    }
    case GgmlType::Q5_K: {  // as Q4_K, plus a fifth bit per value in qh (bit 2 x pair + high of byte l)
      const uint8_t* qh = src + 16;
      const uint8_t* ql = src + 48;
      decode_k4_block(src, out, [&](int pair, int l, bool high) {
        const uint8_t byte = ql[32 * pair + l];
        return (high ? byte >> 4 : byte & 0xF) + ((qh[l] >> (2 * pair + (high ? 1 : 0))) & 1 ? 16 : 0);
      });
      return;
    }
    case GgmlType::Q4_K: {  // 256 = 8 sub-blocks of 32, 6-bit scales and mins packed in 12 bytes
      const uint8_t* q = src + 16;
      decode_k4_block(src, out, [&](int pair, int l, bool high) {
        const uint8_t byte = q[32 * pair + l];
        return high ? byte >> 4 : byte & 0xF;
      });
      return;
    }
    case GgmlType::Q6_K: {  // 256 = 16 x 16, 6-bit values (4 low bits in ql, 2 high in qh), int8 scales, f16 d
      const uint8_t* ql = src;
      const uint8_t* qh = src + 128;
      const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
      const float d = f16(src + 208);
      // Per half (128 values): four runs of 32 (q1..q4), each two groups of 16 with their own scale.
      for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8) {
        for (int run = 0; run < 4; ++run) {
          for (int l = 0; l < 32; ++l) {
            const uint8_t* lo_src = ql + (run == 1 || run == 3 ? 32 : 0);
            const int low = run < 2 ? lo_src[l] & 0xF : lo_src[l] >> 4;
            v[l] = static_cast<int>(low | (((qh[l] >> (2 * run)) & 3) << 4)) - 32;
          }
          out.emit(d * sc[2 * run], 0.0f, v);
          out.emit(d * sc[2 * run + 1], 0.0f, v + 16);
        }
      }
      return;
    }
    default:
      return;
  }
}

}  // namespace

bool ggml_int_group_type(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::IQ4_NL:
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

void decode_ggml_int_groups(uint32_t type, const uint8_t* src, uint64_t n, int8_t* q, float* scale, float* offset,
                            const std::string& origin) {
  if (!ggml_int_group_type(type))
    throw InputError(origin, "type", std::string("quantisation type ") + text::ggml_type_name(type) +
                                         " has no integer groups (F32/F16/BF16 are read as floats)");
  const auto [block_bytes, block_elems] = *text::ggml_block_layout(type);
  Groups out{q, scale, offset};
  for (uint64_t b = 0; b < n / block_elems; ++b) decode_block(static_cast<GgmlType>(type), src + b * block_bytes, out);
}

void dequantize_ggml(uint32_t type, const uint8_t* src, float* y, uint64_t n, const std::string& origin) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32:
      std::memcpy(y, src, n * 4);
      return;
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) y[i] = f16(src + 2 * i);
      return;
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        y[i] = static_cast<float>(c10::BFloat16(bits, c10::BFloat16::from_bits()));
      }
      return;
    default:
      break;
  }
  if (!ggml_int_group_type(type))
    throw InputError(origin, "type", std::string("quantisation type ") + text::ggml_type_name(type) +
                                         " is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, "
                                         "Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
  // A chunk of whole blocks at a time through the int groups (the same numbers the engine computes with).
  const auto [block_bytes, block_elems] = *text::ggml_block_layout(type);
  constexpr uint64_t kChunk = 4096;  // a multiple of every block size (32, 256)
  int8_t q[kChunk];
  float scale[kChunk / kernels::kIntGroup], offset[kChunk / kernels::kIntGroup];
  for (uint64_t done = 0; done < n; done += kChunk) {
    const uint64_t c = std::min(kChunk, n - done);
    decode_ggml_int_groups(type, src + done / block_elems * block_bytes, c, q, scale, offset, origin);
    kernels::dequantize_int_groups(q, scale, offset, static_cast<int64_t>(c), y + done);
  }
}

Checkpoint load_gguf(const std::string& path) {
  auto file = std::make_shared<text::GgufFile>(text::GgufFile::open(path));
  const std::string arch = file->require_string("general.architecture");
  ModelConfig c;
  if (arch == "llama" || arch == "qwen2" || arch == "qwen3" || arch == "mistral") c.model_type = arch;
  else throw InputError(path, "general.architecture", "unknown architecture '" + arch + "' (supported: llama, qwen2, qwen3, mistral)");
  auto key = [&](const std::string& k) { return arch + "." + k; };
  auto number = [&](const std::string& k, double fallback) {
    auto v = file->get(key(k));
    if (!v) return fallback;
    if (!v->is_number()) throw InputError(path, key(k), "expected a number");
    return v->get<double>();
  };
  c.hidden_size = file->require_int(key("embedding_length"));
  c.intermediate_size = file->require_int(key("feed_forward_length"));
  c.num_hidden_layers = file->require_int(key("block_count"));
  c.num_attention_heads = file->require_int(key("attention.head_count"));
  c.num_key_value_heads = file->get(key("attention.head_count_kv")) ? file->require_int(key("attention.head_count_kv"))
                                                                     : c.num_attention_heads;
  if (c.num_attention_heads <= 0) throw InputError(path, key("attention.head_count"), "must be positive");
  c.head_dim = file->get(key("attention.key_length")) ? file->require_int(key("attention.key_length"))
                                                       : c.hidden_size / c.num_attention_heads;
  c.max_position_embeddings = file->get(key("context_length")) ? file->require_int(key("context_length")) : 2048;
  c.rms_norm_eps = number("attention.layer_norm_rms_epsilon", 1e-6);
  c.rope_theta = number("rope.freq_base", 10000.0);
  c.attention_bias = arch == "qwen2";
  c.qk_norm = arch == "qwen3";
  if (auto t = file->get(key("rope.scaling.type")); t && t->is_string() && *t == "linear") {
    c.rope_scaling = RopeScaling{"linear", number("rope.scaling.factor", 1.0), 1.0, 4.0, 8192};
  }
  const auto* embd = file->find_tensor("token_embd.weight");
  if (!embd) throw InputError(path, "token_embd.weight", "tensor missing");
  if (embd->dims.size() != 2) throw InputError(path, "token_embd.weight", "expected 2 dimensions");
  c.vocab_size = static_cast<int64_t>(embd->dims[1]);
  c.tie_word_embeddings = file->find_tensor("output.weight") == nullptr;
  if (auto b = file->get("tokenizer.ggml.bos_token_id"); b && b->is_number_integer()) c.bos_token_id = b->get<int64_t>();
  if (auto e = file->get("tokenizer.ggml.eos_token_id"); e && e->is_number_integer())
    c.eos_token_ids.push_back(e->get<int64_t>());
  c.validate(path);

  Checkpoint ck;
  ck.path = path;
  ck.format = "gguf";
  ck.config = c;
  static const std::regex block_re(R"(blk\.(\d+)\.(\w+)\.(weight|bias))");
  static const std::map<std::string, std::string> per_layer = {
      {"attn_norm", "input_layernorm"},        {"ffn_norm", "post_attention_layernorm"},
      {"attn_q", "self_attn.q_proj"},          {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},          {"attn_output", "self_attn.o_proj"},
      {"attn_q_norm", "self_attn.q_norm"},     {"attn_k_norm", "self_attn.k_norm"},
      {"ffn_gate", "mlp.gate_proj"},           {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"}};
  const bool interleaved_rotary = arch == "llama" || arch == "mistral";
  for (const auto& t : file->tensors()) {
    std::string hf;
    int64_t rotary_heads = 0;
    std::smatch m;
    if (t.name == "token_embd.weight") hf = "model.embed_tokens.weight";
    else if (t.name == "output_norm.weight") hf = "model.norm.weight";
    else if (t.name == "output.weight") hf = "lm_head.weight";
    else if (std::regex_match(t.name, m, block_re) && per_layer.count(m[2].str())) {
      hf = "model.layers." + m[1].str() + "." + per_layer.at(m[2].str()) + "." + m[3].str();
      if (interleaved_rotary && m[2] == "attn_q") rotary_heads = c.num_attention_heads;
      if (interleaved_rotary && m[2] == "attn_k") rotary_heads = c.num_key_value_heads;
    } else {
      continue;  // rope_freqs and other derived tables: recomputed from the config
    }
    const auto layout = text::ggml_block_layout(t.type);
    if (!layout) throw InputError(path, "tensor '" + t.name + "'.type", "unknown ggml type " + std::to_string(t.type));
    if (t.n_elements() % layout->second != 0)
      throw InputError(path, "tensor '" + t.name + "'.dims", "element count is not a whole number of blocks");
    std::vector<int64_t> shape(t.dims.rbegin(), t.dims.rend());  // ggml lists the fastest dimension first
    // Dequantised when the model takes it: straight into the parameter when it is float32 and needs no reordering.
    ck.tensors[hf] = {shape, [file, info = &t, shape, rotary_heads, origin = path + ": tensor '" + t.name + "'"](
                                 torch::Tensor& dst) {
                        const bool direct = !rotary_heads && dst.scalar_type() == torch::kFloat32 &&
                                            dst.is_contiguous() && dst.device().is_cpu();
                        auto out = direct ? dst : torch::empty(shape, torch::kFloat32);
                        const uint8_t* data = file->tensor_data(*info);
                        dequantize_ggml(info->type, data, out.data_ptr<float>(), info->n_elements(), origin);
                        if (rotary_heads) out = unpermute_rotary_rows(out, rotary_heads);
                        if (!direct) dst.copy_(out);
                        MappedFile::release_pages(data, info->n_bytes);
                      }};
    if (shape.size() == 2 && ggml_int_group_type(t.type) && shape[1] % kernels::kIntGroup == 0) {
      ck.tensors[hf].read_groups = [file, info = &t, shape, rotary_heads, origin = path + ": tensor '" + t.name + "'"] {
        const int64_t n = shape[0] * shape[1], G = shape[1] / kernels::kIntGroup;
        IntGroupWeight g{torch::empty(shape, torch::kInt8), torch::empty({shape[0], G}, torch::kFloat32),
                         torch::empty({shape[0], G}, torch::kFloat32)};
        const uint8_t* data = file->tensor_data(*info);
        decode_ggml_int_groups(info->type, data, static_cast<uint64_t>(n), g.q.data_ptr<int8_t>(),
                               g.scale.data_ptr<float>(), g.offset.data_ptr<float>(), origin);
        if (rotary_heads) {
          g.q = unpermute_rotary_rows(g.q, rotary_heads);
          g.scale = unpermute_rotary_rows(g.scale, rotary_heads);
          g.offset = unpermute_rotary_rows(g.offset, rotary_heads);
        }
        MappedFile::release_pages(data, info->n_bytes);
        return g;
      };
    }
    ck.tensor_file[hf] = path;
  }
  ck.keep_alive.push_back(file);
  return ck;
}

}  // namespace crucible::model
