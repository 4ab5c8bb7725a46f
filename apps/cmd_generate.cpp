// crucible generate — sample completions from a checkpoint (HF folder, GGUF, llama2.c .bin) with the native engine.
// Torch-free: talks to model/ through model/generate_api.h only.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

#include "apps/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "model/generate_api.h"

namespace crucible::cli {
namespace {

struct Flags {
  model::GenerateArgs args;
  std::vector<std::string> prompts, chats;
};

// A token's bytes may be part of a UTF-8 character: JSON gets the text with bad bytes replaced, plus the raw bytes.
nlohmann::json logprob_entry(int32_t id, const std::string& text, double logprob) {
  return {{"id", id}, {"token", text}, {"bytes", std::vector<uint8_t>(text.begin(), text.end())}, {"logprob", logprob}};
}

nlohmann::json logprobs_json(const std::vector<TokenLogprob>& lps) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& lp : lps) {
    auto e = logprob_entry(lp.token_id, lp.text, lp.logprob);
    e["sampling_logprob"] = lp.sampling_logprob ? nlohmann::json(*lp.sampling_logprob) : nlohmann::json();
    e["top_logprobs"] = nlohmann::json::array();
    for (const auto& t : lp.top) e["top_logprobs"].push_back(logprob_entry(t.token_id, t.text, t.logprob));
    out.push_back(std::move(e));
  }
  return out;
}

int run_generate(const Globals& g, Flags& f) {
  auto& a = f.args;
  if (!f.prompts.empty() && !f.chats.empty()) throw InputError("generate", "--prompt/--chat", "give one kind, not both");
  a.chat = !f.chats.empty();
  if (a.sampling.top_logprobs > 0) a.sampling.logprobs = true;
  if (a.sampling.logprobs && !g.json)
    throw InputError("generate", "--logprobs", "logprobs are printed with --json only (add --json)");
  a.prompts = a.chat ? f.chats : f.prompts;
  if (a.prompts.empty()) a.prompts = {""};
  // One sample in text mode streams as it is generated; several are printed whole, one after the other.
  const bool stream = !g.json && a.samples == 1 && a.prompts.size() == 1;
  model::TextCallback on_text;
  if (stream)
    on_text = [](size_t, int64_t, std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
  auto r = model::generate_text(a, on_text);
  if (g.json) {
    nlohmann::json samples = nlohmann::json::array();
    for (const auto& s : r.samples)
      samples.push_back({{"prompt", s.prompt},
                         {"sample", s.sample},
                         {"text", s.text},
                         {"finish_reason", s.finish_reason},
                         {"prompt_tokens", s.prompt_tokens},
                         {"completion_tokens", s.completion_tokens},
                         {"tokens", s.tokens}});
    if (a.sampling.logprobs)
      for (size_t i = 0; i < r.samples.size(); ++i) samples[i]["logprobs"] = logprobs_json(r.samples[i].logprobs);
    nlohmann::json out = {
        {"model", a.model},
        {"format", r.model_format},
        {"device", r.device},
        {"dtype", r.dtype},
        {"samples", samples},
        {"stats",
         {{"prefill_tokens", r.prefill_tokens},
          {"decode_tokens", r.decode_tokens},
          {"load_seconds", r.load_seconds},
          {"prefill_seconds", r.prefill_seconds},
          {"decode_seconds", r.decode_seconds}}}};
    print_json(out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (stream) {
    std::fputs("\n", stdout);
  } else {
    for (const auto& s : r.samples)
      fmt::print("--- prompt {} sample {} ({}, {} tokens)\n{}\n", s.prompt, s.sample, s.finish_reason,
                 s.completion_tokens, s.text);
  }
  log::info("{} format on {} ({}): prefill {} tokens in {:.3f} s, decode {} tokens in {:.3f} s ({:.1f} tokens/s)",
            r.model_format, r.device, r.dtype, r.prefill_tokens, r.prefill_seconds, r.decode_tokens, r.decode_seconds,
            r.decode_seconds > 0 ? r.decode_tokens / r.decode_seconds : 0.0);
  return 0;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a model (HF folder, GGUF or llama2.c .bin)");
  auto& a = f->args;
  cmd->add_option("--model", a.model, "checkpoint: HF folder, .gguf file or llama2.c .bin")->required();
  cmd->add_option("--tokenizer", a.tokenizer, "tokenizer file (default: the checkpoint's own)");
  cmd->add_option("--prompt", f->prompts, "raw prompt text (repeatable; default: empty, i.e. just BOS)");
  cmd->add_option("--chat", f->chats, "a user message wrapped in the model's chat template (repeatable)");
  cmd->add_option("--system", a.system, "system message for --chat");
  auto& p = a.sampling;
  cmd->add_option("--max-tokens", p.max_new_tokens, "new tokens per sample")->capture_default_str();
  cmd->add_option("--temperature", p.temperature, "0 is greedy")->capture_default_str();
  cmd->add_option("--top-p", p.top_p, "nucleus sampling mass")->capture_default_str();
  cmd->add_option("--top-k", p.top_k, "keep the k most likely tokens (0: off)")->capture_default_str();
  cmd->add_option("--min-p", p.min_p, "drop tokens below min-p x the top probability (0: off)")->capture_default_str();
  cmd->add_option("--seed", p.seed, "sampling seed (sample i uses a seed derived from it and i)")->capture_default_str();
  cmd->add_option("--samples", a.samples, "samples per prompt (share one prefill)")->capture_default_str();
  cmd->add_option("--stop", p.stop, "stop string (repeatable)");
  cmd->add_flag("--logprobs", p.logprobs,
                "with --json: each token's logprob under the model and under the sampling distribution");
  cmd->add_option("--top-logprobs", p.top_logprobs, "with --json: the N most likely alternatives per token (implies "
                                                    "--logprobs; at most 20)")
      ->capture_default_str();
  cmd->add_option("--device", a.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", a.dtype, "auto, float32, bfloat16")->capture_default_str();
  cmd->add_option("--max-batch", a.max_batch, "sequences decoded together")->capture_default_str();
  cmd->add_flag("--dequantize", a.dequantize,
                "a GGUF's integer blocks become float32 weights (default: kept as int groups, same values)");
  cmd->add_flag("--ignore-eos", p.ignore_eos, "always generate --max-tokens (benchmarks)");
  cmd->callback([&g, &action, f] {
    action = [&g, f] { return run_generate(g, *f); };
  });
}

CRUCIBLE_REGISTER_COMMAND(300, setup);

}  // namespace
}  // namespace crucible::cli
