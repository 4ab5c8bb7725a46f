// Distillation losses on logits (torch). The SFT step and the on-policy loop call them with the logits at the
// completion positions; they know nothing of models or data.
//
// Shapes: T positions (each predicting one target token), V vocabulary, K teacher alternatives per position.
//
//   topk_kd_loss          (1 - alpha) * CE(student, targets) + alpha * KL(teacher_topK+rest || student_topK+rest),
//                         both means over the T positions. The teacher is known only through its K most likely
//                         tokens (their logprobs, stored at trace time: harness/logprob_pack.h) and the rest of its
//                         mass as one bucket, r_T = 1 - sum_k p_T(k); the student's distribution is folded the same
//                         way (its probabilities of the same K ids, and r_S = 1 - their sum, computed as a
//                         logsumexp over the other V - K logits so it stays exact when r_S is tiny). Per position:
//                           KL_t = sum_k p_T(k) (log p_T(k) - log p_S(k)) + r_T (log r_T - log r_S)   (0 log 0 = 0)
//                         Teacher entries with id < 0 are padding (fewer than K alternatives).
//   generalized_jsd_loss  TRL 1.16 DistillationTrainer's loss (trl/kernels/chunked_divergence.py), mean over the
//                         positions: beta = 0 the forward KL(teacher || student), beta = 1 the reverse
//                         KL(student || teacher), else beta KL(p_T || m) + (1 - beta) KL(p_S || m) with the mixture
//                         m = (1 - beta) p_S + beta p_T. Both logits are divided by `temperature` first.
//   topk_generalized_jsd_loss  the same divergence when the teacher is known only through K alternatives per
//                         position and the logprob of the token there (a served teacher: echo + logprobs). Both
//                         distributions are folded onto one partition per position: the teacher's K ids, the sampled
//                         token (when not among them), and one "rest" bucket holding everything else (the teacher's
//                         rest 1 - sum of the partition's probabilities, floored at kTeacherRestFloor so the reverse
//                         KL stays finite and stable when its listed mass rounds to 1; the student's a logsumexp over
//                         the other logits).
//                         A partition that covers the whole vocabulary has no rest bucket: with K = V this is
//                         generalized_jsd_loss at temperature 1. Every f-divergence (KL both ways, the generalised
//                         JSD) can only shrink under such a merging of outcomes (the data-processing inequality), so
//                         this is a lower bound of the full loss; it is exact where the rest of both distributions
//                         is proportional. Temperature 1 only: a tempered teacher's rest cannot be known from its top-K.
#pragma once
#include <torch/torch.h>

namespace crucible::distill {

// The least mass topk_generalized_jsd_loss gives the teacher's rest bucket (see the top of this file).
inline constexpr double kTeacherRestFloor = 1e-6;

struct KdLoss {
  torch::Tensor loss;  // scalar, differentiable in the student's logits
  torch::Tensor ce;    // scalar, detached: the cross-entropy part
  torch::Tensor kl;    // scalar, detached: the KL part
};

// logits_TV: the student's; targets_T (int64): the trace's tokens; teacher_ids_TK (int64, -1: none) and
// teacher_logprobs_TK: the teacher's top-K at each position. alpha in [0, 1].
KdLoss topk_kd_loss(const torch::Tensor& logits_TV, const torch::Tensor& targets_T,
                    const torch::Tensor& teacher_ids_TK, const torch::Tensor& teacher_logprobs_TK, double alpha);

// student_logits_TV, teacher_logits_TV: the same positions and vocabulary. beta in [0, 1], temperature > 0.
torch::Tensor generalized_jsd_loss(const torch::Tensor& student_logits_TV, const torch::Tensor& teacher_logits_TV,
                                   double beta, double temperature = 1.0);

// student_logits_TV: the student's; targets_T (int64): the sampled tokens; teacher_target_logprobs_T: the teacher's
// logprob of each; teacher_ids_TK (int64, -1: none; the listed ids of a row distinct) and teacher_logprobs_TK: its K
// alternatives. The teacher's side is folded in float64. beta in [0, 1]. Mean over the T positions.
torch::Tensor topk_generalized_jsd_loss(const torch::Tensor& student_logits_TV, const torch::Tensor& targets_T,
                                        const torch::Tensor& teacher_target_logprobs_T,
                                        const torch::Tensor& teacher_ids_TK, const torch::Tensor& teacher_logprobs_TK,
                                        double beta);

}  // namespace crucible::distill
