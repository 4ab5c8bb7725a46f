// crucible distill onpolicy — on-policy distillation (trainer/distill/onpolicy.h): the student samples, the teacher
// (in-process, or served: --endpoint) scores the student's tokens, the generalised JSD trains the student. Runs in crucible-torch (apps/CMakeLists.txt);
// the front hands `distill onpolicy` over (cmd_distill.cpp). trainer/distill/README.md walks one step.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "apps/cli.h"
#include "apps/cmd_train.h"
#include "core/error.h"
#include "trainer/dist/launch.h"
#include "trainer/distill/onpolicy.h"

namespace crucible::cli {
namespace {

int run_onpolicy_command(const Globals& g, distill::OnPolicyConfig& c, const std::string& suites) {
  c.suites = split_commas(suites);
  if (c.name.empty()) c.name = "distill-onpolicy-" + c.student.substr(c.student.find_last_of('/') + 1);
  auto r = distill::run_onpolicy(c, g.db_path);
  if (r.rank != 0) return r.status == "completed" ? 0 : 1;  // rank 0 reports for all
  if (g.json) {
    print_json(r.to_json().dump(2));
  } else {
    fmt::print("run {} {}: {} steps, loss {:.6f} -> {:.6f}, {:.1f} s; student in {}\n", r.run_id, r.status, r.steps,
               r.first_loss, r.last_loss, r.seconds, r.out_dir);
  }
  return r.status == "completed" ? 0 : 1;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto c = std::make_shared<distill::OnPolicyConfig>(distill::default_onpolicy_config());
  auto suites = std::make_shared<std::string>();
  auto* parent = subcommand(app, "distill", "Distil a teacher into a student: traces, export, sft, onpolicy");
  auto* cmd = parent->add_subcommand(
      "onpolicy", "On-policy distillation: the student samples, the teacher scores its tokens, generalised JSD");
  cmd->add_option("--student", c->student, "student checkpoint: HF folder, .gguf or llama2.c .bin")->required();
  cmd->add_option("--student-tokenizer", c->student_tokenizer, "tokenizer override for --student");
  cmd->add_option("--teacher", c->teacher, "teacher checkpoint (the student's tokenizer; loaded inference-only)");
  cmd->add_option("--teacher-tokenizer", c->teacher_tokenizer, "tokenizer override for --teacher");
  auto* endpoint = cmd->add_option(
      "--endpoint", c->endpoint,
      "or a served teacher: an OpenAI-compatible server's base URL (vLLM, SGLang, crucible serve) that scores the "
      "student's token ids (/v1/completions, echo + logprobs); it must have the student's tokenizer");
  cmd->add_option("--api-model", c->api_model, "the server's model name (with --endpoint)")->needs(endpoint);
  cmd->add_option("--api-key-env", c->api_key_env, "environment variable holding the API key (unset: no key)")
      ->capture_default_str();
  cmd->add_option("--teacher-top-k", c->teacher_top_k,
                  "the teacher's alternatives per token; the loss is the JSD on its top K + the sampled token + one "
                  "rest bucket, a lower bound of the full one (default 20 with --endpoint, crucible serve allows "
                  "<= 20; with --teacher default 0: the full vocabulary)");
  cmd->add_option("--concurrency", c->concurrency, "scoring requests in flight (with --endpoint)")
      ->capture_default_str();
  cmd->add_option("--request-timeout", c->request_timeout_s, "seconds per scoring request (with --endpoint)")
      ->capture_default_str();
  cmd->add_option("--max-retries", c->max_retries, "retries of a failed scoring request (with --endpoint)")
      ->capture_default_str();
  cmd->add_option("--suite", *suites, "suites to train on, comma separated (prompted as eval does)");
  cmd->add_option("--data-dir", c->data_dir, "suite data folder (default: $CRUCIBLE_DATA or ~/.cache/crucible/data)");
  cmd->add_option("--limit", c->limit, "first N problems of each suite (0: all)")->capture_default_str();
  cmd->add_option("--prompts", c->prompts_file, "JSONL of {\"prompt\", \"answer\"[, \"id\"]}, prompted as math");
  cmd->add_option("--preset", c->preset, "prompt preset, as eval's")->capture_default_str();
  cmd->add_option("--assistant-prefix", c->assistant_prefix, "override the preset's assistant prefix");
  cmd->add_option("--out", c->out_dir, "output folder (HF format; step-N/ with --save-every)")->required();
  cmd->add_option("--name", c->name, "run name (default: distill-onpolicy-<student>)");
  cmd->add_option("--seed", c->seed, "seed of the problem order and of every sample")->capture_default_str();
  cmd->add_option("--steps", c->steps, "optimizer steps")->capture_default_str();
  cmd->add_option("--prompts-per-step", c->prompts_per_step, "prompts per step")->capture_default_str();
  cmd->add_option("--samples", c->samples, "completions per prompt, G")->capture_default_str();
  cmd->add_option("--max-tokens", c->max_tokens, "max completion tokens")->capture_default_str();
  cmd->add_option("--temperature", c->temperature,
                  "sampling temperature, and the loss's (TRL: 1.0; must be 1 with a top-K teacher)")
      ->capture_default_str();
  cmd->add_option("--top-p", c->top_p, "sampling top-p")->capture_default_str();
  cmd->add_option("--max-batch", c->max_batch, "engine slots decoded together")->capture_default_str();
  cmd->add_option("--jsd-beta", c->jsd_beta,
                  "0: forward KL(teacher || student), 1: reverse KL (TRL's default), between: generalised JSD")
      ->capture_default_str();
  cmd->add_option("--micro-batch", c->micro_batch, "sequences per forward/backward (gradients accumulate)")
      ->capture_default_str();
  add_optim_flags(cmd, c->optim);
  cmd->add_option("--save-every", c->save_every, "write OUT/step-N every N steps (0: final only)")
      ->capture_default_str();
  cmd->add_option("--threads", c->threads, "CPU threads (0: torch's default)")->capture_default_str();
  auto nproc = std::make_shared<int>(1);
  cmd->add_option("--nproc-per-node", *nproc,
                  "start N data-parallel ranks on this node (each samples and scores its share of a step's prompts)")
      ->capture_default_str();
  cmd->add_option("--dist-timeout", c->dist_timeout_s, "seconds a rank waits for the others (rendezvous, collective)")
      ->capture_default_str();
  cmd->add_option("--device", c->device, "auto, cpu, cuda, cuda:N")->capture_default_str();
  cmd->add_option("--dtype", c->dtype, "auto, float32, bfloat16, float16")->capture_default_str();
  cmd->callback([&g, &action, c, suites, nproc] {
    action = [&g, c, suites, nproc] {
      if (*nproc < 1) throw InputError("command line", "--nproc-per-node", "must be >= 1");
      return *nproc > 1 ? trainer::dist::launch_local_ranks(*nproc) : run_onpolicy_command(g, *c, *suites);
    };
  });
}

CRUCIBLE_REGISTER_COMMAND(452, setup);

}  // namespace
}  // namespace crucible::cli
