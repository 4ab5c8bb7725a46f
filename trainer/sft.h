// `crucible train sft`: supervised fine-tuning on completion tokens. Torch-free facade (apps/cmd_train.cpp includes
// it); trainer/README.md walks one step through the code.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "trainer/optim.h"

namespace crucible::trainer {

// Every setting of an SFT run, once: name, default, meaning. Stored (to_json) as the run's config.
struct SftConfig {
  std::string model;          // starting checkpoint: HF folder, .gguf (dequantised), llama2.c .bin
  std::string tokenizer;      // tokenizer override (a llama2.c checkpoint needs its tokenizer.bin)
  std::string data;           // JSONL of {messages} or {prompt, completion} records (trainer/sft_data.h)
  std::string out;            // output folder: final HF folder, and step-N/ folders
  int64_t steps = 0;          // optimizer steps; 0: as many as `epochs` passes over the data take
  double epochs = 1.0;        // passes over the data when steps = 0 (a fraction takes that share of a pass)
  uint64_t seed = 0;          // data order
  int64_t batch_tokens = 8192;   // tokens (prompt + completion) per optimizer step; gradients accumulate over rows
  int64_t max_seq_len = 1024;    // longer examples are cut from the right
  // Tokens of one forward/backward pass (a packed row's capacity; 0: max_seq_len). More run faster (fewer, larger
  // matmuls) and hold more activations; an example longer than it is a row of its own.
  int64_t micro_batch_tokens = 0;
  int64_t row_tokens() const { return micro_batch_tokens > 0 ? micro_batch_tokens : max_seq_len; }
  bool packing = true;           // several examples per row, each attending only to itself (block-diagonal mask)
  bool grad_checkpointing = false;  // recompute each layer in backward instead of keeping its activations
  int64_t save_every = 0;        // write out/step-N every N steps (0: only the final folder); resumable (checkpoint.h)
  int64_t keep_last = 0;         // keep only the newest K out/step-N folders (0: all)
  bool save_only_model = false;  // step folders without trainer_state/ (TRL's save_only_model): not resumable
  std::string resume;            // "" | auto (newest complete out/step-N, or a fresh start) | a step folder
  std::string save_dtype = "float32";  // of the saved tensors: float32 | bfloat16
  std::string device = "auto";   // auto | cpu | cuda | cuda:N
  bool bf16_autocast = true;     // on CUDA: bf16 autocast over float32 master weights (CPU trains in float32)
  int threads = 0;               // torch intra-op threads on the CPU (0: torch's default)
  std::string run_name;          // default: train-sft-<model file name>
  int64_t dist_timeout_s = 300;  // several ranks (trainer/dist/): the longest wait for a rendezvous or a collective
  int64_t max_bad_steps = 5;     // this many non-finite gradients in a row fail the run (each one is skipped)
  bool shard = false;            // several ranks: each keeps the optimizer state of its 1/W slice (optimizer.h)
  OptimConfig optim;
  // distill sft --kd (trainer/distill/README.md): the KL share of the loss on data that carries a teacher's top-K.
  double kd_alpha = 0;

  void validate() const;  // InputError naming the flag
  nlohmann::json to_json() const;
};

struct SftResult {
  int64_t run_id = 0;
  int64_t steps = 0;        // optimizer steps taken
  double first_loss = 0, last_loss = 0;
  int64_t tokens = 0;       // tokens processed (all steps)
  double seconds = 0;       // wall time of the steps (not the load)
  std::string out_dir;
  std::string status;       // completed | interrupted
  int rank = 0;             // this process's rank (trainer/dist/env.h); only rank 0 writes the store and the folders
};

// Loads, trains, saves, records (db_path: the store). InputError for bad flags or data (file:line and field).
SftResult run_sft(const SftConfig& config, const std::string& db_path);

}  // namespace crucible::trainer
