#include "trainer/distill/funnel.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "verifiers/format.h"
#include "verifiers/response.h"
#include "verifiers/trace_filters.h"

namespace crucible::distill {

const std::vector<std::string>& filter_names() {
  static const std::vector<std::string> names = {"correct",    "format",    "language", "length",
                                                 "repetition", "exact_dup", "near_dup", "decontam"};
  return names;
}

void FilterConfig::validate() const {
  for (const auto& f : enabled)
    if (std::find(filter_names().begin(), filter_names().end(), f) == filter_names().end())
      throw InputError("--filters", "", fmt::format("unknown filter '{}' (correct, format, language, length, "
                                                    "repetition, exact_dup, near_dup, decontam)", f));
  if (max_script_mix < 0 || max_script_mix > 1) throw InputError("--max-script-mix", "", "must be in [0, 1]");
  if (min_tokens < 0) throw InputError("--min-tokens", "", "must be >= 0");
  if (max_tokens < 0) throw InputError("--max-trace-tokens", "", "must be >= 0 (0: no bound)");
  if (max_tokens > 0 && max_tokens < min_tokens)
    throw InputError("--max-trace-tokens", "", "is below --min-tokens");
  if (repeat_ngram < 1) throw InputError("--repeat-ngram", "", "must be >= 1");
  if (max_repeat_ratio < 0 || max_repeat_ratio > 1) throw InputError("--max-repeat-ratio", "", "must be in [0, 1]");
  if (minhash_shingle < 1) throw InputError("--minhash-shingle", "", "must be >= 1");
  if (minhash_size < 1 || minhash_size > 4096) throw InputError("--minhash-size", "", "must be in 1..4096");
  if (near_dup_similarity <= 0 || near_dup_similarity > 1)
    throw InputError("--near-dup", "", "must be in (0, 1]");
  if (decontam_ngram < 1) throw InputError("--decontam-ngram", "", "must be >= 1");
}

nlohmann::json FilterConfig::to_json() const {
  return {{"enabled", enabled},
          {"max_script_mix", max_script_mix},
          {"min_tokens", min_tokens},
          {"max_tokens", max_tokens},
          {"repeat_ngram", repeat_ngram},
          {"max_repeat_ratio", max_repeat_ratio},
          {"minhash_shingle", minhash_shingle},
          {"minhash_size", minhash_size},
          {"near_dup_similarity", near_dup_similarity},
          {"decontam_ngram", decontam_ngram}};
}

FilterConfig FilterConfig::from_json(const nlohmann::json& j, const std::string& where) {
  FilterConfig c;
  try {
    c.enabled = j.at("enabled").get<std::vector<std::string>>();
    c.max_script_mix = j.at("max_script_mix").get<double>();
    c.min_tokens = j.at("min_tokens").get<int64_t>();
    c.max_tokens = j.at("max_tokens").get<int64_t>();
    c.repeat_ngram = j.at("repeat_ngram").get<int>();
    c.max_repeat_ratio = j.at("max_repeat_ratio").get<double>();
    c.minhash_shingle = j.at("minhash_shingle").get<int>();
    c.minhash_size = j.at("minhash_size").get<int>();
    c.near_dup_similarity = j.at("near_dup_similarity").get<double>();
    c.decontam_ngram = j.at("decontam_ngram").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where, "filters", e.what());
  }
  return c;
}

nlohmann::json Funnel::to_json() const {
  nlohmann::json stages_json = nlohmann::json::array();
  for (const auto& s : stages)
    stages_json.push_back(
        {{"filter", s.filter}, {"enabled", s.enabled}, {"passed", s.passed}, {"remaining", s.remaining}});
  return {{"generated", generated}, {"stages", stages_json}, {"kept", kept}};
}

// ---- decontamination ----

void Decontaminator::add_suite(const harness::LoadedSuite& suite) {
  suites_.push_back(suite.info.name);
  for (const auto& p : suite.problems) {
    const auto id = static_cast<uint32_t>(problems_.size());
    problems_.emplace_back(suite.info.name, p.key);
    auto hashes = verifiers::ngram_hashes(p.question, ngram_);
    std::sort(hashes.begin(), hashes.end());
    hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
    for (uint64_t h : hashes) index_.emplace_back(h, id);
  }
  sorted_ = false;
  sort_index();
}

void Decontaminator::sort_index() {
  if (sorted_) return;
  std::sort(index_.begin(), index_.end());
  sorted_ = true;
}

Decontaminator Decontaminator::from_registry(const std::string& data_dir, int ngram,
                                             std::vector<std::string>* missing) {
  Decontaminator d(ngram);
  for (const auto& info : harness::all_suites()) {
    if (info.train_split) continue;  // what the traces are made from, not what they must not leak into
    bool present = false;
    for (const auto& layout : info.layouts) {
      bool all = !layout.empty();
      for (const auto& f : layout) all = all && std::filesystem::exists(std::filesystem::path(data_dir) / f);
      present = present || all;
    }
    if (!present) {
      if (missing) missing->push_back(info.name);
      continue;
    }
    d.add_suite(harness::load_suite(info, data_dir));
  }
  return d;
}

std::optional<Decontaminator::Hit> Decontaminator::find(const std::string& text, const std::string& exclude_suite,
                                                        const std::string& exclude_key) const {
  auto hashes = verifiers::ngram_hashes(text, ngram_);
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  std::map<uint32_t, int64_t> shared;  // problem -> distinct n-grams in common
  for (uint64_t h : hashes) {
    auto lo = std::lower_bound(index_.begin(), index_.end(), std::pair<uint64_t, uint32_t>{h, 0});
    for (auto it = lo; it != index_.end() && it->first == h; ++it) {
      const auto& [suite, key] = problems_[it->second];
      if (suite == exclude_suite && key == exclude_key) continue;
      ++shared[it->second];
    }
  }
  std::optional<Hit> best;
  for (auto [problem, n] : shared)
    if (!best || n > best->shared_ngrams) best = Hit{problems_[problem].first, problems_[problem].second, n};
  return best;
}

// ---- the funnel ----

std::vector<TraceVerdict> judge_traces(const std::vector<Trace>& traces, const FilterConfig& config,
                                       const Decontaminator* decontam, Funnel* funnel) {
  const auto& names = filter_names();
  const std::set<std::string> enabled(config.enabled.begin(), config.enabled.end());
  std::vector<TraceVerdict> out(traces.size());
  // Checks that look at one trace alone.
  for (size_t i = 0; i < traces.size(); ++i) {
    const Trace& t = traces[i];
    nlohmann::json& c = out[i].checks;
    c["correct"] = {{"pass", t.correct.value_or(false)}};
    if (!t.correct) c["correct"]["ungraded"] = true;

    auto format = verifiers::check_format(t.completion, {t.think_opened_by_prompt});
    c["format"] = {{"pass", format.well_formed()}, {"issue", verifiers::format_issue_name(format.issue)}};

    auto split = verifiers::split_response(t.completion, t.think_opened_by_prompt);
    std::string_view reasoning = split.has_think_close ? split.reasoning : std::string_view(t.completion);
    verifiers::Script expected = verifiers::dominant_script(t.prompt);
    double mix = expected == verifiers::Script::other ? 0.0 : verifiers::script_mix_share(reasoning, expected);
    c["language"] = {{"pass", mix <= config.max_script_mix},
                     {"prompt_script", verifiers::script_name(expected)},
                     {"mix", mix}};

    bool length_ok = t.finish_reason != "length" && t.completion_tokens >= config.min_tokens &&
                     (config.max_tokens == 0 || t.completion_tokens <= config.max_tokens);
    c["length"] = {{"pass", length_ok}, {"tokens", t.completion_tokens}, {"finish_reason", t.finish_reason}};

    double repeat = verifiers::ngram_repeat_ratio(t.completion, config.repeat_ngram);
    c["repetition"] = {{"pass", repeat <= config.max_repeat_ratio}, {"ratio", repeat}};

    if (decontam) {
      auto hit = decontam->find(t.prompt + "\n" + t.completion, t.suite, t.problem_key);
      c["decontam"] = {{"pass", !hit}};
      if (hit) c["decontam"]["hit"] = {{"suite", hit->suite}, {"problem", hit->problem_key},
                                       {"shared_ngrams", hit->shared_ngrams}};
    } else {
      c["decontam"] = {{"pass", true}, {"checked", false}};
    }
  }
  // The stages in order; duplicates are looked for among the traces still in the funnel when they are reached.
  Funnel f;
  f.generated = static_cast<int64_t>(traces.size());
  std::vector<bool> alive(traces.size(), true);
  std::map<std::string, std::set<std::string>> texts_of;
  std::map<std::string, std::vector<std::vector<uint64_t>>> signatures_of;
  for (const auto& name : names) {
    FunnelStage stage{name, enabled.count(name) > 0, 0, 0};
    for (size_t i = 0; i < traces.size(); ++i) {
      nlohmann::json& c = out[i].checks;
      const std::string problem = traces[i].suite + '\x1f' + traces[i].problem_key;
      if (name == "exact_dup") {
        // Compared with the traces of the same problem that reached this stage before it.
        bool dup = false;
        if (alive[i]) {
          auto norm = verifiers::normalized_units(traces[i].completion);
          dup = !texts_of[problem].insert(norm).second;
        }
        c["exact_dup"] = {{"pass", !dup}};
        if (!alive[i]) c["exact_dup"]["compared"] = false;
      } else if (name == "near_dup") {
        bool dup = false;
        double best = 0;
        if (alive[i]) {
          auto sig = verifiers::minhash_signature(traces[i].completion, config.minhash_shingle, config.minhash_size);
          for (const auto& other : signatures_of[problem])
            best = std::max(best, verifiers::minhash_similarity(sig, other));
          dup = best >= config.near_dup_similarity;
          if (!dup || !stage.enabled) signatures_of[problem].push_back(std::move(sig));
        }
        c["near_dup"] = {{"pass", !dup}, {"similarity", best}};
        if (!alive[i]) c["near_dup"]["compared"] = false;
      }
      bool pass = c[name]["pass"].get<bool>();
      if (pass) ++stage.passed;
      if (alive[i] && stage.enabled && !pass) {
        alive[i] = false;
        out[i].failed_at = name;
      }
      if (alive[i]) ++stage.remaining;
    }
    f.stages.push_back(stage);
  }
  for (size_t i = 0; i < traces.size(); ++i) {
    out[i].kept = alive[i];
    if (alive[i]) ++f.kept;
  }
  if (funnel) *funnel = std::move(f);
  return out;
}

}  // namespace crucible::distill
