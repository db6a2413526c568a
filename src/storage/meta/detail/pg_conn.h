#pragma once

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

// libpq's handles (PGconn, PGresult), so that this header does not pull in libpq-fe.h.
struct pg_conn;
struct pg_result;

namespace langfuse::meta::detail {

//! A DATABASE_URL split into what libpq is given and what the store handles itself. Accepts
//! Langfuse's (Prisma's) forms: postgresql://user:pass@host:port/db?schema=...&sslmode=...
struct PgUrl {
  std::string base;  //!< the URL without its query, handed to libpq
  //! Decoded query parameters libpq knows (sslmode, application_name, ...), plus this store's
  //! defaults for the ones the URL leaves out (connect_timeout, keepalives, application_name).
  std::vector<std::pair<std::string, std::string>> libpq_params;
  std::string schema = "public";  //!< `?schema=`: the search_path, created by Migrate if missing
  int pool_size = 4;              //!< `?connection_limit=`
  //! `?pool_timeout=` (seconds): how long a call waits for a free pooled connection; 0 = no limit.
  std::chrono::milliseconds pool_timeout{10000};
  int64_t statement_timeout_ms = 30000;     //!< per statement, set on each connection
  std::vector<std::string> ignored_params;  //!< query parameters neither libpq nor the store uses
  std::string redacted;                     //!< the URL with its password masked, for messages
};

//! Parses a DATABASE_URL without connecting. kInvalidArgument, never echoing the password, for
//! another scheme, a malformed URL, or a bad value of schema / connection_limit / pool_timeout.
StatusOr<PgUrl> ParsePostgresUrl(std::string_view url);

//! Maps a SQLSTATE to the codes MetaStore callers understand: 23505 -> kConflict, other integrity
//! (23xxx) and data (22xxx) errors -> kInvalidArgument, connection, shutdown, resource, timeout and
//! serialisation errors -> kUnavailable, anything else -> kInternal.
StatusCode PgStatusCode(std::string_view sqlstate);

//! A value for one `$n` parameter, always sent in text format; nullopt is SQL NULL. The server
//! infers each parameter's type from where it is used, so SQL casts where that is ambiguous.
class PgParam {
 public:
  PgParam(std::string_view text) : value_(std::string(text)) {}      // NOLINT: implicit by design
  PgParam(const std::string& text) : value_(text) {}                 // NOLINT
  PgParam(const char* text) : value_(std::string(text)) {}           // NOLINT
  PgParam(int64_t value) : value_(std::to_string(value)) {}          // NOLINT
  PgParam(int32_t value) : value_(std::to_string(value)) {}          // NOLINT
  PgParam(const std::optional<std::string>& text) : value_(text) {}  // NOLINT
  PgParam(const std::optional<int64_t>& value);                      // NOLINT
  PgParam(const std::optional<double>& value);                       // NOLINT: shortest exact text
  //! A bool only (no integer or pointer converts to it by accident).
  template <typename T>
  requires std::same_as<T, bool> PgParam(T value) : value_(value ? "true" : "false") {}  // NOLINT

  static PgParam Null() { return PgParam(std::optional<std::string>()); }
  //! Empty text -> NULL (nullable unique columns such as fast_hashed_secret_key).
  static PgParam TextOrNull(std::string_view text) { return text.empty() ? Null() : PgParam(text); }

  const std::optional<std::string>& value() const { return value_; }

 private:
  std::optional<std::string> value_;
};

//! One statement's result (an owned PGresult). Rows and columns are 0-based. Move-only.
class PgResult {
 public:
  explicit PgResult(pg_result* result) : result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int Rows() const;
  bool IsNull(int row, int column) const;
  std::string Text(int row, int column) const;  //!< NULL -> ""
  std::optional<std::string> OptionalText(int row, int column) const;
  int64_t Int(int row, int column) const;  //!< NULL -> 0
  std::optional<int64_t> OptionalInt(int row, int column) const;
  std::optional<double> OptionalDouble(int row, int column) const;
  bool Bool(int row, int column) const;  //!< Postgres's "t"
  //! Rows changed by an INSERT / UPDATE / DELETE.
  int64_t AffectedRows() const;
  //! The command tag ("INSERT 0 1", "COMMIT", "ROLLBACK").
  std::string CommandTag() const;

 private:
  pg_result* result_;
};

//! One libpq connection in blocking mode, configured for this store (search_path, statement
//! timeout, float output that reads back exactly). Not thread-safe: one user at a time (the pool
//! hands it out exclusively).
class PgConn {
 public:
  //! Connects (bounded by connect_timeout) and applies the session settings. kUnavailable when
  //! the server cannot be reached or refuses the login, with libpq's reason.
  static StatusOr<std::unique_ptr<PgConn>> Connect(const PgUrl& url);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  //! One statement with `$1..$n` text parameters (PQexecParams). Values never enter the SQL text.
  //! A parameter holding a NUL byte is kInvalidArgument (Postgres text cannot store one).
  StatusOr<PgResult> Query(std::string_view sql, std::initializer_list<PgParam> params = {});
  //! Static SQL, possibly several statements (DDL, BEGIN/COMMIT). Never pass text holding values.
  Status Exec(std::string_view sql);

  //! The identifier quoted for splicing into DDL (CREATE SCHEMA "..."): identifiers cannot be
  //! parameters. Never use it for values.
  std::string QuoteIdentifier(std::string_view identifier) const;

  //! The connection failed, or its backend announced it is ending (terminated, server shutting
  //! down); it cannot be used again.
  bool Broken() const;
  //! A transaction is open or aborted on it (an abandoned one must not go back to the pool).
  bool InTransaction() const;
  //! Checks an idle connection without blocking: true when the server closed it meanwhile (its
  //! termination notice or EOF is waiting on the socket).
  bool LostWhileIdle();
  //! The server process serving this connection.
  int BackendPid() const;

 private:
  explicit PgConn(pg_conn* conn) : conn_(conn) {}
  Status ResultStatus(pg_result* result, std::string_view sql) const;
  //! libpq's notice receiver (`self` is the PgConn).
  static void OnNotice(void* self, const pg_result* notice);

  pg_conn* conn_;
  bool server_ended_ = false;  //!< a FATAL notice arrived: the backend is gone
};

//! A bounded pool of PgConn. Connections open on demand up to `pool_size`; a caller waits up to
//! `pool_timeout` for one to be free (then kUnavailable). A broken connection, or one left inside
//! a transaction, is closed when returned, and an idle one the server closed meanwhile is replaced
//! on the way out, so the call after an outage or a terminated backend gets a fresh connection.
//! Thread-safe. Leases must not outlive the pool.
class PgPool {
 public:
  //! Exclusive use of one connection; returns it to the pool when destroyed.
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    PgConn& operator*() const { return *conn_; }
    PgConn* operator->() const { return conn_.get(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConn> conn_;
  };

  explicit PgPool(PgUrl url) : url_(std::move(url)) {}
  ~PgPool() = default;
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  StatusOr<Lease> Acquire();
  const PgUrl& url() const { return url_; }

 private:
  void Release(std::unique_ptr<PgConn> conn);

  const PgUrl url_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<PgConn>> idle_;  // guarded by mu_
  int open_ = 0;                               // idle + leased + connecting, guarded by mu_
};

//! BEGIN ... COMMIT on one connection, rolled back when destroyed uncommitted.
class PgTransaction {
 public:
  explicit PgTransaction(PgConn& conn) : conn_(conn) {}
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  Status Begin();
  Status Commit();

 private:
  PgConn& conn_;
  bool open_ = false;
};

}  // namespace langfuse::meta::detail
