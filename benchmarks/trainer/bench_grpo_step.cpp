// bench_grpo_step: GRPO optimizer-step time of crucible's loop (trainer/grpo.h run_grpo, the same code as
// `crucible train grpo`), for bench_grpo.py's ratio against TRL and for a GPU device check.
//
//   bench_grpo_step MODEL PROMPTS.jsonl [--steps N] [--prompts-per-step P] [--group-size G] [--max-tokens T]
//                   [--micro-batch M] [--device D] [--dtype DT] [--skip-zero-advantage 0|1]
//
// Every completion is exactly T tokens (the end token masked until then), loss dapo, beta 0, mu 1, temperature 1.
// Prints one JSON object: per-step seconds (total, rollout, update), the mean over steps 2..N (step 1 pays the
// first-call costs: allocation, oneDNN packing), the trained tokens per step, and the largest sampler/trainer
// logprob mismatch seen, and per step how many sequences went through backward and how many were skipped (advantage 0:
// trainer/grpo_update.h).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "reports/store.h"
#include "trainer/grpo.h"

using namespace crucible;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_grpo_step MODEL PROMPTS.jsonl [--steps N] [--prompts-per-step P] "
                         "[--group-size G] [--max-tokens T] [--micro-batch M] [--device D] [--dtype DT]\n");
    return 2;
  }
  trainer::GrpoConfig c = trainer::default_grpo_config();
  c.model = argv[1];
  c.prompts_file = argv[2];
  c.steps = 4;
  c.prompts_per_step = 4;
  c.group_size = 4;
  c.max_tokens = 32;
  c.micro_batch = 8;
  c.loss.loss_type = trainer::LossType::dapo;
  c.loss.beta = 0;
  c.optim.lr = 1e-6;
  c.progress = false;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--steps") c.steps = std::stoll(v);
    else if (k == "--prompts-per-step") c.prompts_per_step = std::stoll(v);
    else if (k == "--group-size") c.group_size = std::stoll(v);
    else if (k == "--max-tokens") c.max_tokens = std::stoll(v);
    else if (k == "--micro-batch") c.micro_batch = std::stoll(v);
    else if (k == "--device") c.device = v;
    else if (k == "--dtype") c.dtype = v;
    else if (k == "--skip-zero-advantage") c.skip_zero_advantage = v != "0";
    else {
      std::fprintf(stderr, "bench_grpo_step: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  c.min_tokens = c.max_tokens;
  const auto dir = std::filesystem::temp_directory_path() / ("bench-grpo-step-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  c.out_dir = (dir / "out").string();
  try {
    auto r = trainer::run_grpo(c, (dir / "bench.db").string());
    auto store = Store::open_read_only((dir / "bench.db").string());
    nlohmann::json steps = nlohmann::json::array();
    double sum = 0, mismatch = 0;
    int64_t n = 0;
    for (const auto& s : store.run_train_steps(r.run_id)) {
      const auto& m = s.metrics;
      steps.push_back({{"step", s.step}, {"seconds", m["seconds"]}, {"seconds_rollout", m["seconds_rollout"]},
                       {"seconds_update", m["seconds_update"]}, {"tokens", m["tokens"]},
                       {"accuracy", m["accuracy"]}, {"reward_std", m["reward_std"]},
                       {"sequences_backward", m.value("sequences_backward", 0)},
                       {"sequences_skipped", m.value("sequences_skipped", 0)}});
      mismatch = std::max(mismatch, m.value("mismatch_abs_max", 0.0));
      if (s.step > 1 || c.steps == 1) {
        sum += m["seconds"].get<double>();
        ++n;
      }
    }
    nlohmann::json out = {{"model", c.model}, {"device", c.device},       {"steps", steps},
                          {"skip_zero_advantage", c.skip_zero_advantage},
                          {"mean_step_s", n ? sum / static_cast<double>(n) : 0.0},
                          {"mismatch_abs_max", mismatch}, {"status", r.status}};
    std::printf("%s\n", out.dump(2).c_str());
    remove_tree(dir.string());
    return r.status == "completed" ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_grpo_step: %s\n", e.what());
    remove_tree(dir.string());
    return static_cast<int>(e.code());
  }
}
