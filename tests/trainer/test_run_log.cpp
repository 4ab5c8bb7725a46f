// trainer::TrainRun: the run row (kind, config, status), one train_steps row per step, checkpoints as artifacts,
// SIGINT as a flag, a run abandoned by an exception marked failed.
#include <gtest/gtest.h>

#include <csignal>

#include "core/error.h"
#include "reports/store.h"
#include "tests/support/test_support.h"
#include "trainer/run_log.h"

namespace crucible::trainer {
namespace {

TrainRunSpec spec() {
  TrainRunSpec s;
  s.kind = "train-sft";
  s.model_path = "/models/tiny";
  s.model_format = "hf";
  s.model_hash = "h1";
  s.config = {{"optim", {{"lr", 1e-4}}}, {"steps", 3}};
  s.seed = 5;
  s.total_steps = 3;
  s.progress = false;
  return s;
}

nlohmann::json metrics(double loss) {
  return {{"loss", loss}, {"lr", 1e-4}, {"grad_norm", 0.5}, {"tokens", 100}, {"seconds", 0.25}};
}

TEST(TrainRun, RecordsRunStepsCheckpointsAndStatus) {
  testing::TempDir dir;
  const std::string db = dir.file("t.db");
  int64_t id = 0;
  {
    auto run = TrainRun::start(db, spec());
    id = run.id();
    run.log_step(1, metrics(2.0));
    run.log_step(2, metrics(1.5));
    run.add_checkpoint(dir.file("out/step-2"), 2);
    try {
      run.log_step(3, {{"loss", 1.0}});
      FAIL();
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("lr"), std::string::npos) << e.what();
    }
    run.finish("completed");
    run.finish("failed");  // the first status wins
  }
  Store store = Store::open(db);
  auto r = store.get_run(id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, "train-sft");
  EXPECT_EQ(r->status, "completed");
  EXPECT_TRUE(r->ended_at.has_value());
  EXPECT_EQ(r->seed, 5);
  EXPECT_EQ(r->config["optim"]["lr"], 1e-4);
  EXPECT_EQ(r->name, "train-sft-tiny");
  auto steps = store.run_train_steps(id);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[1].metrics["loss"], 1.5);
  auto arts = store.run_artifacts(id);
  ASSERT_EQ(arts.size(), 1u);
  EXPECT_EQ(arts[0].kind, "checkpoint");
  EXPECT_EQ(arts[0].meta["step"], 2);
  EXPECT_EQ(store.get_model(*r->model_id)->content_hash, "h1");
}

TEST(TrainRun, AbandonedRunIsFailedAndSigintIsInterrupted) {
  testing::TempDir dir;
  const std::string db = dir.file("t.db");
  int64_t failed = 0, interrupted = 0;
  try {
    auto run = TrainRun::start(db, spec());
    failed = run.id();
    throw RunError("the loop died");
  } catch (const RunError&) {
  }
  {
    auto run = TrainRun::start(db, spec());
    interrupted = run.id();
    EXPECT_FALSE(TrainRun::stop_requested());
    std::raise(SIGINT);  // the handler only sets the flag: this process goes on
    EXPECT_TRUE(TrainRun::stop_requested());
    run.finish(TrainRun::stop_requested() ? "interrupted" : "completed");
  }
  Store store = Store::open(db);
  EXPECT_EQ(store.get_run(failed)->status, "failed");
  EXPECT_EQ(store.get_run(interrupted)->status, "interrupted");
  auto s = spec();
  s.kind = "eval";
  EXPECT_THROW(TrainRun::start(db, s), InputError);
}

TEST(TrainRun, DurationFormat) {
  EXPECT_EQ(format_duration(12.2), "12s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
}

}  // namespace
}  // namespace crucible::trainer
