// The rejection-sampling funnel of `crucible distill traces`: which of a teacher's traces are good enough to train a
// student on. Torch-free (trainer/distill/README.md walks one trace through it).
//
// A trace passes the filters in this order, and the funnel counts how many are left after each:
//
//   correct     the suite's grader said correct (math verifier, choice, code in the sandbox) — the eval loop's grade
//   format      `<think>` closed once, a non-empty answer after it (verifiers/format.h, R1's format reward rule)
//   language    share of the reasoning's lettered units in another script than the prompt's <= max_script_mix
//   length      completion tokens within [min_tokens, max_tokens] and not cut by the length limit
//   repetition  n-gram repeat ratio of the completion <= max_repeat_ratio (verifiers/trace_filters.h)
//   exact_dup   not the same normalised text as a trace of the same problem kept before it
//   near_dup    MinHash similarity to every trace of the same problem kept before it < near_dup_similarity
//   decontam    no `decontam_ngram`-unit n-gram of prompt + completion in any registry suite's problem text (its own
//               source problem excepted: a trace always quotes the problem it answers)
//
// Every check is computed for every trace and stored (a trace that fails `correct` still says whether its format was
// right), so a report can show why traces go; `enabled` chooses which checks gate "kept". The duplicate checks compare
// only with traces still in the funnel at that point (in problem, sample-index order), so the first of two duplicates
// is kept.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/suite.h"

namespace crucible::distill {

// The filters in funnel order.
const std::vector<std::string>& filter_names();

// Every setting of the funnel, once. Stored with the traces run (config "distill" -> "filters").
struct FilterConfig {
  std::vector<std::string> enabled = filter_names();  // which checks gate "kept"
  double max_script_mix = 0.05;    // language: share of reasoning units in another script than the prompt's
  int64_t min_tokens = 1;          // length: completion tokens at least
  int64_t max_tokens = 0;          // length: at most (0: no bound but the generation limit)
  int repeat_ngram = 10;           // repetition: n of the unit n-grams
  double max_repeat_ratio = 0.2;   // repetition: 1 - distinct/total n-grams at most
  int minhash_shingle = 5;         // near_dup: units per shingle
  int minhash_size = 128;          // near_dup: hash functions
  double near_dup_similarity = 0.8;  // near_dup: estimated Jaccard at or above this is a duplicate
  int decontam_ngram = 13;         // decontam: n-gram length in units

  void validate() const;  // InputError naming the flag
  nlohmann::json to_json() const;
  static FilterConfig from_json(const nlohmann::json& j, const std::string& where);
};

// A trace as the funnel sees it: one stored sample and the prompt it answered.
struct Trace {
  int64_t sample_id = 0;
  std::string suite, problem_key;
  int64_t sample_index = 0;
  std::string prompt;                   // the prompt's text (its system and user turns): the language reference
  std::string completion;               // as generated, after the assistant prefix
  bool think_opened_by_prompt = false;  // the assistant prefix opened <think>
  std::optional<bool> correct;          // the grader's verdict (nullopt: ungraded, fails `correct`)
  std::string finish_reason;
  int64_t completion_tokens = 0;
};

struct TraceVerdict {
  nlohmann::json checks = nlohmann::json::object();  // filter -> {"pass": bool, and what was measured}
  bool kept = false;
  std::string failed_at;  // the first enabled filter it failed; empty when kept
};

// Problem texts of benchmark suites as n-gram hashes, to find traces that quote them. Only hashes are kept, so a
// confidential suite's text (GPQA) never leaves the loader; a hit names the suite and the problem key only.
class Decontaminator {
 public:
  explicit Decontaminator(int ngram = 13) : ngram_(ngram) {}
  void add_suite(const harness::LoadedSuite& suite);
  // Every suite of the registry whose files are in `data_dir`; the names of those that are not go to `missing`.
  static Decontaminator from_registry(const std::string& data_dir, int ngram, std::vector<std::string>* missing);

  struct Hit {
    std::string suite, problem_key;
    int64_t shared_ngrams = 0;  // of the text's n-grams, how many appear in that problem's text
  };
  // The problem sharing the most n-grams with `text`, other than (exclude_suite, exclude_key); nullopt when none.
  std::optional<Hit> find(const std::string& text, const std::string& exclude_suite,
                          const std::string& exclude_key) const;
  const std::vector<std::string>& suites() const { return suites_; }
  int ngram() const { return ngram_; }

 private:
  int ngram_;
  std::vector<std::string> suites_;
  std::vector<std::pair<std::string, std::string>> problems_;  // (suite, key)
  std::vector<std::pair<uint64_t, uint32_t>> index_;           // (n-gram hash, problem), sorted
  bool sorted_ = true;
  void sort_index();
};

struct FunnelStage {
  std::string filter;
  bool enabled = true;
  int64_t passed = 0;     // traces passing this check on its own
  int64_t remaining = 0;  // traces left after this stage (all enabled stages up to here passed)
};

struct Funnel {
  int64_t generated = 0;
  std::vector<FunnelStage> stages;
  int64_t kept = 0;
  nlohmann::json to_json() const;
};

// Judges traces given in (problem, sample index) order. `decontam` may be null: the check then passes, marked
// "not checked".
std::vector<TraceVerdict> judge_traces(const std::vector<Trace>& traces, const FilterConfig& config,
                                       const Decontaminator* decontam, Funnel* funnel);

}  // namespace crucible::distill
