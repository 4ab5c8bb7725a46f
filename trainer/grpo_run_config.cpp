// GrpoConfig (trainer/grpo.h): R1's defaults, validation naming the flag, the JSON stored with the run.
#include <filesystem>

#include "core/error.h"
#include "trainer/grpo.h"

namespace crucible::trainer {

GrpoConfig default_grpo_config() {
  GrpoConfig c;
  c.loss.beta = 0.001;  // R1's KL coefficient
  c.optim.lr = 3e-6;    // R1
  c.optim.warmup = 0;
  c.optim.schedule = "constant";
  return c;
}

void GrpoConfig::validate() const {
  auto bad = [](const char* flag, const std::string& why) { throw InputError("command line", flag, why); };
  if (model.empty()) bad("--model", "required");
  if (suites.empty() && prompts_file.empty()) bad("--suite/--prompts", "one of them is required");
  if (!suites.empty() && !prompts_file.empty()) bad("--suite/--prompts", "give one of them, not both");
  if (out_dir.empty()) bad("--out", "required");
  if (steps < 1) bad("--steps", "must be >= 1");
  if (prompts_per_step < 1) bad("--prompts-per-step", "must be >= 1");
  if (group_size < 2) bad("--group-size", "must be >= 2 (a group of one has no advantage)");
  if (max_tokens < 1) bad("--max-tokens", "must be >= 1");
  if (min_tokens < 0 || min_tokens > max_tokens) bad("--min-tokens", "must be in [0, --max-tokens]");
  if (!(temperature > 0)) bad("--temperature", "must be > 0 (the trainer scores at the rollout temperature)");
  if (!(top_p > 0 && top_p <= 1)) bad("--top-p", "must be in (0, 1]");
  if (micro_batch < 1) bad("--micro-batch", "must be >= 1");
  if (num_iterations < 1) bad("--num-iterations", "must be >= 1");
  if (!(loss.epsilon_low >= 0 && loss.epsilon_low < 1)) bad("--epsilon", "must be in [0, 1)");
  if (!(loss.epsilon_high >= 0)) bad("--epsilon-high", "must be >= 0");
  if (loss.delta && !(*loss.delta > 1 + loss.epsilon_high)) bad("--delta", "must be > 1 + epsilon-high");
  if (!(loss.beta >= 0)) bad("--beta", "must be >= 0");
  if (!(loss.top_entropy_quantile > 0 && loss.top_entropy_quantile <= 1)) {
    bad("--top-entropy-quantile", "must be in (0, 1]");
  }
  if (solve_rate) {
    if (from_run.empty()) bad("--solve-rate", "needs --from-run RUN");
    if (!(solve_rate->first >= 0 && solve_rate->first <= solve_rate->second && solve_rate->second <= 1)) {
      bad("--solve-rate", "must be LO:HI with 0 <= LO <= HI <= 1");
    }
  } else if (!from_run.empty()) {
    bad("--from-run", "only with --solve-rate");
  }
  if (max_refill_rounds < 0) bad("--max-refill-rounds", "must be >= 0");
  if (!(is_max > 0)) bad("--is-max", "must be > 0");
  if (save_every < 0) bad("--save-every", "must be >= 0");
  if (eval_every < 0) bad("--eval-every", "must be >= 0");
  if (keep_last < 0) bad("--keep-last", "must be >= 0");
  if (save_only_model && !resume.empty())
    bad("--resume", "cannot resume with --save-only-model (its step folders hold no optimizer state)");
  if (threads < 0) bad("--threads", "must be >= 0");
  if (dist_timeout_s < 1) bad("--dist-timeout", "must be >= 1 second");
  if (max_bad_steps < 1) bad("--max-bad-steps", "must be >= 1");
  if (eval_every > 0 && eval_suite.empty()) bad("--eval-suite", "required with --eval-every");
  if (eval_every > 0) {
    // The step folders are evaluated as HF folders: they need a tokenizer to carry over, which a llama2.c
    // checkpoint does not have in HF form (checkpoint.h). Fail now, not after the first --eval-every steps.
    const std::filesystem::path m(model);
    if (!std::filesystem::is_directory(m) && m.extension() != ".gguf") {
      bad("--eval-every", "needs a start model with an HF tokenizer (HF folder or .gguf); '" + model +
                              "' is a llama2.c checkpoint, whose step folders hold weights only");
    }
  }
  if (logprob_chunk < 1) bad("--logprob-chunk", "must be >= 1");
  rewards.validate("command line");
  optim.validate("command line");
}

nlohmann::json GrpoConfig::to_json() const {
  nlohmann::json j = {{"model", model},
                      {"tokenizer", tokenizer},
                      {"device", device},
                      {"dtype", dtype},
                      {"suites", suites},
                      {"limit", limit},
                      {"prompts", prompts_file},
                      {"preset", preset},
                      {"out", out_dir},
                      {"seed", seed},
                      {"steps", steps},
                      {"prompts_per_step", prompts_per_step},
                      {"group_size", group_size},
                      {"max_tokens", max_tokens},
                      {"min_tokens", min_tokens},
                      {"temperature", temperature},
                      {"top_p", top_p},
                      {"max_batch", max_batch},
                      {"micro_batch", micro_batch},
                      {"num_iterations", num_iterations},
                      {"scale_rewards", scale_rewards_name(scale_rewards)},
                      {"loss", trainer::to_json(loss)},
                      {"mask_truncated", mask_truncated},
                      {"dynamic_sampling", dynamic_sampling},
                      {"skip_zero_advantage", skip_zero_advantage},
                      {"max_refill_rounds", max_refill_rounds},
                      {"is_mode", is_mode ? is_mode_name(*is_mode) : "off"},
                      {"is_max", is_max},
                      {"rewards", rewards.to_json()},
                      {"optim", optim.to_json()},
                      {"logprob_chunk", logprob_chunk},
                      {"save_every", save_every},
                      {"keep_last", keep_last},
                      {"save_only_model", save_only_model},
                      {"resume", resume},
                      {"threads", threads},
                      {"dist_timeout_s", dist_timeout_s},
                      {"max_bad_steps", max_bad_steps},
                      {"shard", shard},
                      {"eval_every", eval_every},
                      {"eval_suite", eval_suite},
                      {"eval_limit", eval_limit}};
  j["data_dir"] = data_dir ? nlohmann::json(*data_dir) : nlohmann::json(nullptr);
  j["assistant_prefix"] = assistant_prefix ? nlohmann::json(*assistant_prefix) : nlohmann::json(nullptr);
  j["is_min"] = is_min ? nlohmann::json(*is_min) : nlohmann::json(nullptr);
  if (solve_rate) {
    j["solve_rate"] = {solve_rate->first, solve_rate->second};
    j["from_run"] = from_run;
  }
  return j;
}

}  // namespace crucible::trainer
