// The engine in bf16 on a GPU against float32 on the CPU (label gpu; scripts/device-check runs it), on stories260K:
//   1. teacher-forced: along the float32 greedy continuation, bf16's argmax equals float32's at every position where
//      float32 is decided (top-1 beats top-2 by more than bf16 can move a logit there, 0.25 here);
//   2. free-running: bf16 greedy generation repeats float32's for at least its first 16 tokens (printed: how long).
// Skips, loudly, without a CUDA device or without ../shared/models/stories260K.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "model/checkpoint.h"
#include "model/engine.h"
#include "model/text/tokenizer.h"
#include "tests/support/test_support.h"

namespace crucible::model {
namespace {

std::vector<TokenId> greedy(Transformer model, const text::Tokenizer* tok, int64_t n) {
  Engine engine(std::move(model), tok);
  GenerationRequest r;
  r.prompt = {1};
  r.params.max_new_tokens = n;
  r.params.ignore_eos = true;
  return engine.generate({r}).at(0).tokens;
}

TEST(EngineBf16Gpu, GreedyAgreesWithFloat32) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine: GPU test skipped";
  const std::string dir = testing::shared_dir() + "/models/stories260K/";
  if (!std::filesystem::exists(dir + "stories260K.bin")) GTEST_SKIP() << dir << "stories260K.bin missing: skipped";
  auto tok = text::load_llama2c_tokenizer(dir + "tok512.bin", 512);
  auto fp32 = load_model(dir + "stories260K.bin", torch::kCPU, torch::kFloat32);
  auto bf16 = load_model(dir + "stories260K.bin", torch::kCUDA, torch::kBFloat16);
  const int64_t n = 64;
  const auto want = greedy(fp32, tok.get(), n);
  const auto got = greedy(bf16, tok.get(), n);
  ASSERT_EQ(static_cast<int64_t>(want.size()), n);

  std::vector<int64_t> ids = {1};
  ids.insert(ids.end(), want.begin(), want.end());
  auto tokens_1T = torch::tensor(ids).unsqueeze(0);
  torch::NoGradGuard no_grad;
  auto logits32_TV = fp32->forward(tokens_1T)[0].to(torch::kFloat32);
  auto logits16_TV = bf16->forward(tokens_1T.to(torch::kCUDA))[0].to(torch::kFloat32).cpu();
  auto top2 = std::get<0>(logits32_TV.topk(2, -1));
  auto decided = (top2.select(-1, 0) - top2.select(-1, 1)).gt(0.25);
  auto agree = logits16_TV.argmax(-1).eq(logits32_TV.argmax(-1));
  const int64_t n_decided = decided.sum().item<int64_t>();
  const int64_t n_agree_decided = (agree & decided).sum().item<int64_t>();
  int64_t prefix = 0;
  while (prefix < static_cast<int64_t>(got.size()) && got[prefix] == want[prefix]) ++prefix;
  std::cout << "[bf16 vs fp32] decided positions " << n_decided << "/" << ids.size() << ", bf16 argmax agrees on "
            << n_agree_decided << "; all positions " << agree.sum().item<int64_t>() << "/" << ids.size()
            << "; free-running greedy equal for the first " << prefix << "/" << n << " tokens; max |Δlogit| "
            << (logits16_TV - logits32_TV).abs().max().item<double>() << "\n";
  EXPECT_GT(n_decided, static_cast<int64_t>(ids.size()) / 2);
  EXPECT_EQ(n_agree_decided, n_decided);
  EXPECT_GE(prefix, 16);
}

}  // namespace
}  // namespace crucible::model
