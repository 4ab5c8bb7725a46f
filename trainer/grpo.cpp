// GRPO: rollouts from the engine on the weights being trained, rewards from eval's graders, the loss of grpo_loss.h.
// trainer/README.md walks one step. Shape legend: B sequences in a micro-batch, S their padded prompt + completion
// length, T padded completion length, N completion tokens of a micro-batch, D hidden size.
#include "trainer/grpo.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/sha256.h"
#include "harness/eval.h"
#include "harness/native_backend.h"
#include "harness/prompts_file.h"
#include "harness/render_prompt.h"
#include "kernels/torch/token_logprobs.h"
#include "model/engine.h"
#include "model/generation_model.h"
#include "reports/store.h"
#include "trainer/checkpoint.h"
#include "trainer/grpo_loss.h"
#include "trainer/grpo_update.h"
#include "trainer/optimizer.h"
#include "trainer/run_log.h"

namespace crucible::trainer {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---- data: the problems a step draws from ----------------------------------------------------------------------

struct Source {  // one suite (or the --prompts file), graded as eval grades it
  harness::SuiteInfo info;
  harness::EvalConfig config;
  std::shared_ptr<harness::Grader> grader;
  std::unique_ptr<Rewarder> rewarder;
  std::vector<harness::Problem> problems;
  std::vector<int64_t> problem_ids;  // in the store
  int64_t dataset_id = 0;
};

struct Task {  // one prompt of a step
  size_t source = 0, problem = 0;
};

harness::Overrides sampling_overrides(const GrpoConfig& c) {
  harness::Overrides o;
  o.temperature = c.temperature;
  o.top_p = c.top_p;
  o.max_new_tokens = c.max_tokens;
  o.samples = c.group_size;
  o.seed = c.seed;
  o.assistant_prefix = c.assistant_prefix;
  return o;
}

std::vector<Source> load_sources(const GrpoConfig& c, Store& store) {
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
    s.problems = std::move(suite.problems);
    s.dataset_id = store.upsert_dataset({0, s.info.name, s.info.version, suite.path, suite.sha256,
                                         static_cast<int64_t>(s.problems.size())});
    out.push_back(std::move(s));
  }
  for (auto& s : out) {
    s.config = harness::resolve_config(c.preset, s.info, sampling_overrides(c));
    s.grader = harness::make_grader(s.info, s.config);
    s.rewarder = std::make_unique<Rewarder>(s.grader, c.rewards);
    for (const auto& p : s.problems) {
      std::optional<std::string> gold = s.info.confidential ? std::nullopt : p.gold;
      s.problem_ids.push_back(store.upsert_problem({0, s.dataset_id, p.key, p.idx, gold, Json::object()}));
    }
  }
  return out;
}

// Curriculum: the problems whose solve rate in a stored eval run lies in [lo, hi].
std::vector<Task> pick_tasks(const GrpoConfig& c, const std::vector<Source>& sources, Store& store) {
  std::map<int64_t, std::pair<int64_t, int64_t>> solved;  // problem id -> (correct, graded)
  if (c.solve_rate) {
    auto run = store.find_run(c.from_run);
    if (!run) throw InputError("--from-run", c.from_run, "no such run in the store");
    for (const auto& s : store.run_samples(run->id)) {
      if (!s.correct) continue;
      auto& [ok, n] = solved[s.problem_id];
      ok += *s.correct ? 1 : 0;
      ++n;
    }
  }
  std::vector<Task> tasks;
  for (size_t si = 0; si < sources.size(); ++si) {
    for (size_t pi = 0; pi < sources[si].problems.size(); ++pi) {
      if (c.solve_rate) {
        auto it = solved.find(sources[si].problem_ids[pi]);
        if (it == solved.end()) continue;  // not in that run: no rate to select on
        const double rate = static_cast<double>(it->second.first) / static_cast<double>(it->second.second);
        if (rate < c.solve_rate->first || rate > c.solve_rate->second) continue;
      }
      tasks.push_back({si, pi});
    }
  }
  if (tasks.empty()) {
    throw InputError(c.solve_rate ? "--solve-rate" : "--suite/--prompts", "",
                     c.solve_rate ? "no problem of run " + c.from_run + " has a solve rate in that range"
                                  : "no problems to train on");
  }
  return tasks;
}

// ---- rollouts ------------------------------------------------------------------------------------------------

struct Rollout : TrainSequence {  // + prompt_ids, completion_ids, sampler_logp, finish, advantage, old/ref logp
  Task task;
  int64_t group = 0;  // index of its group in the step
  harness::BuiltPrompt prompt;
  std::string prompt_hash;
  std::string text;
  RewardTerms reward;
};

Sequences pointers(std::vector<Rollout>& rs) {
  Sequences out;
  for (auto& r : rs) out.push_back(&r);
  return out;
}

uint64_t mix(uint64_t a, uint64_t b) { return model::sample_seed(a, static_cast<int64_t>(b)); }
// A stable 64-bit key of a problem (std::hash differs between standard libraries; seeds must not).
uint64_t sha256_prefix64(const std::string& s) { return std::stoull(sha256_hex(s).substr(0, 16), nullptr, 16); }

// G samples of each task, seeded per (run seed, step, problem, sample). Choice suites permute the options per sample
// (as eval does), so their samples are separate requests; the others share one prefill per prompt.
std::vector<Rollout> generate(const GrpoConfig& c, model::GenerationModel& gm, model::Engine& engine,
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
    for (int64_t g = 0; g < c.group_size; ++g) {
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

void score(const GrpoConfig& c, const std::vector<Source>& sources, std::vector<Rollout>& rollouts) {
  for (auto& r : rollouts) {
    const auto& src = sources[r.task.source];
    r.reward = src.rewarder->score(src.problems[r.task.problem], r.prompt, r.text, r.finish,
                                   static_cast<int64_t>(r.completion_ids.size()), c.max_tokens);
  }
}

// DAPO dynamic sampling: keep groups whose rewards differ; returns how many groups were dropped.
int64_t drop_flat_groups(std::vector<Rollout>& rs, int64_t group_size) {
  std::vector<Rollout> kept;
  int64_t dropped = 0;
  for (size_t g = 0; g < rs.size(); g += static_cast<size_t>(group_size)) {
    bool flat = true;
    for (size_t i = g + 1; i < g + static_cast<size_t>(group_size); ++i)
      flat = flat && rs[i].reward.total == rs[g].reward.total;
    if (flat) {
      ++dropped;
      continue;
    }
    for (size_t i = g; i < g + static_cast<size_t>(group_size); ++i) kept.push_back(std::move(rs[i]));
  }
  rs = std::move(kept);
  return dropped;
}

void store_rollouts(Store& store, int64_t run_id, const std::vector<Source>& sources, const std::vector<Rollout>& rs,
                    int64_t step, std::map<int64_t, int64_t>& next_index) {
  std::vector<SampleRecord> batch;
  for (const auto& r : rs) {
    const auto& src = sources[r.task.source];
    SampleRecord s;
    s.run_id = run_id;
    s.problem_id = src.problem_ids[r.task.problem];
    s.sample_index = next_index[s.problem_id]++;
    s.prompt_hash = r.prompt_hash;
    s.completion = r.text;
    s.prompt_tokens = static_cast<int64_t>(r.prompt_ids.size());
    s.completion_tokens = static_cast<int64_t>(r.completion_ids.size());
    s.finish_reason = r.finish;
    harness::apply_grade(s, r.reward.outcome, r.prompt);
    s.detail["grpo"] = {{"step", step}, {"group", r.group}, {"advantage", r.advantage},
                        {"reward", r.reward.to_json()}};
    batch.push_back(std::move(s));
  }
  store.insert_samples(batch);
}

// Evaluates the saved step folder on the held-out suite exactly as `crucible eval --model DIR` would.
int64_t evaluate(const GrpoConfig& c, const std::string& folder, Store& store, int64_t step, Json& metrics) {
  harness::NativeBackendOptions bo;
  bo.model = folder;
  bo.device = c.device;
  bo.dtype = c.dtype;
  auto backend = harness::make_native_backend(bo);
  harness::EvalPlan plan;
  plan.name = (c.name.empty() ? std::string("train-grpo") : c.name) + "-step-" + std::to_string(step) + "-eval";
  plan.preset = "r1";
  plan.backend = harness::to_json(bo);
  harness::SuitePlan sp;
  sp.data = harness::load_suite(harness::find_suite(c.eval_suite), harness::resolve_data_dir(c.data_dir));
  if (c.eval_limit > 0 && static_cast<int64_t>(sp.data.problems.size()) > c.eval_limit)
    sp.data.problems.resize(c.eval_limit);
  harness::Overrides o;
  o.max_new_tokens = c.max_tokens;
  o.seed = c.seed;
  sp.config = harness::resolve_config("r1", sp.data.info, o);
  sp.grader = harness::make_grader(sp.data.info, sp.config);
  plan.suites.push_back(std::move(sp));
  auto summary = harness::run_eval(*backend, plan, store);
  metrics["eval_run_id"] = summary.run_id;
  if (!summary.suites.empty()) metrics["eval_pass1"] = summary.suites[0].pass1.value;
  return summary.run_id;
}

}  // namespace

GrpoResult run_grpo(const GrpoConfig& c, const std::string& db_path) {
  c.validate();
  const auto started = Clock::now();
  auto gm = model::load_generation_model({.path = c.model, .tokenizer = c.tokenizer, .device = c.device,
                                          .dtype = c.dtype, .trainable = true});
  model::Transformer& m = gm.model;
  model::Transformer ref{nullptr};  // beta = 0 loads no reference
  if (c.loss.beta != 0.0) {
    ref = model::load_generation_model({.path = c.model, .tokenizer = c.tokenizer, .device = c.device,
                                        .dtype = c.dtype, .chat_template = false, .hash_content = false})
              .model;
  }
  TrainRun run = TrainRun::start(db_path, {.kind = "train-grpo", .name = c.name, .model_path = gm.path,
                                           .model_format = gm.format, .model_hash = gm.content_hash,
                                           .model_config = gm.config, .config = c.to_json(),
                                           .seed = static_cast<int64_t>(c.seed), .total_steps = c.steps,
                                           .progress = c.progress});
  auto sources = load_sources(c, run.store());
  for (const auto& s : sources) run.store().link_run_dataset(run.id(), s.dataset_id);
  auto tasks = pick_tasks(c, sources, run.store());
  std::mt19937_64 order_rng(c.seed);
  std::shuffle(tasks.begin(), tasks.end(), order_rng);
  size_t next_task = 0;
  auto next_tasks = [&](int64_t n) {
    std::vector<Task> out;
    for (int64_t i = 0; i < n; ++i) {
      if (next_task == tasks.size()) {  // an epoch over the problems: reshuffle
        std::shuffle(tasks.begin(), tasks.end(), order_rng);
        next_task = 0;
      }
      out.push_back(tasks[next_task++]);
    }
    return out;
  };

  Optimizer opt(m, c.optim, c.steps);
  model::Engine engine(m, gm.tokenizer.get(), model::EngineOptions{c.max_batch, 0});
  const torch::Device device = gm.device;
  std::map<int64_t, int64_t> next_index;
  GrpoResult result;
  result.run_id = run.id();
  result.out_dir = c.out_dir;

  std::vector<Rollout> rollouts;
  Json rollout_metrics;
  for (int64_t step = 1; step <= c.steps && !TrainRun::stop_requested(); ++step) {
    const auto t0 = Clock::now();
    const bool fresh = (step - 1) % c.num_iterations == 0;  // mu optimizer steps per generation batch
    if (fresh) {
      // rollouts -> rewards (-> dynamic sampling refills) -> advantages
      rollouts = generate(c, gm, engine, sources, next_tasks(c.prompts_per_step), step, 0, 0);
      score(c, sources, rollouts);
      int64_t filtered = 0;
      if (c.dynamic_sampling) {
        std::vector<Rollout> kept;
        for (int64_t round = 0; round <= c.max_refill_rounds; ++round) {
          filtered += drop_flat_groups(rollouts, c.group_size);
          for (auto& r : rollouts) kept.push_back(std::move(r));
          const int64_t have = static_cast<int64_t>(kept.size()) / c.group_size;
          if (have >= c.prompts_per_step || round == c.max_refill_rounds) break;
          rollouts = generate(c, gm, engine, sources, next_tasks(c.prompts_per_step - have), step, round + 1, have);
          score(c, sources, rollouts);
        }
        rollouts = std::move(kept);
        if (rollouts.empty()) {
          log::warn("step {}: every group had equal rewards after {} refills; nothing to train on", step,
                    c.max_refill_rounds);
        }
      }
      std::vector<double> totals;
      for (const auto& r : rollouts) totals.push_back(r.reward.total);
      if (!rollouts.empty()) {
        auto adv = group_advantages(torch::tensor(totals, torch::kFloat64), c.group_size, c.scale_rewards);
        for (size_t i = 0; i < rollouts.size(); ++i) rollouts[i].advantage = adv[static_cast<int64_t>(i)].item<double>();
      }
      if (c.num_iterations > 1 || c.is_mode) score_logprobs(m, pointers(rollouts), c, device, &TrainSequence::old_logp);
      if (c.loss.beta != 0.0) score_logprobs(ref, pointers(rollouts), c, device, &TrainSequence::ref_logp);
      store_rollouts(run.store(), run.id(), sources, rollouts, step, next_index);

      double acc = 0, fmt_ok = 0, len = 0, trunc = 0, rsum = 0, rsq = 0;
      for (const auto& r : rollouts) {
        acc += r.reward.accuracy;
        fmt_ok += r.reward.format;
        len += static_cast<double>(r.completion_ids.size());
        trunc += r.finish == "length" ? 1 : 0;
        rsum += r.reward.total;
        rsq += r.reward.total * r.reward.total;
      }
      const double n = std::max<double>(1.0, static_cast<double>(rollouts.size()));
      rollout_metrics = {{"reward_mean", rsum / n},
                         {"reward_std", std::sqrt(std::max(0.0, rsq / n - (rsum / n) * (rsum / n)))},
                         {"accuracy", acc / n},
                         {"format_rate", fmt_ok / n},
                         {"response_len_mean", len / n},
                         {"truncated_frac", trunc / n},
                         {"filtered_groups", filtered},
                         {"seconds_rollout", since(t0)}};
    }
    const auto t1 = Clock::now();
    Json metrics = rollout_metrics;
    if (!fresh) metrics["seconds_rollout"] = 0.0;  // mu > 1: this step reuses the batch generated before
    UpdateStats u;
    if (!rollouts.empty()) u = accumulate_update(c, m, pointers(rollouts), device, fresh);
    auto st = opt.step();  // clip, AdamW, zero grads, refresh the engine's packed weights
    const auto& s = u.sums;
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    metrics.update({{"loss", u.loss},
                    {"lr", st.lr},
                    {"grad_norm", st.grad_norm},
                    {"tokens", s.tokens},
                    {"kl", ratio(s.kl_sum, s.tokens)},
                    {"entropy", ratio(s.entropy_sum, s.tokens)},
                    {"clip_frac", ratio(s.clip_region_sum, s.clip_count)},
                    {"clip_low_frac", ratio(s.clip_low_sum, s.clip_count)},
                    {"clip_high_frac", ratio(s.clip_high_sum, s.clip_count)},
                    {"seconds_update", since(t1)},
                    {"sequences_backward", u.sequences_backward},
                    {"sequences_skipped", u.sequences_skipped},
                    {"seconds", since(t0)}});
    if (fresh) {
      metrics["mismatch_abs_mean"] = ratio(u.mismatch_abs_sum, u.mismatch_tokens);
      metrics["mismatch_abs_max"] = u.mismatch_max;
      metrics["mismatch_kl"] = ratio(u.mismatch_k3_sum, u.mismatch_tokens);
    }
    const bool save = c.save_every > 0 && step % c.save_every == 0;
    const bool eval = c.eval_every > 0 && step % c.eval_every == 0;
    if (save || eval) {
      auto dir = save_checkpoint(m, step_dir(c.out_dir, step), {.tokenizer_source = c.model});
      run.add_checkpoint(dir, step);
      if (eval) evaluate(c, dir, run.store(), step, metrics);
    }
    run.log_step(step, metrics);
    if (step == 1) {
      result.first_reward = metrics.value("reward_mean", 0.0);
      result.first_accuracy = metrics.value("accuracy", 0.0);
    }
    result.last_reward = metrics.value("reward_mean", 0.0);
    result.last_accuracy = metrics.value("accuracy", 0.0);
    result.steps = step;
  }
  auto dir = save_checkpoint(m, c.out_dir, {.tokenizer_source = c.model});
  run.add_checkpoint(dir, result.steps);
  result.status = TrainRun::stop_requested() ? "interrupted" : "completed";
  run.finish(result.status);
  result.seconds = since(started);
  result.seconds_per_step = result.steps > 0 ? result.seconds / static_cast<double>(result.steps) : 0;
  return result;
}

}  // namespace crucible::trainer
