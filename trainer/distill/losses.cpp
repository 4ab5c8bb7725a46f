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
  // Padding must write nothing: scatter's order among equal indices is unspecified, so a padded entry (clamped to
  // id 0) writing false could erase a listed id 0. Padded entries point at the row's first listed id instead and
  // write what it writes (true); a row with nothing listed writes only false.
  const auto any_valid_T = valid_TK.any(-1);
  const auto first_id_T =
      torch::where(valid_TK, teacher_ids_TK, logp_TV.size(1)).amin(-1).clamp_max(logp_TV.size(1) - 1);
  const auto in_topk_TV = torch::zeros_like(logp_TV, torch::kBool)
                              .scatter(1, torch::where(valid_TK, ids_TK, first_id_T.unsqueeze(1)),
                                       any_valid_T.unsqueeze(1).expand_as(valid_TK));
  // A row whose K ids cover the whole vocabulary has no rest: the teacher's "rest" there is the rounding of its sum
  // (1e-16, not 0), and the student's rest, a logsumexp over nothing, is -inf — their product would be +inf and its
  // gradient NaN. Such rows mask nothing (a finite stand-in, in bools rather than a second [T, V] of floats) and the
  // where() below never selects them.
  const auto has_rest_T = in_topk_TV.logical_not().any(-1);
  const auto s_log_rest_T =
      torch::logsumexp(logp_TV.masked_fill(in_topk_TV & has_rest_T.unsqueeze(1), -INFINITY), -1);
  const auto kl_topk_T = torch::where(valid_TK, t_p_TK * (t_logp_TK - s_logp_TK), zero).sum(-1);
  const auto kl_rest_T = torch::where((t_rest_T > 0) & has_rest_T,
                                      t_rest_T * (t_rest_T.clamp_min(1e-300).log() - s_log_rest_T), zero);
  const auto kl = (kl_topk_T + kl_rest_T).mean();
  return {(1.0 - alpha) * ce + alpha * kl, ce.detach(), kl.detach()};
}

namespace {

// Per position, the generalised JSD of generalized_jsd_loss over B buckets (masked_TB: the buckets that exist), from
// both sides' log-probabilities. Masked entries are finite stand-ins, so where() passes no NaN into the gradient;
// an undefined mask: every bucket exists.
torch::Tensor bucket_jsd_T(const torch::Tensor& log_ps_TB, const torch::Tensor& log_pt_TB, const torch::Tensor& mask_TB,
                           double beta) {
  torch::Tensor per_TB;
  if (beta == 0.0) {
    per_TB = log_pt_TB.exp() * (log_pt_TB - log_ps_TB);
  } else if (beta == 1.0) {
    per_TB = log_ps_TB.exp() * (log_ps_TB - log_pt_TB);
  } else {
    const auto log_m = torch::logaddexp(log_ps_TB + std::log(1.0 - beta), log_pt_TB + std::log(beta));
    per_TB = beta * log_pt_TB.exp() * (log_pt_TB - log_m) + (1.0 - beta) * log_ps_TB.exp() * (log_ps_TB - log_m);
  }
  if (!mask_TB.defined()) return per_TB.sum(-1);
  return torch::where(mask_TB, per_TB, torch::zeros({}, per_TB.options())).sum(-1);
}

}  // namespace

torch::Tensor generalized_jsd_loss(const torch::Tensor& student_logits_TV, const torch::Tensor& teacher_logits_TV,
                                   double beta, double temperature) {
  if (!(beta >= 0.0 && beta <= 1.0)) throw InputError("--jsd-beta", "", "must be in [0, 1]");
  if (!(temperature > 0.0)) throw InputError("--temperature", "", "must be > 0");
  TORCH_CHECK(student_logits_TV.sizes() == teacher_logits_TV.sizes(), "generalized_jsd_loss: logits of one shape");
  const auto log_ps = torch::log_softmax(student_logits_TV / temperature, -1);
  const auto log_pt = torch::log_softmax(teacher_logits_TV.to(log_ps.scalar_type()) / temperature, -1);
  return bucket_jsd_T(log_ps, log_pt, torch::Tensor(), beta).mean();  // every token a bucket of its own
}

torch::Tensor topk_generalized_jsd_loss(const torch::Tensor& student_logits_TV, const torch::Tensor& targets_T,
                                        const torch::Tensor& teacher_target_logprobs_T,
                                        const torch::Tensor& teacher_ids_TK, const torch::Tensor& teacher_logprobs_TK,
                                        double beta) {
  if (!(beta >= 0.0 && beta <= 1.0)) throw InputError("--jsd-beta", "", "must be in [0, 1]");
  TORCH_CHECK(student_logits_TV.dim() == 2 && targets_T.dim() == 1 && teacher_target_logprobs_T.dim() == 1 &&
                  targets_T.size(0) == student_logits_TV.size(0) &&
                  teacher_target_logprobs_T.size(0) == student_logits_TV.size(0),
              "topk_generalized_jsd_loss: logits [T, V], targets and their teacher logprobs [T]");
  TORCH_CHECK(teacher_ids_TK.dim() == 2 && teacher_ids_TK.sizes() == teacher_logprobs_TK.sizes() &&
                  teacher_ids_TK.size(0) == student_logits_TV.size(0),
              "topk_generalized_jsd_loss: teacher ids and logprobs [T, K]");
  const auto dtype = student_logits_TV.scalar_type();
  const auto log_ps_TV = torch::log_softmax(student_logits_TV, -1);
  // The partition's ids: the K listed, then the sampled token, which is skipped where it is among the K (the listed
  // entry carries the same logprob). Listed ids are distinct (a server's top_logprobs is an object keyed by token).
  const auto targets_T1 = targets_T.unsqueeze(1);
  const auto ids_TJ = torch::cat({teacher_ids_TK, targets_T1}, 1);
  const auto target_listed_T = (teacher_ids_TK == targets_T1).any(1);
  const auto valid_TJ = torch::cat({teacher_ids_TK >= 0, target_listed_T.logical_not().unsqueeze(1)}, 1);
  // Invalid entries point at the sampled token (always in the partition), so the scatter below writes only true.
  const auto safe_ids_TJ = torch::where(valid_TJ, ids_TJ, targets_T1);
  const auto in_part_TV = torch::zeros_like(log_ps_TV, torch::kBool).scatter(1, safe_ids_TJ, true);
  const auto has_rest_T = in_part_TV.logical_not().any(-1);

  // The teacher, in float64: its listed probabilities and the rest of its mass.
  auto t_lp_TJ = torch::cat({teacher_logprobs_TK.to(torch::kFloat64),
                             teacher_target_logprobs_T.to(torch::kFloat64).unsqueeze(1)},
                            1);
  t_lp_TJ = torch::where(valid_TJ, t_lp_TJ, torch::zeros({}, t_lp_TJ.options()));
  const auto t_mass_T = torch::where(valid_TJ, t_lp_TJ.exp(), torch::zeros({}, t_lp_TJ.options())).sum(-1);
  // Floored: a served teacher's logprobs carry float32 rounding (~1e-7 each), so a smaller rest is noise, and the
  // reverse KL's r_S log(r_S / r_T) would follow that noise to any size.
  const auto t_log_rest_T = (1.0 - t_mass_T).clamp_min(kTeacherRestFloor).log();
  // The student: the same ids' logprobs, and a logsumexp over the logits outside the partition (over every logit
  // where there is no outside: a finite stand-in the mask never selects).
  const auto s_lp_TJ = log_ps_TV.gather(1, safe_ids_TJ);
  const auto s_log_rest_T =
      torch::logsumexp(log_ps_TV.masked_fill(in_part_TV & has_rest_T.unsqueeze(1), -INFINITY), -1);

  const auto log_ps_TB = torch::cat({s_lp_TJ, s_log_rest_T.unsqueeze(1)}, 1);
  const auto log_pt_TB = torch::cat({t_lp_TJ, t_log_rest_T.unsqueeze(1)}, 1).to(dtype);
  const auto mask_TB = torch::cat({valid_TJ, has_rest_T.unsqueeze(1)}, 1);
  return bucket_jsd_T(log_ps_TB, log_pt_TB, mask_TB, beta).mean();
}

}  // namespace crucible::distill
