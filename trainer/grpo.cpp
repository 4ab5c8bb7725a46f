// GRPO: rollouts from the engine on the weights being trained (rollouts.h), rewards from eval's graders, the loss
// of grpo_loss.h. trainer/README.md walks one step. Shape legend: B sequences in a micro-batch, S their padded prompt
// + completion length, T padded completion length, N completion tokens of a micro-batch, D hidden size.
#include "trainer/grpo.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "harness/eval.h"
#include "harness/native_backend.h"
#include "kernels/torch/token_logprobs.h"
#include "model/engine.h"
#include "model/generation_model.h"
#include "reports/store.h"
#include "trainer/checkpoint.h"
#include "trainer/dist/comm.h"
#include "trainer/dist/reducer.h"
#include "trainer/dist/launch.h"
#include "trainer/dist/split.h"
#include "trainer/grpo_loss.h"
#include "trainer/grpo_update.h"
#include "trainer/optimizer.h"
#include "trainer/rollouts.h"
#include "trainer/run_log.h"

namespace crucible::trainer {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---- data: the problems a step draws from (rollouts.h loads them) -----------------------------------------------

RolloutConfig rollout_config(const GrpoConfig& c) {
  return {.suites = c.suites, .data_dir = c.data_dir, .limit = c.limit, .prompts_file = c.prompts_file,
          .preset = c.preset, .assistant_prefix = c.assistant_prefix, .seed = c.seed, .samples = c.group_size,
          .max_tokens = c.max_tokens, .min_tokens = c.min_tokens, .temperature = c.temperature, .top_p = c.top_p};
}

// Each source's reward function, beside it (rollouts.h's Source is GRPO-free).
std::vector<Rewarder> make_rewarders(const GrpoConfig& c, const std::vector<Source>& sources) {
  std::vector<Rewarder> out;
  for (const auto& s : sources) out.emplace_back(s.grader, c.rewards);
  return out;
}

// Curriculum: the problems whose solve rate in a stored eval run lies in [lo, hi].
// Rank 0 only (the curriculum reads its store); the other ranks receive the list (broadcast_tasks).
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

void score(const GrpoConfig& c, const std::vector<Source>& sources, const std::vector<Rewarder>& rewarders,
           std::vector<Rollout>& rollouts) {
  for (auto& r : rollouts) {
    const auto& src = sources[r.task.source];
    r.reward = rewarders[r.task.source].score(src.problems[r.task.problem], r.prompt, r.text, r.finish,
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

// Each rollout as the store keeps it, with GRPO's detail; gather_samples (rollouts.h) brings every rank's to rank 0.
std::vector<PendingSample> sample_records(const std::vector<Rollout>& rs, int64_t step) {
  std::vector<PendingSample> out;
  for (const auto& r : rs) {
    SampleRecord s = rollout_sample(r, r.reward.outcome);
    s.detail["grpo"] = {{"step", step}, {"group", r.group}, {"advantage", r.advantage},
                        {"reward", r.reward.to_json()}};
    out.push_back({r.task, std::move(s)});
  }
  return out;
}

// ---- several ranks ------------------------------------------------------------------------------------------

// Every rank's values laid end to end in rank order (each rank fills its slot of a zero vector; the sum adds zeros
// only, so it is exact). Returns the global vector and where this rank's part starts.
std::pair<std::vector<double>, size_t> all_gather_values(dist::Comm* comm, const std::vector<double>& mine) {
  if (!comm) return {mine, 0};
  std::vector<double> sizes(static_cast<size_t>(comm->world_size()), 0.0);
  sizes[static_cast<size_t>(comm->rank())] = static_cast<double>(mine.size());
  reduce_over_ranks(comm, sizes);
  size_t offset = 0, total = 0;
  for (int r = 0; r < comm->world_size(); ++r) {
    if (r < comm->rank()) offset += static_cast<size_t>(sizes[static_cast<size_t>(r)]);
    total += static_cast<size_t>(sizes[static_cast<size_t>(r)]);
  }
  std::vector<double> all(total, 0.0);
  std::copy(mine.begin(), mine.end(), all.begin() + static_cast<std::ptrdiff_t>(offset));
  reduce_over_ranks(comm, all);
  return {all, offset};
}

// Rank 0's task list on every rank: [count], then [source, problem] pairs.
std::vector<Task> broadcast_tasks(dist::Comm& comm, const std::vector<Task>& tasks) {
  std::vector<torch::Tensor> n{torch::tensor({static_cast<int64_t>(tasks.size())}, torch::kInt64)};
  comm.broadcast(n, 0);
  const int64_t count = n[0].item<int64_t>();
  std::vector<int64_t> flat;
  for (const auto& t : tasks) flat.insert(flat.end(), {static_cast<int64_t>(t.source), static_cast<int64_t>(t.problem)});
  flat.resize(static_cast<size_t>(2 * count), 0);
  std::vector<torch::Tensor> v{torch::tensor(flat, torch::kInt64)};
  comm.broadcast(v, 0);
  std::vector<Task> out;
  auto a = v[0].contiguous();
  for (int64_t i = 0; i < count; ++i)
    out.push_back({static_cast<size_t>(a[2 * i].item<int64_t>()), static_cast<size_t>(a[2 * i + 1].item<int64_t>())});
  return out;
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
  if (c.threads > 0) torch::set_num_threads(c.threads);
  const auto started = Clock::now();
  // Data parallel (trainer/README.md, "Past one process"): each rank generates, grades and trains on its own
  // groups; comm is nullptr for one process.
  const auto denv = dist::dist_env();
  auto gm = model::load_generation_model({.path = c.model, .tokenizer = c.tokenizer,
                                          .device = dist::rank_device(c.device, denv), .dtype = c.dtype,
                                          .trainable = true});
  model::Transformer& m = gm.model;
  model::Transformer ref{nullptr};  // beta = 0 loads no reference
  if (c.loss.beta != 0.0) {
    ref = model::load_generation_model({.path = c.model, .tokenizer = c.tokenizer, .device = gm.device.str(),
                                        .dtype = c.dtype, .chat_template = false, .hash_content = false})
              .model;
  }
  auto comm = dist::Comm::open(denv, gm.device, std::chrono::seconds(c.dist_timeout_s));
  const bool lead = !comm || comm->rank() == 0;  // writes the store and the folders
  if (!lead) dist::install_sigint_flag();
  Json config = c.to_json();
  config["resolved"] = {{"world_size", denv.world_size}, {"launcher", denv.source},
                        {"backend", comm ? comm->backend_name() : "none"}, {"device", gm.device.str()}};
  std::optional<TrainRun> run;
  if (lead)
    run.emplace(TrainRun::start(db_path, {.kind = "train-grpo", .name = c.name, .model_path = gm.path,
                                          .model_format = gm.format, .model_hash = gm.content_hash,
                                          .model_config = gm.config, .config = config,
                                          .seed = static_cast<int64_t>(c.seed), .total_steps = c.steps,
                                          .progress = c.progress}));
  const RolloutConfig rc = rollout_config(c);
  auto sources = load_sources(rc, run ? &run->store() : nullptr);
  const auto rewarders = make_rewarders(c, sources);
  if (run)
    for (const auto& s : sources) run->store().link_run_dataset(run->id(), s.dataset_id);
  std::vector<Task> tasks;
  if (run) tasks = pick_tasks(c, sources, run->store());
  if (comm) tasks = broadcast_tasks(*comm, tasks);
  TaskCursor order(std::move(tasks), c.seed);  // drawn(): the data cursor a resumed run replays
  auto next_tasks = [&](int64_t n) { return order.next(n); };

  Optimizer opt(m, c.optim, c.steps, c.shard ? comm.get() : nullptr);
  std::vector<torch::Tensor> params;
  for (auto& p : m->parameters())
    if (p.requires_grad()) params.push_back(p);
  if (comm) dist::broadcast_parameters(*comm, params);
  // The gradient sum (all-reduce, or with --shard reduce-scatter), overlapped with each step's last backward. The
  // losses carry the global normalisers already (scale 1).
  std::optional<dist::GradReducer> reducer;
  if (comm)
    reducer.emplace(*comm, params,
                    c.shard ? dist::GradReducer::Mode::reduce_scatter : dist::GradReducer::Mode::all_reduce);
  const CheckpointConfig ckpt{.tokenizer_source = c.model};
  // Resume: weights, AdamW state and schedule position from the step folder; the problem order is replayed to the
  // saved cursor (it is a function of the data and the seed); every rollout's seed is a function of (seed, step,
  // problem, sample), so the steps that follow sample what the uninterrupted run sampled.
  int64_t first_step = 1;
  if (auto dir = find_resume_folder(c.out_dir, c.resume)) {
    auto st = load_resume_folder(m, opt.adamw(), *dir, denv.rank, denv.world_size, opt.sharded());
    if (st.value("total_steps", int64_t{-1}) != c.steps || st.value("seed", uint64_t{0}) != c.seed)
      throw InputError(*dir + "/trainer_state/state.json", "total_steps",
                       "saved by a run of " + std::to_string(st.value("total_steps", int64_t{-1})) + " steps (seed " +
                           std::to_string(st.value("seed", uint64_t{0})) + "); this one runs " +
                           std::to_string(c.steps) + " (seed " + std::to_string(c.seed) +
                           "): resume with the same data and flags");
    const int64_t done = st.at("step").get<int64_t>();
    next_tasks(st.at("tasks_drawn").get<int64_t>());
    opt.set_steps_done(done);
    first_step = done + 1;
    if (lead) log::info("resuming from {} (step {} of {})", *dir, done, c.steps);
    if (run) {
      config["resolved"]["resumed_from"] = *dir;
      run->update_config(config);
    }
  }
  if (m->times_packed() > 0) m->refresh_inference_weights();  // after the broadcast / the resumed weights
  model::Engine engine(m, gm.tokenizer.get(), model::EngineOptions{c.max_batch, 0});
  const torch::Device device = gm.device;
  std::map<int64_t, int64_t> next_index;
  GrpoResult result;
  result.rank = comm ? comm->rank() : 0;
  result.run_id = run ? run->id() : 0;
  result.out_dir = c.out_dir;
  BadStepStreak bad_steps(c.max_bad_steps);

  std::vector<Rollout> rollouts;  // this rank's groups of the generation batch
  StepCounts counts;              // the whole batch's (all ranks)
  Json rollout_metrics;
  bool stop = false;
  for (int64_t step = first_step; step <= c.steps && !stop; ++step) {
    const auto t0 = Clock::now();
    const bool fresh = (step - 1) % c.num_iterations == 0;  // mu optimizer steps per generation batch
    if (fresh) {
      // rollouts -> rewards (-> dynamic sampling refills) -> advantages
      auto [mine, first_group] = my_groups(comm.get(), next_tasks(c.prompts_per_step));
      rollouts = sample_rollouts(rc, gm, engine, sources, mine, step, 0, first_group);
      score(c, sources, rewarders, rollouts);
      std::vector<double> filtered{0.0};
      if (c.dynamic_sampling) {
        std::vector<Rollout> kept;
        for (int64_t round = 0; round <= c.max_refill_rounds; ++round) {
          filtered[0] += static_cast<double>(drop_flat_groups(rollouts, c.group_size));
          for (auto& r : rollouts) kept.push_back(std::move(r));
          std::vector<double> have{static_cast<double>(kept.size() / static_cast<size_t>(c.group_size))};
          reduce_over_ranks(comm.get(), have);  // groups kept on every rank: the refill is global
          const auto n = static_cast<int64_t>(have[0]);
          if (n >= c.prompts_per_step || round == c.max_refill_rounds) break;
          auto [more, first] = my_groups(comm.get(), next_tasks(c.prompts_per_step - n));
          rollouts = sample_rollouts(rc, gm, engine, sources, more, step, round + 1, n + first);
          score(c, sources, rewarders, rollouts);
        }
        rollouts = std::move(kept);
      }
      reduce_over_ranks(comm.get(), filtered);
      // Advantages over the whole batch's rewards (scale batch needs every rank's; group scaling is per group),
      // then this rank's slice: what one process computes.
      std::vector<double> totals;
      for (const auto& r : rollouts) totals.push_back(r.reward.total);
      auto [all, offset] = all_gather_values(comm.get(), totals);
      if (all.empty() && lead) {
        log::warn("step {}: every group had equal rewards after {} refills; nothing to train on", step,
                  c.max_refill_rounds);
      }
      if (!all.empty()) {
        auto adv = group_advantages(torch::tensor(all, torch::kFloat64), c.group_size, c.scale_rewards);
        for (size_t i = 0; i < rollouts.size(); ++i)
          rollouts[i].advantage = adv[static_cast<int64_t>(offset + i)].item<double>();
      }
      if (c.num_iterations > 1 || c.is_mode) score_logprobs(m, pointers(rollouts), c, device, &TrainSequence::old_logp);
      if (c.loss.beta != 0.0) score_logprobs(ref, pointers(rollouts), c, device, &TrainSequence::ref_logp);
      counts = step_counts(c, pointers(rollouts));
      std::vector<double> cv{static_cast<double>(counts.sequences), counts.tokens,
                             static_cast<double>(counts.micro_batches)};
      reduce_over_ranks(comm.get(), cv);  // TRL: num_items_in_batch gathered; DDP averages over the ranks
      counts = {static_cast<int64_t>(cv[0]), cv[1], std::max<int64_t>(1, static_cast<int64_t>(cv[2]))};
      // Rank 0 stores every rank's rollouts, in rank order (the one-process order).
      auto records = sample_records(rollouts, step);
      gather_samples(comm.get(), records);
      if (run) store_samples(run->store(), run->id(), sources, records, next_index);

      std::vector<double> sums(7, 0.0);  // accuracy, format, length, truncated, reward, reward^2, rollouts
      for (const auto& r : rollouts) {
        sums[0] += r.reward.accuracy;
        sums[1] += r.reward.format;
        sums[2] += static_cast<double>(r.completion_ids.size());
        sums[3] += r.finish == "length" ? 1 : 0;
        sums[4] += r.reward.total;
        sums[5] += r.reward.total * r.reward.total;
        sums[6] += 1;
      }
      reduce_over_ranks(comm.get(), sums);
      const double n = std::max<double>(1.0, sums[6]);
      rollout_metrics = {{"reward_mean", sums[4] / n},
                         {"reward_std", std::sqrt(std::max(0.0, sums[5] / n - (sums[4] / n) * (sums[4] / n)))},
                         {"accuracy", sums[0] / n},
                         {"format_rate", sums[1] / n},
                         {"response_len_mean", sums[2] / n},
                         {"truncated_frac", sums[3] / n},
                         {"filtered_groups", static_cast<int64_t>(filtered[0])},
                         {"seconds_rollout", since(t0)}};
    }
    const auto t1 = Clock::now();
    Json metrics = rollout_metrics;
    if (!fresh) metrics["seconds_rollout"] = 0.0;  // mu > 1: this step reuses the batch generated before
    UpdateStats u;
    if (reducer) reducer->begin_step(1.0);
    inject_test_nan(params, step, result.rank);  // before backward: the NaN rides the all-reduce
    BackwardHooks hooks;
    if (reducer) hooks = reducer->hooks();
    if (!rollouts.empty()) u = accumulate_update(c, m, pointers(rollouts), counts, device, fresh, hooks);
    else if (hooks.plan) hooks.plan(0);  // the ranks agree on their backward passes even when this one has none
    if (reducer) reducer->finish();
    auto& s = u.sums;
    // Every rank's share: the loss terms are already normalised by the global counts, so they add up.
    std::vector<double> sum{u.loss, s.tokens, s.kl_sum, s.entropy_sum, s.clip_count, s.clip_low_sum,
                            s.clip_high_sum, s.clip_region_sum, u.mismatch_abs_sum, u.mismatch_k3_sum,
                            u.mismatch_tokens, static_cast<double>(u.sequences_backward),
                            static_cast<double>(u.sequences_skipped),
                            TrainRun::stop_requested() || dist::sigint_received() ? 1.0 : 0.0};
    std::vector<double> mx{u.mismatch_max};
    reduce_over_ranks(comm.get(), sum);
    reduce_over_ranks(comm.get(), mx, /*max=*/true);
    stop = sum[13] > 0;
    // clip, AdamW, zero grads, refresh the engine's packed weights
    auto st = opt.step(reducer ? reducer->take_slice_gradient() : torch::Tensor());
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    metrics.update({{"loss", sum[0]},
                    {"lr", st.lr},
                    {"grad_norm", st.grad_norm},
                    {"skipped", st.skipped},
                    {"tokens", sum[1]},
                    {"kl", ratio(sum[2], sum[1])},
                    {"entropy", ratio(sum[3], sum[1])},
                    {"clip_frac", ratio(sum[7], sum[4])},
                    {"clip_low_frac", ratio(sum[5], sum[4])},
                    {"clip_high_frac", ratio(sum[6], sum[4])},
                    {"seconds_update", since(t1)},
                    {"sequences_backward", static_cast<int64_t>(sum[11])},
                    {"sequences_skipped", static_cast<int64_t>(sum[12])},
                    {"seconds", since(t0)}});
    if (fresh) {
      metrics["mismatch_abs_mean"] = ratio(sum[8], sum[10]);
      metrics["mismatch_abs_max"] = mx[0];
      metrics["mismatch_kl"] = ratio(sum[9], sum[10]);
    }
    if (!std::isfinite(st.grad_norm)) {
      metrics["grad_norm"] = nullptr;  // JSON has no NaN
      if (lead) log::warn("step {}: non-finite gradient norm; the update is skipped", step);
    }
    const bool save = c.save_every > 0 && step % c.save_every == 0;
    const bool eval = c.eval_every > 0 && step % c.eval_every == 0;
    if (save && step % c.num_iterations == 0 && !c.save_only_model) {
      // A resumable folder at a generation boundary (mu > 1 in the middle of a batch: the HF folder only).
      const auto dir = step_dir(c.out_dir, step);
      save_resume_folder(m, opt.adamw(), dir, ckpt,
                         {{"step", step}, {"total_steps", c.steps}, {"seed", c.seed}, {"tasks_drawn", order.drawn()}},
                         comm.get(), opt.sharded());
      if (run) {
        run->add_checkpoint(dir, step);
        prune_step_folders(c.out_dir, c.keep_last);
      }
    } else if ((save || eval) && run) {
      run->add_checkpoint(save_checkpoint(m, step_dir(c.out_dir, step), ckpt), step);
      if (c.save_only_model) prune_step_folders(c.out_dir, c.keep_last, true);
    }
    if (eval && run) evaluate(c, step_dir(c.out_dir, step), run->store(), step, metrics);  // rank 0 only
    if (run) run->log_step(step, metrics);
    if (step == first_step) {
      result.first_reward = metrics.value("reward_mean", 0.0);
      result.first_accuracy = metrics.value("accuracy", 0.0);
    }
    result.last_reward = metrics.value("reward_mean", 0.0);
    result.last_accuracy = metrics.value("accuracy", 0.0);
    result.steps = step;
    if (auto err = bad_steps.record(st, step)) {  // every rank stops at the same step (the norm is global)
      if (run) run->finish("failed");
      if (comm) comm->barrier();  // rank 0 has marked the run before any rank exits
      throw RunError(*err);
    }
  }
  if (run) {
    auto dir = save_checkpoint(m, c.out_dir, ckpt);
    run->add_checkpoint(dir, result.steps);
  }
  result.status = stop ? "interrupted" : "completed";
  if (run) run->finish(result.status);
  log_rank_memory(result.rank, opt);
  if (reducer) log::info("rank {}: {}", result.rank, reducer->describe());
  result.seconds = since(started);
  result.seconds_per_step = result.steps > 0 ? result.seconds / static_cast<double>(result.steps) : 0;
  // No rank leaves before rank 0 has written the final folder: a launcher that sees every rank exit takes the run
  // as done.
  if (comm) comm->barrier();
  return result;
}

}  // namespace crucible::trainer
