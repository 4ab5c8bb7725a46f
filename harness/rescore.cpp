#include "harness/rescore.h"

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/thread_pool.h"
#include "harness/graders.h"

namespace crucible::harness {

namespace {

SuitePlan plan_for_dataset(const DatasetRecord& d, const nlohmann::json& config_json, const std::optional<std::string>& data_dir,
                           const CodeLimits& limits, const std::string& where) {
  SuitePlan sp;
  bool registered = false;
  for (const auto& s : all_suites()) registered = registered || s.name == d.suite;
  if (!registered)
    throw InputError(where, "suites", fmt::format("'{}' is not a registry suite (a --prompts file's problems): such a "
                                                  "run cannot be rebuilt to re-grade or resume it alone", d.suite));
  const SuiteInfo& info = find_suite(d.suite);
  // The files the run read (several joined by kPathSeparator), else the data dir's copy, which must hash the same.
  bool all_there = true;
  for (size_t start = 0; start <= d.path.size();) {
    size_t end = std::min(d.path.find(kPathSeparator, start), d.path.size());
    all_there = all_there && std::filesystem::is_regular_file(d.path.substr(start, end - start));
    start = end + 1;
  }
  sp.data = all_there ? load_suite(info, "", d.path) : load_suite(info, resolve_data_dir(data_dir));
  const std::string& path = sp.data.path;
  if (sp.data.sha256 != d.sha256)
    throw InputError(path, "sha256",
                     fmt::format("the {} data changed since the run (run saw {}, file has {}); pass --data-dir with "
                                 "the original file", d.suite, d.sha256.substr(0, 16), sp.data.sha256.substr(0, 16)));
  sp.config = eval_config_from_json(config_json, where);
  if (sp.config.limit > 0 && static_cast<int64_t>(sp.data.problems.size()) > sp.config.limit)
    sp.data.problems.resize(static_cast<size_t>(sp.config.limit));
  sp.grader = make_grader(info, sp.config, limits);
  return sp;
}

}  // namespace

StoredEval load_stored_eval(Store& store, const std::string& run_name, const std::optional<std::string>& data_dir,
                            bool traces_too) {
  auto run = store.find_run(run_name);
  if (!run) throw InputError(store.path(), "run", "no run '" + run_name + "'");
  if (run->kind != "eval" && !(traces_too && run->kind == "distill-traces"))
    throw InputError(store.path(), "run", fmt::format("run {} is a {} run, not an eval{}", run->id, run->kind,
                                                      traces_too ? " or a distill-traces run" : ""));
  std::string where = fmt::format("{}: run {} config", store.path(), run->id);
  StoredEval out;
  EvalPlan& plan = out.plan;
  plan.name = run->name;
  plan.preset = run->config.value("preset", run->protocol);
  if (auto it = run->config.find("code_limits"); it != run->config.end()) {
    plan.code_limits = code_limits_from_json(*it, where + " code_limits");
  } else {
    log::warn("run {} was stored before runs kept their code limits: code runs with the defaults ({} CPU s, {} MiB)",
              run->id, plan.code_limits.time_limit_s, plan.code_limits.memory_mb);
  }
  if (auto it = run->config.find("backend"); it != run->config.end()) plan.backend = *it;
  auto suites = run->config.find("suites");
  if (suites == run->config.end() || !suites->is_array()) throw InputError(where, "suites", "missing");
  auto datasets = store.run_datasets(run->id);
  // In the order the run listed its suites: the order is part of the run's identity.
  for (const auto& c : *suites) {
    std::string suite = c.value("suite", "");
    const DatasetRecord* dataset = nullptr;
    for (const auto& d : datasets)
      if (d.suite == suite) dataset = &d;
    if (!dataset) throw InputError(where, "suites", "no dataset stored for suite '" + suite + "'");
    plan.suites.push_back(plan_for_dataset(*dataset, c, data_dir, plan.code_limits, where));
  }
  for (const auto& d : datasets) {
    bool listed = false;
    for (const auto& sp : plan.suites) listed |= sp.data.info.name == d.suite;
    if (!listed) throw InputError(where, "suites", "no config for dataset " + d.suite);
  }
  out.run = std::move(*run);
  return out;
}

RegradeSummary regrade_run(Store& store, const std::string& run_name, const std::optional<std::string>& data_dir,
                           int workers) {
  StoredEval stored = load_stored_eval(store, run_name, data_dir, /*traces_too=*/true);
  const RunRecord* run = &stored.run;
  std::vector<SuitePlan>& plans = stored.plan.suites;
  std::map<int64_t, std::pair<size_t, const Problem*>> problem_of;  // store problem id -> plan, problem
  for (size_t s = 0; s < plans.size(); ++s) {
    std::map<std::string, const Problem*> by_key;
    for (const auto& p : plans[s].data.problems) by_key[p.key] = &p;
    for (const auto& d : store.run_datasets(run->id)) {
      if (d.suite != plans[s].data.info.name) continue;
      for (const auto& pr : store.dataset_problems(d.id))
        if (auto it = by_key.find(pr.problem_key); it != by_key.end()) problem_of[pr.id] = {s, it->second};
    }
  }
  auto samples = store.run_samples(run->id);
  RegradeSummary out;
  out.run_id = run->id;
  out.kind = run->kind;
  out.code_limits = stored.plan.code_limits;
  std::vector<SampleRecord> graded(samples.size());
  std::atomic<int64_t> changed{0};
  {
    ThreadPool pool(static_cast<size_t>(std::max(workers, 1)));
    std::vector<std::future<void>> done;
    for (size_t i = 0; i < samples.size(); ++i) {
      done.push_back(pool.submit([&, i] {
        SampleRecord s = samples[i];
        auto it = problem_of.find(s.problem_id);
        if (it == problem_of.end()) throw RunError(fmt::format("sample {} refers to a problem outside the run's data", s.id));
        const SuitePlan& sp = plans[it->second.first];
        const Problem& p = *it->second.second;
        std::vector<int> order;
        if (auto o = s.detail.find("option_order"); o != s.detail.end()) order = o->get<std::vector<int>>();
        else if (sp.data.info.grader == GraderKind::choice) order = sp.grader->option_order(p, s.sample_index);
        BuiltPrompt bp = build_prompt(p, sp.data.info, sp.config.prompt, order);
        GradeOutcome g = sp.grader->grade(p, bp, s.completion, s.finish_reason);
        if (s.correct.value_or(false) != g.correct) ++changed;
        apply_grade(s, g, bp);
        graded[i] = std::move(s);
      }));
    }
    for (auto& f : done) f.get();  // rethrows the first grading error
  }
  store.update_grading(graded);
  out.regraded = static_cast<int64_t>(graded.size());
  out.changed = changed.load();
  out.suites = score_run(store, run->id, plans);
  return out;
}

namespace {

// A backend that "generates" by handing back completions read from a file: scoring external generations is the
// eval loop with generation already done, so it gets the same storage, identity and scoring for free.
class FileBackend : public Backend {
 public:
  FileBackend(std::string path, std::string content_hash, std::map<std::string, std::vector<std::string>> completions)
      : path_(std::move(path)), hash_(std::move(content_hash)), completions_(std::move(completions)) {}
  ModelIdentity identity() const override { return {path_, "external", hash_, "", {}}; }
  void generate(const std::vector<GenerationRequest>& requests,
                const std::function<void(GenerationResult)>& on_result) override {
    for (const auto& r : requests) {
      const auto& texts = completions_.at(r.problem_key);
      for (int64_t k : r.sample_indices) {
        GenerationResult res;
        res.request_id = r.id;
        res.sample_index = k;
        res.text = texts.at(static_cast<size_t>(k));
        res.prompt_hash = sha256_hex(r.messages.empty() ? std::string() : r.messages.back().content);
        res.finish_reason = "stop";
        on_result(std::move(res));
      }
    }
  }

 private:
  std::string path_, hash_;
  std::map<std::string, std::vector<std::string>> completions_;
};

}  // namespace

EvalSummary score_external(Store& store, const std::string& suite_name, const std::string& input_path,
                           const std::optional<std::string>& data_dir, const std::string& preset,
                           const std::string& name, int workers) {
  const SuiteInfo& info = find_suite(suite_name);
  std::map<std::string, std::vector<std::string>> completions;
  for_each_jsonl_file(input_path, [&](const Json& r, const std::string& where) {
    std::string key;
    if (r.contains("problem_id")) key = r["problem_id"].is_string() ? r["problem_id"].get<std::string>() : r["problem_id"].dump();
    else key = require_string(r, "id", where);
    std::vector<std::string> texts;
    if (r.contains("completions")) {
      const auto& c = r["completions"];
      if (!c.is_array() || c.empty()) throw InputError(where, "completions", "expected a non-empty list of strings");
      for (const auto& t : c) {
        if (!t.is_string()) throw InputError(where, "completions", "expected strings");
        texts.push_back(t.get<std::string>());
      }
    } else {
      texts.push_back(require_string(r, "completion", where));
    }
    auto& slot = completions[key];
    slot.insert(slot.end(), texts.begin(), texts.end());
  });
  if (completions.empty()) throw InputError(input_path, "", "no generations in the file");

  SuitePlan sp;
  LoadedSuite all = load_suite(info, resolve_data_dir(data_dir));
  sp.data = all;
  sp.data.problems.clear();
  size_t k = 0;
  for (const auto& p : all.problems) {
    auto it = completions.find(p.key);
    if (it == completions.end()) continue;
    if (k == 0) k = it->second.size();
    if (it->second.size() != k)
      throw InputError(input_path, "completions",
                       fmt::format("problem '{}' has {} completions, others {}: every problem needs the same k",
                                   p.key, it->second.size(), k));
    sp.data.problems.push_back(p);
  }
  for (const auto& [key, texts] : completions) {
    bool known = false;
    for (const auto& p : all.problems) known |= p.key == key;
    if (!known) throw InputError(input_path, "problem_id", fmt::format("'{}' is not a {} problem id", key, suite_name));
  }
  Overrides o;
  o.samples = static_cast<int64_t>(k);
  sp.config = resolve_config(preset, info, o);
  sp.grader = make_grader(info, sp.config);
  EvalPlan plan;
  plan.name = name.empty() ? "score-" + suite_name : name;
  plan.preset = preset;
  plan.grading_workers = workers;
  plan.suites.push_back(std::move(sp));
  FileBackend backend(input_path, sha256_file_hex(input_path), completions);
  return run_eval(backend, plan, store);
}

}  // namespace crucible::harness
