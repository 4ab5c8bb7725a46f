// On-policy distillation: onpolicy.h. trainer/distill/README.md walks one step.
// Shape legend: N completion tokens of a micro-batch, D hidden size, V vocabulary.
#include "trainer/distill/onpolicy.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "harness/teacher_scorer.h"
#include "model/engine.h"
#include "model/generation_model.h"
#include "reports/store.h"
#include "trainer/backward_hooks.h"
#include "trainer/checkpoint.h"
#include "trainer/dist/comm.h"
#include "trainer/dist/env.h"
#include "trainer/dist/launch.h"
#include "trainer/dist/reducer.h"
#include "trainer/distill/losses.h"
#include "trainer/optimizer.h"
#include "trainer/rollouts.h"
#include "trainer/run_log.h"

namespace crucible::distill {

using trainer::Rollout;
namespace dist = trainer::dist;

OnPolicyConfig default_onpolicy_config() {
  OnPolicyConfig c;
  c.optim.lr = 1e-6;  // TRL DistillationConfig
  c.optim.schedule = "linear";  // transformers' default lr_scheduler_type
  c.optim.warmup = 0;
  return c;
}

void OnPolicyConfig::validate() const {
  auto bad = [](const char* flag, const std::string& why) { throw InputError("command line", flag, why); };
  if (student.empty()) bad("--student", "required");
  if (teacher.empty() == endpoint.empty())
    bad("--teacher/--endpoint", "give either --teacher PATH (in-process) or --endpoint URL --api-model NAME (served)");
  if (teacher_top_k < -1) bad("--teacher-top-k", "must be >= 0 (0: the full vocabulary, a native teacher only)");
  if (!endpoint.empty()) {
    if (api_model.empty()) bad("--api-model", "required with --endpoint: the server's model name (GET /v1/models)");
    if (!teacher_tokenizer.empty()) bad("--teacher-tokenizer", "only with --teacher: a served teacher has its own");
    if (top_k() < 1)
      bad("--teacher-top-k", "must be >= 1 with --endpoint: a served teacher gives its top-K, not the full vocabulary");
    if (concurrency < 1) bad("--concurrency", "must be >= 1");
    if (!(request_timeout_s > 0)) bad("--request-timeout", "must be > 0 (seconds)");
    if (max_retries < 0) bad("--max-retries", "must be >= 0");
  }
  if (top_k() > 0 && temperature != 1.0) {
    bad("--temperature", fmt::format("{} with a top-K teacher (--endpoint or --teacher-top-k): must be 1; the teacher's "
                                     "logprobs are at temperature 1, and a tempered teacher's rest mass cannot be "
                                     "known from its top K",
                                     temperature));
  }
  if (suites.empty() && prompts_file.empty()) bad("--suite/--prompts", "one of them is required");
  if (!suites.empty() && !prompts_file.empty()) bad("--suite/--prompts", "give one of them, not both");
  if (out_dir.empty()) bad("--out", "required");
  if (steps < 1) bad("--steps", "must be >= 1");
  if (prompts_per_step < 1) bad("--prompts-per-step", "must be >= 1");
  if (samples < 1) bad("--samples", "must be >= 1");
  if (max_tokens < 1) bad("--max-tokens", "must be >= 1");
  if (!(temperature > 0)) bad("--temperature", "must be > 0 (the loss divides the logits by it)");
  if (!(top_p > 0 && top_p <= 1)) bad("--top-p", "must be in (0, 1]");
  if (!(jsd_beta >= 0 && jsd_beta <= 1)) {
    bad("--jsd-beta", fmt::format("{} is outside [0, 1] (0: forward KL, 1: reverse KL, between: generalised JSD)",
                                  jsd_beta));
  }
  if (micro_batch < 1) bad("--micro-batch", "must be >= 1");
  if (max_batch < 1) bad("--max-batch", "must be >= 1");
  if (save_every < 0) bad("--save-every", "must be >= 0");
  if (threads < 0) bad("--threads", "must be >= 0");
  if (dist_timeout_s < 1) bad("--dist-timeout", "must be >= 1 (seconds)");
  optim.validate("command line");
}

nlohmann::json OnPolicyConfig::to_json() const {
  return {{"student", student},
          {"student_tokenizer", student_tokenizer},
          {"teacher", teacher},
          {"teacher_tokenizer", teacher_tokenizer},
          {"endpoint", endpoint},
          {"api_model", api_model},
          {"api_key_env", api_key_env},  // the variable's name; the key is never stored
          {"concurrency", concurrency},
          {"request_timeout_s", request_timeout_s},
          {"max_retries", max_retries},
          {"teacher_top_k", top_k()},
          {"device", device},
          {"dtype", dtype},
          {"suites", suites},
          {"data_dir", data_dir ? nlohmann::json(*data_dir) : nlohmann::json(nullptr)},
          {"limit", limit},
          {"prompts", prompts_file},
          {"preset", preset},
          {"assistant_prefix", assistant_prefix ? nlohmann::json(*assistant_prefix) : nlohmann::json(nullptr)},
          {"out", out_dir},
          {"seed", seed},
          {"steps", steps},
          {"prompts_per_step", prompts_per_step},
          {"samples", samples},
          {"max_tokens", max_tokens},
          {"temperature", temperature},
          {"top_p", top_p},
          {"max_batch", max_batch},
          {"jsd_beta", jsd_beta},
          {"micro_batch", micro_batch},
          {"optim", optim.to_json()},
          {"save_every", save_every},
          {"dist_timeout_s", dist_timeout_s},
          {"distill",
           {{"stage", "onpolicy"},
            {"loss", top_k() > 0 ? "generalized_jsd_topk" : "generalized_jsd"},
            {"teacher", endpoint.empty() ? "native" : "endpoint"},
            {"lmbda", 1.0}}}};
}

nlohmann::json OnPolicyResult::to_json() const {
  return {{"run_id", run_id}, {"status", status}, {"steps", steps}, {"first_loss", first_loss},
          {"last_loss", last_loss}, {"seconds", seconds}, {"out", out_dir}};
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string shown_bytes(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) out += ch >= 0x20 && ch < 0x7f ? std::string(1, static_cast<char>(ch))
                                                            : fmt::format("\\x{:02x}", ch);
  return out;
}

// The teacher scores the student's token ids, so both must read an id as the same bytes; and the logits must have
// one vocabulary. InputError naming both checkpoints and the first difference.
void check_shared_tokenizer(const model::GenerationModel& student, const std::string& student_path,
                            const model::GenerationModel& teacher, const std::string& teacher_path) {
  auto refuse = [&](const std::string& why) {
    throw InputError("--teacher", "tokenizer",
                     fmt::format("teacher {} and student {} do not share a tokenizer ({}): the teacher must score the "
                                 "student's token ids",
                                 teacher_path, student_path, why));
  };
  const auto vs = student.tokenizer->vocab_size(), vt = teacher.tokenizer->vocab_size();
  if (vs != vt) refuse(fmt::format("vocabulary sizes {} vs {}", vt, vs));
  const auto ls = student.config.value("vocab_size", int64_t{-1}), lt = teacher.config.value("vocab_size", int64_t{-1});
  if (ls != lt) refuse(fmt::format("logit widths (config vocab_size) {} vs {}", lt, ls));
  for (text::TokenId id = 0; id < vs; ++id) {
    const auto a = teacher.tokenizer->token_bytes(id), b = student.tokenizer->token_bytes(id);
    if (a != b) refuse(fmt::format("token {} is '{}' for the teacher, '{}' for the student", id, shown_bytes(a),
                                   shown_bytes(b)));
  }
}

struct StepSums {
  double loss = 0, tokens = 0, teacher_logp = 0, student_logp = 0;
};

// What the teacher says about one micro-batch's N completion tokens: its logits (the full-vocabulary loss), or the
// top-K form (K > 0): each token's logprob and the K alternatives of its position.
struct TeacherRows {
  torch::Tensor logits_NV, target_logp_N, ids_NK, logp_NK;
};

// The served teacher's scores of every rollout's completion, in rollout order (harness::TeacherScorer: one request
// per sequence, `concurrency` in flight). The ids are the student's: prompt then completion.
std::vector<harness::TeacherScores> score_on_endpoint(harness::TeacherScorer& scorer, const std::vector<Rollout>& rs,
                                                      int64_t vocab_size) {
  std::vector<std::vector<int32_t>> ids;
  std::vector<size_t> first;
  for (const auto& r : rs) {
    std::vector<int32_t> seq(r.prompt_ids.begin(), r.prompt_ids.end());
    seq.insert(seq.end(), r.completion_ids.begin(), r.completion_ids.end());
    ids.push_back(std::move(seq));
    first.push_back(r.prompt_ids.size());
  }
  return scorer.score(ids, first, vocab_size);
}

// Rollouts [begin, end)'s served scores as tensors, in make_completion_batch's order (sequence by sequence).
TeacherRows served_rows(const std::vector<harness::TeacherScores>& served, size_t begin, size_t end, int64_t K,
                        torch::Device device) {
  std::vector<double> target, logp;
  std::vector<int64_t> ids;
  for (size_t i = begin; i < end; ++i) {
    const auto& s = served[i];
    target.insert(target.end(), s.token_logprob.begin(), s.token_logprob.end());
    ids.insert(ids.end(), s.top_ids.begin(), s.top_ids.end());
    logp.insert(logp.end(), s.top_logprobs.begin(), s.top_logprobs.end());
  }
  const auto n = static_cast<int64_t>(target.size());
  return {torch::Tensor(), torch::tensor(target, torch::kFloat64).to(device),
          torch::tensor(ids, torch::kInt64).view({n, K}).to(device),
          torch::tensor(logp, torch::kFloat64).view({n, K}).to(device)};
}

// One optimizer step's gradient into the student's .grad: micro-batches of `micro_batch` rollouts, each
// micro-batch's divergence summed over its completion tokens and divided by the step's token count `step_tokens`
// (TRL's num_items_in_batch; with several ranks every rank's), so the accumulated gradient is that of the mean over
// every completion token of the step. The teacher is `teacher` (in-process) or `scorer` (served: every rollout
// scored first, concurrently). `hooks` (several ranks: the reducer's) bracket each micro-batch's backward, as
// trainer::accumulate_update's do. The sums returned are this rank's.
StepSums accumulate(const OnPolicyConfig& c, model::Transformer& student, model::Transformer* teacher,
                    harness::TeacherScorer* scorer, std::vector<Rollout>& rollouts, torch::Device device,
                    double step_tokens, const trainer::BackwardHooks& hooks) {
  StepSums sums;
  for (const auto& r : rollouts) sums.tokens += static_cast<double>(r.completion_ids.size());
  int64_t passes = 0, passes_done = 0;  // micro-batches with a completion token: each runs one backward
  for (size_t begin = 0; begin < rollouts.size(); begin += static_cast<size_t>(c.micro_batch))
    for (size_t i = begin; i < std::min(rollouts.size(), begin + static_cast<size_t>(c.micro_batch)); ++i)
      if (!rollouts[i].completion_ids.empty()) {
        ++passes;
        break;
      }
  if (hooks.plan) hooks.plan(passes);
  if (passes == 0) return sums;
  const int64_t V = student->lm_head_weight().size(0);
  const int64_t K = std::min(c.top_k(), V);
  std::vector<harness::TeacherScores> served;
  if (scorer) served = score_on_endpoint(*scorer, rollouts, V);
  auto seqs = trainer::pointers(rollouts);
  for (size_t begin = 0; begin < seqs.size(); begin += static_cast<size_t>(c.micro_batch)) {
    const size_t end = std::min(seqs.size(), begin + static_cast<size_t>(c.micro_batch));
    auto b = trainer::make_completion_batch(seqs, begin, end, device);
    const int64_t n = b.positions_N.size(0);
    if (n == 0) continue;
    TeacherRows t;
    if (scorer) {
      t = served_rows(served, begin, end, c.top_k(), device);  // its K columns, -1 where it listed fewer
    } else {
      torch::NoGradGuard ng;  // inference only: the teacher's packed weights, no graph
      auto hidden_ND = (*teacher)->forward_hidden_prefixed(b.in).index_select(0, b.positions_N);
      t.logits_NV = (*teacher)->lm_logits(hidden_ND).to(torch::kFloat32);
      if (K > 0) {  // the endpoint's view of the same teacher: its top K and the sampled token's logprob
        auto logp_NV = torch::log_softmax(t.logits_NV, -1);
        auto top = logp_NV.topk(K, -1);
        t.logp_NK = std::get<0>(top);
        t.ids_NK = std::get<1>(top);
        t.target_logp_N = logp_NV.gather(1, b.targets_N.unsqueeze(1)).squeeze(1);
        t.logits_NV = torch::Tensor();
      }
    }
    auto hidden_ND = student->forward_hidden_prefixed(b.in).index_select(0, b.positions_N);
    auto student_logits_NV = hidden_ND.matmul(student->lm_head_weight().t()).to(torch::kFloat32);
    auto divergence = K > 0 ? topk_generalized_jsd_loss(student_logits_NV, b.targets_N, t.target_logp_N, t.ids_NK,
                                                        t.logp_NK, c.jsd_beta)
                            : generalized_jsd_loss(student_logits_NV, t.logits_NV, c.jsd_beta, c.temperature);
    auto loss = divergence * (static_cast<double>(n) / step_tokens);
    if (hooks) hooks.before(++passes_done == passes);
    loss.backward();
    if (hooks) hooks.after();
    sums.loss += loss.item<double>();
    torch::NoGradGuard ng;  // the sampled tokens' logprobs under each model (temperature 1), for the metrics
    auto targets = b.targets_N.unsqueeze(1);
    sums.teacher_logp += K > 0 ? t.target_logp_N.sum().item<double>()
                               : torch::log_softmax(t.logits_NV, -1).gather(1, targets).sum().item<double>();
    sums.student_logp += torch::log_softmax(student_logits_NV.detach(), -1).gather(1, targets).sum().item<double>();
  }
  return sums;
}

}  // namespace

OnPolicyResult run_onpolicy(const OnPolicyConfig& c, const std::string& db_path) {
  c.validate();
  if (c.threads > 0) torch::set_num_threads(c.threads);
  const auto started = Clock::now();
  // Data parallel (as `train grpo`, trainer/README.md "Past one process"): each rank samples, scores and trains on
  // its share of every step's prompts; comm is nullptr for one process.
  const auto denv = dist::dist_env();
  auto gm = model::load_generation_model({.path = c.student, .tokenizer = c.student_tokenizer,
                                          .device = dist::rank_device(c.device, denv), .dtype = c.dtype,
                                          .trainable = true});
  model::Transformer& m = gm.model;
  // The teacher: loaded inference-only and checked token by token, or a server that reads the student's ids (its
  // tokenizer is assumed to be the student's; the scorer refuses ids outside the student's vocabulary).
  std::optional<model::GenerationModel> teacher;
  std::unique_ptr<harness::TeacherScorer> scorer;
  if (c.endpoint.empty()) {
    log::info("loading the teacher {}", c.teacher);
    teacher = model::load_generation_model({.path = c.teacher, .tokenizer = c.teacher_tokenizer,
                                            .device = gm.device.str(), .dtype = c.dtype, .chat_template = false,
                                            .hash_content = false});
    auto shown = [](const std::string& path, const std::string& tokenizer) {
      return tokenizer.empty() ? path : path + " (tokenizer " + tokenizer + ")";
    };
    check_shared_tokenizer(gm, shown(c.student, c.student_tokenizer), *teacher,
                           shown(c.teacher, c.teacher_tokenizer));
    teacher->model->eval();
  } else {
    scorer = std::make_unique<harness::TeacherScorer>(harness::TeacherScorerOptions{
        .endpoint = c.endpoint, .model = c.api_model, .api_key_env = c.api_key_env, .top_k = c.top_k(),
        .concurrency = c.concurrency, .request_timeout_s = c.request_timeout_s, .max_retries = c.max_retries});
    log::info("the teacher is served: {} model {} (top {} logprobs per token)", scorer->options().endpoint,
              c.api_model, c.top_k());
    // One short scoring request before anything is stored: an unreachable server, one that does not score prompts or
    // name tokens by id, or one that refuses K is reported now, with no run recorded.
    auto probe = gm.tokenizer->encode("Once upon a time", /*add_special=*/true);
    if (probe.size() < 2) probe = {0, 1};
    scorer->score({std::vector<int32_t>(probe.begin(), probe.end())}, {1},
                  m->lm_head_weight().size(0));
  }
  // The prompts are read before the run is recorded: bad data is refused with nothing stored.
  const trainer::RolloutConfig rc{.suites = c.suites, .data_dir = c.data_dir, .limit = c.limit,
                                  .prompts_file = c.prompts_file, .preset = c.preset,
                                  .assistant_prefix = c.assistant_prefix, .seed = c.seed, .samples = c.samples,
                                  .max_tokens = c.max_tokens, .min_tokens = 0, .temperature = c.temperature,
                                  .top_p = c.top_p};
  auto sources = trainer::load_sources(rc, nullptr);
  std::vector<trainer::Task> tasks;
  for (size_t si = 0; si < sources.size(); ++si)
    for (size_t pi = 0; pi < sources[si].problems.size(); ++pi) tasks.push_back({si, pi});
  if (tasks.empty()) throw InputError("--suite/--prompts", "", "no problems to train on");

  auto comm = dist::Comm::open(denv, gm.device, std::chrono::seconds(c.dist_timeout_s));
  const bool lead = !comm || comm->rank() == 0;  // writes the store and the folders
  if (!lead) dist::install_sigint_flag();
  nlohmann::json config = c.to_json();
  config["resolved"] = {{"device", gm.device.str()}, {"teacher_format", teacher ? teacher->format : "endpoint"},
                        {"world_size", denv.world_size}, {"launcher", denv.source},
                        {"backend", comm ? comm->backend_name() : "none"}};
  if (scorer) config["endpoint"] = scorer->options().endpoint;  // normalised (a bare host gets /v1)
  std::optional<trainer::TrainRun> run;
  if (lead) {
    run.emplace(trainer::TrainRun::start(db_path, {.kind = "distill-onpolicy", .name = c.name, .model_path = gm.path,
                                                   .model_format = gm.format, .model_hash = gm.content_hash,
                                                   .model_config = gm.config, .config = config,
                                                   .seed = static_cast<int64_t>(c.seed), .total_steps = c.steps,
                                                   .progress = c.progress}));
    trainer::register_sources(sources, run->store());
    for (const auto& s : sources) run->store().link_run_dataset(run->id(), s.dataset_id);
  }
  trainer::TaskCursor order(std::move(tasks), c.seed);  // every rank draws the same prompts, then takes its share

  trainer::Optimizer opt(m, c.optim, c.steps);
  std::vector<torch::Tensor> params;
  for (auto& p : m->parameters())
    if (p.requires_grad()) params.push_back(p);
  // Several ranks: rank 0's weights everywhere, and the gradient sum overlapped with each step's last backward (the
  // loss carries the step's global token count already: scale 1).
  std::optional<dist::GradReducer> reducer;
  if (comm) {
    dist::broadcast_parameters(*comm, params);
    if (m->times_packed() > 0) m->refresh_inference_weights();
    reducer.emplace(*comm, params);
  }
  model::Engine engine(m, gm.tokenizer.get(), model::EngineOptions{c.max_batch, 0});  // samples from m itself
  const trainer::CheckpointConfig ckpt{.tokenizer_source = c.student};
  OnPolicyResult result;
  result.rank = comm ? comm->rank() : 0;
  result.run_id = run ? run->id() : 0;
  result.out_dir = c.out_dir;
  std::map<int64_t, int64_t> next_index;  // each problem's next sample index in the store
  bool stop = false;
  for (int64_t step = 1; step <= c.steps && !stop; ++step) {
    const auto t0 = Clock::now();
    auto [mine, first_group] = trainer::my_groups(comm.get(), order.next(c.prompts_per_step));
    auto rollouts = trainer::sample_rollouts(rc, gm, engine, sources, mine, step, 0, first_group);
    const double seconds_rollout = since(t0);
    const auto t1 = Clock::now();
    std::vector<double> step_tokens{0.0};
    for (const auto& r : rollouts) step_tokens[0] += static_cast<double>(r.completion_ids.size());
    trainer::reduce_over_ranks(comm.get(), step_tokens);
    if (reducer) reducer->begin_step(1.0);
    trainer::BackwardHooks hooks;
    if (reducer) hooks = reducer->hooks();
    auto sums = accumulate(c, m, teacher ? &teacher->model : nullptr, scorer.get(), rollouts, gm.device,
                           step_tokens[0], hooks);
    if (reducer) reducer->finish();
    // Every sample graded by its suite's grader, as eval grades one: `crucible report` sees the student's
    // completions and accuracy through training. Rank 0 stores every rank's, in rank order (the one-process order).
    std::vector<trainer::PendingSample> records;
    double correct = 0, truncated = 0;
    for (const auto& r : rollouts) {
      const auto& src = sources[r.task.source];
      auto s = trainer::rollout_sample(r, src.grader->grade(src.problems[r.task.problem], r.prompt, r.text, r.finish));
      s.detail["distill"] = {{"stage", "onpolicy"}, {"step", step}};
      correct += s.correct.value_or(false) ? 1 : 0;
      truncated += r.finish == "length" ? 1 : 0;
      records.push_back({r.task, std::move(s)});
    }
    std::vector<double> sum{sums.loss, sums.tokens, sums.teacher_logp, sums.student_logp, correct, truncated,
                            static_cast<double>(rollouts.size()),
                            trainer::TrainRun::stop_requested() || dist::sigint_received() ? 1.0 : 0.0};
    trainer::reduce_over_ranks(comm.get(), sum);  // the losses carry the global normaliser: they add up
    stop = sum[7] > 0;
    auto st = opt.step();  // clip, AdamW, zero grads, refresh the engine's packed weights
    trainer::gather_samples(comm.get(), records);
    if (run) trainer::store_samples(run->store(), run->id(), sources, records, next_index);
    const double tokens = sum[1], n = std::max(1.0, sum[6]);
    auto per_token = [&](double v) { return tokens > 0 ? v / tokens : 0.0; };
    nlohmann::json metrics = {{"loss", sum[0]},
                              {"lr", st.lr},
                              {"grad_norm", st.grad_norm},
                              {"skipped", st.skipped},
                              {"tokens", tokens},
                              {"sequences", static_cast<int64_t>(sum[6])},
                              {"response_len_mean", tokens / n},
                              {"truncated_frac", sum[5] / n},
                              {"accuracy", sum[4] / n},
                              {"teacher_logp_mean", per_token(sum[2])},
                              {"student_logp_mean", per_token(sum[3])},
                              {"seconds_rollout", seconds_rollout},
                              {"seconds_update", since(t1)},
                              {"seconds", since(t0)}};
    if (!std::isfinite(st.grad_norm)) {
      metrics["grad_norm"] = nullptr;  // JSON has no NaN
      if (lead) log::warn("step {}: non-finite gradient norm; the update is skipped", step);
    }
    if (run && c.save_every > 0 && step % c.save_every == 0 && step < c.steps)
      run->add_checkpoint(trainer::save_checkpoint(m, trainer::step_dir(c.out_dir, step), ckpt), step);
    if (run) run->log_step(step, metrics);
    if (step == 1) result.first_loss = sum[0];
    result.last_loss = sum[0];
    result.steps = step;
  }
  if (run) {
    run->add_checkpoint(trainer::save_checkpoint(m, c.out_dir, ckpt), result.steps);
  }
  result.status = stop ? "interrupted" : "completed";
  if (run) run->finish(result.status);
  if (reducer) log::info("rank {}: {}", result.rank, reducer->describe());
  result.seconds = since(started);
  // No rank leaves before rank 0 has written the final folder: a launcher that sees every rank exit takes the run
  // as done.
  if (comm) comm->barrier();
  return result;
}

}  // namespace crucible::distill
