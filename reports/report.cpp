// build_report: the store → the report's data model. See report.h for the model; rendering is elsewhere.
#include "reports/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include "core/error.h"
#include "core/version.h"
#include "reports/statistics.h"

namespace crucible::report {

using Json = nlohmann::json;

namespace {

Json opt(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

// "2026-11-23T17:27:01.123Z" → seconds since the epoch; nullopt for anything else.
std::optional<double> parse_utc(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) < 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + ms / 1000.0;
}

// The resolved config of one suite of a run, as the eval loop stored it (null when the run has none).
const Json* suite_config(const RunRecord& run, const std::string& suite) {
  auto it = run.config.find("suites");
  if (it == run.config.end() || !it->is_array()) return nullptr;
  for (const auto& c : *it)  // a training run lists its suites by name only (strings): no eval config to read
    if (c.is_object() && c.value("suite", "") == suite) return &c;
  return nullptr;
}

// The samples of one run on one suite, grouped by problem in sample_index order.
struct SuiteSamples {
  std::map<std::string, std::vector<const SampleRecord*>> by_problem;  // problem_key → samples
  std::vector<const SampleRecord*> all;
};

struct LoadedRun {
  RunRecord run;
  std::optional<std::string> model_path;
  std::vector<SampleRecord> samples;
  std::vector<ScoreRecord> scores;
  std::map<std::string, SuiteSamples> suites;  // suite name → samples
};

LoadedRun load_run(Store& store, const RunRecord& run) {
  LoadedRun r;
  r.run = run;
  if (run.model_id)
    if (auto m = store.get_model(*run.model_id)) r.model_path = m->path;
  r.samples = store.run_samples(run.id);
  r.scores = store.run_scores(run.id);
  std::map<int64_t, std::pair<std::string, std::string>> problem_of;  // problem id → (suite, key)
  for (const auto& d : store.run_datasets(run.id))
    for (const auto& p : store.dataset_problems(d.id)) problem_of[p.id] = {d.suite, p.problem_key};
  for (const auto& s : r.samples) {
    auto it = problem_of.find(s.problem_id);
    if (it == problem_of.end()) continue;  // a sample of a dataset the run is not linked to: not part of any suite
    auto& suite = r.suites[it->second.first];
    suite.by_problem[it->second.second].push_back(&s);
    suite.all.push_back(&s);
  }
  return r;
}

bool is_code_sample(const SampleRecord& s) { return s.detail.contains("code_found"); }

// Whether the sample's reasoning was opened: by the prompt (an assistant prefix with <think>) or by the model.
bool think_opened(const SampleRecord& s, bool prefix_opens) {
  return prefix_opens || s.completion.find("<think>") != std::string::npos;
}

Json suite_run_stats(const LoadedRun& lr, const std::string& suite, const SuiteSamples& ss) {
  std::vector<stats::ProblemSamples> problems;
  bool have_classes = false, code = false;
  for (const auto& [key, samples] : ss.by_problem) {
    stats::ProblemSamples p;
    p.problem_key = key;
    for (const SampleRecord* s : samples) {
      p.correct.push_back(s->correct.value_or(false));
      // Votes go by the verifier's stored class: equal class ids are equivalent answers.
      p.answers.push_back(s->answer_class ? std::optional<std::string>(std::to_string(*s->answer_class)) : std::nullopt);
      have_classes |= s->answer_class.has_value();
      code |= is_code_sample(*s);
    }
    problems.push_back(std::move(p));
  }
  int64_t k = INT64_MAX;
  for (const auto& p : problems) k = std::min<int64_t>(k, static_cast<int64_t>(p.correct.size()));
  Json out = {{"run_id", lr.run.id},
              {"problems", problems.size()},
              {"samples", ss.all.size()},
              {"k", k}};
  auto pass1 = stats::pass_at_1(problems);
  out["pass1"] = {{"value", pass1.value}, {"low", pass1.low}, {"high", pass1.high}, {"std_error", pass1.std_error}};
  out["pass_at_k"] = Json::array();
  for (int64_t kk : stats::report_ks(k)) out["pass_at_k"].push_back({kk, stats::mean_pass_at_k(problems, kk)});

  // cons@k: recounted from the stored answer classes; a run scored before classes were stored (schema 1) keeps the
  // value its eval computed; code suites have no vote.
  out["cons"] = nullptr;
  out["cons_at_k"] = Json::array();
  if (have_classes) {
    auto same = [](const std::string& a, const std::string& b) { return a == b; };
    for (int64_t kk : stats::report_ks(k)) out["cons_at_k"].push_back({kk, stats::cons_at_k(problems, kk, same)});
    out["cons"] = {{"k", k}, {"value", stats::cons_at_k(problems, k, same)}, {"source", "stored answer classes"}};
  } else if (!code) {
    for (const auto& sc : lr.scores)
      if (sc.suite == suite && sc.metric == "cons@k")
        out["cons"] = {{"k", sc.k}, {"value", sc.value}, {"source", "stored score (no answer classes)"}};
  }

  // Tokens: the reasoning/answer split is the stored reasoning_tokens when every sample has it; otherwise each
  // sample's completion_tokens are shared out by characters before and after its last </think>.
  const Json* cfg = suite_config(lr.run, suite);
  bool prefix_opens = cfg && cfg->contains("prompt") &&
                      cfg->at("prompt").value("assistant_prefix", "").find("<think>") != std::string::npos;
  bool stored_split = std::all_of(ss.all.begin(), ss.all.end(), [](auto* s) { return s->reasoning_tokens.has_value(); });
  std::vector<double> lengths;
  double reasoning = 0, answer = 0;
  int64_t length_cut = 0, unparsed = 0, opened = 0, unclosed = 0;
  for (const SampleRecord* s : ss.all) {
    lengths.push_back(static_cast<double>(s->completion_tokens));
    if (s->finish_reason == "length") ++length_cut;
    if (is_code_sample(*s) ? !s->detail.value("code_found", false) : !s->extracted_answer) ++unparsed;
    size_t close = s->completion.rfind("</think>");
    bool open = think_opened(*s, prefix_opens);
    if (open) ++opened;
    if (open && close == std::string::npos) ++unclosed;
    if (stored_split) {
      reasoning += static_cast<double>(*s->reasoning_tokens);
      answer += static_cast<double>(s->completion_tokens - *s->reasoning_tokens);
      continue;
    }
    double r_chars = 0, a_chars = 0;
    if (s->reasoning) {
      r_chars = static_cast<double>(s->reasoning->size());
      a_chars = static_cast<double>(s->completion.size());
    } else if (close != std::string::npos) {
      r_chars = static_cast<double>(close);
      a_chars = static_cast<double>(s->completion.size() - close - 8);
    } else if (open) {
      r_chars = 1;  // never closed: all of it is reasoning
    } else {
      a_chars = 1;  // never opened: all of it is answer
    }
    double share = r_chars + a_chars > 0 ? r_chars / (r_chars + a_chars) : 0;
    reasoning += share * static_cast<double>(s->completion_tokens);
    answer += (1 - share) * static_cast<double>(s->completion_tokens);
  }
  const double n = std::max<double>(1, static_cast<double>(ss.all.size()));
  auto ls = stats::length_stats(lengths);
  out["tokens"] = {{"completion", {{"mean", ls.mean}, {"median", ls.median}, {"p90", ls.p90}, {"max", ls.max}}},
                   {"reasoning_mean", reasoning / n},
                   {"answer_mean", answer / n},
                   {"split", stored_split ? "stored reasoning_tokens" : "estimated: tokens shared by characters at </think>"}};
  out["rates"] = {{"length", length_cut / n},
                  {"unparsed", unparsed / n},
                  // Only meaningful where reasoning was opened; null when no sample opened a think block.
                  {"missing_think_close", opened ? Json(static_cast<double>(unclosed) / static_cast<double>(opened)) : Json(nullptr)}};
  out["solve_rates"] = Json::object();
  for (const auto& p : problems)
    out["solve_rates"][p.problem_key] =
        static_cast<double>(std::count(p.correct.begin(), p.correct.end(), true)) / static_cast<double>(p.correct.size());
  out["lengths"] = lengths;  // removed after the histogram is made (shared edges need every run first)
  return out;
}

Json run_json(const LoadedRun& lr, Store& store) {
  const auto& r = lr.run;
  Json j = {{"id", r.id},         {"name", r.name},         {"kind", r.kind},
            {"status", r.status}, {"protocol", r.protocol}, {"started_at", r.started_at},
            {"ended_at", r.ended_at ? Json(*r.ended_at) : Json(nullptr)},
            {"model", lr.model_path ? Json(*lr.model_path) : Json(nullptr)}};
  j["sampling"] = nullptr;
  if (auto it = r.config.find("suites"); it != r.config.end() && it->is_array() && !it->empty() && (*it)[0].is_object()) {
    const Json& s = (*it)[0].value("sampling", Json::object());
    j["sampling"] = {{"temperature", s.value("temperature", Json(nullptr))},
                     {"top_p", s.value("top_p", Json(nullptr))},
                     {"max_new_tokens", s.value("max_new_tokens", Json(nullptr))},
                     {"samples", s.value("samples", Json(nullptr))}};
  }
  int64_t tokens = 0;
  for (const auto& s : lr.samples) tokens += s.completion_tokens;
  j["samples"] = lr.samples.size();
  j["completion_tokens"] = tokens;
  // Wall time is ended_at − started_at: for a resumed run it includes the time between sessions.
  std::optional<double> wall;
  if (r.ended_at) {
    auto a = parse_utc(r.started_at), b = parse_utc(*r.ended_at);
    if (a && b && *b >= *a) wall = *b - *a;
  }
  j["wall_s"] = opt(wall);
  j["tokens_per_s"] = wall && *wall > 0 ? Json(static_cast<double>(tokens) / *wall) : Json(nullptr);
  // Training curves: every numeric field of train_steps.metrics_json, one series each.
  std::map<std::string, Json> curves;
  for (const auto& t : store.run_train_steps(r.id))
    for (const auto& [key, v] : t.metrics.items())
      if (v.is_number()) curves[key].push_back({t.step, v.get<double>()});
  j["train_curves"] = Json::array();
  for (auto& [key, points] : curves) j["train_curves"].push_back({{"metric", key}, {"points", std::move(points)}});
  // Distillation traces (trainer/distill/traces.h): the funnel's counts as `distill traces` stored them. Counts only.
  j["funnel"] = nullptr;
  if (auto d = r.config.find("distill"); d != r.config.end() && d->is_object() && d->contains("funnel"))
    j["funnel"] = (*d)["funnel"];
  return j;
}

Json compare(const Json& base, const Json& other, const ReportOptions& options) {
  const Json& ra = base["solve_rates"];
  const Json& rb = other["solve_rates"];
  std::vector<double> a, b;
  Json scatter = Json::array(), gained = Json::array(), lost = Json::array();
  int64_t unchanged = 0, better = 0, worse = 0;
  for (const auto& [key, va] : ra.items()) {
    if (!rb.contains(key)) continue;
    double x = va.get<double>(), y = rb[key].get<double>();
    a.push_back(x);
    b.push_back(y);
    scatter.push_back({{"problem", key}, {"baseline", x}, {"run", y}});
    if (y > x) {
      ++better;
      gained.push_back({{"problem", key}, {"baseline", x}, {"run", y}});
    } else if (y < x) {
      ++worse;
      lost.push_back({{"problem", key}, {"baseline", x}, {"run", y}});
    } else {
      ++unchanged;
    }
  }
  auto by_size = [](const Json& p, const Json& q) {
    double dp = std::abs(p["run"].get<double>() - p["baseline"].get<double>());
    double dq = std::abs(q["run"].get<double>() - q["baseline"].get<double>());
    return dp != dq ? dp > dq : p["problem"].get<std::string>() < q["problem"].get<std::string>();
  };
  std::sort(gained.begin(), gained.end(), by_size);
  std::sort(lost.begin(), lost.end(), by_size);
  auto d = stats::paired_bootstrap_difference(a, b, options.bootstrap_resamples, options.seed);
  // With one sample per problem each pair is (right, wrong) outcomes and McNemar applies as is. With k > 1 the
  // outcomes are solve rates; the same exact binomial on the problems whose rate moved is the sign test.
  bool single = base["k"] == 1 && other["k"] == 1 && base["samples"] == base["problems"] &&
                other["samples"] == other["problems"];
  return {{"baseline_run", base["run_id"]},
          {"run", other["run_id"]},
          {"paired", a.size()},
          {"difference", {{"value", d.value}, {"low", d.low}, {"high", d.high}}},
          {"test",
           {{"name", single ? "McNemar exact" : "sign test on per-problem solve rates"},
            {"discordant_worse", worse},
            {"discordant_better", better},
            {"p_value", stats::mcnemar_exact_p(worse, better)}}},
          {"gained", gained},
          {"lost", lost},
          {"unchanged", unchanged},
          {"scatter", scatter}};
}

}  // namespace

Json build_report(Store& store, const ReportOptions& options) {
  // Resolve the runs: the baseline first, then the others in the order given, each once.
  std::vector<RunRecord> runs;
  auto add = [&](const RunRecord& r) {
    for (const auto& have : runs)
      if (have.id == r.id) return;
    runs.push_back(r);
  };
  auto find = [&](const std::string& id) {
    auto r = store.find_run(id);
    if (!r) throw InputError(store.path(), "run", "no run with id or name '" + id + "' (see crucible runs list)");
    return *r;
  };
  if (options.baseline) add(find(*options.baseline));
  if (options.runs.empty()) {
    for (const auto& s : store.list_runs()) add(s.run);
  } else {
    for (const auto& id : options.runs) add(find(id));
  }
  if (runs.empty()) throw InputError(store.path(), "runs", "the database holds no runs to report on");

  std::vector<LoadedRun> loaded;
  for (const auto& r : runs) loaded.push_back(load_run(store, r));

  Json report = {{"generator", "crucible report"},
                 {"crucible_version", version()},
                 {"database", store.path()},
                 {"baseline_run", runs.front().id},
                 {"runs", Json::array()},
                 {"suites", Json::array()}};
  report["notes"] = {
      {"pass1", "mean over problems of the per-problem solve rate; 95% CI: percentile bootstrap over problems "
                "(2,000 resamples, seed 1234, as the eval reports it)"},
      {"pass_at_k", "unbiased estimator 1 - C(n-c,k)/C(n,k) (Chen et al. 2021), mean over problems"},
      {"cons", "majority vote over the first k samples by the verifier's answer classes stored at grading time; "
               "ties go to the class seen first; code suites have no vote"},
      {"difference", fmt::format("run minus baseline pass@1 on the problems both ran; 95% CI: paired percentile "
                                 "bootstrap over problems ({} resamples, seed {})",
                                 options.bootstrap_resamples, options.seed)},
      {"test", "k = 1 on both runs: exact two-sided McNemar test on the discordant problems; otherwise the same "
               "exact binomial as a sign test on problems whose solve rate went up vs down (ties dropped)"},
      {"tokens", "completion tokens per sample as counted by the generating tokenizer; reasoning/answer split at "
                 "the last </think> (see each suite's split field for how)"},
      {"rates", "length: finish_reason = length; unparsed: no answer extracted (math, choice) or no code block "
                "(code); missing_think_close: of samples whose reasoning was opened, share never closed"},
      {"throughput", "per run, not per suite (a run's suites share the generation batches): completion tokens of "
                     "the run / (ended_at - started_at); a resumed run's wall time includes the pause between sessions"},
      {"privacy", "problems are named by their suite id only; no prompt, completion or answer text is included"}};
  for (const auto& lr : loaded) report["runs"].push_back(run_json(lr, store));

  std::set<std::string> suite_names;
  for (const auto& lr : loaded)
    for (const auto& [name, _] : lr.suites) suite_names.insert(name);
  std::map<std::pair<int64_t, int64_t>, int64_t> paired_total;  // (baseline, run) → paired problems, all suites
  for (const auto& name : suite_names) {
    Json suite = {{"suite", name}, {"runs", Json::array()}, {"comparisons", Json::array()}, {"unpaired", Json::array()}};
    for (const auto& lr : loaded) {
      auto it = lr.suites.find(name);
      if (it != lr.suites.end() && !it->second.all.empty()) suite["runs"].push_back(suite_run_stats(lr, name, it->second));
    }
    // Histogram edges shared by the runs of a suite, so their bars line up.
    double top = 1;
    for (const auto& r : suite["runs"])
      for (const auto& v : r["lengths"]) top = std::max(top, v.get<double>());
    const int bins = options.histogram_bins;
    double width = std::ceil(top / bins);
    suite["histogram_edges"] = Json::array();
    for (int i = 0; i <= bins; ++i) suite["histogram_edges"].push_back(width * i);
    for (auto& r : suite["runs"]) {
      r["histogram"] = stats::histogram(r["lengths"].get<std::vector<double>>(), 0, width * bins, bins);
      r.erase("lengths");
    }
    const Json* base = nullptr;
    for (const auto& r : suite["runs"])
      if (r["run_id"] == runs.front().id) base = &r;
    for (const auto& lr : loaded) {
      if (lr.run.id == runs.front().id) continue;
      // A training or distillation run is compared with nothing (below): listing it as "not compared" under every
      // suite would only be noise in a report of a whole pipeline (`crucible demo`).
      if (lr.run.kind != "eval") continue;
      const Json* other = nullptr;
      for (const auto& r : suite["runs"])
        if (r["run_id"] == lr.run.id) other = &r;
      if (!base || !other) {
        suite["unpaired"].push_back({{"baseline_run", runs.front().id}, {"run", lr.run.id},
                                     {"reason", !base ? "the baseline has no samples on this suite"
                                                      : "this run has no samples on this suite"}});
        continue;
      }
      Json c = compare(*base, *other, options);
      paired_total[{runs.front().id, lr.run.id}] += c["paired"].get<int64_t>();
      if (c["paired"] == 0) {
        suite["unpaired"].push_back({{"baseline_run", runs.front().id}, {"run", lr.run.id},
                                     {"reason", "no problem in common"}});
        continue;
      }
      suite["comparisons"].push_back(std::move(c));
    }
    report["suites"].push_back(std::move(suite));
  }
  for (const auto& lr : loaded) {
    if (lr.run.id == runs.front().id) continue;
    // A training or distillation run is in a report for its curves (and its samples' lengths), compared with
    // nothing: its samples, if any, are on a train split. `crucible demo` reports its eval and training runs together.
    if (lr.run.kind != "eval") continue;
    if (paired_total[{runs.front().id, lr.run.id}] == 0)
      throw InputError(store.path(), "runs",
                       fmt::format("run {} '{}' and baseline run {} '{}' share no problem: nothing to compare (report "
                                   "them separately)",
                                   lr.run.id, lr.run.name, runs.front().id, runs.front().name));
  }
  return report;
}

}  // namespace crucible::report
