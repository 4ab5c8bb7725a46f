// Shape legend: B rows (1 per micro-batch here), T tokens in a row, D hidden, V vocabulary, N scored positions of a
// row, K teacher alternatives per position.
#include "trainer/sft_step.h"

#include <ATen/autocast_mode.h>

#include "core/error.h"
#include "trainer/distill/losses.h"
#include "trainer/optimizer.h"
#include "trainer/sft_loss.h"

namespace crucible::trainer {
namespace {

// bf16 autocast on CUDA for the forward and the loss (backward follows the forward's dtypes); the parameters and the
// optimizer stay float32. Off on the CPU, where training runs in float32.
struct CudaAutocast {
  bool on;
  explicit CudaAutocast(bool enable) : on(enable) {
    if (!on) return;
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
  }
  ~CudaAutocast() {
    if (!on) return;
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  }
};

// The top-K KD loss of a row, summed over its N scored positions (topk_kd_loss is a mean: times N), as nll_sum is.
// Logits exist only at the scored positions, as in nll_sum.
torch::Tensor kd_sum(const torch::Tensor& h_BTD, const torch::Tensor& w_VD, const torch::Tensor& targets_BT,
                     const std::vector<int32_t>& teacher_ids, const std::vector<float>& teacher_logprobs, int64_t K,
                     double alpha) {
  auto targets_N = targets_BT.reshape({-1});
  auto scored_N = (targets_N != -100).nonzero().squeeze(1);
  const auto N = scored_N.size(0);
  if (N == 0) return h_BTD.sum() * 0.0;  // nothing scored (topk_kd_loss's mean would be 0/0)
  auto h_ND = h_BTD.reshape({-1, h_BTD.size(-1)}).index_select(0, scored_N);
  auto logits_NV = torch::matmul(h_ND, w_VD.t());
  if (logits_NV.element_size() < 4) logits_NV = logits_NV.to(torch::kFloat32);
  const auto on_cpu = scored_N.cpu();
  auto ids_TK = torch::tensor(teacher_ids, torch::kInt32).view({-1, K}).index_select(0, on_cpu);
  auto lps_TK = torch::tensor(teacher_logprobs, torch::kFloat32).view({-1, K}).index_select(0, on_cpu);
  const auto dev = logits_NV.device();
  auto r = distill::topk_kd_loss(logits_NV, targets_N.index_select(0, scored_N), ids_TK.to(dev, torch::kInt64),
                                 lps_TK.to(dev), alpha);
  return r.loss * static_cast<double>(N);
}

}  // namespace

StepOutcome accumulate_batch(model::Transformer& model, const std::vector<SftExample>& data,
                             const std::vector<size_t>& batch, const SftRowOptions& c,
                             const BackwardHooks& hooks) {
  StepOutcome out;
  for (size_t i : batch) out.targets += data[i].targets();
  const auto dev = model->device();
  const auto rows = pack_rows(data, batch, c.row_tokens, c.packing);
  if (hooks.plan) hooks.plan(static_cast<int64_t>(rows.size()));
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& row = rows[r];
    std::vector<int64_t> ids, pos, seg, targets;
    // With KD: the teacher's top-K at each position of the row, for the token it predicts (t + 1).
    const int64_t K = data[row[0]].teacher_k;
    std::vector<int32_t> t_ids;
    std::vector<float> t_lps;
    for (size_t k = 0; k < row.size(); ++k) {
      const auto& ex = data[row[k]];
      if (ex.teacher_k != K || (c.kd_alpha > 0 && K == 0))
        throw InputError(ex.where, "teacher_topk",
                         K == 0 ? "--kd-alpha > 0 needs the teacher's top-K on every example"
                                : "every example of a batch needs the teacher's top-K with the same K");
      for (size_t t = 0; t < ex.ids.size(); ++t) {
        if (K > 0) {
          const bool has_next = t + 1 < ex.ids.size();
          const auto at = static_cast<std::ptrdiff_t>((t + 1) * static_cast<size_t>(K));
          for (int64_t j = 0; j < K; ++j) {
            t_ids.push_back(has_next ? ex.teacher_ids[static_cast<size_t>(at + j)] : -1);
            t_lps.push_back(has_next ? ex.teacher_logprobs[static_cast<size_t>(at + j)] : 0.0f);
          }
        }
        ids.push_back(ex.ids[t]);
        pos.push_back(static_cast<int64_t>(t));
        seg.push_back(static_cast<int64_t>(k));
        // Position t predicts token t+1 of the same example; the last token of an example predicts nothing.
        targets.push_back(t + 1 < ex.ids.size() && ex.learn[t + 1] ? ex.ids[t + 1] : -100);
      }
    }
    const auto T = static_cast<int64_t>(ids.size());
    auto to_row = [&](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kInt64).view({1, T}).to(dev); };
    model::TransformerImpl::TrainInputs in;
    in.pos_BT = to_row(pos);
    if (row.size() > 1) in.seg_BT = to_row(seg);
    in.checkpoint_layers = c.grad_checkpointing;
    torch::Tensor loss;
    {
      CudaAutocast ac(c.bf16_autocast);
      auto h_BTD = model->forward_hidden(to_row(ids), in);
      const auto sum = K > 0 ? kd_sum(h_BTD, model->lm_head_weight(), to_row(targets), t_ids, t_lps, K, c.kd_alpha)
                             : nll_sum(h_BTD, model->lm_head_weight(), to_row(targets));
      loss = sum / static_cast<double>(out.targets);
    }
    log_memory("forward of row", static_cast<int64_t>(r) + 1);
    if (hooks) hooks.before(r + 1 == rows.size());
    loss.backward();
    if (hooks) hooks.after();
    log_memory("backward of row", static_cast<int64_t>(r) + 1);
    out.loss += loss.item<double>();
    out.tokens += T;
    ++out.rows;
  }
  return out;
}

}  // namespace crucible::trainer
