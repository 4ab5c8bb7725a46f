// Transformer::forward_hidden_prefixed (GRPO's shared-prompt training forward) against forward_hidden on each
// completion written out after its prompt: same hidden states at every real position and same parameter gradients,
// in float64 (the norms still compute in float32), for MHA/GQA, q/k bias, q/k norm (Qwen3),
// tied and untied heads, a sliding window shorter than the sequences, prompts of unequal lengths and completions of
// unequal lengths sharing prompts in any order.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "model/transformer.h"

namespace crucible::model {
namespace {

ModelConfig config(int variant) {
  ModelConfig c;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = variant == 0 ? 4 : 2;
  c.head_dim = variant == 2 ? 12 : 8;
  c.tie_word_embeddings = variant != 1;
  c.attention_bias = variant == 1;
  c.qk_norm = variant == 2;
  if (variant == 3) c.sliding_window = 5;
  return c;
}

struct Case {
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::vector<int64_t>> completions;
  std::vector<int64_t> prompt_of;
};

torch::Tensor padded(const std::vector<std::vector<int64_t>>& rows, int64_t width) {
  auto t = torch::zeros({static_cast<int64_t>(rows.size()), width}, torch::kInt64);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t j = 0; j < rows[r].size(); ++j) t[static_cast<int64_t>(r)][static_cast<int64_t>(j)] = rows[r][j];
  return t;
}

void check(int variant) {
  SCOPED_TRACE("variant " + std::to_string(variant));
  torch::manual_seed(7 + variant);
  Transformer m(config(variant));
  m->to(torch::kFloat64);
  Case c;
  c.prompts = {{3, 9, 4, 17, 8, 2, 11}, {5, 1, 30}, {12}};
  c.completions = {{7, 7, 21, 4}, {8, 44}, {19, 2, 2, 6, 13, 1}, {40}, {3, 3, 3}};
  c.prompt_of = {1, 0, 1, 2, 0};
  int64_t S = 0, T = 0;
  for (auto& p : c.prompts) S = std::max<int64_t>(S, p.size());
  for (auto& q : c.completions) T = std::max<int64_t>(T, q.size());
  const int64_t P = static_cast<int64_t>(c.prompts.size()), B = static_cast<int64_t>(c.completions.size());
  std::vector<int64_t> len;
  for (auto& p : c.prompts) len.push_back(static_cast<int64_t>(p.size()));

  // A fixed random projection of every real position's hidden state: the loss whose gradients are compared.
  auto weights_for = [&](int64_t b, int64_t pos) {
    torch::manual_seed(1000 + 97 * b + pos);
    return torch::randn({m->config().hidden_size}, torch::kFloat64);
  };

  // Prefixed: every completion's positions (and its prompt's, once per completion, since each completion's loss
  // reads them in the reference too).
  auto rows = m->forward_hidden_prefixed({padded(c.prompts, S), torch::tensor(len), padded(c.completions, T),
                                          torch::tensor(c.prompt_of)});
  ASSERT_EQ(rows.size(0), P * S + B * T);
  torch::Tensor loss_a = torch::zeros({}, torch::kFloat64);
  std::vector<torch::Tensor> hidden_a;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t p = c.prompt_of[b], L = len[p], n = static_cast<int64_t>(c.completions[b].size());
    std::vector<torch::Tensor> seq;
    for (int64_t s = 0; s < L; ++s) seq.push_back(rows[p * S + s]);
    for (int64_t t = 0; t < n; ++t) seq.push_back(rows[P * S + b * T + t]);
    auto h = torch::stack(seq);
    for (int64_t pos = 0; pos < L + n; ++pos) loss_a = loss_a + (h[pos] * weights_for(b, pos)).sum();
    hidden_a.push_back(h.detach());
  }
  loss_a.backward();
  std::vector<torch::Tensor> grads_a;
  for (auto& p : m->parameters()) {
    grads_a.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());  // an untied lm_head: no grad
    p.mutable_grad() = torch::Tensor();
  }

  // Reference: each completion written out after its prompt, one sequence per row.
  torch::Tensor loss_b = torch::zeros({}, torch::kFloat64);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> seq = c.prompts[c.prompt_of[b]];
    seq.insert(seq.end(), c.completions[b].begin(), c.completions[b].end());
    auto h = m->forward_hidden(torch::tensor(seq).unsqueeze(0), {})[0];    EXPECT_LT((h.detach() - hidden_a[b]).abs().max().item<double>(), 1e-12) << "completion " << b;
    for (int64_t pos = 0; pos < h.size(0); ++pos) loss_b = loss_b + (h[pos] * weights_for(b, pos)).sum();
  }
  loss_b.backward();
  size_t i = 0;
  for (auto& item : m->named_parameters()) {
    auto ref = item.value().grad();
    ASSERT_EQ(ref.defined(), grads_a[i].defined()) << item.key();
    if (!ref.defined()) {
      ++i;
      continue;
    }
    const double scale = std::max(1.0, ref.abs().max().item<double>());
    // RMSNorm computes in float32 (as HF's does) even for float64 weights: a prompt's gradient summed over its
    // completions in another order differs in float32's last bits, hence 1e-6 and not 1e-12.
    EXPECT_LT((grads_a[i++] - ref).abs().max().item<double>() / scale, 1e-6) << item.key();
  }
}

TEST(PrefixedForward, EqualsTheFullForwardMha) { check(0); }
TEST(PrefixedForward, EqualsTheFullForwardGqaBiasUntied) { check(1); }
TEST(PrefixedForward, EqualsTheFullForwardQkNormHeadDim) { check(2); }
TEST(PrefixedForward, EqualsTheFullForwardSlidingWindow) { check(3); }

}  // namespace
}  // namespace crucible::model
