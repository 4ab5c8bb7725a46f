// `crucible distill onpolicy`: on-policy distillation (TRL 1.16 DistillationTrainer with lmbda = 1: every batch is
// the student's own samples). Per step the student samples G completions per prompt (trainer/rollouts.h, the GRPO
// path), the teacher scores the student's tokens — a native teacher in one forward over prompt + completion, a
// served one (--endpoint) through echo + logprobs (harness/teacher_scorer.h) — the loss is the generalised JSD of
// losses.h over every completion token (on the full vocabulary, or on the teacher's top-K + the sampled token + a
// rest bucket: --teacher-top-k, always with an endpoint), AdamW updates the student, and the engine's packed
// weights are refreshed for the next step's samples. Torch-free header (the CLI includes it); onpolicy.cpp is
// torch. trainer/distill/README.md walks one step.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trainer/optim.h"

namespace crucible::distill {

// "TRL" marks TRL 1.16 DistillationConfig's defaults.
struct OnPolicyConfig {
  // models: teacher and student must share a tokenizer (same vocabulary, same bytes per token id)
  std::string student, student_tokenizer, teacher, teacher_tokenizer, device = "auto", dtype = "auto";
  // or a served teacher (--endpoint): it must have the student's tokenizer (it reads the student's token ids)
  std::string endpoint, api_model, api_key_env = "OPENAI_API_KEY";  // the key itself is never stored
  int concurrency = 8;               // scoring requests in flight
  double request_timeout_s = 600;
  int max_retries = 8;
  // The teacher's alternatives per token: -1 the default (20 with --endpoint, 0 with --teacher); 0 the full
  // vocabulary (a native teacher only); K > 0 the top-K loss (losses.h topk_generalized_jsd_loss; with --teacher the
  // teacher's logits cut to their K largest, the endpoint's loss computed in-process).
  int64_t teacher_top_k = -1;
  int64_t top_k() const { return teacher_top_k >= 0 ? teacher_top_k : endpoint.empty() ? 0 : 20; }
  // prompts, as `train grpo` reads them (suites as eval loads them, or {"prompt", "answer"[, "id"]})
  std::vector<std::string> suites;
  std::optional<std::string> data_dir;
  int64_t limit = 0;
  std::string prompts_file;
  std::string preset = "r1";
  std::optional<std::string> assistant_prefix;
  // output
  std::string out_dir, name;
  uint64_t seed = 0;
  // rollouts
  int64_t steps = 100;
  int64_t prompts_per_step = 8;
  int64_t samples = 4;           // G completions per prompt
  int64_t max_tokens = 1024;
  double temperature = 1.0;      // TRL: sampling and the loss's softmax both
  double top_p = 1.0;
  int64_t max_batch = 64;        // engine slots decoded together
  // loss and update
  double jsd_beta = 1.0;         // TRL: 0 forward KL(teacher || student), 1 reverse KL, between: generalised JSD
  int64_t micro_batch = 8;       // sequences per forward/backward
  trainer::OptimConfig optim;    // lr TRL's 1e-6, linear schedule, no warmup (default_onpolicy_config)
  int64_t save_every = 0;        // OUT/step-N (an HF folder, not resumable) every N steps (0: only the final one)
  int threads = 0;               // torch intra-op threads on the CPU (0: torch's default)
  int64_t dist_timeout_s = 300;  // several ranks (trainer/dist/): the longest wait for a rendezvous or a collective
  bool progress = true;

  void validate() const;           // InputError naming the flag
  nlohmann::json to_json() const;  // stored with the run
};
OnPolicyConfig default_onpolicy_config();

struct OnPolicyResult {
  int rank = 0;        // several ranks: rank 0 reports for all (the others have no run id)
  int64_t run_id = 0;
  std::string status;  // completed | interrupted | failed
  int64_t steps = 0;
  double first_loss = 0, last_loss = 0;
  double seconds = 0;
  std::string out_dir;
  nlohmann::json to_json() const;  // what `crucible --json distill onpolicy` prints
};

// Runs the whole training (kind "distill-onpolicy" in the store). InputError (exit 2) for bad flags or data and for
// a teacher whose tokenizer is not the student's, naming both paths. Under a launcher (--nproc-per-node N,
// torchrun, Slurm: trainer/dist/env.h) each rank samples and scores a contiguous share of every step's prompts, the
// gradients are summed over the ranks (dist::GradReducer), and rank 0 alone writes the store and the folders: the
// steps of one process, up to the order of floating-point sums.
OnPolicyResult run_onpolicy(const OnPolicyConfig& config, const std::string& db_path);

}  // namespace crucible::distill
