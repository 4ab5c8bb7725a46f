// crucible distill traces | export — a teacher's traces through the funnel, and the kept ones out as JSONL.
// The generation is harness::run_eval (the eval loop: same prompts, backends, resume); the funnel and the export are
// trainer/distill/traces.h. `distill sft` (cmd_distill_sft.cpp) trains, so the front hands it to crucible-torch.
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "apps/cli.h"
#include "apps/summary.h"
#include "apps/torch_part.h"
#include "core/error.h"
#include "core/log.h"
#include "harness/native_backend.h"
#include "harness/openai_backend.h"
#include "trainer/distill/traces.h"

namespace crucible::cli {
namespace {

struct TracesArgs {
  std::string teacher, tokenizer, suites, filters, name, device = "auto", dtype = "auto";
  std::optional<std::string> resume;
  distill::TracesSource source;
  distill::TracesSettings settings;
  harness::OpenAIBackendOptions remote;
  int64_t max_batch = 32;
  int workers = 2;
  bool no_decontam = false;
};

int run_traces(const Globals& g, TracesArgs& a) {
  const bool remote = !a.remote.endpoint.empty();
  if (remote == !a.teacher.empty())
    throw InputError("--teacher", "", "give either --teacher PATH (the native engine) or --endpoint URL --api-model NAME");
  if (remote && !a.tokenizer.empty())
    throw InputError("--tokenizer", "", "the server tokenizes its own prompts; --tokenizer goes with --teacher");
  if (!remote && !torch_part()) exec_torch_part();  // the native engine is torch's
  a.source.suites = split_commas(a.suites);
  if (!a.filters.empty()) a.settings.filters.enabled = split_commas(a.filters);
  a.settings.filters.validate();
  a.settings.decontaminate = !a.no_decontam;
  a.settings.data_dir = harness::resolve_data_dir(a.source.data_dir);

  std::string shown = remote ? a.remote.model : a.teacher.substr(a.teacher.find_last_of('/') + 1);
  harness::EvalPlan plan = distill::traces_plan(a.source, a.name, shown);
  plan.grading_workers = a.workers;
  std::unique_ptr<harness::Backend> backend;
  if (remote) {
    plan.backend = harness::to_json(a.remote);
    backend = std::make_unique<harness::OpenAIBackend>(a.remote);
  } else {
    harness::NativeBackendOptions native{a.teacher, a.tokenizer, a.device, a.dtype, a.max_batch};
    plan.backend = harness::to_json(native);
    log::info("loading {}", a.teacher);
    backend = torch_part()->make_native_backend(native);
  }
  Store store = Store::open(g.db_path);
  ProgressPrinter progress("traces");
  auto summary = harness::run_eval(*backend, plan, store, a.resume, std::ref(progress));
  auto outcome = distill::judge_run(store, summary.run_id, plan, a.settings);
  for (const auto& w : outcome.warnings) log::warn("{}", w);
  if (g.json) {
    print_json(nlohmann::json{{"run_id", summary.run_id},
                              {"resumed", summary.resumed},
                              {"samples_generated", summary.samples_generated},
                              {"samples_stored_before", summary.samples_stored_before},
                              {"wall_s", summary.wall_s},              // generation and grading, after the load
                              {"tokens_per_s", summary.tokens_per_s},  // completion tokens over wall_s
                              {"funnel", outcome.funnel.to_json()},
                              {"decontam_suites", outcome.decontam_suites},
                              {"decontam_missing", outcome.decontam_missing},
                              {"warnings", outcome.warnings}}
                   .dump(2));
  } else {
    fmt::print("run {} '{}'{}: {} traces generated ({} already stored), {:.1f} s, {:.1f} tok/s, db {}\n",
               summary.run_id, plan.name, summary.resumed ? " (resumed)" : "", summary.samples_generated,
               summary.samples_stored_before, summary.wall_s, summary.tokens_per_s, g.db_path);
    print_funnel(outcome.funnel);
  }
  return 0;
}

int run_export(const Globals& g, const std::string& run_ref, const std::string& out_path) {
  Store store = Store::open_read_only(g.db_path);
  auto run = store.find_run(run_ref);
  if (!run) throw InputError(g.db_path, "run", "no run '" + run_ref + "'");
  auto kept = distill::kept_traces(store, *run);
  // Written beside the target and renamed, so a failed export leaves no half file under the name.
  const std::string tmp = out_path + ".part";
  int64_t n;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(out_path, "", "cannot write");
    n = distill::export_kept(kept, out);
    out.flush();
    if (!out) throw RunError("writing " + tmp + " failed");
  }
  if (std::rename(tmp.c_str(), out_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw RunError(fmt::format("cannot move {} to {}: {}", tmp, out_path, std::strerror(errno)));
  }
  if (g.json) print_json(nlohmann::json{{"run_id", run->id}, {"traces", n}, {"out", out_path}}.dump(2));
  else fmt::print("{} kept traces of run {} written to {}\n", n, run->id, out_path);
  return 0;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto* parent = subcommand(app, "distill", "Distil a teacher into a student: traces, export, sft, onpolicy");

  auto a = std::make_shared<TracesArgs>();
  auto* t = parent->add_subcommand("traces", "A teacher's traces on suites or prompts, judged by the funnel "
                                             "(correct, format, language, length, repetition, duplicates, "
                                             "decontamination); resumable");
  t->add_option("--teacher", a->teacher, "teacher checkpoint: HF folder, .gguf or llama2.c .bin (or --endpoint)");
  t->add_option("--tokenizer", a->tokenizer, "tokenizer override for --teacher");
  auto* endpoint = t->add_option("--endpoint", a->remote.endpoint, "an OpenAI-compatible server's base URL");
  t->add_option("--api-model", a->remote.model, "the server's model name (with --endpoint)")->needs(endpoint);
  t->add_option("--api", a->remote.api, "chat or completions")->capture_default_str();
  t->add_option("--assistant-prefix-via", a->remote.assistant_prefix_via, "continue, prefix or none")
      ->capture_default_str();
  t->add_option("--api-key-env", a->remote.api_key_env, "environment variable holding the API key")
      ->capture_default_str();
  t->add_option("--concurrency", a->remote.concurrency, "requests in flight (with --endpoint)")->capture_default_str();
  t->add_option("--suite", a->suites, "comma-separated registry suites (or --prompts)");
  t->add_option("--data-dir", a->source.data_dir, "benchmark data (default: $CRUCIBLE_DATA or ~/.cache/crucible/data)");
  t->add_option("--prompts", a->source.prompts_file, "JSONL of {\"prompt\", \"answer\"[, \"id\"]} graded as math");
  t->add_option("--preset", a->source.preset, "r1 or greedy")->capture_default_str();
  t->add_option("--samples", a->source.overrides.samples, "k traces per problem")->required();
  t->add_option("--limit", a->source.overrides.limit, "first N problems of each suite");
  t->add_option("--max-tokens", a->source.overrides.max_new_tokens, "max new tokens per trace");
  t->add_option("--temperature", a->source.overrides.temperature, "sampling temperature");
  t->add_option("--top-p", a->source.overrides.top_p, "nucleus sampling");
  t->add_option("--seed", a->source.overrides.seed, "run seed (each trace's seed derives from it)");
  t->add_option("--assistant-prefix", a->source.overrides.assistant_prefix,
                "text the assistant turn starts with (r1: \"<think>\\n\")");
  t->add_option("--top-logprobs", a->source.top_logprobs,
                "store each token's logprob and its N most likely alternatives (for distill sft --kd)")
      ->capture_default_str();
  t->add_option("--filters", a->filters, "the checks that decide what is kept (default: all): correct, format, "
                                         "language, length, repetition, exact_dup, near_dup, decontam");
  t->add_option("--max-script-mix", a->settings.filters.max_script_mix,
                "language: share of reasoning words in another script than the prompt's")->capture_default_str();
  t->add_option("--min-tokens", a->settings.filters.min_tokens, "length: fewest completion tokens")
      ->capture_default_str();
  t->add_option("--max-trace-tokens", a->settings.filters.max_tokens, "length: most completion tokens (0: any)")
      ->capture_default_str();
  t->add_option("--repeat-ngram", a->settings.filters.repeat_ngram, "repetition: n-gram length in words")
      ->capture_default_str();
  t->add_option("--max-repeat-ratio", a->settings.filters.max_repeat_ratio, "repetition: 1 - distinct/total n-grams")
      ->capture_default_str();
  t->add_option("--near-dup", a->settings.filters.near_dup_similarity, "near_dup: MinHash similarity threshold")
      ->capture_default_str();
  t->add_option("--decontam-ngram", a->settings.filters.decontam_ngram, "decontam: n-gram length in words")
      ->capture_default_str();
  t->add_flag("--no-decontam", a->no_decontam, "do not load the registry suites to check overlap");
  t->add_option("--name", a->name, "run name");
  t->add_option("--resume", a->resume, "continue this run (the whole command must match it; the identical command "
                                       "resumes by itself)");
  t->add_option("--device", a->device, "auto, cpu, cuda, cuda:N")->capture_default_str();
  t->add_option("--dtype", a->dtype, "auto, float32, bfloat16, float16")->capture_default_str();
  t->add_option("--max-batch", a->max_batch, "sequences decoded together")->capture_default_str();
  t->add_option("--workers", a->workers, "grading threads")->capture_default_str();
  t->callback([&g, &action, a] { action = [&g, a] { return run_traces(g, *a); }; });

  auto run_ref = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* e = parent->add_subcommand("export", "The kept traces of a traces run as {\"messages\": [...]} JSONL "
                                             "(TRL / LLaMA-Factory)");
  e->add_option("run", *run_ref, "traces run (id or name)")->required();
  e->add_option("-o,--out", *out, "output JSONL")->required();
  e->callback([&g, &action, run_ref, out] { action = [&g, run_ref, out] { return run_export(g, *run_ref, *out); }; });

  if (!torch_part()) {
    // `distill sft` and `distill onpolicy` train: their flags and help are crucible-torch's (cmd_distill_sft.cpp,
    // cmd_distill_onpolicy.cpp); the front passes them on.
    auto* sft = parent->add_subcommand("sft", "Fine-tune a student on kept traces [runs in crucible-torch]");
    sft->set_help_flag();
    sft->allow_extras();
    sft->prefix_command();
    sft->fallthrough(false);
    sft->callback([&action] { action = []() -> int { exec_torch_part(); }; });
    auto* onpolicy = parent->add_subcommand("onpolicy", "On-policy distillation from a teacher's scores of the "
                                                        "student's samples [runs in crucible-torch]");
    onpolicy->set_help_flag();
    onpolicy->allow_extras();
    onpolicy->prefix_command();
    onpolicy->fallthrough(false);
    onpolicy->callback([&action] { action = []() -> int { exec_torch_part(); }; });
  }
}

CRUCIBLE_REGISTER_COMMAND(450, setup);

}  // namespace
}  // namespace crucible::cli
