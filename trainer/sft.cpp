#include "trainer/sft.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "model/generation_model.h"
#include "trainer/checkpoint.h"
#include "trainer/dist/comm.h"
#include "trainer/dist/launch.h"
#include "trainer/dist/reducer.h"
#include "trainer/dist/split.h"
#include "trainer/optimizer.h"
#include "trainer/run_log.h"
#include "trainer/sft_data.h"
#include "trainer/sft_step.h"

namespace crucible::trainer {
namespace fs = std::filesystem;

void SftConfig::validate() const {
  auto need = [](bool ok, const char* flag, const std::string& what) {
    if (!ok) throw InputError("train sft", flag, what);
  };
  need(!model.empty(), "--model", "required");
  need(!data.empty(), "--data", "required");
  need(!out.empty(), "--out", "required");
  need(steps >= 0, "--steps", "must be >= 0");
  need(steps > 0 || epochs > 0, "--epochs", "must be > 0 (or give --steps)");
  need(batch_tokens >= 1, "--batch-tokens", "must be >= 1");
  need(max_seq_len >= 2, "--max-seq-len", "must be >= 2");
  need(micro_batch_tokens == 0 || micro_batch_tokens >= 2, "--micro-batch-tokens", "must be >= 2 (0: --max-seq-len)");
  need(save_every >= 0, "--save-every", "must be >= 0");
  need(keep_last >= 0, "--keep-last", "must be >= 0");
  need(!(save_only_model && !resume.empty()), "--resume",
       "cannot resume with --save-only-model (its step folders hold no optimizer state)");
  need(save_dtype == "float32" || save_dtype == "bfloat16", "--save-dtype", "must be float32 or bfloat16");
  need(threads >= 0, "--threads", "must be >= 0");
  need(dist_timeout_s >= 1, "--dist-timeout", "must be >= 1 second");
  need(kd_alpha >= 0 && kd_alpha <= 1, "--kd-alpha", "must be in [0, 1]");
  need(max_bad_steps >= 1, "--max-bad-steps", "must be >= 1");
  optim.validate("train sft");
}

nlohmann::json SftConfig::to_json() const {
  return {{"model", model},
          {"tokenizer", tokenizer},
          {"data", data},
          {"out", out},
          {"steps", steps},
          {"epochs", epochs},
          {"seed", seed},
          {"batch_tokens", batch_tokens},
          {"max_seq_len", max_seq_len},
          {"micro_batch_tokens", row_tokens()},
          {"packing", packing},
          {"grad_checkpointing", grad_checkpointing},
          {"save_every", save_every},
          {"keep_last", keep_last},
          {"save_only_model", save_only_model},
          {"resume", resume},
          {"save_dtype", save_dtype},
          {"device", device},
          {"bf16_autocast", bf16_autocast},
          {"threads", threads},
          {"run_name", run_name},
          {"dist_timeout_s", dist_timeout_s},
          {"max_bad_steps", max_bad_steps},
          {"shard", shard},
          {"optim", optim.to_json()},
          {"kd_alpha", kd_alpha}};
}


namespace {

// One step's forward/backward on this rank's share of the global batch, then the reductions that make every rank
// hold what one process would: the gradient of the global batch's mean NLL, and the step's metrics summed.
// accumulate_batch divides this rank's NLL by its own target count t_r; scaling the gradient by t_r / T (T: the
// global count) before the sum makes it the global mean. Every rank plans the same global batch, so T is known
// before any backward without a message, and the reducer sums each bucket as the last row's backward fills it.
// Any rank's SIGINT stops every rank after this step (the flag rides on the metrics' reduction).
StepOutcome data_parallel_batch(dist::Comm& comm, dist::GradReducer& reducer, model::Transformer& model,
                                const std::vector<SftExample>& data, const std::vector<size_t>& batch,
                                const SftRowOptions& rows, const std::vector<torch::Tensor>& params, int64_t step,
                                bool* stop) {
  std::vector<int64_t> cost;
  for (size_t i : batch) cost.push_back(static_cast<int64_t>(data[i].ids.size()));
  std::vector<size_t> mine;
  for (size_t j : dist::balanced_share(cost, comm.rank(), comm.world_size())) mine.push_back(batch[j]);
  int64_t global_targets = 0, own_targets = 0;
  for (size_t i : batch) global_targets += data[i].targets();
  for (size_t i : mine) own_targets += data[i].targets();
  const double total = static_cast<double>(global_targets);
  reducer.begin_step(total > 0 ? static_cast<double>(own_targets) / total : 0.0);
  inject_test_nan(params, step, comm.rank());  // before backward: the NaN rides the all-reduce
  auto o = accumulate_batch(model, data, mine, rows, reducer.hooks());
  reducer.finish();
  // [targets, loss * targets, tokens, rows, stop]: float64 holds these counts exactly.
  std::vector<torch::Tensor> m{torch::tensor({static_cast<double>(o.targets), o.loss * static_cast<double>(o.targets),
                                              static_cast<double>(o.tokens), static_cast<double>(o.rows),
                                              TrainRun::stop_requested() || dist::sigint_received() ? 1.0 : 0.0},
                                             torch::kFloat64)};
  comm.all_reduce_sum(m);
  auto v = m[0];
  if (v[0].item<double>() != total)  // the ranks' shares must partition the batch
    throw std::logic_error("data_parallel_batch: the ranks' target counts do not sum to the batch's");
  StepOutcome g;
  g.targets = global_targets;
  g.loss = total > 0 ? v[1].item<double>() / total : 0.0;
  g.tokens = static_cast<int64_t>(v[2].item<double>());
  g.rows = static_cast<int64_t>(v[3].item<double>());
  *stop = v[4].item<double>() > 0;
  return g;
}

}  // namespace

SftResult run_sft(const SftConfig& c, const std::string& db_path) {
  c.validate();
  if (c.threads > 0) torch::set_num_threads(c.threads);
  const auto denv = dist::dist_env();
  const int64_t rss_before_load = resident_bytes();  // the baseline of log_rank_memory's figure for --dry-run's plan
  model::LoadOptions lo;
  lo.path = c.model;
  lo.tokenizer = c.tokenizer;
  lo.device = dist::rank_device(c.device, denv);
  lo.dtype = "float32";  // master weights; bf16 only inside autocast
  lo.trainable = true;
  auto gm = model::load_generation_model(lo);
  auto model = gm.model;
  model->train();
  const bool autocast = c.bf16_autocast && model->device().is_cuda();
  // Data parallel (trainer/README.md, "Past one process"): nullptr for one process.
  auto comm = dist::Comm::open(denv, model->device(), std::chrono::seconds(c.dist_timeout_s));
  const bool lead = !comm || comm->rank() == 0;  // writes the store and the checkpoints
  if (!lead) dist::install_sigint_flag();
  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters())
    if (p.requires_grad()) params.push_back(p);
  if (comm) dist::broadcast_parameters(*comm, params);
  log_memory("load, world size", denv.world_size);
  // The gradient sum, overlapped with each step's last backward: all-reduced, or with --shard reduce-scattered (each
  // rank keeps its slice's gradient only).
  std::optional<dist::GradReducer> reducer;
  if (comm)
    reducer.emplace(*comm, params,
                    c.shard ? dist::GradReducer::Mode::reduce_scatter : dist::GradReducer::Mode::all_reduce);

  SftDataStats ds;
  auto data = load_sft_data(c.data, *gm.tokenizer, gm.chat_template ? &*gm.chat_template : nullptr, c.max_seq_len, &ds);
  auto plan = plan_batches(data, c.batch_tokens, c.steps, c.epochs, c.seed);
  if (lead)
    log::info("{}: {} records, {} used ({} truncated, {} dropped), {} tokens, {} completion tokens; {} steps",
              c.data, ds.records, data.size(), ds.truncated, ds.dropped, ds.tokens, ds.targets, plan.size());

  auto config = c.to_json();
  config["resolved"] = {{"total_steps", plan.size()}, {"warmup_steps", c.optim.warmup_steps(static_cast<int64_t>(plan.size()))},
                        {"records", ds.records}, {"examples", data.size()}, {"dropped", ds.dropped},
                        {"truncated", ds.truncated}, {"autocast_bf16", autocast}, {"device", model->device().str()},
                        {"world_size", denv.world_size}, {"launcher", denv.source},
                        {"backend", comm ? comm->backend_name() : "none"}};
  std::optional<TrainRun> run;
  if (lead)
    run.emplace(TrainRun::start(db_path, {"train-sft", c.run_name, c.model, gm.format, gm.content_hash, gm.config,
                                          config, static_cast<int64_t>(c.seed), static_cast<int64_t>(plan.size())}));
  Optimizer opt(model, c.optim, static_cast<int64_t>(plan.size()), c.shard ? comm.get() : nullptr);
  const CheckpointConfig ckpt{c.tokenizer.empty() ? c.model : c.tokenizer, c.save_dtype};
  // Resume: weights, AdamW state, schedule position and RNG from the step folder; the data cursor is the step (the
  // plan is a function of the data, the seed and the flags, which must be the same).
  size_t first = 0;
  if (auto dir = find_resume_folder(c.out, c.resume)) {
    auto st = load_resume_folder(model, opt.adamw(), *dir, denv.rank, denv.world_size, opt.sharded());
    if (st.value("total_steps", int64_t{-1}) != static_cast<int64_t>(plan.size()) || st.value("seed", uint64_t{0}) != c.seed)
      throw InputError(*dir + "/trainer_state/state.json", "total_steps",
                       "saved by a run of " + std::to_string(st.value("total_steps", int64_t{-1})) +
                           " steps (seed " + std::to_string(st.value("seed", uint64_t{0})) + "); this one plans " +
                           std::to_string(plan.size()) + " (seed " + std::to_string(c.seed) +
                           "): resume with the same data and flags");
    first = st.at("step").get<size_t>();
    opt.set_steps_done(static_cast<int64_t>(first));
    if (lead) log::info("resuming from {} (step {} of {})", *dir, first, plan.size());
    if (run) {
      config["resolved"]["resumed_from"] = *dir;
      run->update_config(config);
    }
  }

  const SftRowOptions rows{c.row_tokens(), c.packing, c.grad_checkpointing, autocast, c.kd_alpha};

  SftResult res;
  res.rank = comm ? comm->rank() : 0;
  res.run_id = run ? run->id() : 0;
  bool stop = false;
  BadStepStreak bad_steps(c.max_bad_steps);
  for (size_t k = first; k < plan.size() && !stop; ++k) {
    const int64_t step = static_cast<int64_t>(k) + 1;
    const auto t0 = std::chrono::steady_clock::now();
    StepOutcome o;
    if (!comm) {
      inject_test_nan(params, step, 0);
      o = accumulate_batch(model, data, plan[k], rows);
      stop = TrainRun::stop_requested();
    } else {
      o = data_parallel_batch(*comm, *reducer, model, data, plan[k], rows, params, step, &stop);
    }
    log_memory("gradients of step", step);
    auto s = opt.step(reducer ? reducer->take_slice_gradient() : torch::Tensor());
    log_memory("optimizer step", step);
    if (s.skipped && lead) log::warn("step {}: non-finite gradient norm; the update is skipped", step);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (run)
      run->log_step(step, {{"loss", o.loss}, {"lr", s.lr}, {"grad_norm", s.grad_norm}, {"tokens", o.tokens},
                           {"seconds", secs}, {"targets", o.targets}, {"rows", o.rows}, {"examples", plan[k].size()},
                           {"skipped", s.skipped}});
    if (auto err = bad_steps.record(s, step)) {  // every rank stops at the same step (the norm is global)
      if (run) run->finish("failed");
      if (comm) comm->barrier();  // rank 0 has marked the run before any rank exits
      throw RunError(*err);
    }
    if (k == first) res.first_loss = o.loss;
    res.last_loss = o.loss;
    res.tokens += o.tokens;
    res.seconds += secs;
    res.steps = step;
    if (c.save_every > 0 && step % c.save_every == 0 && k + 1 < plan.size()) {
      const auto dir = step_dir(c.out, step);
      if (c.save_only_model) {
        if (lead) save_checkpoint(model, dir, ckpt);
        if (comm) comm->barrier();
      } else {
        save_resume_folder(model, opt.adamw(), dir, ckpt,
                           {{"step", step}, {"total_steps", plan.size()}, {"seed", c.seed}}, comm.get(), opt.sharded());
      }
      if (run) {
        run->add_checkpoint(dir, step);
        prune_step_folders(c.out, c.keep_last, c.save_only_model);
      }
    }
  }
  res.out_dir = c.out;
  if (lead) {
    res.out_dir = save_checkpoint(model, c.out, ckpt);
    run->add_checkpoint(res.out_dir, res.steps);
  }
  res.status = stop ? "interrupted" : "completed";
  if (run) run->finish(res.status);
  log_rank_memory(res.rank, opt, rss_before_load);
  if (reducer) log::info("rank {}: {}", res.rank, reducer->describe());
  // No rank leaves before rank 0 has written the final folder: a launcher that sees every rank exit takes the run
  // as done.
  if (comm) comm->barrier();
  return res;
}

}  // namespace crucible::trainer
