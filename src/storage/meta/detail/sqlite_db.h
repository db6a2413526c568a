#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace langfuse::meta::detail {

//! A prepared statement borrowed from SqliteDb's cache. Bind parameters by 1-based index, step,
//! read columns; the destructor resets it for the next user. A failed bind is remembered and
//! reported by the next Step/Run, so call sites can chain binds without checking each one.
//! Not thread-safe; lives only while the caller holds the connection's lock.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& Bind(int index, std::string_view text);
  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& BindOptional(int index, const std::optional<std::string>& text);  //!< nullopt -> NULL
  SqliteStatement& BindOptional(int index, const std::optional<int64_t>& value);     //!< nullopt -> NULL
  SqliteStatement& BindNull(int index);
  //! Empty text -> NULL (nullable unique columns such as fast_hashed_secret_key).
  SqliteStatement& BindTextOrNull(int index, std::string_view text);

  //! Advances one row: true when a row is available, false when done.
  StatusOr<bool> Step();
  //! Steps until done (statements without result rows).
  Status Run();

  std::string Text(int column) const;  //!< NULL -> ""
  std::optional<std::string> OptionalText(int column) const;
  int64_t Int(int column) const;  //!< NULL -> 0
  std::optional<int64_t> OptionalInt(int column) const;

 private:
  SqliteStatement& Check(int rc);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = 0;  // first failed bind's result code, 0 = none
};

//! One SQLite connection configured for a server (WAL, synchronous=NORMAL, foreign keys on, busy
//! timeout) with a cache of prepared statements keyed by their SQL text.
//! Not thread-safe: the owner serialises every call (SqliteMetaStore holds a mutex around it).
class SqliteDb {
 public:
  //! Opens or creates the file; ":memory:" gives a private in-memory database (no WAL).
  static StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path, int busy_timeout_ms);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  //! Runs static SQL (DDL, pragmas, BEGIN/COMMIT), possibly several statements. Never pass text
  //! that holds values: those go through Prepare and Bind.
  Status Exec(std::string_view sql);
  //! The cached statement for `sql`, prepared on first use.
  StatusOr<std::unique_ptr<SqliteStatement>> Prepare(std::string_view sql);

  //! The first column of the first row of a static query ("PRAGMA journal_mode").
  StatusOr<std::string> QueryText(std::string_view sql);

  //! rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

//! Maps an SQLite result code (extended codes on) to a Status the callers understand.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

//! BEGIN IMMEDIATE ... COMMIT, rolled back when destroyed uncommitted. IMMEDIATE takes the write
//! lock up front, so a read-then-write transaction cannot fail half-way with SQLITE_BUSY.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDb& db) : db_(db) {}
  ~SqliteTransaction();
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;

  Status Begin();
  Status Commit();

 private:
  SqliteDb& db_;
  bool open_ = false;
};

}  // namespace langfuse::meta::detail
