#include "harness/eval.h"
#include "harness/logprob_pack.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/thread_pool.h"

namespace crucible::harness {

namespace {

// Bump when what a stored sample means changes for the same inputs (prompt assembly, seeding).
constexpr const char* kSampleIdentityVersion = "sample-identity-1";

uint64_t first_u64(const std::array<uint8_t, 32>& d) {
  uint64_t v;
  std::memcpy(&v, d.data(), sizeof v);
  return v;
}

struct ProblemRef {
  size_t suite = 0;
  size_t problem = 0;
};

// What a sample votes for in cons@k. Choice samples each see their own option order, so the letter is mapped back to
// the option it denotes (its index in the stored order).
std::optional<std::string> vote_key(const SampleRecord& s, GraderKind grader) {
  if (!s.extracted_answer || grader != GraderKind::choice) return s.extracted_answer;
  auto order = s.detail.find("option_order");
  if (order == s.detail.end() || !order->is_array() || s.extracted_answer->size() != 1) return s.extracted_answer;
  size_t pos = static_cast<size_t>((*s.extracted_answer)[0] - 'A');
  if (pos >= order->size()) return s.extracted_answer;
  return "option-" + std::to_string((*order)[pos].get<int>());
}

}  // namespace

uint64_t sample_seed(uint64_t run_seed, const std::string& suite, const std::string& problem_key, int64_t sample_index) {
  Sha256 h;
  h.update(fmt::format("{}\x1f{}\x1f{}\x1f{}", run_seed, suite, problem_key, sample_index));
  return first_u64(h.digest());
}

SuitePlan plan_suite(LoadedSuite data, const std::string& preset, const Overrides& overrides,
                     const CodeLimits& limits) {
  SuitePlan sp;
  sp.config = resolve_config(preset, data.info, overrides);
  if (sp.config.limit > 0 && static_cast<int64_t>(data.problems.size()) > sp.config.limit)
    data.problems.resize(static_cast<size_t>(sp.config.limit));
  sp.grader = make_grader(data.info, sp.config, limits);
  sp.data = std::move(data);
  return sp;
}

std::string run_identity(const ModelIdentity& model, const EvalPlan& plan) {
  nlohmann::json id = {{"version", kSampleIdentityVersion},
                       {"model", {{"content_hash", model.content_hash}, {"template_hash", model.template_hash}}},
                       {"preset", plan.preset},
                       {"suites", nlohmann::json::array()}};
  for (const auto& s : plan.suites)
    id["suites"].push_back({{"suite", s.data.info.name},
                            {"loader_version", s.data.info.version},
                            {"data_sha256", s.data.sha256},
                            {"config", to_json(s.config)}});
  if (plan.run_kind != "eval") id["kind"] = plan.run_kind;  // eval identities stay as they were
  // The grader version is deliberately not part of the identity: `crucible regrade` re-scores stored generations.
  return sha256_hex(id.dump());
}

std::vector<SuiteScores> score_run(Store& store, int64_t run_id, const std::vector<SuitePlan>& suites) {
  auto samples = store.run_samples(run_id);
  // problem_id -> (suite, key); the store's ids come from the same upserts the plan made.
  std::map<int64_t, std::pair<size_t, std::string>> problem_of;
  for (const auto& dataset : store.run_datasets(run_id))
    for (const auto& p : store.dataset_problems(dataset.id))
      for (size_t s = 0; s < suites.size(); ++s)
        if (suites[s].data.info.name == dataset.suite && suites[s].data.sha256 == dataset.sha256)
          problem_of[p.id] = {s, p.problem_key};

  std::vector<SuiteScores> out;
  std::vector<ScoreRecord> records;
  std::vector<std::pair<int64_t, std::optional<int64_t>>> classes;  // (sample id, answer class) for the store
  for (size_t s = 0; s < suites.size(); ++s) {
    const auto& plan = suites[s];
    std::set<std::string> wanted;
    for (const auto& p : plan.data.problems) wanted.insert(p.key);
    std::map<std::string, ProblemSamples> by_key;
    std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> sample_ids;  // (id, sample_index), as by_key
    std::vector<double> lengths;
    int64_t n = 0, length_cut = 0, unparsed = 0, no_close = 0;
    for (const auto& smp : samples) {
      auto it = problem_of.find(smp.problem_id);
      if (it == problem_of.end() || it->second.first != s || !wanted.count(it->second.second)) continue;
      auto& ps = by_key[it->second.second];
      ps.problem_key = it->second.second;
      ps.correct.push_back(smp.correct.value_or(false));
      ps.answers.push_back(vote_key(smp, plan.data.info.grader));
      sample_ids[it->second.second].emplace_back(smp.id, smp.sample_index);
      ++n;
      lengths.push_back(static_cast<double>(smp.completion_tokens));
      if (smp.finish_reason == "length") ++length_cut;
      if (!smp.extracted_answer && plan.data.info.grader != GraderKind::code) ++unparsed;
      if (!plan.config.prompt.assistant_prefix.empty() && smp.completion.find("</think>") == std::string::npos) ++no_close;
    }
    SuiteScores sc;
    sc.suite = plan.data.info.name;
    std::vector<ProblemSamples> problems;
    for (auto& [key, ps] : by_key) problems.push_back(std::move(ps));
    sc.problems = static_cast<int64_t>(problems.size());
    if (problems.empty()) {
      out.push_back(sc);
      continue;
    }
    int64_t k_min = INT64_MAX;
    for (const auto& p : problems) k_min = std::min<int64_t>(k_min, static_cast<int64_t>(p.correct.size()));
    sc.samples_per_problem = k_min;
    sc.pass1 = pass_at_1(problems);
    for (int64_t k : report_ks(k_min)) sc.pass_at_k.emplace_back(k, mean_pass_at_k(problems, k));
    if (plan.data.info.grader != GraderKind::code && plan.grader) {
      auto eq = [&](const std::string& a, const std::string& b) { return plan.grader->equivalent(a, b); };
      sc.cons = cons_at_k(problems, k_min, eq);
      // The verifier's classes go into the store so a report can recount cons@k at any k without a verifier.
      for (const auto& p : problems) {
        auto cls = answer_classes(p, eq);
        const auto& ids = sample_ids.at(p.problem_key);
        for (size_t i = 0; i < cls.size(); ++i)
          classes.emplace_back(ids[i].first, cls[i] ? std::optional<int64_t>(ids[static_cast<size_t>(*cls[i])].second)
                                                    : std::nullopt);
      }
    }
    sc.length_rate = static_cast<double>(length_cut) / n;
    sc.unparsed_rate = static_cast<double>(unparsed) / n;
    sc.missing_think_close = static_cast<double>(no_close) / n;
    sc.completion_tokens = length_stats(lengths);

    records.push_back({run_id, sc.suite, "pass@1", 1, sc.pass1.value, sc.pass1.low, sc.pass1.high, sc.problems});
    records.push_back({run_id, sc.suite, "pass@1_se", 1, sc.pass1.std_error, {}, {}, sc.problems});
    for (auto [k, v] : sc.pass_at_k) records.push_back({run_id, sc.suite, "pass@k", k, v, {}, {}, sc.problems});
    if (sc.cons) records.push_back({run_id, sc.suite, "cons@k", k_min, *sc.cons, {}, {}, sc.problems});
    records.push_back({run_id, sc.suite, "length_rate", 1, sc.length_rate, {}, {}, sc.problems});
    records.push_back({run_id, sc.suite, "unparsed_rate", 1, sc.unparsed_rate, {}, {}, sc.problems});
    records.push_back({run_id, sc.suite, "missing_think_close_rate", 1, sc.missing_think_close, {}, {}, sc.problems});
    records.push_back({run_id, sc.suite, "completion_tokens_mean", 1, sc.completion_tokens.mean, {}, {}, sc.problems});
    out.push_back(std::move(sc));
  }
  store.put_scores(records);
  store.set_answer_classes(classes);
  return out;
}

EvalSummary run_eval(Backend& backend, const EvalPlan& plan, Store& store, const std::optional<std::string>& resume_run,
                     const std::function<void(const Progress&)>& on_progress) {
  auto t0 = std::chrono::steady_clock::now();
  ModelIdentity model = backend.identity();
  std::string identity = run_identity(model, plan);
  EvalSummary summary;

  // Find or create the run.
  std::optional<RunRecord> run;
  if (resume_run) {
    run = store.find_run(*resume_run);
    if (!run) throw InputError(store.path(), "run", "no run '" + *resume_run + "' to resume");
    if (run->identity != identity)
      throw InputError("--resume", "",
                       fmt::format("run {} was made with a different model, template, data or config; a changed "
                                   "setting is a different run (start it without --resume)", run->id));
  } else {
    run = store.find_run_by_identity(identity);
  }
  nlohmann::json config = {{"preset", plan.preset},
                           {"model", {{"path", model.path}, {"format", model.format}, {"config", model.config},
                                      {"template_hash", model.template_hash}}},
                           {"suites", nlohmann::json::array()}};
  for (const auto& s : plan.suites) config["suites"].push_back(to_json(s.config));
  config["code_limits"] = to_json(plan.code_limits);
  if (!plan.backend.is_null()) config["backend"] = plan.backend;
  config["store_logprobs"] = plan.store_logprobs;  // so `eval --resume RUN` alone keeps storing them
  int64_t model_id = store.upsert_model({0, model.path, model.format, model.content_hash, model.config});

  // Register datasets and problems (idempotent), remembering their store ids.
  std::vector<std::vector<int64_t>> problem_ids(plan.suites.size());
  std::vector<int64_t> dataset_ids;
  for (size_t s = 0; s < plan.suites.size(); ++s) {
    const auto& d = plan.suites[s].data;
    int64_t did = store.upsert_dataset({0, d.info.name, d.info.version, d.path, d.sha256,
                                        static_cast<int64_t>(d.problems.size())});
    dataset_ids.push_back(did);
    for (const auto& p : d.problems) {
      // Confidential suites store the id only: their gold is option text.
      std::optional<std::string> gold = d.info.confidential ? std::nullopt : p.gold;
      problem_ids[s].push_back(store.upsert_problem({0, did, p.key, p.idx, gold, nlohmann::json::object()}));
    }
  }
  if (run) {
    summary.resumed = true;
    log::info("resuming run {} '{}' ({} samples stored)", run->id, run->name, store.count_samples(run->id));
  } else {
    RunRecord r;
    r.name = plan.name;
    r.kind = plan.run_kind;
    r.model_id = model_id;
    r.config = config;
    r.protocol = plan.preset;
    r.identity = identity;
    r.seed = plan.suites.empty() ? 0 : static_cast<int64_t>(plan.suites.front().config.sampling.seed);
    run = store.get_run(store.create_run(r));
  }
  for (int64_t did : dataset_ids) store.link_run_dataset(run->id, did);
  summary.run_id = run->id;

  // What is already stored is never generated again. A sample stored but not graded (the process died between the
  // commit of its generation and the commit of its grade) is graded now, below.
  std::set<std::pair<int64_t, int64_t>> stored;
  for (const auto& key : store.run_sample_keys(run->id)) stored.insert({key.problem_id, key.sample_index});
  std::vector<SampleRecord> ungraded = store.run_ungraded_samples(run->id);
  summary.samples_stored_before = static_cast<int64_t>(stored.size());
  std::map<int64_t, ProblemRef> ref_of;  // store problem id -> plan position
  for (size_t s = 0; s < plan.suites.size(); ++s)
    for (size_t i = 0; i < problem_ids[s].size(); ++i) ref_of[problem_ids[s][i]] = {s, i};
  auto prompt_for = [&](size_t s, size_t i, int64_t sample_index) {
    const auto& sp = plan.suites[s];
    std::vector<int> order;
    if (sp.data.info.grader == GraderKind::choice && sp.grader)
      order = sp.grader->option_order(sp.data.problems[i], sample_index);
    return build_prompt(sp.data.problems[i], sp.data.info, sp.config.prompt, order);
  };

  struct Pending {
    size_t suite, problem;
    BuiltPrompt prompt;
  };
  std::vector<GenerationRequest> requests;
  std::map<std::pair<uint64_t, int64_t>, size_t> pending_of;  // (request, sample) -> index into pendings
  std::vector<Pending> pendings;
  for (size_t s = 0; s < plan.suites.size(); ++s) {
    const auto& sp = plan.suites[s];
    for (size_t i = 0; i < sp.data.problems.size(); ++i) {
      const Problem& p = sp.data.problems[i];
      std::vector<int64_t> missing;
      for (int64_t k = 0; k < sp.config.sampling.samples; ++k)
        if (!stored.count({problem_ids[s][i], k})) missing.push_back(k);
      if (missing.empty()) continue;
      bool per_sample_prompt = sp.data.info.grader == GraderKind::choice;
      auto add_request = [&](const std::vector<int64_t>& indices) {
        GenerationRequest req;
        req.id = requests.size();
        req.suite = sp.data.info.name;
        req.problem_key = p.key;
        BuiltPrompt bp = prompt_for(s, i, indices.front());
        for (const auto& m : bp.messages) req.messages.push_back(m);
        req.assistant_prefix = bp.assistant_prefix;
        req.sampling = sp.config.sampling;
        req.sampling.logprobs = req.sampling.logprobs || plan.store_logprobs;
        for (int64_t k : indices) {
          req.sample_indices.push_back(k);
          req.seeds.push_back(sample_seed(sp.config.sampling.seed, sp.data.info.name, p.key, k));
          pending_of[{req.id, k}] = pendings.size();
          pendings.push_back({s, i, bp});
        }
        requests.push_back(std::move(req));
      };
      if (per_sample_prompt) {
        for (int64_t k : missing) add_request({k});  // each sample sees its own option order
      } else {
        add_request(missing);  // one prompt, one shared prefill, all missing samples
      }
    }
  }

  // What the backend could not do as configured goes into the run's config, where `runs show` and reports see it.
  auto record_backend_warnings = [&] {
    auto warnings = backend.warnings();
    if (warnings.empty()) return;
    nlohmann::json stored_config = store.get_run(summary.run_id)->config;
    nlohmann::json& list = stored_config["warnings"];
    if (!list.is_array()) list = nlohmann::json::array();
    for (const auto& w : warnings)
      if (std::find(list.begin(), list.end(), w) == list.end()) list.push_back(w);
    store.update_run_config(summary.run_id, stored_config);
  };

  Progress progress;
  progress.total = static_cast<int64_t>(pendings.size());
  std::mutex store_mutex, progress_mutex;
  std::exception_ptr grading_error;
  std::atomic<bool> failed{false};
  {
    ThreadPool pool(static_cast<size_t>(std::max(plan.grading_workers, 1)));
    // Grades a sample whose generation is already committed and commits the grade. `fresh`: generated this session
    // (counted in the progress).
    auto grade_stored = [&](size_t s, size_t i, BuiltPrompt prompt, SampleRecord rec, bool fresh) {
      pool.submit([&, s, i, prompt = std::move(prompt), rec = std::move(rec), fresh]() mutable {
        if (failed.load()) return;
        try {
          const auto& sp = plan.suites[s];
          GradeOutcome g = sp.grader->grade(sp.data.problems[i], prompt, rec.completion, rec.finish_reason);
          apply_grade(rec, g, prompt);
          {
            // One connection, many threads: a transaction must not interleave with another thread's statements.
            std::lock_guard lock(store_mutex);
            store.update_grading({rec});
          }
          if (!fresh) return;
          Progress snapshot;
          {
            std::lock_guard lock(progress_mutex);
            ++progress.done;
            if (g.correct) ++progress.correct;
            progress.completion_tokens += rec.completion_tokens;
            progress.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            snapshot = progress;
          }
          if (on_progress) on_progress(snapshot);
        } catch (...) {
          if (!failed.exchange(true)) grading_error = std::current_exception();
        }
      });
    };
    if (!ungraded.empty()) log::info("grading {} samples stored ungraded by an interrupted session", ungraded.size());
    for (auto& rec : ungraded) {
      auto ref = ref_of.find(rec.problem_id);
      if (ref == ref_of.end()) continue;  // a problem outside this plan's data: not scored either
      grade_stored(ref->second.suite, ref->second.problem,
                   prompt_for(ref->second.suite, ref->second.problem, rec.sample_index), std::move(rec), false);
    }
    // A generation is committed the moment it arrives, before grading: a sample that was paid for (an API call, GPU
    // time) is never generated again, whatever happens to the process afterwards.
    auto on_result = [&](GenerationResult result) {
      if (failed.load()) throw RunError("grading failed; stopping generation");
      auto it = pending_of.find({result.request_id, result.sample_index});
      if (it == pending_of.end())
        throw RunError(fmt::format("backend returned an unknown sample (request {}, index {})", result.request_id,
                                   result.sample_index));
      const Pending& pd = pendings[it->second];
      SampleRecord rec;
      rec.run_id = summary.run_id;
      rec.problem_id = problem_ids[pd.suite][pd.problem];
      rec.sample_index = result.sample_index;
      rec.prompt_hash = result.prompt_hash;
      rec.completion = std::move(result.text);
      rec.reasoning = std::move(result.reasoning);
      rec.prompt_tokens = result.prompt_tokens;
      rec.completion_tokens = result.completion_tokens;
      rec.reasoning_tokens = result.reasoning_tokens;
      rec.finish_reason = result.finish_reason;
      rec.latency_ms = result.latency_ms;
      if (plan.store_logprobs && !result.logprobs.empty()) rec.logprobs = pack_logprobs(result.logprobs);
      {
        std::lock_guard lock(store_mutex);
        rec.id = store.insert_sample(rec);
      }
      grade_stored(pd.suite, pd.problem, pd.prompt, std::move(rec), true);
    };
    try {
      backend.generate(requests, on_result);
    } catch (...) {
      if (!grading_error) {
        std::lock_guard lock(store_mutex);
        record_backend_warnings();
        store.finish_run(summary.run_id, "interrupted");
        throw;
      }
    }
  }  // the pool drains here: every sample handed to it is graded and committed (or the first error kept)
  record_backend_warnings();
  if (grading_error) {
    store.finish_run(summary.run_id, "failed");
    std::rethrow_exception(grading_error);
  }
  summary.samples_generated = progress.done;
  summary.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary.tokens_per_s = summary.wall_s > 0 ? progress.completion_tokens / summary.wall_s : 0;
  summary.suites = score_run(store, summary.run_id, plan.suites);
  store.finish_run(summary.run_id, "completed");
  return summary;
}

}  // namespace crucible::harness
