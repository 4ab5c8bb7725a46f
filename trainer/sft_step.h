// One SFT optimizer step's forward and backward (torch): the rows of a batch, gradients accumulated in .grad. Split
// from the loop (sft.cpp) so the tests can hold it against TRL with any model dtype.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "model/transformer.h"
#include "trainer/backward_hooks.h"
#include "trainer/sft_data.h"

namespace crucible::trainer {

struct SftRowOptions {
  int64_t row_tokens = 1024;        // packed row capacity
  bool packing = true;
  bool grad_checkpointing = false;
  bool bf16_autocast = false;       // CUDA only
  // Examples that carry a teacher's top-K (SftExample::teacher_k > 0) are scored by distill::topk_kd_loss:
  // (1 - kd_alpha) CE + kd_alpha KL(teacher top-K + rest || student). > 0 with examples that carry none: InputError.
  double kd_alpha = 0;
};

struct StepOutcome {
  double loss = 0;  // the batch's mean NLL over its completion tokens (the sum of the rows' losses)
  int64_t tokens = 0, targets = 0, rows = 0;
};

// Each row holds whole examples; positions restart at every example and a segment id keeps attention inside it.
// Each row's loss is its NLL sum divided by the whole batch's target count, so the rows' gradients add up to the
// gradient of the batch mean, however the examples fall into rows. With a teacher's top-K the same holds for the
// KD loss: a row's per-token mean times its scored tokens, over the batch's target count, so the batch loss is
// (1 - alpha) mean CE + alpha mean KL over every completion token of the batch (alpha = 0: the CE path's loss).
// `hooks` (data parallel: dist::GradReducer::hooks()): plan(rows) first, then before/after around each row's
// backward, so the gradient sum overlaps the backward passes.
StepOutcome accumulate_batch(model::Transformer& model, const std::vector<SftExample>& data,
                             const std::vector<size_t>& batch, const SftRowOptions& options,
                             const BackwardHooks& hooks = {});

}  // namespace crucible::trainer
