// generate_text(): checkpoint -> tokenizer -> (chat template) -> engine, behind the torch-free facade.
#include "model/generate_api.h"

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/device.h"
#include "model/engine.h"
#include "model/llama2c_vocab.h"

namespace crucible::model {
namespace fs = std::filesystem;
namespace {

std::unique_ptr<text::Tokenizer> open_tokenizer(const GenerateArgs& a, const Checkpoint& ck) {
  const int64_t vocab = ck.config.vocab_size;
  std::string path = a.tokenizer;
  if (path.empty()) {
    if (ck.format == "llama2c")
      throw InputError(a.model, "--tokenizer", "a llama2.c checkpoint needs its tokenizer.bin (--tokenizer PATH)");
    throw InputError(a.model, "--tokenizer",
                     "only llama2.c tokenizer.bin files are supported by this build; pass --tokenizer PATH");
  }
  if (!fs::exists(path)) throw InputError(path, "--tokenizer", "no such file");
  return load_llama2c_vocab(path, static_cast<text::TokenId>(vocab));
}

torch::Dtype parse_dtype(const std::string& s, torch::Device dev) {
  if (s == "auto") return dev.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  if (s == "float32" || s == "fp32") return torch::kFloat32;
  if (s == "bfloat16" || s == "bf16") return torch::kBFloat16;
  if (s == "float16" || s == "fp16") return torch::kFloat16;
  throw InputError("--dtype", "--dtype", "expected auto, float32, bfloat16 or float16, got '" + s + "'");
}

}  // namespace

GenerateResult generate_text(const GenerateArgs& a, const TextCallback& on_text) {
  if (a.samples < 1) throw InputError("--samples", "--samples", "must be at least 1");
  if (a.max_tokens < 1) throw InputError("--max-tokens", "--max-tokens", "must be at least 1");
  if (a.temperature < 0) throw InputError("--temperature", "--temperature", "must be >= 0");
  if (!(a.top_p > 0 && a.top_p <= 1)) throw InputError("--top-p", "--top-p", "must be in (0, 1]");
  if (a.top_k < 0) throw InputError("--top-k", "--top-k", "must be >= 0");
  if (a.min_p < 0 || a.min_p >= 1) throw InputError("--min-p", "--min-p", "must be in [0, 1)");
  const auto t0 = std::chrono::steady_clock::now();
  const auto device = parse_device(a.device);
  const auto dtype = parse_dtype(a.dtype, device);
  Checkpoint ck = load_checkpoint(a.model);
  GenerateResult result;
  result.model_format = ck.format;
  result.device = device.str();
  result.dtype = dtype == torch::kFloat32 ? "float32" : dtype == torch::kBFloat16 ? "bfloat16" : "float16";
  auto tokenizer = open_tokenizer(a, ck);
  if (a.chat) throw InputError(a.model, "--chat", "chat templates are not available in this build yet");
  Transformer model = load_model(std::move(ck), device, dtype);
  result.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<GenerationRequest> requests;
  for (const auto& p : a.prompts) {
    GenerationRequest r;
    r.prompt = tokenizer->encode(p, /*add_special=*/true);
    r.n_samples = a.samples;
    r.params.temperature = a.temperature;
    r.params.top_p = a.top_p;
    r.params.top_k = a.top_k;
    r.params.min_p = a.min_p;
    r.params.max_new_tokens = a.max_tokens;
    r.params.seed = a.seed;
    r.params.stop = a.stop;
    requests.push_back(std::move(r));
  }
  Engine engine(model, tokenizer.get(), EngineOptions{a.max_batch, 0});
  TokenCallback cb;
  if (on_text) cb = [&](size_t r, int64_t s, TokenId, std::string_view piece) { on_text(r, s, piece); };
  auto outs = engine.generate(requests, cb);
  for (auto& o : outs) {
    GeneratedSample g;
    g.prompt = o.request;
    g.sample = o.sample;
    g.text = std::move(o.text);
    g.tokens.assign(o.tokens.begin(), o.tokens.end());
    g.finish_reason = finish_reason_name(o.finish);
    g.prompt_tokens = o.prompt_tokens;
    g.completion_tokens = o.completion_tokens;
    result.samples.push_back(std::move(g));
  }
  const auto& st = engine.stats();
  result.prefill_tokens = st.prefill_tokens;
  result.decode_tokens = st.decode_tokens;
  result.prefill_seconds = st.prefill_seconds;
  result.decode_seconds = st.decode_seconds;
  return result;
}

}  // namespace crucible::model
