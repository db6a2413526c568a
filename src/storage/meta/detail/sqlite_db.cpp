#include "storage/meta/detail/sqlite_db.h"

#include <fmt/core.h>
#include <sqlite3.h>

namespace langfuse::meta::detail {

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  const std::string text = fmt::format("sqlite: {}: {} (code {})", what,
                                       db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Status::Conflict(text);
    default:
      break;
  }
  switch (rc & 0xFF) {
    case SQLITE_CONSTRAINT:  // foreign key, check, not null, datatype (STRICT)
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      return Status::InvalidArgument(text);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
      return Status::Unavailable(text);
    default:
      return Status::Internal(text);
  }
}

SqliteStatement::~SqliteStatement() {
  // Result codes of reset repeat the last step's error, already reported to the caller.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

SqliteStatement& SqliteStatement::Check(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == 0) bind_rc_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies the bytes, so temporaries passed by callers are safe.
  return Check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value));
}

SqliteStatement& SqliteStatement::BindOptional(int index, const std::optional<std::string>& text) {
  return text ? Bind(index, std::string_view(*text)) : BindNull(index);
}

SqliteStatement& SqliteStatement::BindOptional(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : BindNull(index);
}

SqliteStatement& SqliteStatement::BindNull(int index) { return Check(sqlite3_bind_null(stmt_, index)); }

SqliteStatement& SqliteStatement::BindTextOrNull(int index, std::string_view text) {
  return text.empty() ? BindNull(index) : Bind(index, text);
}

StatusOr<bool> SqliteStatement::Step() {
  if (bind_rc_ != 0) return SqliteStatus(db_, bind_rc_, "bind");
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, rc, sqlite3_sql(stmt_));
}

Status SqliteStatement::Run() {
  while (true) {
    auto row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

std::string SqliteStatement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<std::string> SqliteStatement::OptionalText(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return Text(column);
}

int64_t SqliteStatement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<int64_t> SqliteStatement::OptionalInt(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return Int(column);
}

StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the owner serialises access, SQLite's own per-connection mutex would be redundant.
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status status = SqliteStatus(raw, rc, "open " + path);
    sqlite3_close_v2(raw);  // a no-op on nullptr
    return status;
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);

  RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys = ON"));
  // The pragma is silently ignored by builds without foreign-key support; check it took.
  ASSIGN_OR_RETURN(const std::string foreign_keys, db->QueryText("PRAGMA foreign_keys"));
  if (foreign_keys != "1") return Status::Internal("sqlite: foreign keys cannot be enabled on " + path);

  // WAL: readers do not block the writer; it is a property of the file and persists.
  ASSIGN_OR_RETURN(const std::string journal_mode, db->QueryText("PRAGMA journal_mode = WAL"));
  if (path != ":memory:" && journal_mode != "wal") {
    return Status::Internal(
        fmt::format("sqlite: {} stays in journal mode '{}', WAL is required (is it on a network filesystem?)",
                    path, journal_mode));
  }
  // NORMAL in WAL mode: a committed transaction survives a process crash; only a power loss may
  // undo the last commits. Durability of acknowledged events is the queue's job, not this store's.
  RETURN_IF_ERROR(db->Exec("PRAGMA synchronous = NORMAL"));
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status SqliteDb::Exec(std::string_view sql) {
  const std::string text(sql);  // sqlite3_exec wants a NUL-terminated string
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text is available from sqlite3_errmsg
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, sql.substr(0, 80));
  return Status::Ok();
}

StatusOr<std::unique_ptr<SqliteStatement>> SqliteDb::Prepare(std::string_view sql) {
  std::string key(sql);
  auto it = statements_.find(key);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "prepare " + key);
    it = statements_.emplace(std::move(key), stmt).first;
  }
  return std::make_unique<SqliteStatement>(db_, it->second);
}

StatusOr<std::string> SqliteDb::QueryText(std::string_view sql) {
  ASSIGN_OR_RETURN(auto stmt, Prepare(sql));
  ASSIGN_OR_RETURN(const bool has_row, stmt->Step());
  if (!has_row) return std::string();
  return stmt->Text(0);
}

int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

SqliteTransaction::~SqliteTransaction() {
  if (open_) (void)db_.Exec("ROLLBACK");
}

Status SqliteTransaction::Begin() {
  RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  open_ = true;
  return Status::Ok();
}

Status SqliteTransaction::Commit() {
  RETURN_IF_ERROR(db_.Exec("COMMIT"));
  open_ = false;
  return Status::Ok();
}

}  // namespace langfuse::meta::detail
