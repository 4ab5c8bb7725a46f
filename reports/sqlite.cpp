#include "reports/sqlite.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "core/error.h"

namespace crucible::sql {

void fail(sqlite3* db, int rc, std::string_view what) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  std::string where = (file && *file) ? file : "<sqlite>";
  int primary = rc & 0xff;
  std::string hint;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    hint = " (another process holds the write lock for longer than the busy timeout; is a crashed writer still "
           "running, or is the database on a network file system that lacks POSIX locks?)";
  else if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
    throw InputError(where, "", fmt::format("not a crucible SQLite database or damaged: {} ({})", msg, what));
  else if (primary == SQLITE_CANTOPEN)
    throw InputError(where, "", fmt::format("cannot open database: {} (does the folder exist and is it writable?)", msg));
  else if (primary == SQLITE_READONLY)
    hint = " (the database or its folder is read-only; WAL mode needs to create <db>-wal and <db>-shm beside it)";
  else if (primary == SQLITE_FULL)
    hint = " (the disk is full)";
  throw RunError(fmt::format("{}: sqlite error {} in {}: {}{}", where, rc, what, msg, hint));
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db), sql_(sql) {
  CRUCIBLE_SQLITE_CHECK(db_, sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr),
                        "prepare: " + sql_);
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  CRUCIBLE_SQLITE_CHECK(db_, sqlite3_bind_int64(stmt_, index, value), "bind: " + sql_);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  CRUCIBLE_SQLITE_CHECK(db_, sqlite3_bind_double(stmt_, index, value), "bind: " + sql_);
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  CRUCIBLE_SQLITE_CHECK(db_, sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
                        "bind: " + sql_);
  return *this;
}
Statement& Statement::bind_blob(int index, std::string_view bytes) {
  CRUCIBLE_SQLITE_CHECK(db_, sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT),
                        "bind: " + sql_);
  return *this;
}
Statement& Statement::bind_null(int index) {
  CRUCIBLE_SQLITE_CHECK(db_, sqlite3_bind_null(stmt_, index), "bind: " + sql_);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, rc, "step: " + sql_);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::column_text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
}
std::string Statement::column_blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
}
std::optional<std::string> Statement::column_optional_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_text(col);
}
std::optional<int64_t> Statement::column_optional_int(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int(col);
}
std::optional<double> Statement::column_optional_double(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_double(col);
}

Connection::Connection(const std::string& path, Mode mode) : path_(path) {
  int flags = SQLITE_OPEN_FULLMUTEX;
  switch (mode) {
    case Mode::read_write_create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case Mode::read_write: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::read_only: flags |= SQLITE_OPEN_READONLY; break;
  }
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
    throw InputError(path, "", "cannot open database: " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  // Generous: a writer commits one sample per transaction in well under a millisecond, so waiting means another
  // process is doing a large batch (a migration, a delete), never a reason to fail an eval.
  sqlite3_busy_timeout(db_, 60000);
}

Connection::~Connection() {
  if (db_) sqlite3_close_v2(db_);
}

void Connection::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) fail(db_, rc, "exec: " + s);
}

Transaction::Transaction(Connection& conn) : conn_(conn) {
  // Inside an open transaction a nested one becomes a savepoint, so store operations compose (import_run wraps many
  // upserts in one atomic transaction).
  nested_ = sqlite3_get_autocommit(conn_.handle()) == 0;
  conn_.exec(nested_ ? "SAVEPOINT crucible_nested" : "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (done_) return;
  if (nested_) {
    sqlite3_exec(conn_.handle(), "ROLLBACK TO crucible_nested; RELEASE crucible_nested", nullptr, nullptr, nullptr);
  } else {
    sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Transaction::commit() {
  conn_.exec(nested_ ? "RELEASE crucible_nested" : "COMMIT");
  done_ = true;
}

}  // namespace crucible::sql
