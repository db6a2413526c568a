#pragma once

// The web UI's reads of the tracing data (docs/ui-api.md, "Tracing data"): the trace list with
// its per-row aggregates, filter options, a trace with its light observations, one observation in
// full, sessions, users, trace names for the score list, and the dashboard.
//
// Same conventions as trace_queries.h: every value from the request is a `{name:Type}` parameter;
// lists read with FINAL (versions collapsed, deleted rows dropped) and
// do_not_merge_across_partitions_select_final; lookups by id or trace id read the newest version
// per id without FINAL. Aggregates are computed for the rows of the requested page only, except
// when the page is ordered by one of them. Free functions over a transport: as thread-safe as it.

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

//! The trace list's `orderBy` columns.
enum class UiTraceOrder { kTimestamp, kName, kLatency, kTotalCost, kTotalTokens };
//! "timestamp", "name", "latency", "totalCost", "totalTokens"; nullopt for anything else.
std::optional<UiTraceOrder> UiTraceOrderFromName(std::string_view name);

//! Conditions shared by the UI's list routes (each route applies those that make sense for it).
struct UiListFilter {
  std::optional<int64_t> from_ms;  //!< timestamp >= this
  std::optional<int64_t> to_ms;    //!< timestamp < this
  //! The public `filter` parameter's conditions over TraceFilterColumns() (traces only).
  std::vector<FilterCondition> conditions;
  //! Case-insensitive substring; empty = no search. Traces: over id and name (and input/output
  //! with search_content); sessions: the session id; users: the user id.
  std::string search;
  bool search_content = false;
};

struct UiPaging {
  uint64_t page = 1;    //!< from 1
  uint64_t limit = 50;  //!< 1..100
};

struct UiTraceListQuery {
  UiListFilter filter;
  UiTraceOrder order = UiTraceOrder::kTimestamp;
  bool ascending = false;
  UiPaging paging;
};

//! What a trace's observations add up to.
struct UiTraceAggregates {
  std::string level = "DEFAULT";  //!< the most severe level: ERROR > WARNING > DEFAULT > DEBUG
  double latency_seconds = 0;     //!< earliest start/end to latest start/end
  double total_cost = 0;          //!< Σ total_cost
  uint64_t input_tokens = 0;      //!< Σ usage of the keys containing "input"
  uint64_t output_tokens = 0;     //!< Σ usage of the keys containing "output"
  uint64_t total_tokens = 0;      //!< Σ usage "total"
  uint64_t observation_count = 0;
};

//! A trace-level score as the list shows it.
struct UiScoreSummary {
  std::string name;
  double value = 0;
  std::optional<std::string> string_value;
  std::string data_type;
};

struct UiTraceRow {
  TraceRecord trace;  //!< without input, output and metadata
  UiTraceAggregates aggregates;
  std::vector<UiScoreSummary> scores;  //!< by timestamp, then id
};

struct UiTraceListPage {
  std::vector<UiTraceRow> rows;
  uint64_t total_items = 0;
};

//! One page of the project's traces. kInvalidArgument for a filter condition on a column the
//! catalogue does not have (nothing is read then).
StatusOr<UiTraceListPage> ListUiTraces(ClickHouseTransport& transport, const std::string& project_id,
                                       const UiTraceListQuery& query);

//! The aggregates and scores of `trace_ids` (traces without observations are absent from the
//! aggregates; without scores, from the scores). `earliest_trace_ms` bounds the observation read
//! as Langfuse does (an hour before it).
struct UiTraceExtras {
  std::map<std::string, UiTraceAggregates> aggregates;
  std::map<std::string, std::vector<UiScoreSummary>> scores;
};
StatusOr<UiTraceExtras> UiTraceExtrasOf(ClickHouseTransport& transport, const std::string& project_id,
                                        const std::vector<std::string>& trace_ids,
                                        std::optional<int64_t> earliest_trace_ms);

//! The values the trace filters offer, at most 1000 each, sorted.
struct UiTraceFilterOptions {
  std::vector<std::string> names, tags, environments, users;
};
StatusOr<UiTraceFilterOptions> UiTraceFilterOptionsOf(ClickHouseTransport& transport,
                                                      const std::string& project_id,
                                                      std::optional<int64_t> from_ms,
                                                      std::optional<int64_t> to_ms);

//! A trace with its observations (light columns only: no input, output, metadata, model
//! parameters; ordered by start time then id) and its listable scores; nullopt when absent.
struct UiTraceDetail {
  TraceRecord trace;
  std::vector<ObservationRecord> observations;
  std::vector<ScoreRecord> scores;
};
StatusOr<std::optional<UiTraceDetail>> GetUiTrace(ClickHouseTransport& transport,
                                                  const std::string& project_id, const std::string& trace_id);

//! One observation of the trace, every column the public observation view shows
//! (PublicObservationSelectColumns); nullopt when absent.
StatusOr<std::optional<ObservationRecord>> GetUiObservation(ClickHouseTransport& transport,
                                                            const std::string& project_id,
                                                            const std::string& trace_id,
                                                            const std::string& observation_id);

//! The session and user lists' `orderBy` columns (docs/ui-api.md), with the direction.
enum class UiSessionOrder { kCreatedAt, kLastTraceAt, kTraceCount, kTotalCost, kTotalTokens, kId };
enum class UiUserOrder {
  kLastTrace,
  kFirstTrace,
  kTraceCount,
  kObservationCount,
  kTotalTokens,
  kTotalCost,
  kUserId
};
//! "createdAt", "lastTraceAt", "traceCount", "totalCost", "totalTokens", "id"; nullopt otherwise.
std::optional<UiSessionOrder> UiSessionOrderFromName(std::string_view name);
//! "lastTrace", "firstTrace", "traceCount", "observationCount", "totalTokens", "totalCost",
//! "userId"; nullopt otherwise.
std::optional<UiUserOrder> UiUserOrderFromName(std::string_view name);
template <typename Column>
struct UiGroupOrder {
  Column column{};  //!< the first enumerator (first or last trace) by default
  bool ascending = false;
};

//! A session row: traces carrying its id (within the time range).
struct UiSessionRow {
  std::string id;
  int64_t created_at_ms = 0;  //!< its first trace
  int64_t last_trace_at_ms = 0;
  uint64_t trace_count = 0;
  std::vector<std::string> user_ids;  //!< sorted
  double total_cost = 0;
  uint64_t total_tokens = 0;
};
struct UiSessionPage {
  std::vector<UiSessionRow> rows;  //!< in `order`, ties by id (ascending)
  uint64_t total_items = 0;
};
//! Uses from_ms/to_ms (on the traces' timestamps) and search (over the session id). Ordered by
//! an observation total (cost, tokens), the totals are computed for every matching session.
StatusOr<UiSessionPage> ListUiSessions(ClickHouseTransport& transport, const std::string& project_id,
                                       const UiListFilter& filter, const UiPaging& paging,
                                       const UiGroupOrder<UiSessionOrder>& order = {});

//! A trace of a session with its latency and cost.
struct UiSessionTrace {
  TraceRecord trace;
  double latency_seconds = 0;
  double total_cost = 0;
};
//! The session's traces ordered by timestamp then id; empty when no trace carries the id.
StatusOr<std::vector<UiSessionTrace>> GetUiSession(ClickHouseTransport& transport,
                                                   const std::string& project_id,
                                                   const std::string& session_id);

struct UiUserRow {
  std::string user_id;
  uint64_t trace_count = 0;
  uint64_t observation_count = 0;
  uint64_t total_tokens = 0;
  double total_cost = 0;
  int64_t first_trace_ms = 0;
  int64_t last_trace_ms = 0;
};
struct UiUserPage {
  std::vector<UiUserRow> rows;  //!< in `order`, ties by user id (ascending)
  uint64_t total_items = 0;
};
//! Uses from_ms/to_ms (on the traces' timestamps) and search (over the user id). Ordered by an
//! observation total (count, tokens, cost), the totals are computed for every matching user.
StatusOr<UiUserPage> ListUiUsers(ClickHouseTransport& transport, const std::string& project_id,
                                 const UiListFilter& filter, const UiPaging& paging,
                                 const UiGroupOrder<UiUserOrder>& order = {});

//! trace id -> name for those of `trace_ids` that exist.
StatusOr<std::map<std::string, std::string>> TraceNamesOf(ClickHouseTransport& transport,
                                                          const std::string& project_id,
                                                          const std::vector<std::string>& trace_ids);

//! The dashboard, computed through the metrics query API (metrics_queries.h) so that every number
//! equals what GET /api/public/metrics answers for the same window: traces by timestamp and
//! observations by start time within [from, to] (both ends included, as that API does).
struct UiDashboard {
  std::string granularity;  //!< "hour" (window up to 2 days) or "day"
  struct TimeCount {
    std::string time;  //!< bucket start, ISO
    uint64_t count = 0;
  };
  struct ModelCost {
    std::string time;
    std::string model;  //!< empty for observations without a model
    double cost = 0;
  };
  struct NameLatency {
    std::string name;
    double p50 = 0, p90 = 0, p99 = 0;  //!< seconds
    uint64_t count = 0;
  };
  struct ScoreAverage {
    std::string name;
    std::string data_type;
    std::optional<double> avg;  //!< none for categorical scores
    uint64_t count = 0;
  };
  std::vector<TimeCount> traces_over_time;        //!< every bucket of the window, zeros included
  std::vector<TimeCount> observations_over_time;  //!< idem
  std::vector<ModelCost> cost_by_model;           //!< buckets with observations only
  std::vector<NameLatency> latency_by_name;       //!< most observations first, at most 100
  std::vector<ScoreAverage> scores;               //!< by name, then data type
  uint64_t total_traces = 0;
  uint64_t total_observations = 0;
  double total_cost = 0;
};
//! kInvalidArgument unless from < to.
StatusOr<UiDashboard> QueryUiDashboard(ClickHouseTransport& transport, const std::string& project_id,
                                       int64_t from_ms, int64_t to_ms);

}  // namespace langfuse::traces
