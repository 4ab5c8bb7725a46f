// The engine on weights a training loop updates (stories260K): after one SGD step on the module's parameters (and
// the trainer's refresh) the engine's greedy output equals that of a model freshly loaded from the saved weights; an
// in-place update is seen without a refresh; the packed inference weights are remade once per update, not per call. An inference-only model (dense copies released) generates the
// same tokens and gives its dense weights back exactly.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/checkpoint.h"
#include "model/engine.h"
#include "model/generation_model.h"
#include "tests/support/test_support.h"

namespace crucible::model {
namespace {

std::string stories(const std::string& f) { return testing::shared_dir() + "/models/stories260K/" + f; }

std::vector<TokenId> greedy(Engine& engine, int64_t n = 48) {
  GenerationRequest r;
  r.prompt = {1, 403, 407, 261};
  r.params.max_new_tokens = n;
  r.params.ignore_eos = true;
  return engine.generate({r})[0].tokens;
}

class SharedWeights : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "../shared/models/stories260K missing";
  }
};

TEST_F(SharedWeights, EngineSeesAnOptimizerStepAndRepacksOnce) {
  auto model = load_model(stories("stories260K.bin"));
  Engine engine(model, nullptr);
  const auto before = greedy(engine);
  const int64_t packs = model->times_packed();
  greedy(engine);
  EXPECT_EQ(model->times_packed(), packs) << "no update, no repack";

  // One SGD step on next-token cross-entropy over a short text, with torch's own optimizer.
  model->train();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.5));
  auto ids = torch::tensor(std::vector<int64_t>{1, 403, 407, 261, 300, 270, 280, 290, 310, 320}).unsqueeze(0);
  auto logits = model->forward(ids.narrow(1, 0, 9));
  auto loss = torch::nn::functional::cross_entropy(logits.view({9, -1}), ids.narrow(1, 1, 9).reshape({9}));
  sgd.zero_grad();
  loss.backward();
  sgd.step();  // through p.data(): no version counter moves, so the trainer refreshes explicitly
  model->eval();
  model->refresh_inference_weights();

  const auto after = greedy(engine);
  EXPECT_EQ(model->times_packed(), packs + 1) << "one repack for the step";
  greedy(engine);
  greedy(engine);
  EXPECT_EQ(model->times_packed(), packs + 1) << "never repacked per call";
  EXPECT_NE(after, before) << "the update changed the greedy output (else the test proves nothing)";

  testing::TempDir dir;
  save_hf_folder(model, dir.path());
  auto fresh = load_model(dir.path());
  Engine fresh_engine(fresh, nullptr);
  EXPECT_EQ(greedy(fresh_engine), after);

  // An in-place update of the parameters themselves (as Python optimizers make) moves their version counters: seen
  // by the next forward without an explicit refresh, and packed once.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.mul_(0.97);
    for (auto& p : fresh->parameters()) p.mul_(0.97);
  }
  const auto scaled = greedy(engine);
  EXPECT_EQ(model->times_packed(), packs + 2);
  greedy(engine);
  EXPECT_EQ(model->times_packed(), packs + 2);
  EXPECT_EQ(greedy(fresh_engine), scaled);
}

TEST_F(SharedWeights, ReleasedDenseWeightsGenerateTheSameAndComeBackExactly) {
  auto dense = load_model(stories("stories260K.bin"));
  LoadOptions o;
  o.path = stories("stories260K.bin");
  o.tokenizer = stories("tok512.bin");
  o.chat_template = false;
  o.hash_content = false;
  auto gm = load_generation_model(o);
  auto& released = gm.model;
  if (!released->dense_released()) GTEST_SKIP() << "no oneDNN packed path in this build: nothing is released";
  auto& q = released->model->layers[0]->as<DecoderLayerImpl>()->self_attn->q_proj->weight;
  EXPECT_EQ(q.numel(), 0) << "the dense copy is gone";

  Engine a(dense, nullptr), b(released, nullptr);
  EXPECT_EQ(greedy(b, 200), greedy(a, 200));

  released->restore_dense_weights();
  EXPECT_FALSE(released->dense_released());
  auto want = dense->named_parameters();
  for (const auto& p : released->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), want[p.key()])) << p.key() << " differs after restore";
  EXPECT_EQ(greedy(b, 200), greedy(a, 200));
}

// The inference-only load streams a GGUF through packing (each tensor dequantised straight into its parameter, the
// lm_head packed first, each layer packed and freed as it is read): the same greedy tokens as a dense load of the
// demo SmolLM2 (rotary rows un-permuted on the way, tied embeddings).
TEST(StreamedLoad, GgufPackedAsReadGeneratesTheSameAsDense) {
  const char* home = std::getenv("HOME");
  const std::string gguf = std::string(home ? home : "/root") + "/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(gguf)) GTEST_SKIP() << "demo SmolLM2 GGUF missing (scripts/setup)";
  auto dense = load_model(gguf);
  auto streamed = load_model(load_checkpoint(gguf), torch::kCPU, torch::kFloat32, /*inference_only=*/true);
  if (!streamed->dense_released()) GTEST_SKIP() << "no oneDNN packed path in this build: nothing is released";
  EXPECT_FALSE(dense->dense_released());
  // Q4_1 (and the Q8_0/Q6_K a Q4_1 file mixes in): every linear stays in its integer blocks, lm_head included.
  const int64_t L = streamed->config().num_hidden_layers;
  EXPECT_EQ(streamed->int_group_linears(), 1 + 4 * L);
  Engine a(dense, nullptr), b(streamed, nullptr);
  EXPECT_EQ(greedy(b, 32), greedy(a, 32));
  streamed->restore_dense_weights();  // int groups -> float32: bit-identical to the dequantising load
  auto want = dense->named_parameters();
  for (const auto& p : streamed->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), want[p.key()])) << p.key() << " differs after restore";
}

// The same load without int groups packs float32 (oneDNN) copies; both cached forwards give the same logits up to
// summation order, for a prefill (rows above the decode kernel's limit: blocks dequantised into MKL) and for decode
// steps of 1 to 9 rows (the int-group kernel).
TEST(StreamedLoad, GgufIntGroupsMatchFloat32Packing) {
  const char* home = std::getenv("HOME");
  const std::string gguf = std::string(home ? home : "/root") + "/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(gguf)) GTEST_SKIP() << "demo SmolLM2 GGUF missing (scripts/setup)";
  auto grouped = load_model(load_checkpoint(gguf), torch::kCPU, torch::kFloat32, true, /*keep_int_groups=*/true);
  auto packed = load_model(load_checkpoint(gguf), torch::kCPU, torch::kFloat32, true, /*keep_int_groups=*/false);
  if (!packed->dense_released()) GTEST_SKIP() << "no oneDNN packed path in this build";
  EXPECT_EQ(packed->int_group_linears(), 0);
  ASSERT_GT(grouped->int_group_linears(), 0);
  torch::manual_seed(7);
  for (int64_t B : {1, 3, 8, 9}) {
    const int64_t P = 40;
    auto prompt_BP = torch::randint(100, 40000, {B, P}, torch::kInt64);
    auto next_B1 = torch::randint(100, 40000, {B, 1}, torch::kInt64);
    std::vector<torch::Tensor> logits;
    for (auto* m : {&grouped, &packed}) {
      KVCache cache = (*m)->make_cache(B, P + 1);
      CacheStep pre, dec;
      for (int64_t b = 0; b < B; ++b) {
        pre.slots_B.push_back(b), pre.start_B.push_back(0), pre.len_B.push_back(P);
        dec.slots_B.push_back(b), dec.start_B.push_back(P);
      }
      auto first = (*m)->forward_cached(prompt_BP, pre, cache);
      logits.push_back(torch::cat({first, (*m)->forward_cached(next_B1, dec, cache)}));
    }
    const double scale = logits[1].abs().max().item<double>();
    const double diff = (logits[0] - logits[1]).abs().max().item<double>();
    EXPECT_LT(diff, 1e-4 * scale) << "B=" << B << " max |int groups - float32| " << diff << " (logit scale " << scale << ")";
  }
}

}  // namespace
}  // namespace crucible::model
