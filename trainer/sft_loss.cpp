#include "trainer/sft_loss.h"

namespace crucible::trainer {

torch::Tensor nll_sum(const torch::Tensor& h_BTD, const torch::Tensor& w_VD, const torch::Tensor& targets_BT) {
  auto targets_N = targets_BT.reshape({-1});
  auto scored_N = (targets_N != -100).nonzero().squeeze(1);
  auto h_ND = h_BTD.reshape({-1, h_BTD.size(-1)}).index_select(0, scored_N);
  // Half-precision logits are upcast to float32 as transformers' loss does (under bf16 autocast the matmul itself is
  // bf16); float32 and float64 stay as they are.
  auto logits_NV = torch::matmul(h_ND, w_VD.t());
  if (logits_NV.element_size() < 4) logits_NV = logits_NV.to(torch::kFloat32);
  return torch::nn::functional::cross_entropy(
      logits_NV, targets_N.index_select(0, scored_N),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

}  // namespace crucible::trainer
