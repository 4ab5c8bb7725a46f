// The store side of a training run (torch-free): the `runs` row (kind train-sft / train-grpo / distill-onpolicy)
// with the resolved config, one `train_steps` row per optimizer step, checkpoint artifacts, the final status, and a
// progress line on stderr with step time and ETA.
//
//   TrainRun run = TrainRun::start(db, {"train-sft", name, model, config_json, seed, total_steps});
//   for (...) {
//     if (run.stop_requested()) break;          // SIGINT: finish the step in hand, save, mark interrupted
//     ... one optimizer step ...
//     run.log_step(step, {{"loss", l}, {"lr", lr}, {"grad_norm", g}, {"tokens", n}, {"seconds", s}});
//   }
//   run.finish(run.stop_requested() ? "interrupted" : "completed");
//
// A TrainRun destroyed without finish() (an exception unwinding the loop) marks the run failed. The first SIGINT
// only sets a flag the loop reads between steps; a second one kills the process as usual.
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace crucible {
class Store;
}

namespace crucible::trainer {

struct TrainRunSpec {
  std::string kind;        // "train-sft" | "train-grpo" | "distill-onpolicy"
  std::string name;        // run name (default: "<kind>-<model file name>")
  std::string model_path;  // the starting checkpoint, recorded as the run's model
  std::string model_format;
  std::string model_hash;  // content hash of the starting checkpoint ("" -> the path stands in)
  nlohmann::json model_config = nlohmann::json::object();
  nlohmann::json config = nlohmann::json::object();  // the resolved config, every default filled in
  int64_t seed = 0;
  int64_t total_steps = 0;  // for the ETA
  bool progress = true;     // print the progress line on stderr
};

class TrainRun {
 public:
  // Opens (creates, migrates) the store at `db_path`, records the model and the run (status running), and installs
  // the SIGINT handler. InputError for a kind that is not a training kind.
  static TrainRun start(const std::string& db_path, const TrainRunSpec& spec);

  TrainRun(TrainRun&&) noexcept;
  TrainRun& operator=(TrainRun&&) noexcept;
  ~TrainRun();

  int64_t id() const;
  Store& store();

  // One row per optimizer step; `metrics` must hold loss, lr, grad_norm, tokens and seconds (InputError naming the
  // missing field otherwise: a step without them would be useless to `crucible report`). Prints the progress line.
  void log_step(int64_t step, const nlohmann::json& metrics);
  // A saved checkpoint folder, as an artifact of kind "checkpoint" with {"step": step}.
  void add_checkpoint(const std::string& dir, int64_t step);
  // Replaces the stored config (e.g. with values known only once the data is read).
  void update_config(const nlohmann::json& config);
  // completed | failed | interrupted. Idempotent: the first call wins.
  void finish(const std::string& status);

  // True once SIGINT arrived (any TrainRun in the process).
  static bool stop_requested();

 private:
  struct Impl;
  explicit TrainRun(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

}  // namespace crucible::trainer
