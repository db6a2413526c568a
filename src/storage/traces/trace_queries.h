#pragma once

// The public read API's queries over traces: filtered, ordered and paged trace lists (GET /traces),
// the per-trace aggregates a list shows (observation ids, cost, latency, score ids), sessions
// derived from the traces' session_id (GET /sessions), and trace deletion.
//
// Every statement is parameterised ({name:Type}) and reads the newest version of each row as
// TraceStore does: `FINAL`, `is_deleted = 0`, then `ORDER BY event_ts DESC LIMIT 1 BY id`. All
// functions are free functions over a transport, so they are as thread-safe as the transport.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/traces/clickhouse_transport.h"
#include "storage/traces/filter_sql.h"
#include "storage/traces/records.h"

namespace langfuse::traces {

//! The columns GET /traces may be ordered by (Langfuse's `orderBy` allow-list).
enum class TraceOrderColumn {
  kId,
  kTimestamp,
  kName,
  kUserId,
  kRelease,
  kVersion,
  kPublic,
  kBookmarked,
  kSessionId
};

//! Maps the API's column name ("timestamp", "userId", "sessionId"...) to the column; nullopt for
//! a name Langfuse does not allow.
std::optional<TraceOrderColumn> TraceOrderColumnFromName(std::string_view name);

//! GET /traces filters; every set field must hold (AND). Unset = no condition.
struct TraceListFilter {
  std::optional<std::string> user_id;
  std::optional<std::string> name;
  std::optional<std::string> session_id;
  std::optional<std::string> version;
  std::optional<std::string> release;
  std::vector<std::string> tags;             //!< the trace must carry all of them
  std::vector<std::string> environments;     //!< any of them (empty = any environment)
  std::optional<int64_t> from_timestamp_ms;  //!< timestamp >= this
  std::optional<int64_t> to_timestamp_ms;    //!< timestamp < this
  //! The `filter` parameter's conditions over TraceFilterColumns(). A simple filter above on the
  //! same column gives way to them, as in Langfuse.
  std::vector<FilterCondition> conditions;
};

struct TraceListQuery {
  TraceListFilter filter;
  TraceOrderColumn order_column = TraceOrderColumn::kTimestamp;
  bool ascending = false;
  uint64_t limit = 50;  //!< rows per page, > 0
  uint64_t page = 1;    //!< 1-based
  //! When false, input/output/metadata are not read (the `io` field group was not requested).
  bool include_io = true;
};

struct TraceListPage {
  std::vector<TraceRecord> traces;  //!< this page, in the requested order (ties by id)
  uint64_t total_items = 0;         //!< every trace matching the filter
};

//! One page of a project's traces. kInvalidArgument when a condition names a column the
//! catalogue does not have or a filter type the column does not take (nothing is read then).
StatusOr<TraceListPage> ListTraces(ClickHouseTransport& transport, const std::string& project_id,
                                   const TraceListQuery& query);

//! What the observations of one trace add up to.
struct TraceObservationStats {
  std::vector<std::string> observation_ids;  //!< ordered by start time, then id
  double total_cost = 0;                     //!< Σ total_cost (USD)
  double latency_seconds = 0;  //!< latest start/end minus earliest start/end, 0 without observations
};

//! Observation stats for each of `trace_ids` that has observations (others are absent).
//! `earliest_trace_ms`, the earliest timestamp of those traces, bounds the read as Langfuse does:
//! observations starting more than an hour before it are not counted.
StatusOr<std::map<std::string, TraceObservationStats>> ObservationStatsOfTraces(
    ClickHouseTransport& transport, const std::string& project_id, const std::vector<std::string>& trace_ids,
    std::optional<int64_t> earliest_trace_ms = std::nullopt);

//! Ids of the trace-level scores (no session or dataset run) of each of `trace_ids`, sorted; traces
//! without scores are absent.
StatusOr<std::map<std::string, std::vector<std::string>>> ScoreIdsOfTraces(
    ClickHouseTransport& transport, const std::string& project_id, const std::vector<std::string>& trace_ids);

//! GET /traces/{traceId}: the trace `id` of the project, newest version; nullopt when absent.
//! These reads look rows up by id or trace id without FINAL (the newest version per id,
//! then deleted rows dropped), which reads only the granules the bloom-filter indexes point to.
StatusOr<std::optional<TraceRecord>> GetTraceForApi(ClickHouseTransport& transport,
                                                    const std::string& project_id, const std::string& id);
//! The timestamp of the trace's newest version (nullopt when absent), read without its other
//! columns: a fifth of the whole row's time, so the observations' read, which needs it, can
//! start while the whole row is read.
StatusOr<std::optional<int64_t>> TraceTimestampForApi(ClickHouseTransport& transport,
                                                      const std::string& project_id, const std::string& id);
//! The trace's observations, ordered by start time then id. As Langfuse reads them: those that
//! start at most an hour before the trace's timestamp.
StatusOr<std::vector<ObservationRecord>> ObservationsOfTraceForApi(ClickHouseTransport& transport,
                                                                   const std::string& project_id,
                                                                   const std::string& trace_id,
                                                                   int64_t trace_timestamp_ms);
//! The trace's scores of the listable data types (no CORRECTION), ordered by timestamp then id.
StatusOr<std::vector<ScoreRecord>> ScoresOfTraceForApi(ClickHouseTransport& transport,
                                                       const std::string& project_id,
                                                       const std::string& trace_id);

//! Deletes the traces `trace_ids` of the project with their observations and scores (lightweight
//! DELETE: gone from reads when this returns). Ids that do not exist are ignored.
//! Synchronous, unlike Langfuse's queued deletion job. Caveat: the ingestion worker keeps recently
//! merged rows in memory, so an event for a deleted trace (or its observations) that arrives while
//! the row is still cached merges with the cached row and writes the old content back; Langfuse
//! would start from an empty row (it also deletes the stored events). The worker would need to
//! drop its cache entries for deleted ids to close this.
Status DeleteTraces(ClickHouseTransport& transport, const std::string& project_id,
                    const std::vector<std::string>& trace_ids);

//! A session as GET /sessions shows it, derived from the traces that carry its id.
struct SessionRecord {
  std::string id;
  std::string project_id;
  int64_t created_at_ms = 0;  //!< the earliest timestamp of its traces
  std::string environment;    //!< the environment of its earliest trace
};

struct SessionListQuery {
  std::optional<int64_t> from_timestamp_ms;  //!< created_at >= this
  std::optional<int64_t> to_timestamp_ms;    //!< created_at < this
  std::vector<std::string> environments;     //!< any of them (empty = any)
  uint64_t limit = 50;
  uint64_t page = 1;
};

struct SessionListPage {
  std::vector<SessionRecord> sessions;  //!< newest first (ties by id)
  uint64_t total_items = 0;
};

StatusOr<SessionListPage> ListSessions(ClickHouseTransport& transport, const std::string& project_id,
                                       const SessionListQuery& query);

//! The session and its traces (ordered by timestamp, then id); nullopt when no trace of the project
//! carries `session_id`.
struct SessionWithTraces {
  SessionRecord session;
  std::vector<TraceRecord> traces;
};
StatusOr<std::optional<SessionWithTraces>> GetSession(ClickHouseTransport& transport,
                                                      const std::string& project_id,
                                                      const std::string& session_id);

}  // namespace langfuse::traces
