#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "reports/sqlite.h"
#include "reports/store.h"
#include "reports/store_migrations.h"
#include "tests/reports/store_fixture.h"
#include "tests/support/test_support.h"

using namespace crucible;
using crucible::testing::make_sample;
using crucible::testing::populate;
using crucible::testing::TempDir;

namespace {
std::string pragma(Store& s, const std::string& name) {
  sql::Statement st(s.connection().handle(), "PRAGMA " + name);
  st.step();
  return st.column_text(0);
}
std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream b;
  b << in.rdbuf();
  return b.str();
}
}  // namespace

TEST(Store, MigratesFromEmpty) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(pragma(store, "journal_mode"), "wal");
  EXPECT_EQ(pragma(store, "foreign_keys"), "1");
  for (const char* table : {"models", "datasets", "runs", "problems", "samples", "scores", "train_steps", "artifacts",
                            "schema_version", "run_datasets"}) {
    sql::Statement st(store.connection().handle(), "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?");
    st.bind(1, table);
    st.step();
    EXPECT_EQ(st.column_int(0), 1) << table;
  }
  EXPECT_TRUE(store.list_runs().empty());
}

TEST(Store, ReopenDoesNotMigrateTwice) {
  TempDir dir;
  { Store::open(dir.file("c.db")); }
  Store store = Store::open(dir.file("c.db"));
  sql::Statement st(store.connection().handle(), "SELECT count(*) FROM schema_version");
  st.step();
  EXPECT_EQ(st.column_int(0), Store::kSchemaVersion);
}

TEST(Store, RefusesNewerSchemaWithoutTouchingIt) {
  TempDir dir;
  {
    Store s = Store::open(dir.file("c.db"));
    s.connection().exec("INSERT INTO schema_version VALUES (99, 'future')");
  }
  try {
    Store::open(dir.file("c.db"));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("schema_version"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("c.db"), std::string::npos) << e.what();
  }
}

TEST(Store, RefusesFileThatIsNotADatabase) {
  TempDir dir;
  std::string junk(4096, 'x');
  std::ofstream(dir.file("junk.db"), std::ios::binary) << junk;
  try {
    Store::open(dir.file("junk.db"));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("junk.db"), std::string::npos) << e.what();
  }
  EXPECT_EQ(file_bytes(dir.file("junk.db")), junk) << "a bad file must not be modified";
}

TEST(Store, OpenWithoutCreateNeedsAnExistingFile) {
  TempDir dir;
  EXPECT_THROW(Store::open(dir.file("none.db"), false), InputError);
}

TEST(Store, SamplesScoresAndSummaries) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  auto p = populate(store);
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 4; ++k) store.insert_sample(make_sample(p.run_id, p.problem_ids[i], k, k % 2 == 0));
  store.put_scores({{p.run_id, "gsm8k", "pass@1", 1, 0.5, 0.4, 0.6, 3}});
  store.put_scores({{p.run_id, "gsm8k", "pass@1", 1, 0.55, 0.45, 0.65, 3}});  // replaces
  store.finish_run(p.run_id, "completed");

  auto runs = store.list_runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].n_samples, 12);
  EXPECT_EQ(runs[0].n_graded, 12);
  EXPECT_EQ(runs[0].n_correct, 6);
  EXPECT_EQ(runs[0].model_path.value_or(""), "/models/m");
  EXPECT_EQ(runs[0].run.status, "completed");
  EXPECT_TRUE(runs[0].run.ended_at.has_value());
  EXPECT_FALSE(runs[0].run.git_sha.empty());
  auto scores = store.run_scores(p.run_id);
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_DOUBLE_EQ(scores[0].value, 0.55);

  auto samples = store.run_samples(p.run_id);
  ASSERT_EQ(samples.size(), 12u);
  EXPECT_EQ(samples[1].completion, make_sample(0, 0, 1, false).completion);
  EXPECT_EQ(samples[1].correct, std::optional<bool>(false));
}

TEST(Store, SampleIsStoredOnce) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  auto p = populate(store);
  store.insert_sample(make_sample(p.run_id, p.problem_ids[0], 0, true));
  EXPECT_THROW(store.insert_sample(make_sample(p.run_id, p.problem_ids[0], 0, true)), RunError);
  // A failing batch leaves nothing of itself behind.
  EXPECT_THROW(store.insert_samples({make_sample(p.run_id, p.problem_ids[1], 0, true),
                                     make_sample(p.run_id, p.problem_ids[0], 0, true)}),
               RunError);
  EXPECT_EQ(store.count_samples(p.run_id), 1);
  // A sample of an unknown problem violates the foreign key.
  EXPECT_THROW(store.insert_sample(make_sample(p.run_id, 424242, 0, true)), RunError);
}

TEST(Store, RegradeReplacesOnlyGrading) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  auto p = populate(store);
  store.insert_sample(make_sample(p.run_id, p.problem_ids[0], 0, false));
  auto s = store.run_samples(p.run_id).at(0);
  s.correct = true;
  s.verdict = "correct";
  s.grader_version = "math-2";
  s.completion = "changed";  // must be ignored
  store.update_grading({s});
  auto t = store.run_samples(p.run_id).at(0);
  EXPECT_EQ(t.correct, std::optional<bool>(true));
  EXPECT_EQ(t.grader_version.value_or(""), "math-2");
  EXPECT_NE(t.completion, "changed");
}

TEST(Store, DeleteCascadesButKeepsSharedRows) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  auto p = populate(store);
  store.insert_sample(make_sample(p.run_id, p.problem_ids[0], 0, true));
  store.put_scores({{p.run_id, "gsm8k", "pass@1", 1, 1.0, {}, {}, 1}});
  store.add_train_step({p.run_id, 1, {{"loss", 0.5}}});
  store.add_artifact({0, p.run_id, "report", "/tmp/r.html", {}, {}});
  EXPECT_TRUE(store.delete_run(p.run_id));
  EXPECT_FALSE(store.delete_run(p.run_id));
  EXPECT_FALSE(store.get_run(p.run_id).has_value());
  for (const char* table : {"samples", "scores", "train_steps", "artifacts", "run_datasets"}) {
    sql::Statement st(store.connection().handle(), std::string("SELECT count(*) FROM ") + table);
    st.step();
    EXPECT_EQ(st.column_int(0), 0) << table;
  }
  EXPECT_EQ(store.dataset_problems(p.dataset_id).size(), 3u);
  EXPECT_TRUE(store.get_model(p.model_id).has_value());
}

TEST(Store, FindRunByIdOrName) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  auto a = populate(store, "alpha", "i1");
  auto b = populate(store, "alpha", "i2");
  EXPECT_EQ(store.find_run(std::to_string(a.run_id))->id, a.run_id);
  EXPECT_EQ(store.find_run("alpha")->id, b.run_id);  // newest of that name
  EXPECT_FALSE(store.find_run("beta").has_value());
  EXPECT_EQ(store.find_run_by_identity("i1")->id, a.run_id);
}

TEST(Store, ExportImportRoundTrip) {
  TempDir dir;
  Store src = Store::open(dir.file("a.db"));
  auto p = populate(src);
  // Sample 1 carries packed logprobs (eval --store-logprobs): bytes of every value, NUL and 0xff included.
  std::string packed;
  for (int b = 0; b < 256; ++b) packed.push_back(static_cast<char>(b));
  for (int i = 0; i < 3; ++i) {
    auto smp = make_sample(p.run_id, p.problem_ids[i], 0, i == 1);
    if (i == 1) smp.logprobs = packed;
    src.insert_sample(smp);
  }
  src.put_scores({{p.run_id, "gsm8k", "pass@1", 1, 1.0 / 3, 0.0, 1.0, 3}});
  src.add_train_step({p.run_id, 5, {{"loss", 0.25}}});
  std::stringstream buf;
  src.export_run(p.run_id, buf);
  std::string exported = buf.str();

  Store dst = Store::open(dir.file("b.db"));
  populate(dst, "other", "other-identity");  // ids in dst differ from src
  std::istringstream in(exported);
  int64_t id = dst.import_run(in, "export.jsonl");
  auto samples = dst.run_samples(id);
  ASSERT_EQ(samples.size(), 3u);
  auto src_samples = src.run_samples(p.run_id);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(samples[i].completion, src_samples[i].completion);
    EXPECT_EQ(samples[i].correct, src_samples[i].correct);
    EXPECT_EQ(dst.sample_logprobs(samples[i].id), src.sample_logprobs(src_samples[i].id)) << i;
  }
  EXPECT_EQ(dst.sample_logprobs(samples[1].id), packed);
  EXPECT_EQ(dst.run_scores(id).size(), 1u);
  EXPECT_EQ(dst.run_train_steps(id).at(0).metrics["loss"], 0.25);
  EXPECT_EQ(dst.get_run(id)->identity, "id-1");

  // The same run again is refused, and nothing is written.
  auto before = dst.list_runs().size();
  std::istringstream again(exported);
  EXPECT_THROW(dst.import_run(again, "export.jsonl"), InputError);
  EXPECT_EQ(dst.list_runs().size(), before);
}

// An export of one graded sample with packed logprobs, from a fresh store in `dir`.
std::string one_sample_export(const TempDir& dir) {
  Store src = Store::open(dir.file("a.db"));
  auto p = populate(src);
  auto smp = make_sample(p.run_id, p.problem_ids[0], 0, true);
  smp.logprobs = "packed";
  src.insert_sample(smp);
  std::stringstream buf;
  src.export_run(p.run_id, buf);
  return buf.str();
}

// Imports `text` (named `source`) into a fresh store, which must refuse it and keep nothing; returns the error.
std::string refused_import(const TempDir& dir, const std::string& text, const std::string& source) {
  Store dst = Store::open(dir.file("b.db"));
  std::istringstream in(text);
  std::string error;
  try {
    dst.import_run(in, source);
    ADD_FAILURE() << "imported";
  } catch (const InputError& e) {
    error = e.what();
  }
  EXPECT_TRUE(dst.list_runs().empty());
  return error;
}

TEST(Store, ImportOfBrokenFileWritesNothing) {
  TempDir dir;
  const std::string text = one_sample_export(dir);
  // Damage the sample line: its problem_id refers to nothing.
  auto pos = text.find("\"type\":\"sample\"");
  ASSERT_NE(pos, std::string::npos);
  auto line_start = text.rfind('\n', pos) + 1;
  const std::string error =
      refused_import(dir, text.substr(0, line_start) + "{\"type\":\"sample\",\"problem_id\":999}\n", "broken.jsonl");
  EXPECT_NE(error.find("broken.jsonl:"), std::string::npos) << error;
  EXPECT_NE(error.find("problem_id"), std::string::npos) << error;
}

TEST(Store, ImportRefusesLogprobsThatAreNotBase64) {
  TempDir dir;
  std::string text = one_sample_export(dir);
  const auto at = text.find("\"logprobs\":\"");
  ASSERT_NE(at, std::string::npos) << "the export carries the sample's logprobs";
  text.insert(at + 12, "*");
  const std::string error = refused_import(dir, text, "bad.jsonl");
  EXPECT_NE(error.find("logprobs"), std::string::npos) << error;
}

TEST(Store, SampleKeysComeFromTheIndexAlone) {
  TempDir dir;
  Store store = Store::open(dir.file("c.db"));
  auto p = populate(store);
  auto other = populate(store, "other", "id-2");
  store.insert_samples({make_sample(p.run_id, p.problem_ids[2], 1, true), make_sample(p.run_id, p.problem_ids[0], 3, false),
                        make_sample(p.run_id, p.problem_ids[2], 0, true), make_sample(other.run_id, p.problem_ids[1], 0, true)});
  auto keys = store.run_sample_keys(p.run_id);
  ASSERT_EQ(keys.size(), 3u);
  auto samples = store.run_samples(p.run_id);  // same rows, same order
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(keys[i].problem_id, samples[i].problem_id);
    EXPECT_EQ(keys[i].sample_index, samples[i].sample_index);
  }
  EXPECT_EQ(keys[0].problem_id, p.problem_ids[0]);
  EXPECT_TRUE(store.run_sample_keys(424242).empty());
  // The resume check must not touch the table rows (completions): SQLite answers it from the UNIQUE index.
  sql::Statement plan(store.connection().handle(),
                      "EXPLAIN QUERY PLAN SELECT problem_id, sample_index FROM samples WHERE run_id = ? "
                      "ORDER BY problem_id, sample_index");
  plan.bind(1, p.run_id);
  std::string detail;
  while (plan.step()) detail += plan.column_text(3) + "\n";
  EXPECT_NE(detail.find("COVERING INDEX"), std::string::npos) << detail;
  EXPECT_EQ(detail.find("TEMP B-TREE"), std::string::npos) << "no sort step: " << detail;
}

namespace {
// Turns a current store back into version `to`: `runs` as migration `defined_by` created it (1: versions 1-3, 4:
// version 4), the migrations above `to` not recorded. Done the way migration 4 is (table rebuild with foreign keys
// off), so every other row stays. The old `runs` is taken from the released migration itself (a released migration
// is never edited). Rows of kinds the old CHECK refuses must be gone first.
void downgrade(Store& s, int to, int defined_by) {
  const std::string m = store_migration_sql(defined_by);
  const size_t begin = m.find("CREATE TABLE runs");
  const size_t paren = m.find(" (", begin);
  const size_t end = m.find("\n);", begin);
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const std::string old = "runs_v" + std::to_string(to);
  s.connection().exec("PRAGMA foreign_keys = OFF;\nBEGIN;\nCREATE TABLE " + old + m.substr(paren, end + 3 - paren) +
                      fmt::format(R"SQL(
INSERT INTO {0} SELECT * FROM runs;
DELETE FROM sqlite_sequence WHERE name = '{0}';
INSERT INTO sqlite_sequence (name, seq) SELECT '{0}', seq FROM sqlite_sequence WHERE name = 'runs';
DROP TABLE runs;
ALTER TABLE {0} RENAME TO runs;
CREATE INDEX runs_identity ON runs(identity);
CREATE INDEX runs_name ON runs(name);
DELETE FROM schema_version WHERE version > {1};
COMMIT;
PRAGMA foreign_keys = ON;
)SQL", old, to));
}
// An older file refuses `kind` in SQL itself (the CHECK of its `runs`).
void expect_kind_refused(Store& s, const std::string& kind) {
  EXPECT_THROW(s.connection().exec("INSERT INTO runs (name, kind, crucible_version, git_sha, host, started_at, "
                                   "status) VALUES ('x', '" + kind + "', 'v', 'g', 'h', 't', 'running')"),
               RunError);
}
// Opens (migrates) `db`: the current version, foreign keys back on.
Store open_migrated(const std::string& db) {
  Store s = Store::open(db);
  EXPECT_EQ(s.schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(pragma(s, "foreign_keys"), "1");
  return s;
}
int64_t count_rows(Store& s, const std::string& table) {
  sql::Statement st(s.connection().handle(), "SELECT count(*) FROM " + table);
  st.step();
  return st.column_int(0);
}
}  // namespace

TEST(Store, MigrationFourAddsTrainingKindsAndKeepsEveryRow) {
  TempDir dir;
  std::string db = dir.file("v3.db");
  int64_t run_id = 0, deleted_id = 0;
  {
    Store s = Store::open(db);
    auto p = populate(s);
    run_id = p.run_id;
    for (int i = 0; i < 3; ++i) {
      auto smp = make_sample(p.run_id, p.problem_ids[i], 0, i == 1);
      smp.logprobs = "packed";
      s.insert_sample(smp);
    }
    s.put_scores({{p.run_id, "gsm8k", "pass@1", 1, 1.0 / 3, 0.0, 1.0, 3}});
    s.add_train_step({p.run_id, 1, {{"loss", 0.5}}});
    s.add_artifact({0, p.run_id, "report", "/tmp/r.html", {}, {}});
    deleted_id = populate(s, "gone", "id-gone").run_id;  // the highest id, then deleted: must never come back
    ASSERT_TRUE(s.delete_run(deleted_id));
    downgrade(s, 3, 1);
    ASSERT_EQ(s.schema_version(), 3);
    expect_kind_refused(s, "train-sft");  // a v3 file refuses the training kinds in SQL itself
  }
  Store s = open_migrated(db);
  auto run = s.get_run(run_id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->name, "demo");
  EXPECT_EQ(run->config["temperature"], 0.6);
  EXPECT_EQ(s.run_samples(run_id).size(), 3u);
  EXPECT_EQ(s.sample_logprobs(s.run_samples(run_id)[0].id).value_or(""), "packed");
  EXPECT_EQ(s.run_scores(run_id).size(), 1u);
  EXPECT_EQ(s.run_train_steps(run_id).size(), 1u);
  EXPECT_EQ(s.run_artifacts(run_id).size(), 1u);
  EXPECT_EQ(s.run_datasets(run_id).size(), 1u);

  RunRecord r;
  r.name = "sft";
  r.kind = "train-sft";
  int64_t sft = s.create_run(r);
  EXPECT_GT(sft, deleted_id);  // AUTOINCREMENT's high-water mark survived the rebuild
  r.kind = "train-grpo";
  EXPECT_GT(s.create_run(r), sft);
  r.kind = "train-dpo";
  EXPECT_THROW(s.create_run(r), InputError);

  // The references still hold after the rebuild: deleting the run cascades as before.
  EXPECT_TRUE(s.delete_run(run_id));
  for (const char* table : {"samples", "sample_logprobs", "scores", "train_steps", "artifacts", "run_datasets"})
    EXPECT_EQ(count_rows(s, table), 0) << table;
}

// Schema 5: a version-4 file (its `runs` rebuilt from migration 4, a traces run written as v4 wrote it: kind
// 'distill') opens as version 5 with that run renamed 'distill-traces' and every row of every run kept.
TEST(Store, MigrationFiveRenamesTracesRunsAndKeepsEveryRow) {
  TempDir dir;
  std::string db = dir.file("v4.db");
  int64_t eval_id = 0, traces_id = 0;
  {
    Store s = Store::open(db);
    auto p = populate(s);
    eval_id = p.run_id;
    s.insert_sample(make_sample(p.run_id, p.problem_ids[0], 0, true));
    downgrade(s, 4, 4);
    ASSERT_EQ(s.schema_version(), 4);
    // A v4 file refuses the new kind in SQL itself, and takes the old one.
    const std::string insert = "INSERT INTO runs (name, kind, config_json, crucible_version, git_sha, host, "
                               "started_at, status) VALUES ('traces', '{}', '{{\"distill\": {{\"stage\": \"traces\", "
                               "\"funnel\": {{\"generated\": 2, \"kept\": 1}}}}}}', 'v', 'g', 'h', 't', 'completed')";
    EXPECT_THROW(s.connection().exec(fmt::format(fmt::runtime(insert), "distill-traces")), RunError);
    s.connection().exec(fmt::format(fmt::runtime(insert), "distill"));
    traces_id = s.find_run("traces")->id;
    for (int i = 0; i < 2; ++i) {
      auto smp = make_sample(traces_id, p.problem_ids[i], 0, i == 0);
      smp.logprobs = "packed";
      s.insert_sample(smp);
    }
    s.add_train_step({traces_id, 1, {{"kept", 1}}});
  }
  Store s = Store::open(db);
  EXPECT_EQ(s.schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(pragma(s, "foreign_keys"), "1");
  auto traces = s.get_run(traces_id);
  ASSERT_TRUE(traces);
  EXPECT_EQ(traces->kind, "distill-traces");
  EXPECT_EQ(traces->name, "traces");
  EXPECT_EQ(traces->status, "completed");
  EXPECT_EQ(traces->config["distill"]["funnel"]["kept"], 1);
  ASSERT_EQ(s.run_samples(traces_id).size(), 2u);
  EXPECT_EQ(s.sample_logprobs(s.run_samples(traces_id)[1].id).value_or(""), "packed");
  EXPECT_EQ(s.run_train_steps(traces_id).size(), 1u);
  auto eval = s.get_run(eval_id);
  ASSERT_TRUE(eval);
  EXPECT_EQ(eval->kind, "eval");
  EXPECT_EQ(s.run_samples(eval_id).size(), 1u);
  EXPECT_EQ(s.run_datasets(eval_id).size(), 1u);

  RunRecord r;
  r.name = "new traces";
  r.kind = "distill-traces";
  EXPECT_GT(s.create_run(r), traces_id);
  r.kind = "distill";  // the old kind is not written any more
  EXPECT_THROW(s.create_run(r), InputError);
  EXPECT_TRUE(s.delete_run(traces_id));
  EXPECT_EQ(s.run_samples(eval_id).size(), 1u);
  EXPECT_EQ(count_rows(s, "sample_logprobs"), 0);
}

// Schema 6: a version-5 file (its `runs` rebuilt from migration 5) refuses 'distill-onpolicy' in SQL; opened, it is
// version 6, takes that kind, and keeps every row of its runs (a training run with its steps here).
TEST(Store, MigrationSixAdmitsOnPolicyRunsAndKeepsEveryRow) {
  TempDir dir;
  const std::string db = dir.file("v5.db");
  RunRecord train;
  train.name = "grpo";
  train.kind = "train-grpo";
  {
    Store s = Store::open(db);
    train.id = s.create_run(train);
    s.add_train_step({train.id, 1, {{"loss", 0.5}}});
    downgrade(s, 5, 5);
    ASSERT_EQ(s.schema_version(), 5);
    expect_kind_refused(s, "distill-onpolicy");
  }
  Store s = open_migrated(db);
  EXPECT_EQ(s.get_run(train.id)->kind, "train-grpo");
  ASSERT_EQ(s.run_train_steps(train.id).size(), 1u);
  EXPECT_EQ(s.run_train_steps(train.id)[0].metrics["loss"], 0.5);
  RunRecord onpolicy;
  onpolicy.name = "onpolicy";
  onpolicy.kind = "distill-onpolicy";
  EXPECT_GT(s.create_run(onpolicy), train.id);
}
