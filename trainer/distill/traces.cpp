#include "trainer/distill/traces.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "harness/graders.h"
#include "harness/logprob_pack.h"
#include "harness/prompts_file.h"

namespace crucible::distill {

harness::EvalPlan traces_plan(const TracesSource& source, const std::string& name, const std::string& model_shown) {
  if (source.suites.empty() == source.prompts_file.empty())
    throw InputError("--suite/--prompts", "", "give one of them: registry suites or a prompts JSONL");
  if (source.top_logprobs < 0 || source.top_logprobs > 20)
    throw InputError("--top-logprobs", "", "must be in 0..20 (what the engine and OpenAI servers return)");
  harness::EvalPlan plan;
  plan.run_kind = kTracesRunKind;
  plan.preset = source.preset;
  plan.code_limits = source.code_limits;
  plan.store_logprobs = source.top_logprobs > 0;
  std::vector<harness::LoadedSuite> data;
  if (!source.prompts_file.empty()) {
    data.push_back(harness::load_prompts_file(source.prompts_file));
  } else {
    const std::string dir = harness::resolve_data_dir(source.data_dir);
    for (const auto& s : source.suites) data.push_back(harness::load_suite(harness::find_suite(s), dir));
  }
  for (auto& d : data) {
    auto sp = harness::plan_suite(std::move(d), source.preset, source.overrides, source.code_limits);
    sp.config.sampling.top_logprobs = source.top_logprobs;
    plan.suites.push_back(std::move(sp));
  }
  std::string what = source.prompts_file.empty() ? fmt::format("{}", fmt::join(source.suites, ","))
                                                 : source.prompts_file.substr(source.prompts_file.find_last_of('/') + 1);
  plan.name = name.empty() ? fmt::format("traces-{}:{}", model_shown, what) : name;
  return plan;
}

namespace {

std::string joined_text(const std::vector<harness::ChatTurn>& turns) {
  std::string out;
  for (const auto& t : turns) out += t.content + "\n";
  return out;
}

}  // namespace

TracesOutcome judge_run(Store& store, int64_t run_id, const harness::EvalPlan& plan, const TracesSettings& settings) {
  TracesOutcome outcome;
  std::optional<Decontaminator> decontam;
  if (settings.decontaminate) {  // computed (and reported) even where the check does not gate
    decontam = Decontaminator::from_registry(settings.data_dir, settings.filters.decontam_ngram,
                                             &outcome.decontam_missing);
    outcome.decontam_suites = decontam->suites();
    if (!outcome.decontam_missing.empty())
      log::warn("decontamination: suites not found in the data dir, not checked: {}",
                fmt::join(outcome.decontam_missing, ", "));
  }
  for (const auto& s : plan.suites)
    if (s.data.info.name != "prompts")
      outcome.warnings.push_back(fmt::format(
          "traces are answers to {}'s own problems: a student trained on them cannot be evaluated on {}",
          s.data.info.name, s.data.info.name));

  // problem id -> (suite, problem) in the plan, as the eval loop registered them.
  std::map<int64_t, std::pair<size_t, size_t>> where_of;
  for (const auto& dataset : store.run_datasets(run_id))
    for (size_t s = 0; s < plan.suites.size(); ++s) {
      const auto& d = plan.suites[s].data;
      if (d.info.name != dataset.suite || d.sha256 != dataset.sha256) continue;
      std::map<std::string, size_t> index_of;
      for (size_t i = 0; i < d.problems.size(); ++i) index_of[d.problems[i].key] = i;
      for (const auto& p : store.dataset_problems(dataset.id))
        if (auto it = index_of.find(p.problem_key); it != index_of.end()) where_of[p.id] = {s, it->second};
    }
  std::vector<SampleRecord> samples;
  std::vector<std::pair<size_t, size_t>> where;  // parallel to samples
  for (auto& smp : store.run_samples(run_id))
    if (auto it = where_of.find(smp.problem_id); it != where_of.end()) {
      samples.push_back(std::move(smp));
      where.push_back(it->second);
    }
  std::vector<size_t> order(samples.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(where[a], samples[a].sample_index) < std::tie(where[b], samples[b].sample_index);
  });

  std::vector<Trace> traces;
  std::vector<harness::BuiltPrompt> prompts;
  for (size_t i : order) {
    const auto& sp = plan.suites[where[i].first];
    const auto& problem = sp.data.problems[where[i].second];
    std::vector<int> option_order;
    if (sp.data.info.grader == harness::GraderKind::choice && sp.grader)
      option_order = sp.grader->option_order(problem, samples[i].sample_index);
    prompts.push_back(harness::build_prompt(problem, sp.data.info, sp.config.prompt, option_order));
    const auto& smp = samples[i];
    Trace t;
    t.sample_id = smp.id;
    t.suite = sp.data.info.name;
    t.problem_key = problem.key;
    t.sample_index = smp.sample_index;
    t.prompt = joined_text(prompts.back().messages);
    t.completion = smp.completion;
    t.think_opened_by_prompt = prompts.back().assistant_prefix.find("<think>") != std::string::npos;
    t.correct = smp.correct;
    t.finish_reason = smp.finish_reason;
    t.completion_tokens = smp.completion_tokens;
    traces.push_back(std::move(t));
  }
  auto verdicts = judge_traces(traces, settings.filters, decontam ? &*decontam : nullptr, &outcome.funnel);

  std::vector<SampleRecord> updated;
  for (size_t n = 0; n < order.size(); ++n) {
    SampleRecord rec = samples[order[n]];
    const auto& sp = plan.suites[where[order[n]].first];
    nlohmann::json d = {{"checks", verdicts[n].checks}, {"kept", verdicts[n].kept}};
    if (!verdicts[n].kept) d["failed_at"] = verdicts[n].failed_at;
    if (sp.data.info.confidential) {
      d["confidential"] = true;  // GPQA: its text is never stored, so the trace cannot be exported
    } else {
      nlohmann::json turns = nlohmann::json::array();
      for (const auto& m : prompts[n].messages) turns.push_back({{"role", m.role}, {"content", m.content}});
      d["prompt"] = turns;
      d["assistant_prefix"] = prompts[n].assistant_prefix;
    }
    rec.detail["distill"] = std::move(d);
    updated.push_back(std::move(rec));
  }
  store.update_grading(updated);

  nlohmann::json config = store.get_run(run_id)->config;
  config["distill"] = {{"stage", kTracesStage},
                       {"filters", settings.filters.to_json()},
                       {"decontaminate", settings.decontaminate},
                       {"decontam_suites", outcome.decontam_suites},
                       {"decontam_missing", outcome.decontam_missing},
                       {"top_logprobs", plan.suites.empty() ? 0 : plan.suites.front().config.sampling.top_logprobs},
                       {"funnel", outcome.funnel.to_json()},
                       {"warnings", outcome.warnings}};
  store.update_run_config(run_id, config);
  return outcome;
}

TracesOutcome rejudge_run(Store& store, const harness::StoredEval& stored, const std::string& data_dir) {
  const RunRecord& run = stored.run;
  const std::string where = fmt::format("{}: run {} config.distill", store.path(), run.id);
  if (run.kind != kTracesRunKind)
    throw InputError(where, "kind", fmt::format("is '{}', not a traces run (crucible distill traces)", run.kind));
  auto d = run.config.find("distill");
  if (d == run.config.end() || !d->contains("filters"))
    throw InputError(where, "filters", "missing: the run's traces were never judged");
  TracesSettings settings;
  settings.filters = FilterConfig::from_json((*d)["filters"], where + ".filters");
  settings.decontaminate = d->value("decontaminate", true);
  settings.data_dir = data_dir;
  return judge_run(store, run.id, stored.plan, settings);
}

std::vector<KeptTrace> kept_traces(Store& store, const RunRecord& run) {
  const std::string where = fmt::format("{}: run {}", store.path(), run.id);
  if (run.kind != kTracesRunKind)
    throw InputError(where, "kind", fmt::format("is '{}', not a traces run (crucible distill traces)", run.kind));
  if (!run.config.contains("distill") || run.config["distill"].value("stage", "") != kTracesStage)
    throw InputError(where, "config.distill", "the run's traces were never judged (resume `distill traces` to judge "
                                              "them)");
  std::vector<KeptTrace> out;
  for (const auto& s : store.run_samples(run.id)) {
    auto d = s.detail.find("distill");
    if (d == s.detail.end() || !d->value("kept", false)) continue;
    if (d->value("confidential", false))
      throw InputError(where, "samples", "holds kept traces of a confidential suite (GPQA): their prompts are not "
                                         "stored and cannot be exported");
    KeptTrace k;
    k.sample_id = s.id;
    const std::string sample_where = fmt::format("{} sample {}", where, s.id);
    if (!d->contains("prompt") || !(*d)["prompt"].is_array())
      throw InputError(sample_where, "detail.distill.prompt", "missing");
    for (const auto& turn : (*d)["prompt"])
      k.prompt.push_back({turn.value("role", ""), turn.value("content", "")});
    k.assistant_prefix = d->value("assistant_prefix", "");
    k.completion = s.completion;
    k.response = k.assistant_prefix + k.completion;
    k.prompt_tokens = s.prompt_tokens;
    out.push_back(std::move(k));
  }
  return out;
}

std::vector<TeacherTopK> kept_teacher_topk(Store& store, const RunRecord& run, int64_t k) {
  const std::string where = fmt::format("{}: run {}", store.path(), run.id);
  if (k < 1) throw InputError("--kd", "", "topk:K needs K >= 1");
  const auto stored_n = run.config.contains("distill") ? run.config["distill"].value("top_logprobs", int64_t{0}) : 0;
  if (stored_n < k)
    throw InputError(where, "config.distill.top_logprobs",
                     fmt::format("the traces were stored with {} alternatives per token, --kd asks for {} (run "
                                 "`distill traces` with --top-logprobs {} or more)", stored_n, k, k));
  std::vector<TeacherTopK> out;
  for (const auto& kept : kept_traces(store, run)) {
    const std::string sample_where = fmt::format("{} sample {}", where, kept.sample_id);
    auto packed = store.sample_logprobs(kept.sample_id);
    if (!packed) throw InputError(sample_where, "logprobs", "none stored");
    TeacherTopK t;
    t.sample_id = kept.sample_id;
    t.k = k;
    for (const auto& tok : harness::unpack_logprobs(*packed, sample_where)) {
      if (tok.token_id < 0)
        throw InputError(sample_where, "token_id", "the teacher reported tokens as text only: KD needs its token ids");
      t.token_ids.push_back(tok.token_id);
      for (int64_t j = 0; j < k; ++j) {
        const bool have = j < static_cast<int64_t>(tok.top.size()) && tok.top[static_cast<size_t>(j)].token_id >= 0;
        t.top_ids.push_back(have ? tok.top[static_cast<size_t>(j)].token_id : -1);
        t.top_logprobs.push_back(have ? static_cast<float>(tok.top[static_cast<size_t>(j)].logprob) : 0.0f);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

int64_t export_kept(const std::vector<KeptTrace>& kept, std::ostream& out) {
  for (const auto& k : kept) {
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& t : k.prompt) messages.push_back({{"role", t.role}, {"content", t.content}});
    messages.push_back({{"role", "assistant"}, {"content", k.response}});
    out << nlohmann::json{{"messages", messages}}.dump() << "\n";
  }
  return static_cast<int64_t>(kept.size());
}

}  // namespace crucible::distill
