#include "trainer/sft_loss.h"

#include <algorithm>

#include "kernels/logprob.h"
#include "kernels/torch/token_logprobs.h"

namespace crucible::trainer {

torch::Tensor nll_sum(const torch::Tensor& h_BTD, const torch::Tensor& w_VD, const torch::Tensor& targets_BT) {
  auto targets_N = targets_BT.reshape({-1});
  auto scored_N = (targets_N != -100).nonzero().squeeze(1);
  auto h_ND = h_BTD.reshape({-1, h_BTD.size(-1)}).index_select(0, scored_N);
  // float32 / bf16: the fused log-softmax + gather (kernels/torch/token_logprobs.h), one chunk that keeps its logits
  // for backward where they fit its bound (as cross_entropy keeps them), else chunks of 1,024 rows recomputed. It
  // writes each row's gradient in one pass where cross_entropy takes four (log_softmax, a zeroed one-hot, their two
  // backward passes). float64 stays on cross_entropy: the reference the tests hold it to.
  if (h_ND.scalar_type() != torch::kFloat64) {
    const int64_t N = h_ND.size(0), V = w_VD.size(0);
    const int64_t chunk = N * V <= kernels::kKeptLogitsMax ? std::max<int64_t>(N, 1) : 1024;
    return -kernels::token_logprobs(h_ND, w_VD, targets_N.index_select(0, scored_N), 1.0, chunk).logp_N.sum();
  }
  // Half-precision logits are upcast to float32 as transformers' loss does (under bf16 autocast the matmul itself is
  // bf16); float32 and float64 stay as they are.
  auto logits_NV = torch::matmul(h_ND, w_VD.t());
  if (logits_NV.element_size() < 4) logits_NV = logits_NV.to(torch::kFloat32);
  return torch::nn::functional::cross_entropy(
      logits_NV, targets_N.index_select(0, scored_N),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

}  // namespace crucible::trainer
