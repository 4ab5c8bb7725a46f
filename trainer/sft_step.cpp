// Shape legend: B rows (1 per micro-batch here), T tokens in a row, D hidden, V vocabulary.
#include "trainer/sft_step.h"

#include <ATen/autocast_mode.h>

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

}  // namespace

StepOutcome accumulate_batch(model::Transformer& model, const std::vector<SftExample>& data,
                             const std::vector<size_t>& batch, const SftRowOptions& c) {
  StepOutcome out;
  for (size_t i : batch) out.targets += data[i].targets();
  const auto dev = model->device();
  for (const auto& row : pack_rows(data, batch, c.row_tokens, c.packing)) {
    std::vector<int64_t> ids, pos, seg, targets;
    for (size_t k = 0; k < row.size(); ++k) {
      const auto& ex = data[row[k]];
      for (size_t t = 0; t < ex.ids.size(); ++t) {
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
      loss = nll_sum(h_BTD, model->lm_head_weight(), to_row(targets)) / static_cast<double>(out.targets);
    }
    loss.backward();
    out.loss += loss.item<double>();
    out.tokens += T;
    ++out.rows;
  }
  return out;
}

}  // namespace crucible::trainer
