// crucible train sft — supervised fine-tuning (trainer/sft.h). Runs in crucible-torch; the front hands `train` over.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "apps/cli.h"
#include "apps/cmd_train.h"
#include "trainer/sft.h"

namespace crucible::cli {
namespace {

int run_sft_command(const Globals& g, const trainer::SftConfig& c) {
  auto r = trainer::run_sft(c, g.db_path);
  if (r.rank != 0) return r.status == "completed" ? 0 : 1;  // rank 0 reports for all
  if (g.json) {
    print_json(nlohmann::json{{"run_id", r.run_id},
                              {"status", r.status},
                              {"steps", r.steps},
                              {"first_loss", r.first_loss},
                              {"last_loss", r.last_loss},
                              {"tokens", r.tokens},
                              {"seconds", r.seconds},
                              {"tokens_per_second", r.seconds > 0 ? r.tokens / r.seconds : 0.0},
                              {"out", r.out_dir}}
                   .dump(2));
  } else {
    fmt::print("run {} {}: {} steps, loss {:.4f} -> {:.4f}, {:.0f} tokens/s; model in {}\n", r.run_id, r.status,
               r.steps, r.first_loss, r.last_loss, r.seconds > 0 ? r.tokens / r.seconds : 0.0, r.out_dir);
  }
  return r.status == "completed" ? 0 : 1;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto c = std::make_shared<trainer::SftConfig>();
  auto* cmd = train_parent(app)->add_subcommand(
      "sft", "Supervised fine-tuning on completion tokens ({messages} or {prompt, completion} JSONL)");
  cmd->add_option("--model", c->model, "starting checkpoint: HF folder, .gguf or llama2.c .bin")->required();
  cmd->add_option("--data", c->data, "JSONL: {\"messages\": [...]} or {\"prompt\": ..., \"completion\": ...}")
      ->required();
  cmd->add_option("--out", c->out, "output folder (HF format; step-N/ folders with --save-every)")->required();
  cmd->add_option("--name", c->run_name, "run name (default: train-sft-<model>)");
  auto nproc = add_sft_flags(cmd, *c);
  auto dry_run = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry_run, "print the per-rank memory plan from config.json (no weights read) and exit");
  cmd->callback([&g, &action, c, nproc, dry_run] {
    action = [&g, c, nproc, dry_run] {
      if (*dry_run) {
        trainer::dist::MemoryPlanInput in;
        in.shard = c->shard;
        in.grad_checkpointing = c->grad_checkpointing;
        in.row_tokens = in.scored_tokens = c->row_tokens();  // one packed row at a time (sft_step.h)
        in.batch_tokens = c->batch_tokens;                  // of which a rank packs its share
        in.logits_copies = 2;  // token_logprobs keeps the scored logits; backward writes their gradient
        return print_memory_plan(c->model, *nproc, in);
      }
      return *nproc > 1 ? trainer::dist::launch_local_ranks(*nproc) : run_sft_command(g, *c);
    };
  });
}

CRUCIBLE_REGISTER_COMMAND(400, setup);

}  // namespace
}  // namespace crucible::cli
