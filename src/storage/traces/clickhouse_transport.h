#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace langfuse::traces {

//! A value bound to a `{name:Type}` placeholder. The engine parses `value` as the placeholder's
//! type (ClickHouse's text form, e.g. "2024-01-01 00:00:00.000" for DateTime64, "['a','b']" for
//! Array(String)); the value never becomes SQL text.
struct QueryParam {
  std::string name;
  std::string value;
};

// Builders for QueryParam values. The engine reads a String parameter in ClickHouse's "escaped"
// text form (a backslash starts an escape, a raw tab is rejected), so raw text must go through
// StringParam; an Array(String) parameter is an array literal of quoted strings.
//! `{name:String}` (or LowCardinality(String)) bound to the raw bytes `value`.
QueryParam StringParam(std::string name, std::string_view value);
//! `{name:Array(String)}` bound to `values`.
QueryParam StringArrayParam(std::string name, const std::vector<std::string>& values);
//! `{name:Int64}` / `{name:UInt64}` (and the narrower integer types).
QueryParam Int64Param(std::string name, int64_t value);
QueryParam UInt64Param(std::string name, uint64_t value);
//! `{name:DateTime64(3)}` bound to milliseconds since the epoch (sent as UTC text; the transports
//! pin session_timezone = UTC).
QueryParam DateTime64MsParam(std::string name, int64_t ms);

//! How SQL reaches a ClickHouse engine: chDB in-process or a ClickHouse server over HTTP. Both
//! speak the same dialect, so everything above this interface is shared.
//! Thread-safety: every method may be called from any thread concurrently.
class ClickHouseTransport {
 public:
  virtual ~ClickHouseTransport() = default;

  //! Runs one statement (SELECT, DDL, DELETE...) with typed parameters; returns its output in
  //! `format` (JSONEachRow by default; empty for statements without output).
  virtual StatusOr<std::string> Query(std::string_view sql, const std::vector<QueryParam>& params = {},
                                      std::string_view format = "JSONEachRow") = 0;

  //! Inserts `rows`, encoded in the input `format` (JSONEachRow, RowBinaryWithNamesAndTypes...),
  //! into `table`. `dedup_token`, when not empty, is sent as insert_deduplication_token so a
  //! retried insert of the same batch is harmless. Only [A-Za-z0-9_.-] is allowed in table and
  //! token, only [A-Za-z0-9_] in format.
  virtual Status Insert(std::string_view table, std::string_view format, std::string_view rows,
                        std::string_view dedup_token) = 0;
  //! Insert() of JSONEachRow text (one object per line).
  Status InsertJsonEachRow(std::string_view table, std::string_view rows, std::string_view dedup_token) {
    return Insert(table, "JSONEachRow", rows, dedup_token);
  }

  //! Cheap round trip for health checks.
  virtual Status Ping() = 0;
};

//! Opens chDB with its data under `data_path` (created if missing). Only one chDB engine may
//! exist per process; call ShutdownChdb() after every transport is destroyed.
StatusOr<std::unique_ptr<ClickHouseTransport>> OpenChdbTransport(const std::string& data_path,
                                                                 int reader_connections = 4);
//! Stops chDB's background threads; the process must not use chDB afterwards.
void ShutdownChdb();


//! Where and how to reach a ClickHouse server over its HTTP interface, read from Langfuse's
//! variables by HttpTransportOptionsFromEnv.
struct HttpTransportOptions {
  std::string url = "http://localhost:8123";  //!< CLICKHOUSE_URL: http(s)://host[:port][/path prefix]
  std::string user = "default";               //!< CLICKHOUSE_USER
  std::string password;                       //!< CLICKHOUSE_PASSWORD
  std::string database = "default";           //!< CLICKHOUSE_DB
  //! CLICKHOUSE_MAX_OPEN_CONNECTIONS: keep-alive connections to the server, at most.
  int max_connections = 25;
  //! CLICKHOUSE_KEEP_ALIVE_IDLE_SOCKET_TTL: an idle connection older than this is not reused
  //! (below the server's own keep_alive_timeout, 10 s by default, so the server never closes a
  //! connection the client is about to reuse).
  std::chrono::milliseconds keep_alive_idle{9'000};
  //! LANGFUSE_CLICKHOUSE_CONNECT_TIMEOUT_MS: name resolution, TCP connect and TLS handshake.
  std::chrono::milliseconds connect_timeout{5'000};
  //! LANGFUSE_CLICKHOUSE_REQUEST_TIMEOUT_MS (Langfuse's client uses 30 s): one statement, from
  //! sending it to the last byte of its answer; also waiting for a free connection. The server is
  //! asked to stop a statement a little after this (max_execution_time).
  std::chrono::milliseconds request_timeout{30'000};
  //! LANGFUSE_CLICKHOUSE_QUERY_MAX_ATTEMPTS: attempts of a read (and of an insert carrying a
  //! dedup token) that failed on the connection, before the server answered.
  int max_attempts = 3;
  //! Insert bodies from this size up are sent gzip-compressed (Content-Encoding: gzip).
  size_t compress_request_min_bytes = 64 << 10;
  //! Ask the server to gzip its answers (enable_http_compression=1 + Accept-Encoding: gzip).
  bool compress_responses = true;
  //! Answers larger than this (after decompression) fail instead of exhausting memory.
  size_t max_response_bytes = size_t{1} << 30;
  //! Send SessionSettings() with every statement. Off only for servers too old to know them
  //! (the checks against Debian's ClickHouse 18.16); the schema and codecs need them on.
  bool pin_session_settings = true;
  //! https only: a PEM file of extra trusted CAs (the system's store is always used), and whether
  //! the server's certificate and host name are verified.
  std::string tls_ca_file;
  bool tls_verify = true;
};

//! Looks up an environment variable; nullopt when unset.
using ClickHouseEnvLookup = std::function<std::optional<std::string>(const std::string&)>;

//! Reads CLICKHOUSE_URL, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DB,
//! CLICKHOUSE_MAX_OPEN_CONNECTIONS, CLICKHOUSE_KEEP_ALIVE_IDLE_SOCKET_TTL,
//! LANGFUSE_CLICKHOUSE_QUERY_MAX_ATTEMPTS and our LANGFUSE_CLICKHOUSE_CONNECT_TIMEOUT_MS /
//! LANGFUSE_CLICKHOUSE_REQUEST_TIMEOUT_MS. nullopt when CLICKHOUSE_URL is unset or empty (no
//! server configured: the embedded engine). InvalidArgument naming the variable for a malformed
//! value (a URL that is not http(s)://host[:port][/path], credentials inside the URL, a number out
//! of range).
StatusOr<std::optional<HttpTransportOptions>> HttpTransportOptionsFromEnv(const ClickHouseEnvLookup& env);

//! A transport to a ClickHouse server over HTTP(S). Checks the URL and options only; connections
//! are opened on first use (so a server that is down shows up as kUnavailable from the first
//! statement or Ping, not here).
StatusOr<std::unique_ptr<ClickHouseTransport>> OpenHttpTransport(const HttpTransportOptions& options);

}  // namespace langfuse::traces
