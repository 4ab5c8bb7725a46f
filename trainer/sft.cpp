#include "trainer/sft.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "model/generation_model.h"
#include "trainer/checkpoint.h"
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
  need(save_every >= 0, "--save-every", "must be >= 0");
  need(save_dtype == "float32" || save_dtype == "bfloat16", "--save-dtype", "must be float32 or bfloat16");
  need(threads >= 0, "--threads", "must be >= 0");
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
          {"packing", packing},
          {"grad_checkpointing", grad_checkpointing},
          {"save_every", save_every},
          {"save_dtype", save_dtype},
          {"device", device},
          {"bf16_autocast", bf16_autocast},
          {"threads", threads},
          {"run_name", run_name},
          {"optim", optim.to_json()}};
}


SftResult run_sft(const SftConfig& c, const std::string& db_path) {
  c.validate();
  if (c.threads > 0) torch::set_num_threads(c.threads);
  model::LoadOptions lo;
  lo.path = c.model;
  lo.tokenizer = c.tokenizer;
  lo.device = c.device;
  lo.dtype = "float32";  // master weights; bf16 only inside autocast
  lo.trainable = true;
  auto gm = model::load_generation_model(lo);
  auto model = gm.model;
  model->train();
  const bool autocast = c.bf16_autocast && model->device().is_cuda();

  SftDataStats ds;
  auto data = load_sft_data(c.data, *gm.tokenizer, gm.chat_template ? &*gm.chat_template : nullptr, c.max_seq_len, &ds);
  auto plan = plan_batches(data, c.batch_tokens, c.steps, c.epochs, c.seed);
  log::info("{}: {} records, {} used ({} truncated, {} dropped), {} tokens, {} completion tokens; {} steps",
            c.data, ds.records, data.size(), ds.truncated, ds.dropped, ds.tokens, ds.targets, plan.size());

  auto config = c.to_json();
  config["resolved"] = {{"total_steps", plan.size()}, {"warmup_steps", c.optim.warmup_steps(static_cast<int64_t>(plan.size()))},
                        {"records", ds.records}, {"examples", data.size()}, {"dropped", ds.dropped},
                        {"truncated", ds.truncated}, {"autocast_bf16", autocast}, {"device", model->device().str()}};
  TrainRun run = TrainRun::start(db_path, {"train-sft", c.run_name, c.model, gm.format, gm.content_hash, gm.config,
                                           config, static_cast<int64_t>(c.seed), static_cast<int64_t>(plan.size())});
  Optimizer opt(model, c.optim, static_cast<int64_t>(plan.size()));
  const CheckpointConfig ckpt{c.tokenizer.empty() ? c.model : c.tokenizer, c.save_dtype};

  const SftRowOptions rows{c.max_seq_len, c.packing, c.grad_checkpointing, autocast};

  SftResult res;
  res.run_id = run.id();
  for (size_t k = 0; k < plan.size() && !TrainRun::stop_requested(); ++k) {
    const int64_t step = static_cast<int64_t>(k) + 1;
    const auto t0 = std::chrono::steady_clock::now();
    auto o = accumulate_batch(model, data, plan[k], rows);
    auto s = opt.step();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    run.log_step(step, {{"loss", o.loss}, {"lr", s.lr}, {"grad_norm", s.grad_norm}, {"tokens", o.tokens},
                        {"seconds", secs}, {"targets", o.targets}, {"rows", o.rows}, {"examples", plan[k].size()},
                        {"skipped", s.skipped}});
    if (k == 0) res.first_loss = o.loss;
    res.last_loss = o.loss;
    res.tokens += o.tokens;
    res.seconds += secs;
    res.steps = step;
    if (c.save_every > 0 && step % c.save_every == 0 && k + 1 < plan.size())
      run.add_checkpoint(save_checkpoint(model, step_dir(c.out, step), ckpt), step);
  }
  res.out_dir = save_checkpoint(model, c.out, ckpt);
  run.add_checkpoint(res.out_dir, res.steps);
  res.status = TrainRun::stop_requested() ? "interrupted" : "completed";
  run.finish(res.status);
  return res;
}

}  // namespace crucible::trainer
