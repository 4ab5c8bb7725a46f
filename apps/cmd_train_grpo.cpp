// crucible train grpo — reinforcement learning with verifiable rewards (trainer/grpo.h). Runs in crucible-torch; the
// front hands `train` over. Defaults: R1's where R1 states them, TRL 1.16's otherwise (trainer/grpo_config.h).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>

#include "apps/cli.h"
#include "apps/cmd_train.h"
#include "core/error.h"
#include "trainer/dist/launch.h"
#include "trainer/grpo.h"

namespace crucible::cli {
namespace {

struct GrpoFlags {
  trainer::GrpoConfig c = trainer::default_grpo_config();
  std::string suites, scale_rewards = "group", loss_type = "dapo", importance_level = "token", is_mode, solve_rate,
      format_rule = "r1";
  std::optional<double> delta, epsilon_high, is_min;
};

int run_grpo_command(const Globals& g, GrpoFlags& f) {
  auto& c = f.c;
  c.suites = split_commas(f.suites);
  c.scale_rewards = trainer::parse_scale_rewards(f.scale_rewards);
  c.loss.loss_type = trainer::parse_loss_type(f.loss_type);
  c.loss.importance_level = trainer::parse_importance_level(f.importance_level);
  c.rewards.format_rule = trainer::parse_format_rule_flag(f.format_rule);
  c.loss.epsilon_high = f.epsilon_high.value_or(c.loss.epsilon_low);  // TRL: epsilon_high defaults to epsilon
  c.loss.delta = f.delta;
  c.is_min = f.is_min;
  if (!f.is_mode.empty()) c.is_mode = trainer::parse_is_mode(f.is_mode);
  if (!f.solve_rate.empty()) {
    const auto colon = f.solve_rate.find(':');
    if (colon == std::string::npos) throw InputError("command line", "--solve-rate", "expected LO:HI");
    try {
      c.solve_rate = {std::stod(f.solve_rate.substr(0, colon)), std::stod(f.solve_rate.substr(colon + 1))};
    } catch (const std::exception&) {
      throw InputError("command line", "--solve-rate", "expected LO:HI numbers, got '" + f.solve_rate + "'");
    }
  }
  auto r = trainer::run_grpo(c, g.db_path);
  if (r.rank != 0) return r.status == "completed" ? 0 : 1;  // rank 0 reports for all
  if (g.json) {
    print_json(nlohmann::json{{"run_id", r.run_id},
                              {"status", r.status},
                              {"steps", r.steps},
                              {"first_reward", r.first_reward},
                              {"last_reward", r.last_reward},
                              {"first_accuracy", r.first_accuracy},
                              {"last_accuracy", r.last_accuracy},
                              {"seconds", r.seconds},
                              {"seconds_per_step", r.seconds_per_step},
                              {"out", r.out_dir}}
                   .dump(2));
  } else {
    fmt::print("run {} {}: {} steps, reward {:.3f} -> {:.3f}, accuracy {:.3f} -> {:.3f}, {:.1f} s/step; model in {}\n",
               r.run_id, r.status, r.steps, r.first_reward, r.last_reward, r.first_accuracy, r.last_accuracy,
               r.seconds_per_step, r.out_dir);
  }
  return r.status == "completed" ? 0 : 1;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto f = std::make_shared<GrpoFlags>();
  auto& c = f->c;
  auto* cmd = train_parent(app)->add_subcommand(
      "grpo", "GRPO on verifiable rewards: rollouts from the weights being trained, graded as eval grades");
  cmd->add_option("--model", c.model, "starting checkpoint: HF folder, .gguf or llama2.c .bin")->required();
  cmd->add_option("--tokenizer", c.tokenizer, "tokenizer (default: the checkpoint's own)");
  cmd->add_option("--suite", f->suites, "suites to train on, comma separated (prompted and graded as eval does)");
  cmd->add_option("--data-dir", c.data_dir, "suite data folder (default: $CRUCIBLE_DATA or ~/.cache/crucible/data)");
  cmd->add_option("--limit", c.limit, "first N problems of each suite (0: all)")->capture_default_str();
  cmd->add_option("--prompts", c.prompts_file,
                  "JSONL of {\"prompt\", \"answer\"[, \"id\"]}: prompted as a math suite, graded by the math verifier");
  cmd->add_option("--out", c.out_dir, "output folder (HF format; step-N/ with --save-every)")->required();
  cmd->add_option("--name", c.name, "run name (default: train-grpo-<model>)");
  cmd->add_option("--seed", c.seed, "seed of the problem order and of every rollout")->capture_default_str();
  cmd->add_option("--preset", c.preset, "prompt preset, as eval's (r1: the <think> prefix, the math suffix)")
      ->capture_default_str();
  cmd->add_option("--assistant-prefix", c.assistant_prefix,
                  "override the preset's assistant prefix (\"\" for a model that does not think in <think> tags)");
  cmd->add_option("--steps", c.steps, "optimizer steps")->capture_default_str();
  cmd->add_option("--prompts-per-step", c.prompts_per_step, "prompts per generation batch (R1: 32)")
      ->capture_default_str();
  cmd->add_option("--group-size", c.group_size, "samples per prompt, G (R1: 16)")->capture_default_str();
  cmd->add_option("--max-tokens", c.max_tokens, "max completion tokens (R1: 32,768)")->capture_default_str();
  cmd->add_option("--min-tokens", c.min_tokens, "mask the end token until this many (benchmarks)")
      ->capture_default_str();
  cmd->add_option("--temperature", c.temperature, "rollout temperature (R1's RL: 1.0; eval uses 0.6)")
      ->capture_default_str();
  cmd->add_option("--top-p", c.top_p, "rollout top-p (R1 states none: 1.0)")->capture_default_str();
  cmd->add_option("--max-batch", c.max_batch, "engine slots decoded together")->capture_default_str();
  cmd->add_option("--micro-batch", c.micro_batch, "sequences per forward/backward (gradients accumulate)")
      ->capture_default_str();
  cmd->add_option("--logprob-chunk", c.logprob_chunk,
                  "completion positions per chunk of the trainer's log-probs: a micro-batch within one chunk (and "
                  "64 Mi logits) keeps its logits for backward, else each chunk's are recomputed there")
      ->capture_default_str();
  cmd->add_option("--scale-rewards", f->scale_rewards, "advantage scaling: group, batch or none (Dr. GRPO)")
      ->capture_default_str();
  cmd->add_option("--loss-type", f->loss_type, "grpo, bnpo, dr_grpo, dapo (TRL's default), cispo or sapo")
      ->capture_default_str();
  cmd->add_option("--epsilon", c.loss.epsilon_low, "lower clip of the ratio (TRL: 0.2)")->capture_default_str();
  cmd->add_option("--epsilon-high", f->epsilon_high, "upper clip (default: --epsilon; DAPO clip-higher: 0.28)");
  cmd->add_option("--delta", f->delta, "two-sided clipping: cap the ratio at delta (> 1 + epsilon-high)");
  cmd->add_option("--importance-level", f->importance_level, "token, or sequence (GSPO)")->capture_default_str();
  cmd->add_option("--beta", c.loss.beta, "k3 KL coefficient to the frozen start (R1: 0.001; 0 loads no reference)")
      ->capture_default_str();
  cmd->add_option("--num-iterations", c.num_iterations, "mu: optimizer steps per generation batch (TRL: 1)")
      ->capture_default_str();
  cmd->add_flag("--mask-truncated", c.mask_truncated, "length-cut samples train no token (DAPO)");
  cmd->add_option("--top-entropy-quantile", c.loss.top_entropy_quantile,
                  "train only this top fraction of tokens by entropy (1: all; 0.2: the 80/20 rule)")
      ->capture_default_str();
  cmd->add_flag("--dynamic-sampling", c.dynamic_sampling, "drop groups of equal rewards and refill them (DAPO)");
  cmd->add_flag("--skip-zero-advantage,!--no-skip-zero-advantage", c.skip_zero_advantage,
                "no backward for sequences of advantage 0 when beta = 0 (their gradient is exactly 0)")
      ->capture_default_str();
  cmd->add_option("--max-refill-rounds", c.max_refill_rounds, "bound on dynamic sampling's refills per step")
      ->capture_default_str();
  cmd->add_option("--solve-rate", f->solve_rate, "LO:HI curriculum: problems whose pass rate in --from-run is in it");
  cmd->add_option("--from-run", c.from_run, "stored eval run (id or name) for --solve-rate");
  cmd->add_option("--is-mode", f->is_mode,
                  "importance-sampling correction sampler->trainer: token_truncate, token_mask, sequence_truncate, "
                  "sequence_mask (default: off)");
  cmd->add_option("--is-min", f->is_min, "lower bound of the IS ratio (default: none)");
  cmd->add_option("--is-max", c.is_max, "upper bound of the IS ratio (TRL: 3)")->capture_default_str();
  cmd->add_option("--accuracy-weight", c.rewards.accuracy_weight, "weight of the verifier's reward (R1: 1)")
      ->capture_default_str();
  cmd->add_option("--format-weight", c.rewards.format_weight, "weight of R1's format reward (R1: 1)")
      ->capture_default_str();
  cmd->add_option("--format-rule", f->format_rule,
                  "r1 (R1's shape), or answer: also a word in the reasoning and a final answer the grader extracts")
      ->capture_default_str();
  cmd->add_flag("--overlong-shaping", c.rewards.overlong_shaping, "DAPO's soft overlong punishment");
  cmd->add_option("--overlong-buffer", c.rewards.overlong_buffer, "its buffer in tokens (DAPO: 4096)")
      ->capture_default_str();
  add_checkpoint_flags(cmd, c.save_every, c.keep_last, c.save_only_model, c.resume, c.threads, c.device);
  cmd->add_option("--eval-every", c.eval_every, "evaluate the step-N folder on --eval-suite every N steps")
      ->capture_default_str();
  cmd->add_option("--eval-suite", c.eval_suite, "held-out suite for --eval-every (r1 preset)");
  cmd->add_option("--eval-limit", c.eval_limit, "first N problems of --eval-suite (0: all)")->capture_default_str();
  cmd->add_option("--dtype", c.dtype, "auto, float32 or bfloat16")->capture_default_str();
  add_optim_flags(cmd, c.optim);
  auto nproc = std::make_shared<int>(1);
  add_dist_flags(cmd, *nproc, c.dist_timeout_s, c.max_bad_steps, c.shard);
  auto dry_run = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry_run,
                "print the per-rank memory plan from config.json (no weights read; prompts taken as 512 tokens)");
  cmd->callback([&g, &action, f, nproc, dry_run] {
    action = [&g, f, nproc, dry_run] {
      if (*dry_run) {
        const auto& gc = f->c;
        // The flags the plan reads (the rest are checked when a run starts: validate() needs the resolved flags).
        for (auto [flag, v] : {std::pair{"--prompts-per-step", gc.prompts_per_step}, {"--group-size", gc.group_size},
                               {"--max-tokens", gc.max_tokens}, {"--micro-batch", gc.micro_batch},
                               {"--logprob-chunk", gc.logprob_chunk}, {"--max-batch", gc.max_batch}})
          if (v < 1) throw InputError("command line", flag, "must be >= 1");
        const int64_t prompt = 512;  // an assumption: the plan does not read the data
        trainer::dist::MemoryPlanInput in;
        in.shard = gc.shard;
        in.row_tokens = std::min(gc.micro_batch, gc.prompts_per_step * gc.group_size) * (prompt + gc.max_tokens);
        in.scored_tokens = std::min(gc.micro_batch, gc.prompts_per_step * gc.group_size) * gc.max_tokens;
        in.prompts_per_step = gc.prompts_per_step;  // a rank's micro-batches: --shard's gradient memory
        in.group_size = gc.group_size;
        in.micro_batch = gc.micro_batch;
        in.logits_keep_rows = in.logits_chunk_rows = gc.logprob_chunk;
        in.kv_slots = gc.max_batch;
        in.kv_tokens = prompt + gc.max_tokens;
        return print_memory_plan(gc.model, *nproc, in);
      }
      return *nproc > 1 ? trainer::dist::launch_local_ranks(*nproc) : run_grpo_command(g, *f);
    };
  });
}

CRUCIBLE_REGISTER_COMMAND(410, setup);

}  // namespace
}  // namespace crucible::cli
