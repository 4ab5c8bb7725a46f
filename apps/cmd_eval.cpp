// crucible eval — run suites on a model with the R1 protocol (or greedy), store every sample, print the summary.
// The loop itself is harness::run_eval; this file parses flags, builds the plan, shows progress.
#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/summary.h"
#include "apps/torch_part.h"
#include "core/error.h"
#include "core/log.h"
#include "harness/graders.h"
#include "harness/native_backend.h"
#include "harness/openai_backend.h"
#include "harness/rescore.h"

namespace crucible::cli {
namespace {

struct EvalArgs {
  std::string model, tokenizer, suites, preset = "r1", name, device = "auto", dtype = "auto";
  std::optional<std::string> data_dir, resume;
  harness::Overrides overrides;
  harness::OpenAIBackendOptions remote;  // --endpoint and its settings
  int64_t max_batch = 32;
  int workers = 2;
  bool store_logprobs = false;
  double code_time_limit = 6.0;
  int64_t code_memory_mb = 1024;
};

// What an eval runs: the plan and the backend, from the flags or (`eval --resume RUN` alone) from the stored run.
struct EvalSetup {
  harness::EvalPlan plan;
  std::optional<harness::NativeBackendOptions> native;
  std::optional<harness::OpenAIBackendOptions> remote;
};

EvalSetup from_stored_run(Store& store, const EvalArgs& a) {
  auto stored = harness::load_stored_eval(store, *a.resume, a.data_dir);
  EvalSetup r;
  r.plan = std::move(stored.plan);
  r.plan.grading_workers = a.workers;
  // A run started with --store-logprobs keeps storing them; the flag may also switch it on for the rest of a run.
  const auto keep = stored.run.config.find("store_logprobs");
  r.plan.store_logprobs = a.store_logprobs || (keep != stored.run.config.end() && keep->is_boolean() && keep->get<bool>());
  const nlohmann::json& b = r.plan.backend;
  std::string where = fmt::format("{}: run {} config backend", store.path(), stored.run.id);
  if (b.is_null())
    throw InputError(store.path(), "run",
                     fmt::format("run {} was stored before runs kept their backend settings: resume it with the whole "
                                 "command it was started with (--model or --endpoint, --suite, …)", stored.run.id));
  std::string kind = b.value("kind", "");
  if (kind == "native") r.native = harness::native_backend_options_from_json(b, where);
  else if (kind == "endpoint") r.remote = harness::openai_backend_options_from_json(b, where);
  else throw InputError(where, "kind", "'" + kind + "' is neither native nor endpoint");
  return r;
}

EvalSetup from_flags(const EvalArgs& a) {
  bool remote = !a.remote.endpoint.empty();
  if (remote == !a.model.empty())
    throw InputError("--model", "", "give either --model PATH (the native engine) or --endpoint URL --api-model NAME, "
                                    "or --resume RUN alone");
  if (remote && !a.tokenizer.empty())
    throw InputError("--tokenizer", "", "the server tokenizes its own prompts; --tokenizer goes with --model");
  EvalSetup r;
  harness::EvalPlan& plan = r.plan;
  plan.preset = a.preset;
  plan.grading_workers = a.workers;
  plan.code_limits = {a.code_time_limit, a.code_memory_mb};
  plan.store_logprobs = a.store_logprobs;
  std::string data_dir = harness::resolve_data_dir(a.data_dir);
  auto suite_names = split_commas(a.suites);
  if (suite_names.empty()) throw InputError("--suite", "", "name at least one suite (or give --resume RUN alone)");
  for (const auto& name : suite_names) {
    plan.suites.push_back(harness::plan_suite(harness::load_suite(harness::find_suite(name), data_dir), a.preset,
                                              a.overrides, plan.code_limits));
  }
  std::string shown = remote ? a.remote.model : a.model.substr(a.model.find_last_of('/') + 1);
  plan.name = a.name.empty() ? fmt::format("{}:{}", shown, a.suites) : a.name;
  if (remote) {
    r.remote = a.remote;
    plan.backend = harness::to_json(a.remote);
  } else {
    r.native = harness::NativeBackendOptions{a.model, a.tokenizer, a.device, a.dtype, a.max_batch};
    plan.backend = harness::to_json(*r.native);
  }
  return r;
}

int run(const Globals& g, const EvalArgs& a) {
  bool alone = a.resume && a.suites.empty() && a.model.empty() && a.remote.endpoint.empty();
  // The native engine is torch's: the torch-free front hands the command over before doing anything.
  if (!a.model.empty() && !torch_part()) exec_torch_part();
  Store store = alone ? Store::open(g.db_path, /*create=*/false) : Store::open(g.db_path);
  EvalSetup r = alone ? from_stored_run(store, a) : from_flags(a);
  const harness::EvalPlan& plan = r.plan;
  std::unique_ptr<harness::Backend> backend;
  if (r.remote) {
    backend = std::make_unique<harness::OpenAIBackend>(*r.remote);
    log::info("evaluating {} at {} ({} API)", r.remote->model, r.remote->endpoint, r.remote->api);
  } else {
    if (!torch_part()) exec_torch_part();
    log::info("loading {}", r.native->model);
    backend = torch_part()->make_native_backend(*r.native);
  }
  ProgressPrinter progress("eval");
  auto summary = harness::run_eval(*backend, plan, store, a.resume, std::ref(progress));
  if (g.json) {
    nlohmann::json j = {{"run_id", summary.run_id},
                        {"resumed", summary.resumed},
                        {"samples_stored_before", summary.samples_stored_before},
                        {"samples_generated", summary.samples_generated},
                        {"wall_s", summary.wall_s},
                        {"tokens_per_s", summary.tokens_per_s},
                        {"suites", nlohmann::json::array()}};
    for (const auto& s : summary.suites) j["suites"].push_back(suite_scores_json(s));
    print_json(j.dump(2));
  } else {
    fmt::print("run {} '{}'{}: {} samples generated ({} already stored), {:.1f} s, {:.1f} tok/s, db {}\n",
               summary.run_id, plan.name, summary.resumed ? " (resumed)" : "", summary.samples_generated,
               summary.samples_stored_before, summary.wall_s, summary.tokens_per_s, g.db_path);
    print_suite_table(summary.suites);
  }
  return 0;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto a = std::make_shared<EvalArgs>();
  auto* e = app.add_subcommand("eval", "Evaluate a model on suites (R1 protocol by default); resumable");
  e->add_option("--model", a->model, "HF folder, .gguf or llama2.c .bin (or use --endpoint)");
  auto* endpoint = e->add_option("--endpoint", a->remote.endpoint,
                                 "an OpenAI-compatible server's base URL, e.g. http://localhost:8000/v1 (vLLM, SGLang, "
                                 "DeepSeek, crucible serve)");
  e->add_option("--api-model", a->remote.model, "the server's model name (with --endpoint)")->needs(endpoint);
  e->add_option("--api", a->remote.api, "chat (the server's chat template) or completions (no template)")
      ->capture_default_str();
  e->add_option("--assistant-prefix-via", a->remote.assistant_prefix_via,
                "chat API: how the assistant prefix is sent: continue (continue_final_message: vLLM, SGLang, crucible "
                "serve), prefix (DeepSeek's prefix: true) or none")
      ->capture_default_str();
  e->add_option("--api-key-env", a->remote.api_key_env, "environment variable holding the API key (unset: no key)")
      ->capture_default_str();
  e->add_option("--concurrency", a->remote.concurrency, "requests in flight (with --endpoint)")->capture_default_str();
  e->add_option("--request-timeout", a->remote.request_timeout_s, "seconds per request before it is retried")
      ->capture_default_str();
  e->add_option("--max-retries", a->remote.max_retries, "retries per sample on 429/5xx/timeouts/resets/bad JSON")
      ->capture_default_str();
  e->add_option("--tokenizer", a->tokenizer, "tokenizer override (tokenizer.json, .model, llama2.c tokenizer.bin)");
  e->add_option("--suite", a->suites, "comma-separated suites: aime24,aime25,math500,gpqa_diamond,livecodebench,"
                                      "humaneval,mbpp,gsm8k,amc23,minerva_math,olympiadbench");
  e->add_option("--preset", a->preset, "r1 (T 0.6, top-p 0.95, 32768 tokens, suite k) or greedy")->capture_default_str();
  e->add_option("--samples", a->overrides.samples, "k samples per problem (default: the preset's, per suite)");
  e->add_option("--limit", a->overrides.limit, "first N problems of each suite");
  e->add_option("--temperature", a->overrides.temperature, "sampling temperature");
  e->add_option("--top-p", a->overrides.top_p, "nucleus sampling");
  e->add_option("--top-k", a->overrides.top_k, "top-k sampling (0: off)");
  e->add_option("--min-p", a->overrides.min_p, "min-p sampling (0: off)");
  e->add_option("--max-tokens", a->overrides.max_new_tokens, "max new tokens per sample");
  e->add_option("--seed", a->overrides.seed, "run seed (each sample's seed derives from it)");
  e->add_option("--system", a->overrides.system, "system prompt (none under r1)");
  e->add_option("--assistant-prefix", a->overrides.assistant_prefix,
                "text the assistant turn starts with (r1: \"<think>\\n\"; pass \"\" for models that do not think)");
  e->add_option("--data-dir", a->data_dir, "benchmark data (default: $CRUCIBLE_DATA or ~/.cache/crucible/data)");
  e->add_option("--name", a->name, "run name");
  e->add_option("--resume", a->resume,
                "continue this run (id or name): alone, with the run's stored model, suites and settings (--data-dir "
                "and --workers may be given); with the whole command, which must match the run. The identical "
                "command resumes by itself");
  e->add_option("--device", a->device, "auto, cpu, cuda, cuda:N")->capture_default_str();
  e->add_option("--dtype", a->dtype, "auto, float32, bfloat16, float16")->capture_default_str();
  e->add_option("--max-batch", a->max_batch, "sequences decoded together")->capture_default_str();
  e->add_flag("--store-logprobs", a->store_logprobs,
              "keep each generated token's logprob with the sample (table sample_logprobs)");
  e->add_option("--workers", a->workers, "grading threads")->capture_default_str();
  e->add_option("--code-time-limit", a->code_time_limit, "CPU seconds per code test")->capture_default_str();
  e->add_option("--code-memory-mb", a->code_memory_mb, "address space per code test process")->capture_default_str();
  e->callback([&g, &action, a] { action = [&g, a] { return run(g, *a); }; });
}

CRUCIBLE_REGISTER_COMMAND(100, setup);

}  // namespace
}  // namespace crucible::cli
