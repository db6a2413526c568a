#pragma once

// What every ClickHouse transport (chDB now, HTTP later) shares below the ClickHouseTransport
// interface: the session settings they pin, how an engine error becomes a Status, and the checks
// on the few names that must be spliced into SQL text.

#include <span>
#include <string>
#include <string_view>

#include "common/metrics.h"
#include "common/status.h"

namespace langfuse::traces {

//! A ClickHouse setting every session of every transport runs with, so that chDB and a server
//! answer byte-for-byte alike and the record codecs can rely on one output shape.
struct SessionSetting {
  std::string_view name;
  std::string_view value;
};

//! The pinned settings (see the .cpp for why each one is there).
std::span<const SessionSetting> SessionSettings();

//! Maps an engine error text ("Code: 241. DB::Exception: ...") to a Status carrying the text:
//! kUnavailable for conditions a retry can clear (memory or concurrency limits, timeouts, too
//! many parts, cancellation), kInternal for everything else (syntax, types, unknown tables...).
Status StatusFromClickHouseError(std::string_view what, std::string_view error);

//! The metrics every transport keeps, labelled with its name ("chdb", "http"): statement time
//! and failures per kind (read: SELECT-like on the reader pool; write: DDL/DELETE; insert), and
//! how often a caller gave up waiting for a free connection.
struct TransportMetrics {
  Histogram& read_seconds;
  Histogram& write_seconds;
  Histogram& insert_seconds;
  Counter& read_errors;
  Counter& write_errors;
  Counter& insert_errors;
  Counter& connection_wait_timeouts;
};
//! Registered in Metrics() on first use; one instance per transport name.
TransportMetrics& GetTransportMetrics(std::string_view transport);

//! True when `name` is non-empty and only [A-Za-z0-9_.-]: allowed for insert table names and
//! dedup tokens, the only caller-supplied text that enters SQL outside a parameter.
bool IsSafeSqlName(std::string_view name);
//! True when `name` is non-empty and only [A-Za-z0-9_]: parameter names, formats, cluster names.
bool IsSqlIdentifier(std::string_view name);

//! True for statements that only read (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS, after any
//! leading comments and parentheses): they may run on a reader connection and be retried.
bool IsReadOnlyStatement(std::string_view sql);

//! `INSERT INTO `db`.`table` [SETTINGS insert_deduplication_token='...']` (no FORMAT, no data)
//! for a table and token already checked with IsSafeSqlName.
std::string InsertStatement(std::string_view table, std::string_view dedup_token);

}  // namespace langfuse::traces
