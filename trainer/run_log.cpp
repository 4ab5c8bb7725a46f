#include "trainer/run_log.h"

#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "reports/store.h"

namespace crucible::trainer {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

}  // namespace

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e8) return "?";
  auto total = static_cast<int64_t>(s + 0.5);
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

struct TrainRun::Impl {
  Store store;
  int64_t run_id = 0;
  TrainRunSpec spec;
  bool finished = false;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  int64_t steps_logged = 0;
  void (*previous_handler)(int) = SIG_DFL;
  explicit Impl(Store s) : store(std::move(s)) {}
};

TrainRun::TrainRun(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrainRun::TrainRun(TrainRun&&) noexcept = default;
TrainRun& TrainRun::operator=(TrainRun&&) noexcept = default;

TrainRun::~TrainRun() {
  if (!impl_) return;
  try {
    finish(g_stop.load() ? "interrupted" : "failed");
  } catch (...) {
  }
}

TrainRun TrainRun::start(const std::string& db_path, const TrainRunSpec& spec) {
  if (spec.kind != "train-sft" && spec.kind != "train-grpo" && spec.kind != "distill-onpolicy")
    throw InputError("train run", "kind", "must be train-sft, train-grpo or distill-onpolicy, got '" + spec.kind + "'");
  auto impl = std::make_unique<Impl>(Store::open(db_path));
  impl->spec = spec;
  ModelRecord m;
  m.path = spec.model_path;
  m.format = spec.model_format.empty() ? "unknown" : spec.model_format;
  m.content_hash = spec.model_hash.empty() ? "path:" + spec.model_path : spec.model_hash;
  m.config = spec.model_config;
  RunRecord r;
  r.kind = spec.kind;
  r.name = spec.name.empty()
               ? spec.kind + "-" + std::filesystem::path(spec.model_path).filename().string()
               : spec.name;
  r.model_id = impl->store.upsert_model(m);
  r.config = spec.config;
  r.seed = spec.seed;
  impl->run_id = impl->store.create_run(r);
  g_stop.store(false);
  impl->previous_handler = std::signal(SIGINT, on_sigint);
  log::info("{} run {} '{}' recorded in {}", spec.kind, impl->run_id, r.name, db_path);
  return TrainRun(std::move(impl));
}

int64_t TrainRun::id() const { return impl_->run_id; }
Store& TrainRun::store() { return impl_->store; }
bool TrainRun::stop_requested() { return g_stop.load(); }

void TrainRun::log_step(int64_t step, const nlohmann::json& metrics) {
  for (const char* f : {"loss", "lr", "grad_norm", "tokens", "seconds"})
    if (!metrics.contains(f)) throw InputError("train step " + std::to_string(step), f, "missing from the metrics");
  impl_->store.add_train_step({impl_->run_id, step, metrics});
  ++impl_->steps_logged;
  if (!impl_->spec.progress) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->t0).count();
  const int64_t total = impl_->spec.total_steps;
  const double per_step = elapsed / static_cast<double>(impl_->steps_logged);
  const double eta = total > step ? per_step * static_cast<double>(total - step) : 0.0;
  auto num = [&](const char* f) { return metrics[f].is_number() ? metrics[f].get<double>() : NAN; };
  std::fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.3g  grad_norm %.3g  %s/step  %.0f tok/s  elapsed %s  eta %s\n",
               static_cast<long long>(step), static_cast<long long>(total), num("loss"), num("lr"), num("grad_norm"),
               fmt::format("{:.2f}s", num("seconds")).c_str(), num("tokens") / std::max(1e-9, num("seconds")),
               format_duration(elapsed).c_str(), format_duration(eta).c_str());
  std::fflush(stderr);
}

void TrainRun::add_checkpoint(const std::string& dir, int64_t step) {
  impl_->store.add_artifact({0, impl_->run_id, "checkpoint", dir, std::nullopt, {{"step", step}}});
}

void TrainRun::update_config(const nlohmann::json& config) { impl_->store.update_run_config(impl_->run_id, config); }

void TrainRun::finish(const std::string& status) {
  if (impl_->finished) return;
  impl_->finished = true;
  std::signal(SIGINT, impl_->previous_handler);
  impl_->store.finish_run(impl_->run_id, status);
}

}  // namespace crucible::trainer
