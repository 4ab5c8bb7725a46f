// Thin RAII wrappers over the SQLite C API: one connection, prepared statements only (no string-built SQL with
// values in it), and one check macro that says what went wrong and where to look.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crucible::sql {

// Throws RunError (or InputError for a file that is not a database) with the SQLite message, the statement and a hint.
[[noreturn]] void fail(sqlite3* db, int rc, std::string_view what);

#define CRUCIBLE_SQLITE_CHECK(db, expr, what)                                              \
  do {                                                                                     \
    int crucible_rc_ = (expr);                                                             \
    if (crucible_rc_ != SQLITE_OK && crucible_rc_ != SQLITE_DONE && crucible_rc_ != SQLITE_ROW) \
      ::crucible::sql::fail((db), crucible_rc_, (what));                                   \
  } while (0)

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binding uses 1-based parameter indices, as SQLite does.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind_null(int index);
  Statement& bind_blob(int index, std::string_view bytes);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  bool step();          // true while a row is available; false when done
  void run();           // step until done, for statements that return nothing
  void reset();         // ready to bind and run again

  bool is_null(int col) const;
  int64_t column_int(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;
  std::string column_blob(int col) const;
  std::optional<std::string> column_optional_text(int col) const;
  std::optional<int64_t> column_optional_int(int col) const;
  std::optional<double> column_optional_double(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

class Connection {
 public:
  enum class Mode { read_write_create, read_write, read_only };
  Connection(const std::string& path, Mode mode);
  Connection(Connection&& other) noexcept : db_(other.db_), path_(std::move(other.path_)) { other.db_ = nullptr; }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  void exec(std::string_view sql);  // for DDL and pragmas without parameters
  Statement prepare(std::string_view sql) { return Statement(db_, sql); }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that later upgrades can fail with SQLITE_BUSY
// without the busy handler ever running (two writers deadlock), which is exactly the "database is locked" error users
// of other harnesses report under concurrency. Rolls back unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Connection& conn);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Connection& conn_;
  bool nested_ = false;
  bool done_ = false;
};

}  // namespace crucible::sql
