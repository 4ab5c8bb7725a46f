#include "reports/store.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <map>
#include <stdexcept>
#include <thread>

#include "core/base64.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/time.h"
#include "core/version.h"
#include "reports/sqlite.h"
#include "reports/store_migrations.h"

namespace crucible {

using sql::Connection;
using sql::Statement;
using sql::Transaction;

namespace {

// `runs` rebuilt under a new CHECK on its kinds (migrations 4 and 5). SQLite cannot alter a CHECK constraint, so the
// table is rebuilt (sqlite.org/lang_altertable.html, "other kinds of table schema changes"): migrate() turns foreign
// keys off around the transaction, so dropping the old table does not cascade into samples/scores/train_steps/
// artifacts, and checks them before committing. AUTOINCREMENT's high-water mark is carried over, so an id once used
// (by a deleted run) is still never reused. One text for every rebuild: with version 4 and its kinds it is migration
// 4 as released, character for character.
// `kind_of_row`: the SQL expression each copied row's kind is (migration 4: `kind`, unchanged).
std::string rebuild_runs_sql(int version, const std::string& kinds, const std::string& kind_of_row) {
  return fmt::format(R"SQL(
CREATE TABLE runs_v{0} (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  name              TEXT NOT NULL,
  kind              TEXT NOT NULL CHECK (kind IN ({1})),
  model_id          INTEGER REFERENCES models(id),
  config_json       TEXT NOT NULL DEFAULT '{{}}',
  protocol          TEXT NOT NULL DEFAULT '',
  identity          TEXT NOT NULL DEFAULT '',
  seed              INTEGER NOT NULL DEFAULT 0,
  crucible_version  TEXT NOT NULL,
  git_sha           TEXT NOT NULL,
  host              TEXT NOT NULL,
  started_at        TEXT NOT NULL,
  ended_at          TEXT,
  status            TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted'))
);
INSERT INTO runs_v{0} (id, name, kind, model_id, config_json, protocol, identity, seed, crucible_version, git_sha, host,
                     started_at, ended_at, status)
  SELECT id, name, {2}, model_id, config_json, protocol, identity, seed, crucible_version, git_sha, host,
         started_at, ended_at, status FROM runs;
DELETE FROM sqlite_sequence WHERE name = 'runs_v{0}';
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'runs_v{0}', seq FROM (SELECT max(seq) AS seq FROM sqlite_sequence WHERE name = 'runs') WHERE seq IS NOT NULL;
DROP TABLE runs;
ALTER TABLE runs_v{0} RENAME TO runs;
CREATE INDEX runs_identity ON runs(identity);
CREATE INDEX runs_name ON runs(name);
)SQL", version, kinds, kind_of_row);
}

// Forward migrations: migration N takes the schema from version N-1 to N. Never edit a released migration; append.
const char* const kFixedMigrations[] = {
    // 1: initial schema
    R"SQL(
CREATE TABLE models (
  id            INTEGER PRIMARY KEY,
  path          TEXT NOT NULL,
  format        TEXT NOT NULL,
  content_hash  TEXT NOT NULL,
  config_json   TEXT NOT NULL DEFAULT '{}',
  created_at    TEXT NOT NULL,
  UNIQUE (path, content_hash)
);
CREATE TABLE datasets (
  id          INTEGER PRIMARY KEY,
  suite       TEXT NOT NULL,
  version     TEXT NOT NULL,
  path        TEXT NOT NULL,
  sha256      TEXT NOT NULL,
  n_problems  INTEGER NOT NULL,
  created_at  TEXT NOT NULL,
  UNIQUE (suite, version, sha256)
);
CREATE TABLE problems (
  id           INTEGER PRIMARY KEY,
  dataset_id   INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  problem_key  TEXT NOT NULL,
  idx          INTEGER NOT NULL,
  gold         TEXT,
  meta_json    TEXT NOT NULL DEFAULT '{}',
  UNIQUE (dataset_id, problem_key)
);
CREATE TABLE runs (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  name              TEXT NOT NULL,
  kind              TEXT NOT NULL CHECK (kind IN ('eval', 'grpo', 'distill')),
  model_id          INTEGER REFERENCES models(id),
  config_json       TEXT NOT NULL DEFAULT '{}',
  protocol          TEXT NOT NULL DEFAULT '',
  identity          TEXT NOT NULL DEFAULT '',
  seed              INTEGER NOT NULL DEFAULT 0,
  crucible_version  TEXT NOT NULL,
  git_sha           TEXT NOT NULL,
  host              TEXT NOT NULL,
  started_at        TEXT NOT NULL,
  ended_at          TEXT,
  status            TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted'))
);
CREATE INDEX runs_identity ON runs(identity);
CREATE INDEX runs_name ON runs(name);
CREATE TABLE run_datasets (
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id),
  PRIMARY KEY (run_id, dataset_id)
);
CREATE TABLE samples (
  id                 INTEGER PRIMARY KEY,
  run_id             INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  problem_id         INTEGER NOT NULL REFERENCES problems(id),
  sample_index       INTEGER NOT NULL,
  prompt_hash        TEXT NOT NULL,
  completion         TEXT NOT NULL,
  reasoning          TEXT,
  prompt_tokens      INTEGER NOT NULL DEFAULT 0,
  completion_tokens  INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens   INTEGER,
  finish_reason      TEXT NOT NULL,
  extracted_answer   TEXT,
  verdict            TEXT,
  correct            INTEGER,
  grader_version     TEXT,
  latency_ms         REAL,
  detail_json        TEXT NOT NULL DEFAULT '{}',
  created_at         TEXT NOT NULL,
  UNIQUE (run_id, problem_id, sample_index)
);
CREATE INDEX samples_problem ON samples(problem_id);
CREATE TABLE scores (
  run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  suite    TEXT NOT NULL,
  metric   TEXT NOT NULL,
  k        INTEGER NOT NULL DEFAULT 1,
  value    REAL NOT NULL,
  ci_low   REAL,
  ci_high  REAL,
  n        INTEGER NOT NULL,
  PRIMARY KEY (run_id, suite, metric, k)
);
CREATE TABLE train_steps (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step          INTEGER NOT NULL,
  metrics_json  TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  PRIMARY KEY (run_id, step)
);
CREATE TABLE artifacts (
  id          INTEGER PRIMARY KEY,
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind        TEXT NOT NULL,
  path        TEXT NOT NULL,
  sha256      TEXT,
  meta_json   TEXT NOT NULL DEFAULT '{}',
  created_at  TEXT NOT NULL
);
)SQL",
    // 2: the verifier's answer classes, recorded when a run is scored, so cons@k can be recounted without a verifier;
    //    and an index of the samples stored but not graded yet, which a resume grades (without it the query walks
    //    every completion's overflow pages to reach `verdict`)
    R"SQL(
ALTER TABLE samples ADD COLUMN answer_class INTEGER;
CREATE INDEX samples_ungraded ON samples(run_id, problem_id, sample_index) WHERE verdict IS NULL;
)SQL",
    // 3: per-token logprobs of a sample (eval --store-logprobs), packed (harness/logprob_pack.h): a table of its own
    //    so the sample queries never read them
    R"SQL(
CREATE TABLE sample_logprobs (
  sample_id  INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
  data       BLOB NOT NULL
);
)SQL",
};

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> m(std::begin(kFixedMigrations), std::end(kFixedMigrations));
    // 4: training runs get kinds of their own: 'train-sft' and 'train-grpo' (`crucible train …`).
    m.push_back(rebuild_runs_sql(4, "'eval', 'grpo', 'distill', 'train-sft', 'train-grpo'", "kind"));
    // 5: a teacher's traces (`crucible distill traces`) are kind 'distill-traces' (they were 'distill', which
    //    nothing else ever wrote), so `runs list --kind distill-traces` finds them. The old rows are renamed as they
    //    are copied; their identity keeps the old kind, so the identical command starts a new run instead of
    //    resuming one.
    m.push_back(rebuild_runs_sql(5, "'eval', 'grpo', 'distill-traces', 'train-sft', 'train-grpo'",
                                 "CASE kind WHEN 'distill' THEN 'distill-traces' ELSE kind END"));
    // 6: on-policy distillation (`crucible distill onpolicy`) is a training run of its own kind, 'distill-onpolicy'.
    m.push_back(rebuild_runs_sql(6, "'eval', 'grpo', 'distill-traces', 'train-sft', 'train-grpo', 'distill-onpolicy'",
                                 "kind"));
    return m;
  }();
  return all;
}

nlohmann::json parse_json_column(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text.empty() ? "{}" : text);
  } catch (const nlohmann::json::parse_error& e) {
    throw RunError(fmt::format("stored {} is not valid JSON: {}", what, e.what()));
  }
}

std::string run_columns(const std::string& prefix = "") {
  std::string out;
  for (const char* c : {"id", "name", "kind", "model_id", "config_json", "protocol", "identity", "seed",
                        "crucible_version", "git_sha", "host", "started_at", "ended_at", "status"}) {
    if (!out.empty()) out += ", ";
    out += prefix + c;
  }
  return out;
}

RunRecord read_run(const Statement& st, int c0 = 0) {
  RunRecord r;
  r.id = st.column_int(c0 + 0);
  r.name = st.column_text(c0 + 1);
  r.kind = st.column_text(c0 + 2);
  r.model_id = st.column_optional_int(c0 + 3);
  r.config = parse_json_column(st.column_text(c0 + 4), "runs.config_json");
  r.protocol = st.column_text(c0 + 5);
  r.identity = st.column_text(c0 + 6);
  r.seed = st.column_int(c0 + 7);
  r.crucible_version = st.column_text(c0 + 8);
  r.git_sha = st.column_text(c0 + 9);
  r.host = st.column_text(c0 + 10);
  r.started_at = st.column_text(c0 + 11);
  r.ended_at = st.column_optional_text(c0 + 12);
  r.status = st.column_text(c0 + 13);
  return r;
}

// A read-only handle on a version-1 file has no answer_class column; it reads as NULL there.
std::string sample_columns(int schema) {
  return std::string("id, run_id, problem_id, sample_index, prompt_hash, completion, reasoning, prompt_tokens, "
                     "completion_tokens, reasoning_tokens, finish_reason, extracted_answer, verdict, correct, "
                     "grader_version, latency_ms, detail_json, ") +
         (schema >= 2 ? "answer_class" : "NULL");
}

SampleRecord read_sample(const Statement& st) {
  SampleRecord s;
  s.id = st.column_int(0);
  s.run_id = st.column_int(1);
  s.problem_id = st.column_int(2);
  s.sample_index = st.column_int(3);
  s.prompt_hash = st.column_text(4);
  s.completion = st.column_text(5);
  s.reasoning = st.column_optional_text(6);
  s.prompt_tokens = st.column_int(7);
  s.completion_tokens = st.column_int(8);
  s.reasoning_tokens = st.column_optional_int(9);
  s.finish_reason = st.column_text(10);
  s.extracted_answer = st.column_optional_text(11);
  s.verdict = st.column_optional_text(12);
  if (auto c = st.column_optional_int(13)) s.correct = (*c != 0);
  s.grader_version = st.column_optional_text(14);
  s.latency_ms = st.column_optional_double(15);
  s.detail = parse_json_column(st.column_text(16), "samples.detail_json");
  s.answer_class = st.column_optional_int(17);
  return s;
}

void bind_sample(Statement& st, const SampleRecord& s, const std::string& now) {
  st.bind(1, s.run_id).bind(2, s.problem_id).bind(3, s.sample_index).bind(4, s.prompt_hash).bind(5, s.completion);
  st.bind(6, s.reasoning).bind(7, s.prompt_tokens).bind(8, s.completion_tokens).bind(9, s.reasoning_tokens);
  st.bind(10, s.finish_reason).bind(11, s.extracted_answer).bind(12, s.verdict);
  if (s.correct) st.bind(13, int64_t(*s.correct ? 1 : 0)); else st.bind_null(13);
  st.bind(14, s.grader_version).bind(15, s.latency_ms).bind(16, s.detail.dump()).bind(17, now);
}

constexpr const char* kInsertSample =
    "INSERT INTO samples (run_id, problem_id, sample_index, prompt_hash, completion, reasoning, prompt_tokens, "
    "completion_tokens, reasoning_tokens, finish_reason, extracted_answer, verdict, correct, grader_version, "
    "latency_ms, detail_json, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

}  // namespace

const char* store_migration_sql(int version) {
  if (version < 1 || version > static_cast<int>(migrations().size()))
    throw std::out_of_range("store_migration_sql: no migration " + std::to_string(version));
  return migrations()[static_cast<size_t>(version - 1)].c_str();
}

Store::Store(std::unique_ptr<sql::Connection> conn) : conn_(std::move(conn)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

const std::string& Store::path() const { return conn_->path(); }
sql::Connection& Store::connection() { return *conn_; }

Store Store::open(const std::string& path, bool create) {
  if (!create) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) throw InputError(path, "", "no such database (pass --db or run an eval first)");
  }
  auto conn = std::make_unique<Connection>(path, create ? Connection::Mode::read_write_create
                                                         : Connection::Mode::read_write);
  // The first statement that reads the file tells us whether it is a database at all.
  conn->exec("PRAGMA foreign_keys = ON");
  // Switching to WAL needs a moment of exclusive access; another process opening the same new file may hold it.
  for (int attempt = 0;; ++attempt) {
    try {
      Statement st(conn->handle(), "PRAGMA journal_mode = WAL");
      st.step();
      break;
    } catch (const RunError&) {
      if (attempt >= 50) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
    }
  }
  conn->exec("PRAGMA synchronous = NORMAL");
  Store store(std::move(conn));
  store.migrate();
  store.schema_ = kSchemaVersion;
  return store;
}

Store Store::open_read_only(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path, "", "no such database (pass --db or run an eval first)");
  Store store(std::make_unique<Connection>(path, Connection::Mode::read_only));
  // The first read tells a database from any other file; a file with no schema_version table is not crucible's.
  int version = store.schema_version();
  if (version == 0) throw InputError(path, "schema_version", "not a crucible database (no schema_version table)");
  if (version > kSchemaVersion)
    throw InputError(path, "schema_version",
                     fmt::format("database schema version {} is newer than this crucible ({}); upgrade crucible",
                                 version, kSchemaVersion));
  store.schema_ = version;
  return store;
}

int Store::schema_version() {
  Statement check(conn_->handle(), "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'");
  check.step();
  if (check.column_int(0) == 0) return 0;
  Statement st(conn_->handle(), "SELECT coalesce(max(version), 0) FROM schema_version");
  st.step();
  return static_cast<int>(st.column_int(0));
}

void Store::migrate() {
  if (schema_version() == kSchemaVersion) return;
  // Migrations write: a database opened read-only is read at the version it has (see open_read_only).
  // Inside one IMMEDIATE transaction: two processes opening a fresh file race here, and the loser re-reads the
  // version after the winner committed and finds nothing left to do.
  // A migration may rebuild a table (4 does): with foreign keys on, DROP TABLE would delete the rows that reference
  // it (ON DELETE CASCADE). The pragma is a no-op inside a transaction, so it is set around it, and the references
  // are checked before the commit instead.
  conn_->exec("PRAGMA foreign_keys = OFF");
  struct ForeignKeysBackOn {
    sql::Connection& c;
    ~ForeignKeysBackOn() {
      try {
        c.exec("PRAGMA foreign_keys = ON");
      } catch (...) {
      }
    }
  } back_on{*conn_};
  Transaction tx(*conn_);
  conn_->exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  int current = schema_version();
  if (current > kSchemaVersion)
    throw InputError(path(), "schema_version",
                     fmt::format("database schema version {} is newer than this crucible ({}); upgrade crucible",
                                 current, kSchemaVersion));
  if (migrations().size() != static_cast<size_t>(kSchemaVersion))
    throw std::logic_error("reports/store.cpp: append a migration when bumping kSchemaVersion");
  for (int v = current + 1; v <= kSchemaVersion; ++v) {
    conn_->exec(store_migration_sql(v));
    Statement st(conn_->handle(), "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)");
    st.bind(1, int64_t(v)).bind(2, utc_now_iso8601()).run();
  }
  {
    Statement fk(conn_->handle(), "PRAGMA foreign_key_check");
    if (fk.step())
      throw RunError(fmt::format("{}: migrating to schema {} broke a reference (table {}); nothing was changed", path(),
                                 kSchemaVersion, fk.column_text(0)));
  }
  tx.commit();
}

int64_t Store::upsert_model(const ModelRecord& m) {
  Transaction tx(*conn_);
  Statement ins(conn_->handle(),
                "INSERT INTO models (path, format, content_hash, config_json, created_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT (path, content_hash) DO UPDATE SET format = excluded.format, "
                "config_json = excluded.config_json");
  ins.bind(1, m.path).bind(2, m.format).bind(3, m.content_hash).bind(4, m.config.dump()).bind(5, utc_now_iso8601());
  ins.run();
  Statement sel(conn_->handle(), "SELECT id FROM models WHERE path = ? AND content_hash = ?");
  sel.bind(1, m.path).bind(2, m.content_hash);
  sel.step();
  int64_t id = sel.column_int(0);
  tx.commit();
  return id;
}

int64_t Store::upsert_dataset(const DatasetRecord& d) {
  Transaction tx(*conn_);
  Statement ins(conn_->handle(),
                "INSERT INTO datasets (suite, version, path, sha256, n_problems, created_at) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT (suite, version, sha256) DO NOTHING");
  ins.bind(1, d.suite).bind(2, d.version).bind(3, d.path).bind(4, d.sha256).bind(5, d.n_problems);
  ins.bind(6, utc_now_iso8601()).run();
  Statement sel(conn_->handle(), "SELECT id FROM datasets WHERE suite = ? AND version = ? AND sha256 = ?");
  sel.bind(1, d.suite).bind(2, d.version).bind(3, d.sha256);
  sel.step();
  int64_t id = sel.column_int(0);
  tx.commit();
  return id;
}

int64_t Store::upsert_problem(const ProblemRecord& p) {
  Transaction tx(*conn_);
  Statement ins(conn_->handle(),
                "INSERT INTO problems (dataset_id, problem_key, idx, gold, meta_json) VALUES (?,?,?,?,?) "
                "ON CONFLICT (dataset_id, problem_key) DO UPDATE SET idx = excluded.idx, gold = excluded.gold, "
                "meta_json = excluded.meta_json");
  ins.bind(1, p.dataset_id).bind(2, p.problem_key).bind(3, p.idx).bind(4, p.gold).bind(5, p.meta.dump()).run();
  Statement sel(conn_->handle(), "SELECT id FROM problems WHERE dataset_id = ? AND problem_key = ?");
  sel.bind(1, p.dataset_id).bind(2, p.problem_key);
  sel.step();
  int64_t id = sel.column_int(0);
  tx.commit();
  return id;
}

int64_t Store::create_run(RunRecord r) {
  if (r.kind != "eval" && r.kind != "grpo" && r.kind != "distill-traces" && r.kind != "train-sft" &&
      r.kind != "train-grpo" && r.kind != "distill-onpolicy")
    throw InputError("run", "kind",
                     "must be eval, grpo, distill-traces, train-sft, train-grpo or distill-onpolicy, got '" + r.kind +
                         "'");
  if (r.crucible_version.empty()) r.crucible_version = version();
  if (r.git_sha.empty()) r.git_sha = git_sha();
  if (r.host.empty()) r.host = host_name();
  if (r.started_at.empty()) r.started_at = utc_now_iso8601();
  Transaction tx(*conn_);
  Statement st(conn_->handle(),
               "INSERT INTO runs (name, kind, model_id, config_json, protocol, identity, seed, crucible_version, "
               "git_sha, host, started_at, ended_at, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, r.name).bind(2, r.kind).bind(3, r.model_id).bind(4, r.config.dump()).bind(5, r.protocol);
  st.bind(6, r.identity).bind(7, r.seed).bind(8, r.crucible_version).bind(9, r.git_sha).bind(10, r.host);
  st.bind(11, r.started_at).bind(12, r.ended_at).bind(13, r.status);
  st.run();
  int64_t id = conn_->last_insert_rowid();
  tx.commit();
  return id;
}

void Store::link_run_dataset(int64_t run_id, int64_t dataset_id) {
  Transaction tx(*conn_);
  Statement st(conn_->handle(), "INSERT OR IGNORE INTO run_datasets (run_id, dataset_id) VALUES (?, ?)");
  st.bind(1, run_id).bind(2, dataset_id).run();
  tx.commit();
}

void Store::finish_run(int64_t run_id, const std::string& status) {
  Transaction tx(*conn_);
  Statement st(conn_->handle(), "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?");
  st.bind(1, status).bind(2, utc_now_iso8601()).bind(3, run_id).run();
  if (conn_->changes() == 0) throw InputError("run", "id", fmt::format("no run with id {}", run_id));
  tx.commit();
}

void Store::update_run_config(int64_t run_id, const nlohmann::json& config) {
  Transaction tx(*conn_);
  Statement st(conn_->handle(), "UPDATE runs SET config_json = ? WHERE id = ?");
  st.bind(1, config.dump()).bind(2, run_id).run();
  tx.commit();
}

static void insert_samples_in_tx(Connection& conn, const std::vector<SampleRecord>& batch) {
  Statement st(conn.handle(), kInsertSample);
  std::string now = utc_now_iso8601();
  std::optional<Statement> lp;
  for (const auto& s : batch) {
    bind_sample(st, s, now);
    try {
      st.run();
    } catch (const RunError& e) {
      if ((sqlite3_extended_errcode(conn.handle()) & 0xff) == SQLITE_CONSTRAINT)
        throw RunError(fmt::format("sample (run {}, problem {}, index {}) is already stored or refers to a missing "
                                   "run/problem: {}", s.run_id, s.problem_id, s.sample_index, e.what()));
      throw;
    }
    if (s.logprobs.empty()) continue;
    if (!lp) lp.emplace(conn.handle(), "INSERT INTO sample_logprobs (sample_id, data) VALUES (?, ?)");
    lp->bind(1, conn.last_insert_rowid()).bind_blob(2, s.logprobs).run();
  }
}

int64_t Store::insert_sample(const SampleRecord& s) {
  Transaction tx(*conn_);
  insert_samples_in_tx(*conn_, {s});
  int64_t id = conn_->last_insert_rowid();
  tx.commit();
  return id;
}

void Store::insert_samples(const std::vector<SampleRecord>& batch) {
  Transaction tx(*conn_);
  insert_samples_in_tx(*conn_, batch);
  tx.commit();
}

std::optional<std::string> Store::sample_logprobs(int64_t sample_id) {
  Statement st(conn_->handle(), "SELECT data FROM sample_logprobs WHERE sample_id = ?");
  st.bind(1, sample_id);
  if (!st.step()) return std::nullopt;
  return st.column_blob(0);
}

void Store::update_grading(const std::vector<SampleRecord>& graded) {
  Transaction tx(*conn_);
  Statement st(conn_->handle(),
               "UPDATE samples SET extracted_answer = ?, verdict = ?, correct = ?, grader_version = ?, "
               "detail_json = ? WHERE id = ?");
  for (const auto& s : graded) {
    st.bind(1, s.extracted_answer).bind(2, s.verdict);
    if (s.correct) st.bind(3, int64_t(*s.correct ? 1 : 0)); else st.bind_null(3);
    st.bind(4, s.grader_version).bind(5, s.detail.dump()).bind(6, s.id).run();
  }
  tx.commit();
}

void Store::set_answer_classes(const std::vector<std::pair<int64_t, std::optional<int64_t>>>& classes) {
  Transaction tx(*conn_);
  Statement st(conn_->handle(), "UPDATE samples SET answer_class = ? WHERE id = ?");
  for (const auto& [sample_id, cls] : classes) st.bind(1, cls).bind(2, sample_id).run();
  tx.commit();
}

void Store::put_scores(const std::vector<ScoreRecord>& scores) {
  Transaction tx(*conn_);
  Statement st(conn_->handle(),
               "INSERT OR REPLACE INTO scores (run_id, suite, metric, k, value, ci_low, ci_high, n) "
               "VALUES (?,?,?,?,?,?,?,?)");
  for (const auto& s : scores) {
    st.bind(1, s.run_id).bind(2, s.suite).bind(3, s.metric).bind(4, s.k).bind(5, s.value);
    st.bind(6, s.ci_low).bind(7, s.ci_high).bind(8, s.n).run();
  }
  tx.commit();
}

void Store::add_train_step(const TrainStepRecord& s) {
  Transaction tx(*conn_);
  Statement st(conn_->handle(),
               "INSERT OR REPLACE INTO train_steps (run_id, step, metrics_json, created_at) VALUES (?,?,?,?)");
  st.bind(1, s.run_id).bind(2, s.step).bind(3, s.metrics.dump()).bind(4, utc_now_iso8601()).run();
  tx.commit();
}

int64_t Store::add_artifact(const ArtifactRecord& a) {
  Transaction tx(*conn_);
  Statement st(conn_->handle(),
               "INSERT INTO artifacts (run_id, kind, path, sha256, meta_json, created_at) VALUES (?,?,?,?,?,?)");
  st.bind(1, a.run_id).bind(2, a.kind).bind(3, a.path).bind(4, a.sha256).bind(5, a.meta.dump());
  st.bind(6, utc_now_iso8601()).run();
  int64_t id = conn_->last_insert_rowid();
  tx.commit();
  return id;
}

std::vector<RunSummary> Store::list_runs() {
  Statement st(conn_->handle(),
               fmt::format("SELECT {}, m.path, "
                           "(SELECT count(*) FROM samples s WHERE s.run_id = r.id), "
                           "(SELECT count(*) FROM samples s WHERE s.run_id = r.id AND s.correct IS NOT NULL), "
                           "(SELECT count(*) FROM samples s WHERE s.run_id = r.id AND s.correct = 1) "
                           "FROM runs r LEFT JOIN models m ON m.id = r.model_id ORDER BY r.id",
                           run_columns("r.")));
  std::vector<RunSummary> out;
  while (st.step()) {
    RunSummary s;
    s.run = read_run(st);
    s.model_path = st.column_optional_text(14);
    s.n_samples = st.column_int(15);
    s.n_graded = st.column_int(16);
    s.n_correct = st.column_int(17);
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<RunRecord> Store::get_run(int64_t run_id) {
  Statement st(conn_->handle(), fmt::format("SELECT {} FROM runs WHERE id = ?", run_columns()));
  st.bind(1, run_id);
  if (!st.step()) return std::nullopt;
  return read_run(st);
}

std::optional<RunRecord> Store::find_run(const std::string& id_or_name) {
  bool numeric = !id_or_name.empty() && id_or_name.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    if (auto r = get_run(std::stoll(id_or_name))) return r;
  }
  Statement st(conn_->handle(), fmt::format("SELECT {} FROM runs WHERE name = ? ORDER BY id DESC LIMIT 1", run_columns()));
  st.bind(1, id_or_name);
  if (!st.step()) return std::nullopt;
  return read_run(st);
}

std::optional<RunRecord> Store::find_run_by_identity(const std::string& identity) {
  Statement st(conn_->handle(),
               fmt::format("SELECT {} FROM runs WHERE identity = ? ORDER BY id DESC LIMIT 1", run_columns()));
  st.bind(1, identity);
  if (!st.step()) return std::nullopt;
  return read_run(st);
}

std::optional<ModelRecord> Store::get_model(int64_t model_id) {
  Statement st(conn_->handle(), "SELECT id, path, format, content_hash, config_json FROM models WHERE id = ?");
  st.bind(1, model_id);
  if (!st.step()) return std::nullopt;
  ModelRecord m;
  m.id = st.column_int(0);
  m.path = st.column_text(1);
  m.format = st.column_text(2);
  m.content_hash = st.column_text(3);
  m.config = parse_json_column(st.column_text(4), "models.config_json");
  return m;
}

std::vector<DatasetRecord> Store::run_datasets(int64_t run_id) {
  Statement st(conn_->handle(),
               "SELECT d.id, d.suite, d.version, d.path, d.sha256, d.n_problems FROM datasets d "
               "JOIN run_datasets rd ON rd.dataset_id = d.id WHERE rd.run_id = ? ORDER BY d.id");
  st.bind(1, run_id);
  std::vector<DatasetRecord> out;
  while (st.step()) {
    DatasetRecord d;
    d.id = st.column_int(0);
    d.suite = st.column_text(1);
    d.version = st.column_text(2);
    d.path = st.column_text(3);
    d.sha256 = st.column_text(4);
    d.n_problems = st.column_int(5);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<ProblemRecord> Store::dataset_problems(int64_t dataset_id) {
  Statement st(conn_->handle(),
               "SELECT id, dataset_id, problem_key, idx, gold, meta_json FROM problems WHERE dataset_id = ? ORDER BY idx");
  st.bind(1, dataset_id);
  std::vector<ProblemRecord> out;
  while (st.step()) {
    ProblemRecord p;
    p.id = st.column_int(0);
    p.dataset_id = st.column_int(1);
    p.problem_key = st.column_text(2);
    p.idx = st.column_int(3);
    p.gold = st.column_optional_text(4);
    p.meta = parse_json_column(st.column_text(5), "problems.meta_json");
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<SampleRecord> Store::run_samples(int64_t run_id) {
  Statement st(conn_->handle(), fmt::format("SELECT {} FROM samples WHERE run_id = ? ORDER BY problem_id, sample_index",
                                            sample_columns(schema_)));
  st.bind(1, run_id);
  std::vector<SampleRecord> out;
  while (st.step()) out.push_back(read_sample(st));
  return out;
}

std::vector<SampleKey> Store::run_sample_keys(int64_t run_id) {
  Statement st(conn_->handle(),
               "SELECT problem_id, sample_index FROM samples WHERE run_id = ? ORDER BY problem_id, sample_index");
  st.bind(1, run_id);
  std::vector<SampleKey> out;
  while (st.step()) out.push_back({st.column_int(0), st.column_int(1)});
  return out;
}

std::vector<SampleRecord> Store::run_ungraded_samples(int64_t run_id) {
  Statement st(conn_->handle(),
               fmt::format("SELECT {} FROM samples WHERE run_id = ? AND verdict IS NULL ORDER BY problem_id, sample_index",
                           sample_columns(schema_)));
  st.bind(1, run_id);
  std::vector<SampleRecord> out;
  while (st.step()) out.push_back(read_sample(st));
  return out;
}

int64_t Store::count_samples(int64_t run_id) {
  Statement st(conn_->handle(), "SELECT count(*) FROM samples WHERE run_id = ?");
  st.bind(1, run_id);
  st.step();
  return st.column_int(0);
}

std::vector<ScoreRecord> Store::run_scores(int64_t run_id) {
  Statement st(conn_->handle(),
               "SELECT run_id, suite, metric, k, value, ci_low, ci_high, n FROM scores WHERE run_id = ? "
               "ORDER BY suite, metric, k");
  st.bind(1, run_id);
  std::vector<ScoreRecord> out;
  while (st.step()) {
    ScoreRecord s;
    s.run_id = st.column_int(0);
    s.suite = st.column_text(1);
    s.metric = st.column_text(2);
    s.k = st.column_int(3);
    s.value = st.column_double(4);
    s.ci_low = st.column_optional_double(5);
    s.ci_high = st.column_optional_double(6);
    s.n = st.column_int(7);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<TrainStepRecord> Store::run_train_steps(int64_t run_id) {
  Statement st(conn_->handle(), "SELECT run_id, step, metrics_json FROM train_steps WHERE run_id = ? ORDER BY step");
  st.bind(1, run_id);
  std::vector<TrainStepRecord> out;
  while (st.step())
    out.push_back({st.column_int(0), st.column_int(1), parse_json_column(st.column_text(2), "train_steps.metrics_json")});
  return out;
}

std::vector<ArtifactRecord> Store::run_artifacts(int64_t run_id) {
  Statement st(conn_->handle(),
               "SELECT id, run_id, kind, path, sha256, meta_json FROM artifacts WHERE run_id = ? ORDER BY id");
  st.bind(1, run_id);
  std::vector<ArtifactRecord> out;
  while (st.step()) {
    ArtifactRecord a;
    a.id = st.column_int(0);
    a.run_id = st.column_int(1);
    a.kind = st.column_text(2);
    a.path = st.column_text(3);
    a.sha256 = st.column_optional_text(4);
    a.meta = parse_json_column(st.column_text(5), "artifacts.meta_json");
    out.push_back(std::move(a));
  }
  return out;
}

bool Store::delete_run(int64_t run_id) {
  Transaction tx(*conn_);
  Statement st(conn_->handle(), "DELETE FROM runs WHERE id = ?");
  st.bind(1, run_id).run();
  bool deleted = conn_->changes() > 0;
  tx.commit();
  return deleted;
}

// ---- export / import --------------------------------------------------------------------------------------------

namespace {

constexpr int kExportFormat = 1;

template <typename T>
nlohmann::json opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json run_to_json(const RunRecord& r) {
  return {{"type", "run"},          {"id", r.id},
          {"name", r.name},         {"kind", r.kind},
          {"model_id", opt(r.model_id)}, {"config", r.config},
          {"protocol", r.protocol}, {"identity", r.identity},
          {"seed", r.seed},         {"crucible_version", r.crucible_version},
          {"git_sha", r.git_sha},   {"host", r.host},
          {"started_at", r.started_at}, {"ended_at", opt(r.ended_at)},
          {"status", r.status}};
}

nlohmann::json sample_to_json(const SampleRecord& s) {
  return {{"type", "sample"},
          {"problem_id", s.problem_id},
          {"sample_index", s.sample_index},
          {"prompt_hash", s.prompt_hash},
          {"completion", s.completion},
          {"reasoning", opt(s.reasoning)},
          {"prompt_tokens", s.prompt_tokens},
          {"completion_tokens", s.completion_tokens},
          {"reasoning_tokens", opt(s.reasoning_tokens)},
          {"finish_reason", s.finish_reason},
          {"extracted_answer", opt(s.extracted_answer)},
          {"verdict", opt(s.verdict)},
          {"correct", opt(s.correct)},
          {"grader_version", opt(s.grader_version)},
          {"latency_ms", opt(s.latency_ms)},
          {"detail", s.detail},
          {"answer_class", opt(s.answer_class)}};
}

template <typename T>
std::optional<T> get_opt(const nlohmann::json& j, const char* field, const std::string& where) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::nullopt;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where, field, e.what());
  }
}

template <typename T>
T get_req(const nlohmann::json& j, const char* field, const std::string& where) {
  auto v = get_opt<T>(j, field, where);
  if (!v) throw InputError(where, field, "missing");
  return *v;
}

nlohmann::json get_obj(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  return (it == j.end() || it->is_null()) ? nlohmann::json::object() : *it;
}

}  // namespace

void Store::export_run(int64_t run_id, std::ostream& out) {
  auto run = get_run(run_id);
  if (!run) throw InputError("run", "id", fmt::format("no run with id {} in {}", run_id, path()));
  out << nlohmann::json{{"type", "crucible_export"}, {"format", kExportFormat}, {"schema_version", kSchemaVersion},
                        {"crucible_version", version()}}
             .dump()
      << '\n';
  if (run->model_id) {
    if (auto m = get_model(*run->model_id))
      out << nlohmann::json{{"type", "model"}, {"id", m->id}, {"path", m->path}, {"format", m->format},
                            {"content_hash", m->content_hash}, {"config", m->config}}
                 .dump()
          << '\n';
  }
  out << run_to_json(*run).dump() << '\n';
  for (const auto& d : run_datasets(run_id)) {
    out << nlohmann::json{{"type", "dataset"}, {"id", d.id}, {"suite", d.suite}, {"version", d.version},
                          {"path", d.path}, {"sha256", d.sha256}, {"n_problems", d.n_problems}}
               .dump()
        << '\n';
    for (const auto& p : dataset_problems(d.id))
      out << nlohmann::json{{"type", "problem"}, {"id", p.id}, {"dataset_id", p.dataset_id},
                            {"problem_key", p.problem_key}, {"idx", p.idx}, {"gold", opt(p.gold)}, {"meta", p.meta}}
                 .dump()
          << '\n';
  }
  for (const auto& s : run_samples(run_id)) {
    auto j = sample_to_json(s);
    // eval --store-logprobs: the packed per-token logprobs travel with their sample, base64 in the JSON line.
    if (auto lp = sample_logprobs(s.id)) j["logprobs"] = base64_encode(*lp);
    out << j.dump() << '\n';
  }
  for (const auto& s : run_scores(run_id))
    out << nlohmann::json{{"type", "score"}, {"suite", s.suite}, {"metric", s.metric}, {"k", s.k},
                          {"value", s.value}, {"ci_low", opt(s.ci_low)}, {"ci_high", opt(s.ci_high)}, {"n", s.n}}
               .dump()
        << '\n';
  for (const auto& t : run_train_steps(run_id))
    out << nlohmann::json{{"type", "train_step"}, {"step", t.step}, {"metrics", t.metrics}}.dump() << '\n';
  for (const auto& a : run_artifacts(run_id))
    out << nlohmann::json{{"type", "artifact"}, {"kind", a.kind}, {"path", a.path}, {"sha256", opt(a.sha256)},
                          {"meta", a.meta}}
               .dump()
        << '\n';
  if (!out) throw RunError("export: write failed");
}

int64_t Store::import_run(std::istream& in, const std::string& source_name) {
  // Read and validate everything before touching the database: a bad line aborts with nothing written.
  std::vector<std::pair<nlohmann::json, std::string>> records;
  for_each_jsonl(in, source_name, [&](const nlohmann::json& j, const std::string& where) {
    get_req<std::string>(j, "type", where);
    records.emplace_back(j, where);
  });
  if (records.empty() || records.front().first["type"] != "crucible_export")
    throw InputError(source_name + ":1", "type", "not a crucible run export (first line must be type crucible_export)");
  if (get_req<int>(records.front().first, "format", records.front().second) != kExportFormat)
    throw InputError(records.front().second, "format", "unsupported export format");

  Transaction tx(*conn_);
  std::map<int64_t, int64_t> model_ids, dataset_ids, problem_ids;
  std::optional<int64_t> run_id;
  for (const auto& [j, where] : records) {
    std::string type = j["type"];
    if (type == "crucible_export") continue;
    if (type == "model") {
      ModelRecord m{0, get_req<std::string>(j, "path", where), get_req<std::string>(j, "format", where),
                    get_req<std::string>(j, "content_hash", where), get_obj(j, "config")};
      model_ids[get_req<int64_t>(j, "id", where)] = upsert_model(m);
    } else if (type == "run") {
      if (run_id) throw InputError(where, "type", "a second run in one export");
      RunRecord r;
      r.name = get_req<std::string>(j, "name", where);
      r.kind = get_req<std::string>(j, "kind", where);
      if (r.kind == "distill") r.kind = "distill-traces";  // exported before schema 5 (see migration 5)
      if (auto mid = get_opt<int64_t>(j, "model_id", where)) {
        if (!model_ids.count(*mid)) throw InputError(where, "model_id", "refers to no model line before it");
        r.model_id = model_ids[*mid];
      }
      r.config = get_obj(j, "config");
      r.protocol = get_opt<std::string>(j, "protocol", where).value_or("");
      r.identity = get_opt<std::string>(j, "identity", where).value_or("");
      if (!r.identity.empty() && find_run_by_identity(r.identity))
        throw InputError(where, "identity", "this run is already in " + path() + " (same identity); nothing imported");
      r.seed = get_opt<int64_t>(j, "seed", where).value_or(0);
      r.crucible_version = get_req<std::string>(j, "crucible_version", where);
      r.git_sha = get_req<std::string>(j, "git_sha", where);
      r.host = get_req<std::string>(j, "host", where);
      r.started_at = get_req<std::string>(j, "started_at", where);
      r.ended_at = get_opt<std::string>(j, "ended_at", where);
      r.status = get_req<std::string>(j, "status", where);
      run_id = create_run(r);
    } else if (type == "dataset") {
      if (!run_id) throw InputError(where, "type", "dataset before the run line");
      DatasetRecord d{0, get_req<std::string>(j, "suite", where), get_req<std::string>(j, "version", where),
                      get_req<std::string>(j, "path", where), get_req<std::string>(j, "sha256", where),
                      get_req<int64_t>(j, "n_problems", where)};
      int64_t id = upsert_dataset(d);
      dataset_ids[get_req<int64_t>(j, "id", where)] = id;
      link_run_dataset(*run_id, id);
    } else if (type == "problem") {
      int64_t old_ds = get_req<int64_t>(j, "dataset_id", where);
      if (!dataset_ids.count(old_ds)) throw InputError(where, "dataset_id", "refers to no dataset line before it");
      ProblemRecord p{0, dataset_ids[old_ds], get_req<std::string>(j, "problem_key", where),
                      get_req<int64_t>(j, "idx", where), get_opt<std::string>(j, "gold", where), get_obj(j, "meta")};
      problem_ids[get_req<int64_t>(j, "id", where)] = upsert_problem(p);
    } else if (type == "sample") {
      if (!run_id) throw InputError(where, "type", "sample before the run line");
      SampleRecord s;
      s.run_id = *run_id;
      int64_t old_pid = get_req<int64_t>(j, "problem_id", where);
      if (!problem_ids.count(old_pid)) throw InputError(where, "problem_id", "refers to no problem line before it");
      s.problem_id = problem_ids[old_pid];
      s.sample_index = get_req<int64_t>(j, "sample_index", where);
      s.prompt_hash = get_req<std::string>(j, "prompt_hash", where);
      s.completion = get_req<std::string>(j, "completion", where);
      s.reasoning = get_opt<std::string>(j, "reasoning", where);
      s.prompt_tokens = get_opt<int64_t>(j, "prompt_tokens", where).value_or(0);
      s.completion_tokens = get_opt<int64_t>(j, "completion_tokens", where).value_or(0);
      s.reasoning_tokens = get_opt<int64_t>(j, "reasoning_tokens", where);
      s.finish_reason = get_req<std::string>(j, "finish_reason", where);
      s.extracted_answer = get_opt<std::string>(j, "extracted_answer", where);
      s.verdict = get_opt<std::string>(j, "verdict", where);
      s.correct = get_opt<bool>(j, "correct", where);
      s.grader_version = get_opt<std::string>(j, "grader_version", where);
      s.latency_ms = get_opt<double>(j, "latency_ms", where);
      s.detail = get_obj(j, "detail");
      s.answer_class = get_opt<int64_t>(j, "answer_class", where);
      if (auto lp = get_opt<std::string>(j, "logprobs", where)) s.logprobs = base64_decode(*lp, where, "logprobs");
      s.id = insert_sample(s);
      if (s.answer_class) set_answer_classes({{s.id, s.answer_class}});
    } else if (type == "score") {
      if (!run_id) throw InputError(where, "type", "score before the run line");
      put_scores({{*run_id, get_req<std::string>(j, "suite", where), get_req<std::string>(j, "metric", where),
                   get_req<int64_t>(j, "k", where), get_req<double>(j, "value", where),
                   get_opt<double>(j, "ci_low", where), get_opt<double>(j, "ci_high", where),
                   get_req<int64_t>(j, "n", where)}});
    } else if (type == "train_step") {
      if (!run_id) throw InputError(where, "type", "train_step before the run line");
      add_train_step({*run_id, get_req<int64_t>(j, "step", where), get_obj(j, "metrics")});
    } else if (type == "artifact") {
      if (!run_id) throw InputError(where, "type", "artifact before the run line");
      add_artifact({0, *run_id, get_req<std::string>(j, "kind", where), get_req<std::string>(j, "path", where),
                    get_opt<std::string>(j, "sha256", where), get_obj(j, "meta")});
    } else {
      throw InputError(where, "type", "unknown record type '" + type + "'");
    }
  }
  if (!run_id) throw InputError(source_name, "type", "the export holds no run line");
  tx.commit();
  return *run_id;
}

}  // namespace crucible
