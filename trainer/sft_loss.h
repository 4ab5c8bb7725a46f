// The SFT loss: summed negative log-likelihood of the target tokens, from final hidden states and the lm_head
// weight, so logits exist only at the positions that are scored (a row's prompt positions never reach the lm_head).
// The caller divides by the whole accumulated batch's target count (TRL's num_items_in_batch), so the gradient of an
// optimizer step is that of the mean over every completion token in it, however the tokens fall into rows.
#pragma once
#include <torch/torch.h>

namespace crucible::trainer {

// h_BTD: hidden states; w_VD: lm_head weight; targets_BT (int64): the token each position must predict, or -100
// (ignored). Returns the scalar sum over the scored positions of -log softmax(h W^T)[target], in float32 at least.
torch::Tensor nll_sum(const torch::Tensor& h_BTD, const torch::Tensor& w_VD, const torch::Tensor& targets_BT);

}  // namespace crucible::trainer
