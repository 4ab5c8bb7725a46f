// Activation checkpointing (TrainInputs::checkpoint_layers) in float32 on the CPU, where the recomputation skips each
// layer's down_proj GEMM (kernels::linear_for_backward_only): the same hidden states and the same parameter
// gradients as the plain forward, for plain causal rows and packed rows (per-example attention), MHA and GQA, with
// and without q/k bias. The float64 equality of the two paths (where no GEMM is skipped) is
// tests/trainer/test_sft.cpp's packed_checkpointed case.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>

#include "kernels/torch/linear.h"
#include "model/transformer.h"

namespace crucible::model {
namespace {

ModelConfig config(int variant) {
  ModelConfig c;
  c.vocab_size = 61;
  c.hidden_size = 48;
  c.intermediate_size = 80;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = variant == 0 ? 4 : 2;
  c.head_dim = 12;
  c.attention_bias = variant == 1;
  return c;
}

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  auto a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  return ((a64 - b64).abs().max() / b64.abs().max().clamp_min(1e-30)).item<double>();
}

std::map<std::string, torch::Tensor> run(Transformer& m, const torch::Tensor& tokens, const torch::Tensor& seg,
                                         bool checkpoint, const torch::Tensor& dh, torch::Tensor* hidden) {
  m->zero_grad();
  TransformerImpl::TrainInputs in;
  in.seg_BT = seg;
  in.checkpoint_layers = checkpoint;
  auto h = m->forward_hidden(tokens, in);
  h.backward(dh);
  *hidden = h.detach();
  std::map<std::string, torch::Tensor> g;
  for (const auto& p : m->named_parameters())  // (an untied lm_head is not part of forward_hidden)
    if (p.value().grad().defined()) g[p.key()] = p.value().grad().clone();
  return g;
}

TEST(CheckpointedLayers, Float32GradientsEqualThePlainForward) {
  for (int variant : {0, 1}) {
    SCOPED_TRACE("variant " + std::to_string(variant));
    torch::manual_seed(21 + variant);
    Transformer m(config(variant));
    for (bool packed : {false, true}) {
      SCOPED_TRACE(packed ? "packed row" : "plain rows");
      auto tokens = packed ? torch::randint(61, {1, 40}) : torch::randint(61, {2, 17});
      torch::Tensor seg;
      if (packed) seg = torch::cat({torch::zeros({1, 15}), torch::ones({1, 9}), torch::full({1, 16}, 2.0)}, 1).to(torch::kInt64);
      auto dh = torch::randn({tokens.size(0), tokens.size(1), 48});
      torch::Tensor h_plain, h_ckpt;
      auto plain = run(m, tokens, seg, false, dh, &h_plain);
      auto ckpt = run(m, tokens, seg, true, dh, &h_ckpt);
      EXPECT_TRUE(torch::equal(h_plain, h_ckpt));  // the forward itself is the same computation
      EXPECT_EQ(plain.size(), ckpt.size());
      for (const auto& [name, g] : plain) {
        ASSERT_TRUE(ckpt.count(name)) << name;
        EXPECT_LT(rel_diff(ckpt[name], g), 1e-5) << name;
      }
      EXPECT_GT(plain.at("model.layers.2.mlp.down_proj.weight").abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(CheckpointedLayers, BackwardOnlyLinearHasTheLinearsGradientsNotItsValue) {
  torch::manual_seed(5);
  auto x = torch::randn({3, 7, 20}).requires_grad_(true);
  auto w = torch::randn({11, 20}).requires_grad_(true);
  auto b = torch::randn({11}).requires_grad_(true);
  auto dy = torch::randn({3, 7, 11});
  auto y = kernels::linear_for_backward_only(x, w, b);
  EXPECT_TRUE(torch::equal(y, b.detach().expand({3, 7, 11})));  // zeros + bias: x Wᵀ is never computed
  y.backward(dy);
  auto gx = x.grad().clone(), gw = w.grad().clone(), gb = b.grad().clone();
  x.mutable_grad().reset(), w.mutable_grad().reset(), b.mutable_grad().reset();
  kernels::linear(x, w, b).backward(dy);
  EXPECT_LT(rel_diff(gx, x.grad()), 1e-6);
  EXPECT_LT(rel_diff(gw, w.grad()), 1e-6);
  EXPECT_LT(rel_diff(gb, b.grad()), 1e-6);
  // Without autograd there is nothing to skip for: the real product.
  torch::NoGradGuard ng;
  EXPECT_LT(rel_diff(kernels::linear_for_backward_only(x, w, b), kernels::linear(x, w, b)), 1e-7);
}

}  // namespace
}  // namespace crucible::model
