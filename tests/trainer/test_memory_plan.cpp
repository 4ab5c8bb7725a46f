// The --dry-run memory plan (trainer/dist/memory_plan.h) on Qwen2.5 1.5B / 7B / 32B configs (tests/trainer/fixtures,
// shapes from their public config.json): parameter counts, and how --shard and --grad-checkpointing change a rank's
// share. Prints the 8-rank plans that trainer/README.md quotes.
#include <gtest/gtest.h>

#include <cstdio>

#include "model/config.h"
#include "tests/support/test_support.h"
#include "trainer/dist/memory_plan.h"

namespace crucible::trainer::dist {
namespace {

model::ModelConfig fixture(const std::string& name) {
  return model::ModelConfig::from_hf_file(testing::source_dir() + "/tests/trainer/fixtures/" + name + "-config.json");
}

TEST(MemoryPlan, ParameterCountsOfQwen25) {
  EXPECT_EQ(count_parameters(fixture("qwen2.5-1.5b")), 1543714304);  // tied embeddings
  EXPECT_EQ(count_parameters(fixture("qwen2.5-7b")), 7615616512);
  EXPECT_EQ(count_parameters(fixture("qwen2.5-32b")), 32763876352);
}

TEST(MemoryPlan, ShardAndCheckpointingShrinkTheirParts) {
  for (const char* name : {"qwen2.5-1.5b", "qwen2.5-7b", "qwen2.5-32b"}) {
    MemoryPlanInput in;
    in.model = fixture(name);
    in.world_size = 8;
    in.row_tokens = 4096;
    in.scored_tokens = 4096;
    const auto full = plan_memory(in);
    in.shard = true;
    const auto shard = plan_memory(in);
    in.grad_checkpointing = true;
    const auto both = plan_memory(in);
    EXPECT_EQ(full.weights, 4 * full.parameters);
    EXPECT_EQ(full.optimizer, 8 * full.parameters);
    // 1/8 of the moments, nothing else (the slice AdamW updates is a view of the weights).
    EXPECT_NEAR(static_cast<double>(shard.optimizer) / static_cast<double>(full.optimizer), 1.0 / 8.0, 1e-6);
    // Reduce-scattered, one 4096-token row a rank: the 1/8 slice plus the bucket in flight (the embedding's).
    EXPECT_EQ(shard.gradients, 4 * ((full.parameters + 7) / 8) + bucket_bytes_in_flight(in.model));
    EXPECT_EQ(bucket_bytes_in_flight(in.model), 4 * in.model.vocab_size * in.model.hidden_size);
    EXPECT_LT(both.activations * 5, shard.activations) << name;
    std::printf("%s on 8 ranks, 4096-token rows:\n%s%s%s", name, format_plan(MemoryPlanInput{in.model, 8, false,
                false, 4096, 4096}, full).c_str(), format_plan(MemoryPlanInput{in.model, 8, true, false, 4096, 4096},
                shard).c_str(), format_plan(in, both).c_str());
  }
}

// SFT: a rank packs its rows from its share of --batch-tokens, so a row is at most ceil(batch / W) tokens long; and
// cross_entropy keeps log_softmax's output beside the logits and their gradient.
TEST(MemoryPlan, SftRowIsTheRanksShareOfTheBatch) {
  MemoryPlanInput in;
  in.model = fixture("qwen2.5-1.5b");
  in.world_size = 2;
  in.row_tokens = in.scored_tokens = 1024;
  const auto whole = plan_memory(in);
  in.batch_tokens = 1024;  // 512 a rank
  const auto half = plan_memory(in);
  EXPECT_EQ(half.activations * 2, whole.activations);
  EXPECT_EQ(half.logits * 2, whole.logits);
  EXPECT_EQ(half.weights, whole.weights);
  in.batch_tokens = 4096;  // a share longer than a row: the row's length
  EXPECT_EQ(plan_memory(in).activations, whole.activations);
  in.logits_copies = 3;
  EXPECT_EQ(plan_memory(in).logits, 3 * int64_t{1024} * in.model.vocab_size * 4);  // cross_entropy: all kept
  // token_logprobs keeps value + gradient of the scored rows only when they fit 64 Mi logits (and GRPO's
  // logprob chunk); beyond, one chunk of logits at a time.
  in.logits_copies = 2;
  in.model.vocab_size = 32000;  // 1024 x 32000 < 64 Mi
  EXPECT_EQ(plan_memory(in).logits, 2 * int64_t{1024} * 32000 * 4);
  in.logits_keep_rows = 512;  // GRPO with a logprob chunk of 512: chunks of 512, recomputed
  in.logits_chunk_rows = 512;
  EXPECT_EQ(plan_memory(in).logits, int64_t{512} * 32000 * 4);
  in.model = fixture("qwen2.5-1.5b");  // 1024 x 151,936 > 64 Mi: one chunk of 512 rows
  EXPECT_EQ(plan_memory(in).logits, int64_t{512} * in.model.vocab_size * 4);
}

// --shard's gradients: 1/W plus the buckets in flight, however many micro-batches a rank's step has (each backward
// pass is reduce-scattered before the next); without --shard, or on one rank, the whole model.
TEST(MemoryPlan, ShardedGradientsAreTheSliceWithAnyMicroBatchCount) {
  MemoryPlanInput in;
  in.model = fixture("qwen2.5-7b");
  in.world_size = 8;
  in.shard = true;
  in.row_tokens = in.scored_tokens = 4096;
  in.batch_tokens = 32768;  // 4096 a rank: one row
  EXPECT_EQ(micro_batches_per_rank(in), 1);
  const auto p = plan_memory(in);
  const int64_t buckets = bucket_bytes_in_flight(in.model);
  EXPECT_EQ(p.gradients, 4 * ((p.parameters + 7) / 8) + buckets);
  in.batch_tokens = 65536;  // 8192 a rank: two rows
  EXPECT_EQ(micro_batches_per_rank(in), 2);
  EXPECT_EQ(plan_memory(in).gradients, 4 * ((p.parameters + 7) / 8) + buckets);
  in.shard = false;
  EXPECT_EQ(plan_memory(in).gradients, 4 * p.parameters);
  in.shard = true;
  in.world_size = 1;  // --shard alone on one process: nothing to scatter
  EXPECT_EQ(plan_memory(in).gradients, 4 * p.parameters);
  // GRPO: 8 prompts x G 16 over 8 ranks = 16 sequences a rank, micro-batch 8: two micro-batches; 16: one.
  in.world_size = 8;
  in.prompts_per_step = 8;
  in.group_size = 16;
  in.micro_batch = 8;
  EXPECT_EQ(micro_batches_per_rank(in), 2);
  in.micro_batch = 16;
  EXPECT_EQ(micro_batches_per_rank(in), 1);
  EXPECT_EQ(plan_memory(in).gradients, 4 * ((p.parameters + 7) / 8) + buckets);
}

// The [V, D] gradient computed apart and then summed into .grad: tied embeddings always; an untied model only where
// a backward pass meets a gradient already defined (several ranks' bucket views, several micro-batches), which
// --shard on several ranks never does.
TEST(MemoryPlan, TransientVocabularyGradient) {
  MemoryPlanInput in;
  in.model = fixture("qwen2.5-7b");  // untied
  in.row_tokens = in.scored_tokens = 4096;
  const int64_t vd = 4 * in.model.vocab_size * in.model.hidden_size;
  EXPECT_EQ(plan_memory(in).transient, 0);  // one rank, one row into an undefined .grad
  in.batch_tokens = 8192;                    // two rows
  EXPECT_EQ(plan_memory(in).transient, vd);
  in.batch_tokens = 4096;
  in.world_size = 2;  // buckets: one row a rank, into the reducer's views
  EXPECT_EQ(plan_memory(in).transient, vd);
  const auto p = plan_memory(in);
  EXPECT_EQ(p.total(), p.weights + p.gradients + p.optimizer + p.activations + p.logits + p.kv_cache + vd);
  in.shard = true;  // each pass's .grad reduce-scattered and freed: the next finds none
  EXPECT_EQ(plan_memory(in).transient, 0);
  in.batch_tokens = 16384;  // two rows a rank, still
  EXPECT_EQ(plan_memory(in).transient, 0);
  in.shard = false;
  in.world_size = 1;
  in.model = fixture("qwen2.5-1.5b");  // tied
  in.shard = true;
  EXPECT_EQ(plan_memory(in).transient, 4 * in.model.vocab_size * in.model.hidden_size);
}

}  // namespace
}  // namespace crucible::trainer::dist
