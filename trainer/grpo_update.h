// The update half of a GRPO step (trainer/README.md, steps 6 and 8): the trainer's logprobs of stored rollouts and
// the accumulated gradient of one optimizer step over a generation batch. Split from grpo.cpp so the update can be
// tested on crafted sequences (tests/trainer/test_grpo_update.cpp) without an engine or a grader.
//
// Shape legend: B sequences in a micro-batch, T padded completion length, N completion tokens of a micro-batch.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "trainer/backward_hooks.h"
#include "trainer/grpo.h"
#include "trainer/grpo_loss.h"

namespace crucible::trainer {

// What the update needs of one rollout (grpo.cpp's Rollout adds the task, prompt, text and reward terms).
struct TrainSequence {
  std::vector<int64_t> prompt_ids, completion_ids;  // completion: every drawn token, the EOS that ended it included
  std::vector<double> sampler_logp;                 // under the distribution sampled from (temperature, top-p)
  std::string finish;                               // "length" when cut at max_tokens
  double advantage = 0;
  std::vector<float> old_logp, ref_logp;  // mu > 1 / IS correction; beta > 0
};
using Sequences = std::vector<TrainSequence*>;  // a generation batch, groups contiguous

// One micro-batch of sequences for the prefixed forward. Its distinct prompts (a group's G samples share one) run
// through the model once, their completions after them (Transformer::forward_hidden_prefixed): P*S + B*T positions
// instead of B*(S+T). positions_N: the row of the hidden state that predicts each completion token (the prompt's
// last for the first), targets_N those tokens, in sequence order; has_token_BT marks the real completion tokens.
struct CompletionBatch {
  model::TransformerImpl::PrefixedInputs in;
  torch::Tensor positions_N, targets_N, has_token_BT;
  int64_t B = 0, T = 0;
};
CompletionBatch make_completion_batch(const Sequences& rs, size_t begin, size_t end, torch::Device device);

// Detached logprobs of every sequence's completion under `m` into `field` (old logprobs; the reference's for beta).
void score_logprobs(model::Transformer& m, const Sequences& rs, const GrpoConfig& c, torch::Device device,
                    std::vector<float> TrainSequence::*field);

// True when the sequence's gradient is exactly zero and no other sequence's loss depends on it being in the
// micro-batch: advantage 0 (a group whose rewards are all equal), beta 0 (no KL term), and a loss whose
// normaliser does not depend on the micro-batch's content (not bnpo, no top-entropy quantile). Every policy term
// of grpo_loss is the advantage times something finite, so such a sequence adds 0 to the loss and to every
// gradient: it needs no backward. (TRL and verl run it through forward and backward anyway.)
bool zero_gradient(const GrpoConfig& c, const TrainSequence& s);

struct UpdateStats {
  LossMetrics sums;  // summed over micro-batches (skipped sequences add their tokens and entropies)
  double loss = 0;
  double mismatch_abs_sum = 0, mismatch_max = 0, mismatch_k3_sum = 0, mismatch_tokens = 0;
  int64_t sequences_backward = 0, sequences_skipped = 0;
};

// The normalisers of one optimizer step over `rs`: sequences, masked completion tokens, micro-batches. With data
// parallelism each rank counts its own share and the sums over the ranks normalise every rank's loss (grpo.cpp), as
// TRL gathers num_items_in_batch and DDP averages the per-rank gradients.
StepCounts step_counts(const GrpoConfig& c, const Sequences& rs);

// Accumulates one optimizer step's gradient into the parameters' .grad (micro-batches of c.micro_batch sequences,
// each loss normalised over the whole step: `counts`, step_counts() of the step's sequences on every rank). Sequences for which zero_gradient() holds skip the backward
// when c.skip_zero_advantage; they still run a no-grad forward so the step's entropy and the sampler/trainer
// mismatch (`measure_mismatch`) cover every token. One process (no `hooks`): every trainable parameter leaves with a
// defined gradient (zeros when nothing trained), so AdamW's moments and weight decay advance exactly as after a
// backward of zeros; data parallel the reducer provides those zeros (its buckets). `hooks` (data parallel:
// dist::GradReducer::hooks()): plan() with the number of backward passes first (a micro-batch's, and a segment's
// backward through its prompts), then before/after around each, so the gradient sum overlaps the backward passes
// (and, for the last, the skipped sequences' forward).
UpdateStats accumulate_update(const GrpoConfig& c, model::Transformer& m, const Sequences& rs,
                              const StepCounts& counts, torch::Device device, bool measure_mismatch,
                              const BackwardHooks& hooks = {});

}  // namespace crucible::trainer
