#include "storage/traces/trace_queries.h"

#include <algorithm>
#include <charconv>
#include <future>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include <fmt/core.h>
#include <simdjson.h>

#include "common/time.h"
#include "storage/traces/record_json.h"
#include "storage/traces/read_sql.h"

namespace langfuse::traces {
namespace {

using read_sql::ClampToDateTime64;
using read_sql::kFinalSettings;
using read_sql::kListableScoreTypes;
using read_sql::kTraceToChildrenMs;
using read_sql::NewestById;
using read_sql::PageOffset;

std::string_view OrderColumnSql(TraceOrderColumn column) {
  switch (column) {
    case TraceOrderColumn::kId:
      return "`id`";
    case TraceOrderColumn::kTimestamp:
      return "`timestamp`";
    case TraceOrderColumn::kName:
      return "`name`";
    case TraceOrderColumn::kUserId:
      return "`user_id`";
    case TraceOrderColumn::kRelease:
      return "`release`";
    case TraceOrderColumn::kVersion:
      return "`version`";
    case TraceOrderColumn::kPublic:
      return "`public`";
    case TraceOrderColumn::kBookmarked:
      return "`bookmarked`";
    case TraceOrderColumn::kSessionId:
      return "`session_id`";
  }
  return "`timestamp`";
}

// The trace columns without input, output and metadata (the `io` group), which are the bulk of
// a trace row.
std::string_view TraceCoreColumns() {
  static const std::string kList = [] {
    std::string out;
    std::string_view all = TraceSelectColumns();
    while (!all.empty()) {
      const size_t comma = all.find(", ");
      const std::string_view column = all.substr(0, comma);
      all = comma == std::string_view::npos ? std::string_view() : all.substr(comma + 2);
      if (column == "`input`" || column == "`output`" || column == "`metadata`") continue;
      if (!out.empty()) out += ", ";
      out += column;
    }
    return out;
  }();
  return kList;
}


// Per trace of the project: its observations' level, level counts, summed usage and cost maps
// and latency (as the list shows it), for the `filter` parameter's observation columns.
constexpr std::string_view kObservationStatsSubquery =
    "SELECT trace_id AS o_trace_id, "
    "multiIf(countIf(level = 'ERROR') > 0, 'ERROR', countIf(level = 'WARNING') > 0, 'WARNING', "
    "countIf(level = 'DEFAULT') > 0, 'DEFAULT', 'DEBUG') AS o_level, "
    "countIf(level = 'WARNING') AS o_warning_count, countIf(level = 'ERROR') AS o_error_count, "
    "countIf(level = 'DEFAULT') AS o_default_count, countIf(level = 'DEBUG') AS o_debug_count, "
    "sumMap(usage_details) AS o_usage, sumMap(cost_details) AS o_cost, "
    "dateDiff('millisecond', least(min(start_time), min(ifNull(end_time, start_time))), "
    "greatest(max(start_time), max(ifNull(end_time, start_time)))) AS o_latency_ms "
    "FROM observations FINAL WHERE project_id = {project_id:String} AND is_deleted = 0 "
    "GROUP BY trace_id";

// Per trace of the project: its listable trace-level scores as Langfuse's score_stats holds
// them: (name, value) of numeric and boolean scores, "name:value" of categorical ones and
// "name:true|false" of boolean ones.
const std::string& ScoreStatsSubquery() {
  static const std::string kSql = fmt::format(
      "SELECT assumeNotNull(trace_id) AS s_trace_id, "
      "groupArrayIf((name, value), data_type IN ('NUMERIC', 'BOOLEAN')) AS s_avg, "
      "groupArrayIf(concat(name, ':', ifNull(string_value, '')), data_type = 'CATEGORICAL' "
      "AND notEmpty(ifNull(string_value, ''))) AS s_categories, "
      "groupUniqArrayIf(concat(name, ':', lowerUTF8(ifNull(string_value, ''))), data_type = 'BOOLEAN' "
      "AND notEmpty(ifNull(string_value, ''))) AS s_booleans "
      "FROM scores FINAL "
      "WHERE project_id = {{project_id:String}} AND is_deleted = 0 AND trace_id IS NOT NULL "
      "AND session_id IS NULL AND dataset_run_id IS NULL AND data_type IN {} "
      "GROUP BY trace_id",
      kListableScoreTypes);
  return kSql;
}

// The WHERE conditions of a trace list (after `FROM traces FINAL WHERE `) and their parameters:
// the simple filters (each unless `advanced` has a condition on the same column) and the
// `filter` parameter's conditions on the trace row. Conditions on the trace's observations or
// scores become `id IN (...)` over a join of the traces with those aggregates.
std::string TraceListWhere(const std::string& project_id, const TraceListFilter& f,
                           const CompiledFilter& advanced, std::vector<QueryParam>& params) {
  std::string where = "project_id = {project_id:String} AND is_deleted = 0";
  params.push_back(StringParam("project_id", project_id));
  auto equals = [&](const std::optional<std::string>& value, std::string_view column,
                    std::string_view param) {
    if (!value || advanced.Covers(column)) return;
    where += fmt::format(" AND {} = {{{}:String}}", column, param);
    params.push_back(StringParam(std::string(param), *value));
  };
  equals(f.user_id, "user_id", "user_id");
  equals(f.name, "name", "name");
  equals(f.session_id, "session_id", "session_id");
  equals(f.version, "version", "version");
  equals(f.release, "release", "release");
  if (!f.tags.empty() && !advanced.Covers("tags")) {
    where += " AND hasAll(tags, {tags:Array(String)})";
    params.push_back(StringArrayParam("tags", f.tags));
  }
  if (!f.environments.empty() && !advanced.Covers("environment")) {
    where += " AND environment IN {environments:Array(String)}";
    params.push_back(StringArrayParam("environments", f.environments));
  }
  if (!advanced.Covers("`timestamp`")) {
    if (f.from_timestamp_ms) {
      where += " AND `timestamp` >= {from_timestamp:DateTime64(3)}";
      params.push_back(DateTime64MsParam("from_timestamp", ClampToDateTime64(*f.from_timestamp_ms)));
    }
    if (f.to_timestamp_ms) {
      where += " AND `timestamp` < {to_timestamp:DateTime64(3)}";
      params.push_back(DateTime64MsParam("to_timestamp", ClampToDateTime64(*f.to_timestamp_ms)));
    }
  }
  where += advanced.For(ColumnSource::kRow);
  params.insert(params.end(), advanced.params.begin(), advanced.params.end());
  if (advanced.Uses(ColumnSource::kObservationStats) || advanced.Uses(ColumnSource::kScoreStats)) {
    // The aggregates of the traces that pass the row conditions, joined as Langfuse joins its
    // observation_stats / score_stats (a trace without observations or scores reads as zeros
    // and empty lists).
    std::string joined = fmt::format("SELECT t.id FROM (SELECT id FROM traces FINAL WHERE {}) AS t", where);
    if (advanced.Uses(ColumnSource::kObservationStats)) {
      joined += fmt::format(" LEFT JOIN ({}) AS o ON o.o_trace_id = t.id", kObservationStatsSubquery);
    }
    if (advanced.Uses(ColumnSource::kScoreStats)) {
      joined += fmt::format(" LEFT JOIN ({}) AS s ON s.s_trace_id = t.id", ScoreStatsSubquery());
    }
    joined +=
        " WHERE 1" + advanced.For(ColumnSource::kObservationStats) + advanced.For(ColumnSource::kScoreStats);
    where += " AND id IN (" + joined + ")";
  }
  return where;
}

// Reads the single unsigned integer a `SELECT count()` returns in TabSeparated.
StatusOr<uint64_t> ParseCount(std::string_view text, std::string_view what) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Status::Internal(fmt::format("{}: unexpected count answer '{}'", what, text.substr(0, 100)));
  }
  return value;
}

StatusOr<uint64_t> Count(ClickHouseTransport& transport, const std::string& sql,
                         const std::vector<QueryParam>& params, std::string_view what) {
  auto out = transport.Query(sql, params, "TabSeparated");
  if (!out.ok()) return out.status();
  return ParseCount(*out, what);
}

// Calls `on_row(object)` for each line of a JSONEachRow answer; `on_row` returns false when the
// row does not have the expected shape.
template <typename OnRow>
Status ForEachJsonRow(std::string_view text, std::string_view what, OnRow on_row) {
  const simdjson::padded_string buffer(text);
  simdjson::dom::parser parser;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line(buffer.data() + pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    simdjson::dom::object object;
    if (parser.parse(line.data(), line.size(), /*realloc_if_needed=*/false).get_object().get(object) !=
            simdjson::SUCCESS ||
        !on_row(object)) {
      return Status::Internal(fmt::format("{}: unexpected row {}", what, line.substr(0, 200)));
    }
  }
  return Status::Ok();
}

bool ReadString(simdjson::dom::object& object, std::string_view key, std::string& out) {
  std::string_view value;
  if (object[key].get_string().get(value) != simdjson::SUCCESS) return false;
  out.assign(value);
  return true;
}

bool ReadStringArray(simdjson::dom::object& object, std::string_view key, std::vector<std::string>& out) {
  simdjson::dom::array array;
  if (object[key].get_array().get(array) != simdjson::SUCCESS) return false;
  for (const auto element : array) {
    std::string_view value;
    if (element.get_string().get(value) != simdjson::SUCCESS) return false;
    out.emplace_back(value);
  }
  return true;
}

bool ReadNumber(simdjson::dom::object& object, std::string_view key, double& out) {
  simdjson::dom::element element;
  if (object[key].get(element) != simdjson::SUCCESS) return false;
  if (element.get_double().get(out) == simdjson::SUCCESS) return true;
  int64_t i = 0;
  if (element.get_int64().get(i) == simdjson::SUCCESS) {
    out = static_cast<double>(i);
    return true;
  }
  uint64_t u = 0;
  if (element.get_uint64().get(u) == simdjson::SUCCESS) {
    out = static_cast<double>(u);
    return true;
  }
  return false;
}

// The sessions of a project, one row per session id (`session_id`, `first_ts`, `first_env`), from
// the newest version of each trace.
constexpr std::string_view kSessionsSubquery =
    "SELECT session_id, min(`timestamp`) AS first_ts, argMin(environment, `timestamp`) AS first_env "
    "FROM (SELECT id, session_id, `timestamp`, environment FROM traces FINAL "
    "WHERE project_id = {project_id:String} AND is_deleted = 0 AND session_id IS NOT NULL AND session_id != "
    "'' "
    "ORDER BY event_ts DESC LIMIT 1 BY id) "
    "GROUP BY session_id";

// The rows of a list page, in the order of `keys` (id and timestamp of each, as the page's
// FINAL read ordered them), with `columns`. Each key (project, day, id) is read through the
// primary key's day and the id bloom filter, its newest version taken as FINAL would collapse the
// key's versions; a key whose row changed day or was deleted since the page was read is left out.
StatusOr<std::vector<TraceRecord>> ReadPageRows(ClickHouseTransport& transport, const std::string& project_id,
                                                std::string_view columns,
                                                const std::vector<TraceRecord>& keys) {
  std::vector<std::string> ids;
  std::vector<std::string> days;
  for (const TraceRecord& k : keys) {
    ids.push_back(k.id);
    days.push_back(FormatClickHouseDateTime64(k.timestamp_ms).substr(0, 10));
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  const std::string sql = fmt::format(
      "SELECT * FROM (SELECT {} FROM traces WHERE project_id = {{project_id:String}} "
      "AND toDate(`timestamp`) IN {{days:Array(Date)}} AND id IN {{ids:Array(String)}} "
      "ORDER BY event_ts DESC, is_deleted ASC LIMIT 1 BY id, toDate(`timestamp`)) WHERE is_deleted = 0",
      columns);
  auto out = transport.Query(sql, {StringParam("project_id", project_id), StringArrayParam("days", days),
                                   StringArrayParam("ids", ids)});
  if (!out.ok()) return out.status();
  auto rows = ParseTracesJsonEachRow(*out);
  if (!rows.ok()) return rows.status();
  const auto day_of = [](int64_t ms) { return FormatClickHouseDateTime64(ms).substr(0, 10); };
  std::map<std::pair<std::string, std::string>, TraceRecord*> by_key;
  for (TraceRecord& row : *rows) by_key[{row.id, day_of(row.timestamp_ms)}] = &row;
  std::vector<TraceRecord> page;
  page.reserve(keys.size());
  for (const TraceRecord& k : keys) {
    const auto it = by_key.find({k.id, day_of(k.timestamp_ms)});
    if (it != by_key.end()) page.push_back(*it->second);
  }
  return page;
}

}  // namespace

std::optional<TraceOrderColumn> TraceOrderColumnFromName(std::string_view name) {
  static constexpr std::pair<std::string_view, TraceOrderColumn> kNames[] = {
      {"id", TraceOrderColumn::kId},
      {"timestamp", TraceOrderColumn::kTimestamp},
      {"name", TraceOrderColumn::kName},
      {"userId", TraceOrderColumn::kUserId},
      {"release", TraceOrderColumn::kRelease},
      {"version", TraceOrderColumn::kVersion},
      {"public", TraceOrderColumn::kPublic},
      {"bookmarked", TraceOrderColumn::kBookmarked},
      {"sessionId", TraceOrderColumn::kSessionId},
  };
  for (const auto& [key, column] : kNames) {
    if (key == name) return column;
  }
  return std::nullopt;
}

StatusOr<TraceListPage> ListTraces(ClickHouseTransport& transport, const std::string& project_id,
                                   const TraceListQuery& query) {
  auto advanced = CompileFilter(TraceFilterColumns(), query.filter.conditions);
  if (!advanced.ok()) return advanced.status();
  std::vector<QueryParam> params;
  const std::string where = TraceListWhere(project_id, query.filter, *advanced, params);

  TraceListPage page;
  // FINAL drops deleted rows and collapses versions with one sort key; a trace whose timestamp
  // changed left a deleted marker under its old key, so each trace is counted once. The count
  // runs beside the page's reads, on another reader connection.
  std::future<StatusOr<uint64_t>> total = std::async(std::launch::async, [&transport, &where,
                                                                          count_params = params] {
    return Count(transport, "SELECT count() FROM traces FINAL WHERE " + where + std::string(kFinalSettings),
                 count_params, "trace count");
  });
  const uint64_t offset = PageOffset(query.page, query.limit);
  if (query.limit == 0) {
    auto counted = total.get();
    if (!counted.ok()) return counted.status();
    page.total_items = *counted;
    return page;
  }

  const std::string_view direction = query.ascending ? "ASC" : "DESC";
  std::string order = fmt::format("{} {}", OrderColumnSql(query.order_column), direction);
  // Ties broken by id so that pages neither repeat nor skip rows.
  if (query.order_column != TraceOrderColumn::kId) order += fmt::format(", `id` {}", direction);
  // The page's keys first, then its rows. FINAL cannot filter on columns outside the sort key
  // before collapsing versions, so every column it is asked for is read for every row of the
  // filtered range; selecting only the key (id, timestamp) leaves the other columns to the read
  // of the page's rows, which touches only the granules holding them.
  const std::string sql = fmt::format(
      "SELECT id, `timestamp` FROM traces FINAL WHERE {} ORDER BY {} LIMIT {{limit:UInt64}} "
      "OFFSET {{offset:UInt64}}{}",
      where, order, kFinalSettings);
  params.push_back(UInt64Param("limit", query.limit));
  params.push_back(UInt64Param("offset", offset));
  auto out = transport.Query(sql, params);
  if (!out.ok()) return out.status();
  auto keys = ParseTracesJsonEachRow(*out);
  if (!keys.ok()) return keys.status();
  auto counted = total.get();
  if (!counted.ok()) return counted.status();
  page.total_items = *counted;
  if (offset >= page.total_items || keys->empty()) return page;
  auto rows = ReadPageRows(transport, project_id,
                           query.include_io ? TraceSelectColumns() : TraceCoreColumns(), *keys);
  if (!rows.ok()) return rows.status();
  page.traces = std::move(rows).value();
  return page;
}

StatusOr<std::map<std::string, TraceObservationStats>> ObservationStatsOfTraces(
    ClickHouseTransport& transport, const std::string& project_id, const std::vector<std::string>& trace_ids,
    std::optional<int64_t> earliest_trace_ms) {
  std::map<std::string, TraceObservationStats> stats;
  if (trace_ids.empty()) return stats;
  // Latency as Langfuse computes it: from the earliest start or end to the latest one; an
  // observation without an end counts with its start only.
  static constexpr std::string_view kSqlPattern =
      "SELECT trace_id, arrayMap(x -> x.2, arraySort(groupArray((start_time, id)))) AS ids, "
      "toFloat64(sum(ifNull(total_cost, 0))) AS total_cost, "
      "dateDiff('millisecond', least(min(start_time), min(ifNull(end_time, start_time))), "
      "greatest(max(start_time), max(ifNull(end_time, start_time)))) / 1000 AS latency "
      "FROM ({}) GROUP BY trace_id";
  static const std::string kSql =
      fmt::format(kSqlPattern,
                  NewestById("id, trace_id, start_time, end_time, total_cost, is_deleted", "observations",
                             "trace_id IN {trace_ids:Array(String)} AND start_time >= {from:DateTime64(3)}"));
  const int64_t from =
      earliest_trace_ms ? ClampToDateTime64(*earliest_trace_ms - kTraceToChildrenMs) : kMinDateTime64Ms;
  auto out =
      transport.Query(kSql, {StringParam("project_id", project_id), StringArrayParam("trace_ids", trace_ids),
                             DateTime64MsParam("from", from)});
  if (!out.ok()) return out.status();
  Status parsed = ForEachJsonRow(*out, "observation stats", [&](simdjson::dom::object& row) {
    std::string trace_id;
    TraceObservationStats s;
    if (!ReadString(row, "trace_id", trace_id) || !ReadStringArray(row, "ids", s.observation_ids) ||
        !ReadNumber(row, "total_cost", s.total_cost) || !ReadNumber(row, "latency", s.latency_seconds)) {
      return false;
    }
    stats[std::move(trace_id)] = std::move(s);
    return true;
  });
  if (!parsed.ok()) return parsed;
  return stats;
}

StatusOr<std::map<std::string, std::vector<std::string>>> ScoreIdsOfTraces(
    ClickHouseTransport& transport, const std::string& project_id,
    const std::vector<std::string>& trace_ids) {
  std::map<std::string, std::vector<std::string>> ids;
  if (trace_ids.empty()) return ids;
  static const std::string kSql = fmt::format(
      "SELECT trace_id, arraySort(groupUniqArray(id)) AS ids FROM scores FINAL "
      "WHERE project_id = {{project_id:String}} AND trace_id IN {{trace_ids:Array(String)}} AND is_deleted = "
      "0 "
      "AND session_id IS NULL AND dataset_run_id IS NULL AND data_type IN {} "
      "GROUP BY trace_id{}",
      kListableScoreTypes, kFinalSettings);
  auto out = transport.Query(
      kSql, {StringParam("project_id", project_id), StringArrayParam("trace_ids", trace_ids)});
  if (!out.ok()) return out.status();
  Status parsed = ForEachJsonRow(*out, "trace score ids", [&](simdjson::dom::object& row) {
    std::string trace_id;
    std::vector<std::string> score_ids;
    if (!ReadString(row, "trace_id", trace_id) || !ReadStringArray(row, "ids", score_ids)) return false;
    ids[std::move(trace_id)] = std::move(score_ids);
    return true;
  });
  if (!parsed.ok()) return parsed;
  return ids;
}

Status DeleteTraces(ClickHouseTransport& transport, const std::string& project_id,
                    const std::vector<std::string>& trace_ids) {
  if (trace_ids.empty()) return Status::Ok();
  const std::vector<QueryParam> params = {StringParam("project_id", project_id),
                                          StringArrayParam("trace_ids", trace_ids)};
  // Lightweight deletes, as Langfuse's trace deletion job: each statement returns once its rows
  // are masked from reads. The traces go last, so a failure part-way leaves them listed and a
  // retried delete finishes the job.
  for (const std::string_view sql : {
           "DELETE FROM scores WHERE project_id = {project_id:String} AND trace_id IN "
           "{trace_ids:Array(String)}",
           "DELETE FROM observations WHERE project_id = {project_id:String} AND trace_id IN "
           "{trace_ids:Array(String)}",
           "DELETE FROM traces WHERE project_id = {project_id:String} AND id IN {trace_ids:Array(String)}",
       }) {
    auto out = transport.Query(sql, params);
    if (!out.ok()) return out.status();
  }
  return Status::Ok();
}

StatusOr<SessionListPage> ListSessions(ClickHouseTransport& transport, const std::string& project_id,
                                       const SessionListQuery& query) {
  std::vector<QueryParam> params = {StringParam("project_id", project_id)};
  std::string where = "1";
  if (query.from_timestamp_ms) {
    where += " AND first_ts >= {from_timestamp:DateTime64(3)}";
    params.push_back(DateTime64MsParam("from_timestamp", ClampToDateTime64(*query.from_timestamp_ms)));
  }
  if (query.to_timestamp_ms) {
    where += " AND first_ts < {to_timestamp:DateTime64(3)}";
    params.push_back(DateTime64MsParam("to_timestamp", ClampToDateTime64(*query.to_timestamp_ms)));
  }
  if (!query.environments.empty()) {
    where += " AND first_env IN {environments:Array(String)}";
    params.push_back(StringArrayParam("environments", query.environments));
  }

  SessionListPage page;
  auto total = Count(transport, fmt::format("SELECT count() FROM ({}) WHERE {}", kSessionsSubquery, where),
                     params, "session count");
  if (!total.ok()) return total.status();
  page.total_items = *total;
  const uint64_t offset = PageOffset(query.page, query.limit);
  if (offset >= page.total_items || query.limit == 0) return page;

  params.push_back(UInt64Param("limit", query.limit));
  params.push_back(UInt64Param("offset", offset));
  auto out = transport.Query(
      fmt::format(
          "SELECT session_id, toUnixTimestamp64Milli(first_ts) AS created_at_ms, first_env FROM ({}) "
          "WHERE {} ORDER BY first_ts DESC, session_id ASC LIMIT {{limit:UInt64}} OFFSET {{offset:UInt64}}",
          kSessionsSubquery, where),
      params);
  if (!out.ok()) return out.status();
  Status parsed = ForEachJsonRow(*out, "sessions", [&](simdjson::dom::object& row) {
    SessionRecord s;
    s.project_id = project_id;
    double created_at = 0;
    if (!ReadString(row, "session_id", s.id) || !ReadNumber(row, "created_at_ms", created_at) ||
        !ReadString(row, "first_env", s.environment)) {
      return false;
    }
    s.created_at_ms = static_cast<int64_t>(created_at);
    page.sessions.push_back(std::move(s));
    return true;
  });
  if (!parsed.ok()) return parsed;
  return page;
}

StatusOr<std::optional<SessionWithTraces>> GetSession(ClickHouseTransport& transport,
                                                      const std::string& project_id,
                                                      const std::string& session_id) {
  static const std::string kSql = fmt::format(
      "SELECT * FROM (SELECT {} FROM traces FINAL "
      "WHERE project_id = {{project_id:String}} AND session_id = {{session_id:String}} AND is_deleted = 0 "
      "ORDER BY event_ts DESC LIMIT 1 BY id) ORDER BY `timestamp` ASC, `id` ASC",
      TraceSelectColumns());
  auto out =
      transport.Query(kSql, {StringParam("project_id", project_id), StringParam("session_id", session_id)});
  if (!out.ok()) return out.status();
  auto traces = ParseTracesJsonEachRow(*out);
  if (!traces.ok()) return traces.status();
  if (traces->empty() || session_id.empty()) return std::optional<SessionWithTraces>();
  SessionWithTraces result;
  result.session.id = session_id;
  result.session.project_id = project_id;
  // Ordered by timestamp: the first trace opened the session.
  result.session.created_at_ms = traces->front().timestamp_ms;
  result.session.environment = traces->front().environment;
  result.traces = std::move(traces).value();
  return std::optional<SessionWithTraces>(std::move(result));
}

StatusOr<std::optional<TraceRecord>> GetTraceForApi(ClickHouseTransport& transport,
                                                    const std::string& project_id, const std::string& id) {
  static const std::string kSql = NewestById(TraceSelectColumns(), "traces", "id = {id:String}");
  auto out = transport.Query(kSql, {StringParam("project_id", project_id), StringParam("id", id)});
  if (!out.ok()) return out.status();
  auto rows = ParseTracesJsonEachRow(*out);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<TraceRecord>();
  return std::optional<TraceRecord>(std::move(rows->front()));
}

StatusOr<std::optional<int64_t>> TraceTimestampForApi(ClickHouseTransport& transport,
                                                      const std::string& project_id, const std::string& id) {
  static const std::string kSql =
      NewestById("`id`, `timestamp`, `event_ts`, `is_deleted`", "traces", "id = {id:String}");
  auto out = transport.Query(kSql, {StringParam("project_id", project_id), StringParam("id", id)});
  if (!out.ok()) return out.status();
  auto rows = ParseTracesJsonEachRow(*out);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->front().timestamp_ms);
}

StatusOr<std::vector<ObservationRecord>> ObservationsOfTraceForApi(ClickHouseTransport& transport,
                                                                   const std::string& project_id,
                                                                   const std::string& trace_id,
                                                                   int64_t trace_timestamp_ms) {
  static const std::string kSql =
      NewestById(PublicObservationSelectColumns(), "observations",
                 "trace_id = {trace_id:String} AND start_time >= {from:DateTime64(3)}") +
      " ORDER BY start_time ASC, id ASC";
  auto out = transport.Query(
      kSql, {StringParam("project_id", project_id), StringParam("trace_id", trace_id),
             DateTime64MsParam("from", ClampToDateTime64(trace_timestamp_ms - kTraceToChildrenMs))});
  if (!out.ok()) return out.status();
  return ParseObservationsJsonEachRow(*out);
}

StatusOr<std::vector<ScoreRecord>> ScoresOfTraceForApi(ClickHouseTransport& transport,
                                                       const std::string& project_id,
                                                       const std::string& trace_id) {
  static const std::string kSql = fmt::format(
      "{} AND data_type IN {} ORDER BY `timestamp` ASC, id ASC",
      NewestById(ScoreSelectColumns(), "scores", "trace_id = {trace_id:String}"), kListableScoreTypes);
  auto out =
      transport.Query(kSql, {StringParam("project_id", project_id), StringParam("trace_id", trace_id)});
  if (!out.ok()) return out.status();
  return ParseScoresJsonEachRow(*out);
}

}  // namespace langfuse::traces
