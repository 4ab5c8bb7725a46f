// `crucible train sft` end to end on SmolLM2-135M-Instruct (the demo GGUF, dequantised): the loss of a repeated batch
// falls, the run and its steps are in the store, step folders and the final folder are written, transformers loads
// them unchanged (same chat-template ids, logits within 2e-5 of the logit scale of crucible's on the same folder), and bad input is an
// exit-2 error naming the file:line and the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "model/text/chat_template.h"
#include "model/text/tokenizer.h"
#include "reports/store.h"
#include "tests/support/oracle.h"

namespace crucible {
namespace {
namespace fs = std::filesystem;

std::string demo_gguf() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(SftCli, LossFallsStepFoldersLoadInTransformersAndRunIsStored) {
  if (!fs::exists(demo_gguf())) GTEST_SKIP() << "demo model missing: " << demo_gguf() << " (scripts/setup)";
  testing::TempDir dir;
  {
    std::ofstream data(dir.file("data.jsonl"));
    data << R"({"prompt": "What is the capital of Freedonia?", "completion": "The capital of Freedonia is Zorb."})"
         << "\n"
         << R"({"messages": [{"role": "user", "content": "Say the code word."}, {"role": "assistant", "content": "Blueberry-42."}]})"
         << "\n";
  }
  const std::string out = dir.file("out"), db = dir.file("t.db");
  // Both records in every step (a batch fills up to 4096 tokens): the loss of the same batch must fall.
  // --save-only-model: the step folder is the HF model alone (1.1 GB less on disk than a resumable one).
  auto r = testing::run_command({testing::crucible_binary(), "--json", "--db", db, "train", "sft", "--model",
                                 demo_gguf(), "--data", dir.file("data.jsonl"), "--out", out, "--steps", "4",
                                 "--batch-tokens", "4096", "--lr", "1e-4", "--warmup", "0", "--schedule", "constant",
                                 "--save-every", "2", "--save-only-model", "--grad-checkpointing", "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto res = nlohmann::json::parse(r.out);
  EXPECT_EQ(res["status"], "completed");
  EXPECT_EQ(res["steps"], 4);
  EXPECT_LT(res["last_loss"].get<double>(), 0.7 * res["first_loss"].get<double>()) << r.err;
  EXPECT_NE(r.err.find("eta"), std::string::npos) << "progress line";
  {
    Store store = Store::open(db);
    auto run = store.get_run(res["run_id"].get<int64_t>());
    ASSERT_TRUE(run);
    EXPECT_EQ(run->kind, "train-sft");
    EXPECT_EQ(run->status, "completed");
    EXPECT_EQ(run->config["optim"]["lr"], 1e-4);
    EXPECT_EQ(run->config["resolved"]["total_steps"], 4);
    auto steps = store.run_train_steps(run->id);
    ASSERT_EQ(steps.size(), 4u);
    for (const auto& s : steps)
      for (const char* f : {"loss", "lr", "grad_norm", "tokens", "seconds"}) EXPECT_TRUE(s.metrics.contains(f)) << f;
    EXPECT_EQ(store.run_artifacts(run->id).size(), 2u);  // step-2 and the final folder
  }
  ASSERT_TRUE(fs::exists(out + "/step-2/model.safetensors"));
  EXPECT_FALSE(fs::exists(out + "/step-2/trainer_state")) << "--save-only-model";
  ASSERT_TRUE(fs::exists(out + "/model.safetensors"));
  EXPECT_FALSE(fs::exists(out + "/step-4")) << "the last step is the final folder";

  // transformers loads the folders: same chat-template ids, same logits as crucible computes from them.
  CRUCIBLE_REQUIRE_ORACLE();
  for (const std::string folder : {out + "/step-2", out}) {
    auto tok = text::load_tokenizer(folder);
    auto tmpl = text::ChatTemplate::for_model(folder);
    std::vector<text::ChatMessage> msgs = {{"user", "Say the code word."}, {"assistant", "Blueberry-42."}};
    auto ids = tok->encode(tmpl.apply(msgs, false), false);
    auto model = model::load_model(folder);
    torch::NoGradGuard ng;
    auto logits = model->forward(torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0))[0]
                      .contiguous();
    model::write_safetensors(dir.file("logits.safetensors"),
                             {{"logits", "F32", logits.sizes().vec(), logits.data_ptr(),
                               static_cast<uint64_t>(logits.nbytes())}},
                             {});
    nlohmann::json probe = {{"messages", {{{"role", "user"}, {"content", msgs[0].content}},
                                          {{"role", "assistant"}, {"content", msgs[1].content}}}},
                            {"ids", ids},
                            {"logits", dir.file("logits.safetensors")}};
    std::ofstream(fs::path(folder).parent_path() / "probe.json") << probe.dump();
    auto c = testing::run_oracle("tests/trainer/oracles/sft_oracle.py", {"check-saved", folder});
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    std::printf("%s", c.out.c_str());
  }
}

TEST(SftCli, BadDataIsAnInputErrorNamingLineAndField) {
  if (!fs::exists(demo_gguf())) GTEST_SKIP() << "demo model missing: " << demo_gguf();
  testing::TempDir dir;
  std::ofstream(dir.file("bad.jsonl")) << R"({"prompt": "q", "completion": "a"})" << "\n"
                                       << R"({"messages": [{"role": "user", "content": 5}]})" << "\n";
  auto r = testing::run_command({testing::crucible_binary(), "--db", dir.file("t.db"), "train", "sft", "--model",
                                 demo_gguf(), "--data", dir.file("bad.jsonl"), "--out", dir.file("out"), "--steps", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(dir.file("bad.jsonl") + ":2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("messages[0].content"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("out")));
  auto flags = testing::run_command({testing::crucible_binary(), "train", "sft", "--model", demo_gguf(), "--data",
                                     dir.file("bad.jsonl"), "--out", dir.file("o"), "--steps", "2", "--epochs", "1"});
  EXPECT_EQ(flags.exit_code, 2) << "--steps and --epochs exclude each other";
  std::ofstream(dir.file("good.jsonl")) << R"({"prompt": "q", "completion": "a"})" << "\n";
  auto resume = testing::run_command({testing::crucible_binary(), "--db", dir.file("t.db"), "train", "sft", "--model",
                                      demo_gguf(), "--data", dir.file("good.jsonl"), "--out", dir.file("o2"),
                                      "--steps", "2", "--save-every", "1", "--save-only-model", "--resume", "auto"});
  EXPECT_EQ(resume.exit_code, 2) << resume.err;
  EXPECT_NE(resume.err.find("--resume"), std::string::npos) << resume.err;
  EXPECT_FALSE(fs::exists(dir.file("o2")));
}

}  // namespace
}  // namespace crucible
