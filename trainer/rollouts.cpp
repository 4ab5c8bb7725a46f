// Rollouts from the live policy: rollouts.h.
#include "trainer/rollouts.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/sha256.h"
#include "harness/prompts_file.h"
#include "harness/render_prompt.h"
#include "reports/store.h"
#include "trainer/dist/comm.h"
#include "trainer/dist/split.h"

namespace crucible::trainer {
namespace {

using Json = nlohmann::json;

template <typename T>
Json opt_json(const std::optional<T>& v) { return v ? Json(*v) : Json(nullptr); }
template <typename T>
std::optional<T> json_opt(const Json& j) { return j.is_null() ? std::nullopt : std::optional<T>(j.get<T>()); }


harness::Overrides sampling_overrides(const RolloutConfig& c) {
  harness::Overrides o;
  o.temperature = c.temperature;
  o.top_p = c.top_p;
  o.max_new_tokens = c.max_tokens;
  o.samples = c.samples;
  o.seed = c.seed;
  o.assistant_prefix = c.assistant_prefix;
  return o;
}

uint64_t mix(uint64_t a, uint64_t b) { return model::sample_seed(a, static_cast<int64_t>(b)); }
// A stable 64-bit key of a problem (std::hash differs between standard libraries; seeds must not).
uint64_t sha256_prefix64(const std::string& s) { return std::stoull(sha256_hex(s).substr(0, 16), nullptr, 16); }

}  // namespace

std::vector<Source> load_sources(const RolloutConfig& c, Store* store) {
  std::vector<Source> out;
  // --prompts: {"prompt", "answer"[, "id"]} as the suite "prompts" (math prompting and grading), read as
  // `distill traces --prompts` reads it; --suite: the registry's suites, cut by --limit, as eval loads them.
  std::vector<harness::LoadedSuite> loaded;
  if (!c.prompts_file.empty()) loaded.push_back(harness::load_prompts_file(c.prompts_file));
  if (!c.suites.empty()) {
    const std::string data_dir = harness::resolve_data_dir(c.data_dir);
    for (const auto& name : c.suites) {
      auto suite = harness::load_suite(harness::find_suite(name), data_dir);
      if (c.limit > 0 && static_cast<int64_t>(suite.problems.size()) > c.limit) suite.problems.resize(c.limit);
      loaded.push_back(std::move(suite));
    }
  }
  for (auto& suite : loaded) {
    Source s;
    s.info = suite.info;
    s.path = suite.path;
    s.sha256 = suite.sha256;
    s.problems = std::move(suite.problems);
    s.config = harness::resolve_config(c.preset, s.info, sampling_overrides(c));
    s.grader = harness::make_grader(s.info, s.config);
    out.push_back(std::move(s));
  }
  if (store) register_sources(out, *store);
  return out;
}

void register_sources(std::vector<Source>& sources, Store& store) {
  for (auto& s : sources) {
    s.dataset_id = store.upsert_dataset({0, s.info.name, s.info.version, s.path, s.sha256,
                                         static_cast<int64_t>(s.problems.size())});
    s.problem_ids.clear();
    for (const auto& p : s.problems) {
      std::optional<std::string> gold = s.info.confidential ? std::nullopt : p.gold;
      s.problem_ids.push_back(store.upsert_problem({0, s.dataset_id, p.key, p.idx, gold, nlohmann::json::object()}));
    }
  }
}

TaskCursor::TaskCursor(std::vector<Task> tasks, uint64_t seed) : tasks_(std::move(tasks)), rng_(seed) {
  std::shuffle(tasks_.begin(), tasks_.end(), rng_);
}

std::vector<Task> TaskCursor::next(int64_t n) {
  std::vector<Task> out;
  for (int64_t i = 0; i < n; ++i) {
    if (next_ == tasks_.size()) {  // an epoch over the problems: reshuffle
      std::shuffle(tasks_.begin(), tasks_.end(), rng_);
      next_ = 0;
    }
    out.push_back(tasks_[next_++]);
  }
  drawn_ += n;
  return out;
}

Sequences pointers(std::vector<Rollout>& rs) {
  Sequences out;
  for (auto& r : rs) out.push_back(&r);
  return out;
}

std::vector<Rollout> sample_rollouts(const RolloutConfig& c, model::GenerationModel& gm, model::Engine& engine,
                                     const std::vector<Source>& sources, const std::vector<Task>& tasks, int64_t step,
                                     int64_t round, int64_t first_group) {
  std::vector<Rollout> rollouts;
  std::vector<model::GenerationRequest> requests;
  std::vector<std::vector<size_t>> request_rollouts;
  for (size_t t = 0; t < tasks.size(); ++t) {
    const auto& src = sources[tasks[t].source];
    const auto& problem = src.problems[tasks[t].problem];
    // round > 0: dynamic sampling's refills of the same step
    const uint64_t base = mix(mix(mix(c.seed, static_cast<uint64_t>(step)), static_cast<uint64_t>(round)),
                              sha256_prefix64(problem.key));
    std::string last_text;
    for (int64_t g = 0; g < c.samples; ++g) {
      Rollout r;
      r.task = tasks[t];
      r.group = first_group + static_cast<int64_t>(t);
      r.prompt = harness::build_prompt(problem, src.info, src.config.prompt, src.grader->option_order(problem, g));
      const std::string text = harness::render_prompt(gm.chat_template, r.prompt);  // as eval renders it
      r.prompt_hash = sha256_hex(text);
      if (g == 0 || text != last_text) {
        model::GenerationRequest req;
        auto ids = gm.tokenizer->encode(text, /*add_special=*/!gm.chat_template);
        if (ids.empty()) throw InputError(src.info.name + ":" + problem.key, "prompt", "encodes to no tokens");
        req.prompt = ids;
        req.n_samples = 0;
        req.params = src.config.sampling;
        req.params.logprobs = true;
        req.params.min_new_tokens = c.min_tokens;
        requests.push_back(std::move(req));
        request_rollouts.emplace_back();
        last_text = text;
      }
      auto& req = requests.back();
      r.prompt_ids.assign(req.prompt.begin(), req.prompt.end());
      req.n_samples += 1;
      req.sample_seeds.push_back(mix(base, static_cast<uint64_t>(g)));
      request_rollouts.back().push_back(rollouts.size());
      rollouts.push_back(std::move(r));
    }
  }
  for (const auto& o : engine.generate(requests)) {
    Rollout& r = rollouts[request_rollouts[o.request][static_cast<size_t>(o.sample)]];
    r.text = o.text;
    r.finish = model::finish_reason_name(o.finish);
    for (const auto& lp : o.logprobs) {
      r.completion_ids.push_back(lp.token_id);
      r.sampler_logp.push_back(lp.sampling_logprob.value_or(lp.logprob));
    }
  }
  return rollouts;
}

SampleRecord rollout_sample(const Rollout& r, const harness::GradeOutcome& outcome) {
  SampleRecord s;
  s.prompt_hash = r.prompt_hash;
  s.completion = r.text;
  s.prompt_tokens = static_cast<int64_t>(r.prompt_ids.size());
  s.completion_tokens = static_cast<int64_t>(r.completion_ids.size());
  s.finish_reason = r.finish;
  harness::apply_grade(s, outcome, r.prompt);
  return s;
}

void store_samples(Store& store, int64_t run_id, const std::vector<Source>& sources, std::vector<PendingSample>& ps,
                   std::map<int64_t, int64_t>& next_index) {
  std::vector<SampleRecord> batch;
  for (auto& p : ps) {
    SampleRecord s = std::move(p.record);
    s.run_id = run_id;
    s.problem_id = sources[p.task.source].problem_ids[p.task.problem];
    s.sample_index = next_index[s.problem_id]++;
    batch.push_back(std::move(s));
  }
  store.insert_samples(batch);
}


// ---- several ranks (trainer/dist/) ----------------------------------------------------------------------

std::string samples_to_json(const std::vector<PendingSample>& ps) {
  Json a = Json::array();
  for (const auto& p : ps) {
    const auto& s = p.record;
    a.push_back({{"source", p.task.source}, {"problem", p.task.problem}, {"prompt_hash", s.prompt_hash},
                 {"completion", s.completion}, {"prompt_tokens", s.prompt_tokens},
                 {"completion_tokens", s.completion_tokens}, {"finish_reason", s.finish_reason},
                 {"extracted_answer", opt_json(s.extracted_answer)}, {"verdict", opt_json(s.verdict)},
                 {"correct", opt_json(s.correct)}, {"grader_version", opt_json(s.grader_version)},
                 {"detail", s.detail}});
  }
  return a.dump();
}

std::vector<PendingSample> samples_from_json(const std::string& text) {
  std::vector<PendingSample> out;
  for (const auto& j : Json::parse(text)) {
    PendingSample p;
    p.task = {j.at("source").get<size_t>(), j.at("problem").get<size_t>()};
    auto& s = p.record;
    s.prompt_hash = j.at("prompt_hash");
    s.completion = j.at("completion");
    s.prompt_tokens = j.at("prompt_tokens");
    s.completion_tokens = j.at("completion_tokens");
    s.finish_reason = j.at("finish_reason");
    s.extracted_answer = json_opt<std::string>(j.at("extracted_answer"));
    s.verdict = json_opt<std::string>(j.at("verdict"));
    s.correct = json_opt<bool>(j.at("correct"));
    s.grader_version = json_opt<std::string>(j.at("grader_version"));
    s.detail = j.at("detail");
    out.push_back(std::move(p));
  }
  return out;
}

void gather_samples(dist::Comm* comm, std::vector<PendingSample>& records) {
  if (!comm) return;
  const bool lead = comm->rank() == 0;
  auto parts = comm->gather_strings(lead ? std::string() : samples_to_json(records));
  for (size_t r = 1; r < parts.size(); ++r)
    for (auto& p : samples_from_json(parts[r])) records.push_back(std::move(p));
}

// Sums (or maxima) over the ranks, in place; one process: unchanged. float64 holds the counts exactly.
void reduce_over_ranks(dist::Comm* comm, std::vector<double>& v, bool max) {
  if (!comm || v.empty()) return;
  std::vector<torch::Tensor> t{torch::tensor(v, torch::kFloat64)};
  max ? comm->all_reduce_max(t) : comm->all_reduce_sum(t);
  std::memcpy(v.data(), t[0].contiguous().data_ptr<double>(), v.size() * sizeof(double));
}

// This rank's groups of a step's prompts: a contiguous run (groups are never split), so rank 0's rollouts followed
// by rank 1's ... are the one-process batch. Returns the tasks and the global index of the first.
std::pair<std::vector<Task>, int64_t> my_groups(dist::Comm* comm, const std::vector<Task>& tasks) {
  if (!comm) return {tasks, 0};
  const auto s = dist::contiguous_share(tasks.size(), comm->rank(), comm->world_size());
  return {std::vector<Task>(tasks.begin() + static_cast<std::ptrdiff_t>(s.first),
                            tasks.begin() + static_cast<std::ptrdiff_t>(s.first + s.count)),
          static_cast<int64_t>(s.first)};
}

}  // namespace crucible::trainer
