// generate_text(): checkpoint -> tokenizer -> (chat template) -> engine, behind the torch-free facade.
#include "model/generate_api.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "model/engine.h"
#include "model/generation_model.h"

namespace crucible::model {

GenerateResult generate_text(const GenerateArgs& a, const TextCallback& on_text) {
  if (a.samples < 1) throw InputError("--samples", "--samples", "must be at least 1");
  if (a.sampling.max_new_tokens < 1) throw InputError("--max-tokens", "--max-tokens", "must be at least 1");
  if (auto bad = check_sampling(a.sampling)) {
    std::string flag = "--" + bad->field;
    std::replace(flag.begin(), flag.end(), '_', '-');
    throw InputError(flag, flag, bad->message);
  }
  const auto t0 = std::chrono::steady_clock::now();
  LoadOptions load;
  load.path = a.model;
  load.tokenizer = a.tokenizer;
  load.device = a.device;
  load.dtype = a.dtype;
  load.chat_template = load.require_template = a.chat;
  load.hash_content = false;
  load.int_groups = !a.dequantize;
  GenerationModel gm = load_generation_model(load);
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
    r.params = a.sampling;
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
    g.logprobs = std::move(o.logprobs);
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
