// generate_text(): checkpoint -> tokenizer -> (chat template) -> engine, behind the torch-free facade.
#include "model/generate_api.h"

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/device.h"
#include "model/engine.h"
#include "model/text/chat_template.h"

namespace crucible::model {
namespace fs = std::filesystem;
namespace {

// --tokenizer wins; otherwise the checkpoint brings its own (an HF folder's tokenizer.json, a GGUF's vocabulary).
std::unique_ptr<text::Tokenizer> open_tokenizer(const GenerateArgs& a, const Checkpoint& ck) {
  if (a.tokenizer.empty()) {
    if (ck.format == "llama2c")
      throw InputError(a.model, "--tokenizer", "a llama2.c checkpoint needs its tokenizer.bin (--tokenizer PATH)");
    return text::load_tokenizer(a.model);
  }
  if (!fs::exists(a.tokenizer)) throw InputError(a.tokenizer, "--tokenizer", "no such file");
  if (fs::path(a.tokenizer).extension() == ".bin")
    return text::load_llama2c_tokenizer(a.tokenizer, static_cast<text::TokenId>(ck.config.vocab_size));
  return text::load_tokenizer(a.tokenizer);
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
  std::optional<text::ChatTemplate> chat_template;
  if (a.chat) {
    const bool own_tokenizer_file = !a.tokenizer.empty() && fs::path(a.tokenizer).extension() != ".bin";
    chat_template.emplace(text::ChatTemplate::for_model(own_tokenizer_file ? a.tokenizer : a.model));
  }
  Transformer model = load_model(std::move(ck), device, dtype);
  result.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<GenerationRequest> requests;
  for (const auto& p : a.prompts) {
    GenerationRequest r;
    if (chat_template) {
      std::vector<text::ChatMessage> messages;
      if (!a.system.empty()) messages.push_back({"system", a.system});
      messages.push_back({"user", p});
      // As transformers' apply_chat_template(tokenize=True): the template writes BOS itself where it wants one.
      r.prompt = tokenizer->encode(chat_template->apply(messages, /*add_generation_prompt=*/true), false);
    } else {
      r.prompt = tokenizer->encode(p, /*add_special=*/true);
    }
    if (r.prompt.empty())
      throw InputError(a.model, "--prompt", "the prompt encodes to no tokens (this tokenizer adds no BOS); give some text");
    r.n_samples = a.samples;
    r.params.temperature = a.temperature;
    r.params.top_p = a.top_p;
    r.params.top_k = a.top_k;
    r.params.min_p = a.min_p;
    r.params.max_new_tokens = a.max_tokens;
    r.params.seed = a.seed;
    r.params.stop = a.stop;
    r.params.ignore_eos = a.ignore_eos;
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
