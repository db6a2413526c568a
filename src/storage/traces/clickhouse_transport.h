#pragma once

#include <cstdint>
#include <memory>
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

}  // namespace langfuse::traces
