#include "trainer/distill/losses.h"

#include <cmath>

#include "core/error.h"

namespace crucible::distill {

KdLoss topk_kd_loss(const torch::Tensor& logits_TV, const torch::Tensor& targets_T,
                    const torch::Tensor& teacher_ids_TK, const torch::Tensor& teacher_logprobs_TK, double alpha) {
  if (!(alpha >= 0.0 && alpha <= 1.0)) throw InputError("--kd-alpha", "", "must be in [0, 1]");
  TORCH_CHECK(logits_TV.dim() == 2 && targets_T.dim() == 1 && logits_TV.size(0) == targets_T.size(0),
              "topk_kd_loss: logits [T, V] and targets [T]");
  TORCH_CHECK(teacher_ids_TK.sizes() == teacher_logprobs_TK.sizes() && teacher_ids_TK.size(0) == logits_TV.size(0),
              "topk_kd_loss: teacher ids and logprobs [T, K]");
  const auto logp_TV = torch::log_softmax(logits_TV, -1);
  const auto ce = -logp_TV.gather(1, targets_T.unsqueeze(1)).squeeze(1).mean();

  const auto valid_TK = teacher_ids_TK >= 0;
  const auto ids_TK = teacher_ids_TK.clamp_min(0);
  const auto zero = torch::zeros({}, logp_TV.options());
  // The teacher's K probabilities and its remaining mass (clamped: float32 logprobs may sum a hair above 1).
  const auto t_logp_TK = teacher_logprobs_TK.to(logp_TV.scalar_type());
  const auto t_p_TK = torch::where(valid_TK, t_logp_TK.exp(), zero);
  const auto t_rest_T = (1.0 - t_p_TK.sum(-1)).clamp_min(0.0);
  // The student's log-probabilities of the same ids, and of everything else: logsumexp over the logits outside the K.
  const auto s_logp_TK = logp_TV.gather(1, ids_TK);
  const auto in_topk_TV = torch::zeros_like(logp_TV, torch::kBool).scatter(1, ids_TK, valid_TK);
  // A row whose K ids cover the whole vocabulary has no rest: the teacher's "rest" there is the rounding of its sum
  // (1e-16, not 0), and the student's rest, a logsumexp over nothing, is -inf — their product would be +inf and its
  // gradient NaN. Such rows mask nothing (a finite stand-in, in bools rather than a second [T, V] of floats) and the
  // where() below never selects them.
  const auto has_rest_T = in_topk_TV.logical_not().any(-1);
  const auto s_log_rest_T =
      torch::logsumexp(logp_TV.masked_fill(in_topk_TV & has_rest_T.unsqueeze(1), -INFINITY), -1);
  const auto kl_topk_T = torch::where(valid_TK, t_p_TK * (t_logp_TK - s_logp_TK), zero).sum(-1);
  const auto kl_rest_T = torch::where(t_rest_T > 0 & has_rest_T,
                                      t_rest_T * (t_rest_T.clamp_min(1e-300).log() - s_log_rest_T), zero);
  const auto kl = (kl_topk_T + kl_rest_T).mean();
  return {(1.0 - alpha) * ce + alpha * kl, ce.detach(), kl.detach()};
}

torch::Tensor generalized_jsd_loss(const torch::Tensor& student_logits_TV, const torch::Tensor& teacher_logits_TV,
                                   double beta, double temperature) {
  if (!(beta >= 0.0 && beta <= 1.0)) throw InputError("--jsd-beta", "", "must be in [0, 1]");
  if (!(temperature > 0.0)) throw InputError("--temperature", "", "must be > 0");
  TORCH_CHECK(student_logits_TV.sizes() == teacher_logits_TV.sizes(), "generalized_jsd_loss: logits of one shape");
  const auto log_ps = torch::log_softmax(student_logits_TV / temperature, -1);
  const auto log_pt = torch::log_softmax(teacher_logits_TV.to(log_ps.scalar_type()) / temperature, -1);
  torch::Tensor per_token_T;
  if (beta == 0.0) {
    per_token_T = (log_pt.exp() * (log_pt - log_ps)).sum(-1);
  } else if (beta == 1.0) {
    per_token_T = (log_ps.exp() * (log_ps - log_pt)).sum(-1);
  } else {
    const auto log_m = torch::logaddexp(log_ps + std::log(1.0 - beta), log_pt + std::log(beta));
    per_token_T = (beta * log_pt.exp() * (log_pt - log_m) + (1.0 - beta) * log_ps.exp() * (log_ps - log_m)).sum(-1);
  }
  return per_token_T.mean();
}

}  // namespace crucible::distill
