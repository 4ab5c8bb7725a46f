// generate_text(): checkpoint -> tokenizer -> (chat template) -> engine, behind the torch-free facade.
#include "model/generate_api.h"

#include <chrono>

#include "core/error.h"
#include "model/engine.h"
#include "model/generation_model.h"

namespace crucible::model {

GenerateResult generate_text(const GenerateArgs& a, const TextCallback& on_text) {
  if (a.samples < 1) throw InputError("--samples", "--samples", "must be at least 1");
  if (a.max_tokens < 1) throw InputError("--max-tokens", "--max-tokens", "must be at least 1");
  if (a.temperature < 0) throw InputError("--temperature", "--temperature", "must be >= 0");
  if (!(a.top_p > 0 && a.top_p <= 1)) throw InputError("--top-p", "--top-p", "must be in (0, 1]");
  if (a.top_k < 0) throw InputError("--top-k", "--top-k", "must be >= 0");
  if (a.min_p < 0 || a.min_p >= 1) throw InputError("--min-p", "--min-p", "must be in [0, 1)");
  const auto t0 = std::chrono::steady_clock::now();
  GenerationModel gm = load_generation_model(a.model, a.tokenizer, a.device, a.dtype, /*want_template=*/a.chat,
                                             /*require_template=*/a.chat, /*hash_content=*/false);
  GenerateResult result;
  result.model_format = gm.format;
  result.device = gm.device.str();
  result.dtype = dtype_name(gm.dtype);
  auto& tokenizer = gm.tokenizer;
  auto& chat_template = gm.chat_template;
  Transformer model = gm.model;
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
