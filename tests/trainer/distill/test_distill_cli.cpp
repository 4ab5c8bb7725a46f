// `crucible distill traces -> export -> sft` end to end on stories260K (llama2.c, no chat template), driving the built
// CLI. A MATH-500 problem is planted among the prompts: decontamination must remove its traces and name the suite.
// The funnel shows in `crucible report`, the identical command resumes, and the student's run records its traces run.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "harness/logprob_pack.h"
#include "trainer/distill/traces.h"
#include "reports/store.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

using testing::crucible_binary;
using testing::run_command;

// The llama2.c demo model and its tokenizer, in ../shared.
std::string stories(const std::string& file) { return testing::shared_dir() + "/models/stories260K/" + file; }

TEST(DistillCli, TracesExportSftEndToEnd) {
  CRUCIBLE_REQUIRE_SHARED();
  const std::string data = testing::shared_dir() + "/data";
  std::string planted;
  {
    std::ifstream f(data + "/math500/test.jsonl");
    std::string line;
    std::getline(f, line);
    planted = nlohmann::json::parse(line)["problem"].get<std::string>();
  }
  testing::TempDir dir;
  {
    std::ofstream f(dir.file("prompts.jsonl"));
    f << R"({"id": "cats", "prompt": "Lily had 2 cats and got 3 more. How many cats?", "answer": "5"})" << "\n"
      << nlohmann::json{{"id", "planted"}, {"prompt", planted}, {"answer", "x"}}.dump() << "\n"
      << R"({"id": "balls", "prompt": "Tom had 7 balls and lost 4. How many balls?", "answer": 3})" << "\n";
  }
  const auto db = dir.file("c.db");
  // stories260K never closes a think block nor answers: the filters that gate here are the text ones.
  const std::vector<std::string> traces_cmd = {
      crucible_binary(), "--json", "--db", db, "distill", "traces", "--teacher", stories("stories260K.bin"),
      "--tokenizer", stories("tok512.bin"), "--prompts", dir.file("prompts.jsonl"), "--samples", "2",
      "--max-tokens", "24", "--seed", "3", "--data-dir", data, "--filters", "repetition,exact_dup,near_dup,decontam",
      "--top-logprobs", "3"};
  auto r = run_command(traces_cmd);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto out = nlohmann::json::parse(r.out);
  const int64_t run_id = out["run_id"].get<int64_t>();
  const auto& funnel = out["funnel"];
  EXPECT_EQ(funnel["generated"], 6);
  EXPECT_EQ(funnel["stages"].size(), 8u);
  EXPECT_EQ(funnel["stages"][7]["filter"], "decontam");
  EXPECT_EQ(funnel["stages"][7]["passed"], 4);  // the planted problem's two traces quote MATH-500
  const int64_t kept = funnel["kept"].get<int64_t>();
  EXPECT_GE(kept, 1);
  EXPECT_LE(kept, 4);
  EXPECT_EQ(out["decontam_suites"].size(), 11u);

  {
    auto store = Store::open_read_only(db);
    auto run = store.get_run(run_id);
    ASSERT_TRUE(run);
    EXPECT_EQ(run->kind, "distill-traces");
    EXPECT_EQ(run->config["distill"]["stage"], "traces");
    int64_t stored_kept = 0;
    for (const auto& s : store.run_samples(run_id)) {
      const auto& d = s.detail["distill"];
      ASSERT_TRUE(d.contains("checks")) << s.detail.dump();
      stored_kept += d["kept"].get<bool>();
      const auto& hit = d["checks"]["decontam"];
      if (!hit["pass"].get<bool>()) {
        EXPECT_EQ(d["failed_at"], "decontam");
        EXPECT_EQ(hit["hit"]["suite"], "math500");
        EXPECT_EQ(hit["hit"]["problem"], "test/precalculus/807.json");
      }
    }
    EXPECT_EQ(stored_kept, kept);
    // --top-logprobs 3: every token of every trace carries the teacher's 3 best alternatives, most likely first
    // (what `--kd topk:K` is to train on).
    EXPECT_EQ(run->config["distill"]["top_logprobs"], 3);
    for (const auto& s : store.run_samples(run_id)) {
      auto packed = store.sample_logprobs(s.id);
      ASSERT_TRUE(packed) << "sample " << s.id;
      auto tokens = harness::unpack_logprobs(*packed, "test");
      ASSERT_EQ(static_cast<int64_t>(tokens.size()), s.completion_tokens);
      for (const auto& t : tokens) {
        ASSERT_EQ(t.top.size(), 3u);
        EXPECT_GE(t.top[0].logprob, t.top[1].logprob);
        EXPECT_LE(t.logprob, t.top[0].logprob + 1e-6);
      }
    }
    // The KD targets of the kept traces: K = 2 of the 3 stored; asking for more than were stored names the field.
    auto topk = distill::kept_teacher_topk(store, *run, 2);
    ASSERT_EQ(static_cast<int64_t>(topk.size()), kept);
    for (const auto& t : topk) {
      EXPECT_EQ(t.top_ids.size(), 2 * t.token_ids.size());
      EXPECT_EQ(t.top_logprobs.size(), t.top_ids.size());
      EXPECT_FALSE(t.token_ids.empty());
    }
    try {
      distill::kept_teacher_topk(store, *run, 4);
      ADD_FAILURE() << "k = 4 > 3 stored";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("top_logprobs"), std::string::npos) << e.what();
    }
  }

  // The identical command resumes: nothing generated again, the same funnel.
  r = run_command(traces_cmd);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto again = nlohmann::json::parse(r.out);
  EXPECT_EQ(again["run_id"], run_id);
  EXPECT_EQ(again["samples_generated"], 0);
  EXPECT_EQ(again["funnel"], funnel);

  // A --prompts run has no registry suite to rebuild its grader from: regrade says so and changes nothing.
  r = run_command({crucible_binary(), "--db", db, "regrade", std::to_string(run_id)});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is not a registry suite"), std::string::npos) << r.err;

  // `runs list --kind distill-traces` lists it (and only it).
  r = run_command({crucible_binary(), "--json", "--db", db, "runs", "list", "--kind", "distill-traces"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto listed = nlohmann::json::parse(r.out);
  ASSERT_EQ(listed.size(), 1u) << r.out;
  EXPECT_EQ(listed[0]["id"], run_id);
  EXPECT_EQ(listed[0]["kind"], "distill-traces");
  r = run_command({crucible_binary(), "--json", "--db", db, "runs", "list", "--kind", "train-sft"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 0u);

  r = run_command({crucible_binary(), "--db", db, "report", std::to_string(run_id)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("## Trace funnel"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| decontam | 4 |"), std::string::npos) << r.out;

  // export: one {"messages": [user, assistant]} line per kept trace.
  r = run_command({crucible_binary(), "--db", db, "distill", "export", std::to_string(run_id), "-o",
                   dir.file("kept.jsonl")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  int64_t lines = 0;
  {
    std::ifstream f(dir.file("kept.jsonl"));
    for (std::string line; std::getline(f, line); ++lines) {
      auto j = nlohmann::json::parse(line);
      ASSERT_EQ(j["messages"].size(), 2u);
      EXPECT_EQ(j["messages"][0]["role"], "user");
      EXPECT_EQ(j["messages"][1]["role"], "assistant");
      EXPECT_EQ(j["messages"][1]["content"].get<std::string>().rfind("<think>\n", 0), 0u);
      EXPECT_EQ(j["messages"][0]["content"].get<std::string>().find("rectangular"), std::string::npos);
    }
  }
  EXPECT_EQ(lines, kept);

  // sft on the run's kept traces: a train-sft run that records where its data came from.
  r = run_command({crucible_binary(), "--json", "--db", db, "distill", "sft", "--student", stories("stories260K.bin"),
                   "--tokenizer", stories("tok512.bin"), "--traces", std::to_string(run_id), "--out",
                   dir.file("student"), "--steps", "2", "--batch-tokens", "256", "--max-seq-len", "256", "--lr", "1e-3"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto sft = nlohmann::json::parse(r.out);
  EXPECT_EQ(sft["status"], "completed");
  EXPECT_EQ(sft["steps"], 2);
  EXPECT_EQ(sft["traces_run"], run_id);
  EXPECT_TRUE(std::filesystem::exists(dir.file("student/distill-traces.jsonl")));
  {
    auto store = Store::open_read_only(db);
    auto student = store.get_run(sft["run_id"].get<int64_t>());
    ASSERT_TRUE(student);
    EXPECT_EQ(student->kind, "train-sft");
    EXPECT_EQ(student->config["distill"]["traces_run"], run_id);
    EXPECT_EQ(store.run_train_steps(student->id).size(), 2u);
  }

  // --kd topk:2: the student trains on the teacher's own token ids with its top-2 per token; the run records it.
  const std::vector<std::string> kd_cmd = {
      crucible_binary(), "--json", "--db", db, "distill", "sft", "--student", stories("stories260K.bin"), "--tokenizer",
      stories("tok512.bin"), "--traces", std::to_string(run_id), "--steps", "2", "--batch-tokens", "256",
      "--max-seq-len", "256", "--lr", "1e-3"};
  auto with = [](std::vector<std::string> v, std::initializer_list<std::string> more) {
    v.insert(v.end(), more);
    return v;
  };
  r = run_command(with(kd_cmd, {"--kd", "topk:2", "--kd-alpha", "0.5", "--out", dir.file("kd")}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto kd = nlohmann::json::parse(r.out);
  EXPECT_EQ(kd["status"], "completed");
  EXPECT_EQ(kd["steps"], 2);
  {
    auto store = Store::open_read_only(db);
    auto student = store.get_run(kd["run_id"].get<int64_t>());
    ASSERT_TRUE(student);
    EXPECT_EQ(student->kind, "train-sft");
    EXPECT_EQ(student->config["distill"]["kd"]["k"], 2);
    EXPECT_EQ(student->config["distill"]["kd"]["alpha"], 0.5);
    EXPECT_EQ(student->config["kd_alpha"], 0.5);
    // The records carry the stored trace tokens and top-2 arrays, one per token.
    auto topk = distill::kept_teacher_topk(store, *store.get_run(run_id), 2);
    std::ifstream f(dir.file("kd/distill-traces.jsonl"));
    size_t n = 0;
    for (std::string line; std::getline(f, line); ++n) {
      auto j = nlohmann::json::parse(line);
      ASSERT_LT(n, topk.size());
      EXPECT_EQ(j["completion_ids"].get<std::vector<int32_t>>(), topk[n].token_ids);
      ASSERT_EQ(j["teacher_topk"]["ids"].size(), topk[n].token_ids.size());
      EXPECT_EQ(j["teacher_topk"]["ids"][0].size(), 2u);
      EXPECT_EQ(j["assistant_prefix"], "<think>\n");
    }
    EXPECT_EQ(n, topk.size());
  }
  // alpha = 0 is the CE path on the same (teacher-token) examples: the same losses as KD-free training on the
  // records without their top-K.
  r = run_command(with(kd_cmd, {"--kd", "topk:2", "--kd-alpha", "0", "--out", dir.file("kd0")}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto kd0 = nlohmann::json::parse(r.out);
  {
    std::ifstream in(dir.file("kd0/distill-traces.jsonl"));
    std::ofstream out(dir.file("plain.jsonl")), bad(dir.file("other-vocab.jsonl"));
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      j.erase("teacher_topk");
      out << j.dump() << "\n";
      j["completion"] = "[" + j["completion"].get<std::string>();  // as a tokenizer with other ids would read them
      bad << j.dump() << "\n";
    }
  }
  r = run_command({crucible_binary(), "--json", "--db", db, "distill", "sft", "--student", stories("stories260K.bin"),
                   "--tokenizer", stories("tok512.bin"), "--traces", dir.file("plain.jsonl"), "--steps", "2",
                   "--batch-tokens", "256", "--max-seq-len", "256", "--lr", "1e-3", "--out", dir.file("plain")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto plain = nlohmann::json::parse(r.out);
  EXPECT_NEAR(kd0["first_loss"].get<double>(), plain["first_loss"].get<double>(), 1e-6);
  // after one update: the CE path's float32 log-softmax is kernels/logprob's, the KD path's torch's (last bits)
  EXPECT_NEAR(kd0["last_loss"].get<double>(), plain["last_loss"].get<double>(), 1e-5);
  std::printf("alpha 0 vs CE: first loss %.9f vs %.9f, last %.9f vs %.9f\n", kd0["first_loss"].get<double>(),
              plain["first_loss"].get<double>(), kd0["last_loss"].get<double>(), plain["last_loss"].get<double>());
  // A student whose tokenizer reads the teacher's ids as other text is refused, naming the file and the field.
  r = run_command({crucible_binary(), "--db", db, "distill", "sft", "--student", stories("stories260K.bin"),
                   "--tokenizer", stories("tok512.bin"), "--traces", dir.file("other-vocab.jsonl"), "--steps", "1",
                   "--out", dir.file("refused")});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("other-vocab.jsonl:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("completion_ids"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("share a tokenizer"), std::string::npos) << r.err;
  // --kd needs the run; a K above the stored top-N names the field.
  r = run_command(with(kd_cmd, {"--kd", "topk:4", "--out", dir.file("kd4")}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("top_logprobs"), std::string::npos) << r.err;
  r = run_command(with(kd_cmd, {"--kd", "top:2", "--out", dir.file("kdx")}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--kd"), std::string::npos) << r.err;

  // Bad input: exporting a run that is not a traces run names the run and the field, exit 2.
  r = run_command({crucible_binary(), "--db", db, "distill", "export", sft["run_id"].dump(), "-o", dir.file("x.jsonl")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("kind"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.jsonl")));
}

// `crucible regrade` of a traces run grades it again and judges its funnel again, so what it keeps follows the new
// grades. The stored grades are first made wrong on purpose (every trace "correct", as a grader bug would), the
// identical command re-judges them into "kept"; regrade restores the grades and with them the funnel.
TEST(DistillCli, RegradeOfATracesRunJudgesItsFunnelAgain) {
  CRUCIBLE_REQUIRE_SHARED();
  testing::TempDir dir;
  const auto db = dir.file("c.db");
  const std::vector<std::string> traces_cmd = {
      crucible_binary(), "--json", "--db", db, "distill", "traces", "--teacher", stories("stories260K.bin"),
      "--tokenizer", stories("tok512.bin"), "--suite", "gsm8k", "--limit", "2", "--samples", "2", "--max-tokens", "8",
      "--data-dir", testing::shared_dir() + "/data", "--filters", "correct", "--no-decontam"};
  auto r = run_command(traces_cmd);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto first = nlohmann::json::parse(r.out);
  const int64_t run_id = first["run_id"].get<int64_t>();
  ASSERT_EQ(first["funnel"]["kept"], 0) << "stories260K answers no GSM8K problem in 8 tokens";
  {
    Store store = Store::open(db);
    auto samples = store.run_samples(run_id);
    ASSERT_EQ(samples.size(), 4u);
    for (auto& s : samples) {
      s.correct = true;
      s.verdict = "correct";
    }
    store.update_grading(samples);
  }
  r = run_command(traces_cmd);  // resumes: nothing generated, the tampered grades judged
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(nlohmann::json::parse(r.out)["funnel"]["kept"], 4);

  r = run_command({crucible_binary(), "--json", "--db", db, "regrade", std::to_string(run_id)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto regraded = nlohmann::json::parse(r.out);
  EXPECT_EQ(regraded["changed"], 4);
  EXPECT_EQ(regraded["funnel"]["kept"], 0) << regraded.dump();
  Store store = Store::open_read_only(db);
  for (const auto& s : store.run_samples(run_id)) {
    EXPECT_FALSE(s.correct.value_or(true));
    EXPECT_FALSE(s.detail.at("distill").at("kept").get<bool>()) << s.detail.dump();
  }
  EXPECT_EQ(store.get_run(run_id)->config["distill"]["funnel"]["kept"], 0);
}

}  // namespace
}  // namespace crucible
