#include "storage/traces/trace_store.h"

#include <algorithm>

#include "common/time.h"

#include <utility>

#include "storage/traces/record_json.h"

namespace langfuse::traces {
namespace {

// `SELECT <columns> FROM <table> FINAL WHERE project_id = ... AND <filter> AND is_deleted = 0
//  ORDER BY event_ts DESC LIMIT 1 BY id`. With FINAL, ClickHouse applies the WHERE after
// collapsing, so `is_deleted = 0` cannot resurface an older version of a deleted row; it is
// redundant with FINAL's own handling of is_deleted and kept so the intent survives engines
// that differ there.
std::string NewestVersions(std::string_view columns, std::string_view table, std::string_view filter) {
  std::string sql = "SELECT ";
  sql += columns;
  sql += " FROM ";
  sql += table;
  sql += " FINAL WHERE project_id = {project_id:String} AND ";
  sql += filter;
  sql += " AND is_deleted = 0 ORDER BY event_ts DESC LIMIT 1 BY id";
  return sql;
}

// The newest versions, then sorted for the caller (a second ORDER BY needs the outer query:
// LIMIT BY applies after the inner ORDER BY).
std::string NewestVersionsOrdered(std::string_view columns, std::string_view table, std::string_view filter,
                                  std::string_view order_by) {
  std::string sql = "SELECT * FROM (";
  sql += NewestVersions(columns, table, filter);
  sql += ") ORDER BY ";
  sql += order_by;
  return sql;
}

// Every lookup here filters on columns that never change between versions of a row (id,
// trace_id), so a skip index cannot drop a granule holding the newest version while keeping an
// older one: letting FINAL use the bloom-filter indexes is safe, and turns an id lookup from a
// scan of the project's rows into a read of the few granules that may hold the id.
constexpr std::string_view kIndexedFinal = " SETTINGS use_skip_indexes_if_final = 1";

template <typename Parse>
auto Select(ClickHouseTransport& transport, const std::string& sql, std::vector<QueryParam> params,
            Parse parse) -> decltype(parse(std::string_view())) {
  auto out = transport.Query(sql, params);
  if (!out.ok()) return out.status();
  return parse(*out);
}

}  // namespace

TraceStore::TraceStore(std::unique_ptr<ClickHouseTransport> transport, SchemaTarget target)
    : transport_(std::move(transport)), target_(std::move(target)) {}

Status TraceStore::Migrate(int* applied) { return ApplyClickHouseMigrations(*transport_, target_, applied); }

Status TraceStore::Ping() { return transport_->Ping(); }

Status TraceStore::InsertTraces(const std::vector<TraceRecord>& rows, const std::string& dedup_token) {
  if (rows.empty()) return Status::Ok();
  return transport_->InsertJsonEachRow("traces", TracesToJsonEachRow(rows), dedup_token);
}

Status TraceStore::InsertObservations(const std::vector<ObservationRecord>& rows,
                                      const std::string& dedup_token) {
  if (rows.empty()) return Status::Ok();
  return transport_->InsertJsonEachRow("observations", ObservationsToJsonEachRow(rows), dedup_token);
}

Status TraceStore::InsertScores(const std::vector<ScoreRecord>& rows, const std::string& dedup_token) {
  if (rows.empty()) return Status::Ok();
  return transport_->InsertJsonEachRow("scores", ScoresToJsonEachRow(rows), dedup_token);
}

StatusOr<std::vector<TraceRecord>> TraceStore::GetTraces(const std::string& project_id,
                                                         const std::vector<std::string>& ids) {
  if (ids.empty()) return std::vector<TraceRecord>{};
  static const std::string kSql =
      NewestVersions(TraceSelectColumns(), "traces", "id IN {ids:Array(String)}") + std::string(kIndexedFinal);
  return Select(*transport_, kSql, {StringParam("project_id", project_id), StringArrayParam("ids", ids)},
                ParseTracesJsonEachRow);
}

StatusOr<std::vector<ObservationRecord>> TraceStore::GetObservations(const std::string& project_id,
                                                                     const std::vector<std::string>& ids) {
  if (ids.empty()) return std::vector<ObservationRecord>{};
  static const std::string kSql =
      NewestVersions(ObservationSelectColumns(), "observations", "id IN {ids:Array(String)}") +
      std::string(kIndexedFinal);
  return Select(*transport_, kSql, {StringParam("project_id", project_id), StringArrayParam("ids", ids)},
                ParseObservationsJsonEachRow);
}

StatusOr<std::vector<ScoreRecord>> TraceStore::GetScores(const std::string& project_id,
                                                         const std::vector<std::string>& ids) {
  if (ids.empty()) return std::vector<ScoreRecord>{};
  static const std::string kSql =
      NewestVersions(ScoreSelectColumns(), "scores", "id IN {ids:Array(String)}") + std::string(kIndexedFinal);
  return Select(*transport_, kSql, {StringParam("project_id", project_id), StringArrayParam("ids", ids)},
                ParseScoresJsonEachRow);
}

StatusOr<std::vector<ObservationRecord>> TraceStore::ObservationsOfTrace(const std::string& project_id,
                                                                         const std::string& trace_id) {
  static const std::string kSql = NewestVersionsOrdered(
      ObservationSelectColumns(), "observations", "trace_id = {trace_id:String}", "start_time ASC, id ASC") +
      std::string(kIndexedFinal);
  return Select(*transport_, kSql, {StringParam("project_id", project_id), StringParam("trace_id", trace_id)},
                ParseObservationsJsonEachRow);
}

StatusOr<std::vector<ScoreRecord>> TraceStore::ScoresOfTrace(const std::string& project_id,
                                                             const std::string& trace_id) {
  static const std::string kSql = NewestVersionsOrdered(
      ScoreSelectColumns(), "scores", "trace_id = {trace_id:String}", "`timestamp` ASC, id ASC") +
      std::string(kIndexedFinal);
  return Select(*transport_, kSql, {StringParam("project_id", project_id), StringParam("trace_id", trace_id)},
                ParseScoresJsonEachRow);
}

Status TraceStore::DeleteScores(const std::string& project_id, const std::vector<std::string>& ids) {
  if (ids.empty()) return Status::Ok();
  // A newer version of each row marked is_deleted: ReplacingMergeTree(event_ts, is_deleted) then
  // hides the row from FINAL reads at once. Unlike a lightweight DELETE this is a plain insert:
  // no mutation, no wait, and no race with readers of the parts a mutation rewrites.
  ASSIGN_OR_RETURN(std::vector<ScoreRecord> rows, GetScores(project_id, ids));
  if (rows.empty()) return Status::Ok();
  const int64_t now = NowMs();
  for (ScoreRecord& row : rows) {
    row.is_deleted = 1;
    row.event_ts_ms = std::max(now, row.event_ts_ms + 1);
    row.updated_at_ms = now;
  }
  return InsertScores(rows, "");
}

}  // namespace langfuse::traces
