#include "storage/traces/observation_queries.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include <fmt/core.h>

#include "storage/traces/record_json.h"
#include "storage/traces/read_sql.h"

namespace langfuse::traces {
namespace {

using read_sql::kFinalSettings;
using read_sql::PageOffset;

// The WHERE conditions of one statement and the parameters they use. Conditions are SQL text
// written in this file (column names, operators, `{name:Type}` placeholders); values only ever
// travel as parameters.
class Conditions {
 public:
  void Add(std::string sql) { sql_ += " AND " + std::move(sql); }
  void Add(std::string sql, QueryParam param) {
    Add(std::move(sql));
    params_.push_back(std::move(param));
  }
  void AddParam(QueryParam param) { params_.push_back(std::move(param)); }
  bool empty() const { return sql_.empty(); }
  //! " AND a AND b" (or "").
  const std::string& sql() const { return sql_; }
  const std::vector<QueryParam>& params() const { return params_; }

 private:
  std::string sql_;
  std::vector<QueryParam> params_;
};

// The newest version of each row of `table` in the project that meets `conditions`.
std::string NewestVersions(std::string_view columns, std::string_view table, const Conditions& conditions) {
  return fmt::format(
      "SELECT {} FROM {} FINAL WHERE project_id = {{project_id:String}}{} AND is_deleted = 0 "
      "ORDER BY event_ts DESC LIMIT 1 BY id",
      columns, table, conditions.sql());
}

std::vector<QueryParam> WithProject(const std::string& project_id, const Conditions& conditions) {
  std::vector<QueryParam> params{StringParam("project_id", project_id)};
  params.insert(params.end(), conditions.params().begin(), conditions.params().end());
  return params;
}

// Runs a statement whose output is one unsigned integer.
StatusOr<uint64_t> QueryCount(ClickHouseTransport& transport, const std::string& sql,
                              const std::vector<QueryParam>& params) {
  auto out = transport.Query(sql, params, "TabSeparatedRaw");
  if (!out.ok()) return out.status();
  std::string_view text = *out;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::Internal(fmt::format("unexpected count output from ClickHouse: '{}'", text.substr(0, 64)));
  }
  return n;
}

// A whole number >= `min` in a query parameter (JavaScript's Number() accepts surrounding
// blanks, exponents and a trailing ".0", so these do too).
std::optional<uint64_t> ParseWholeNumber(std::string_view text, uint64_t min, uint64_t max) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  if (value != std::floor(value) || value < static_cast<double>(min) || value > static_cast<double>(max)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(value);
}

// The score data types the v1 routes list (Langfuse's LISTABLE_SCORE_TYPES).
constexpr std::string_view kV1ScoreScope =
    "trace_id IS NOT NULL AND session_id IS NULL AND dataset_run_id IS NULL "
    "AND data_type IN ('NUMERIC', 'BOOLEAN', 'CATEGORICAL', 'TEXT')";

bool IsValueOperator(std::string_view op) {
  return op == "<" || op == ">" || op == "<=" || op == ">=" || op == "=" || op == "!=";
}

// The shortest text that reads back as the same double (ClickHouse parses it as Float64).
QueryParam Float64Param(std::string name, double value) {
  return {std::move(name), fmt::format("{}", value)};
}

StatusOr<Conditions> ScoreConditions(const ScoreListQuery& query) {
  const ScoreListFilter& f = query.filter;
  auto advanced = CompileFilter(ScoreFilterColumns(), f.conditions);
  if (!advanced.ok()) return advanced.status();
  // A simple filter gives way to a `filter` condition on the same column.
  auto simple = [&](std::string_view column) { return !advanced->Covers(column); };
  Conditions c;
  if (f.name && simple("name")) c.Add("name = {name:String}", StringParam("name", *f.name));
  if (f.source && simple("source")) c.Add("source = {source:String}", StringParam("source", *f.source));
  if (f.data_type && simple("data_type")) {
    c.Add("data_type = {data_type:String}", StringParam("data_type", *f.data_type));
  }
  if (f.config_id) c.Add("config_id = {config_id:String}", StringParam("config_id", *f.config_id));
  if (f.queue_id) c.Add("queue_id = {queue_id:String}", StringParam("queue_id", *f.queue_id));
  if (f.session_id && simple("session_id")) {
    c.Add("session_id = {session_id:String}", StringParam("session_id", *f.session_id));
  }
  if (f.dataset_run_id) {
    c.Add("dataset_run_id = {dataset_run_id:String}", StringParam("dataset_run_id", *f.dataset_run_id));
  }
  if (f.trace_id && simple("trace_id"))
    c.Add("trace_id = {trace_id:String}", StringParam("trace_id", *f.trace_id));
  if (!f.observation_ids.empty() && simple("observation_id")) {
    c.Add("observation_id IN {observation_ids:Array(String)}",
          StringArrayParam("observation_ids", f.observation_ids));
  }
  if (!f.score_ids.empty() && simple("id"))
    c.Add("id IN {score_ids:Array(String)}", StringArrayParam("score_ids", f.score_ids));
  if (!f.environments.empty() && simple("environment")) {
    c.Add("environment IN {environments:Array(String)}", StringArrayParam("environments", f.environments));
  }
  if (f.from_timestamp_ms && simple("`timestamp`")) {
    c.Add("`timestamp` >= {from_timestamp:DateTime64(3)}",
          DateTime64MsParam("from_timestamp", *f.from_timestamp_ms));
  }
  if (f.to_timestamp_ms && simple("`timestamp`")) {
    c.Add("`timestamp` < {to_timestamp:DateTime64(3)}",
          DateTime64MsParam("to_timestamp", *f.to_timestamp_ms));
  }
  for (const QueryParam& p : advanced->params) c.AddParam(p);
  if (advanced->Uses(ColumnSource::kRow)) c.Add(advanced->For(ColumnSource::kRow).substr(5));
  if (f.value_operator && f.value_operand && simple("value")) {
    // The operator is spliced into the SQL text, so only the six known ones get this far.
    if (!IsValueOperator(*f.value_operator)) {
      return Status::InvalidArgument("operator must be one of <, >, <=, >=, =, !=");
    }
    c.Add(fmt::format("value {} {{value_operand:Float64}}", *f.value_operator),
          Float64Param("value_operand", *f.value_operand));
  }
  if (query.version == ScoreApiVersion::kV1) c.Add(std::string(kV1ScoreScope));

  // Trace conditions, as Langfuse's join of the trace: with trace filters the trace must exist
  // and match (its environment too); with only the trace field group, a score that names a
  // trace is listed only when that trace exists.
  std::string trace_filter;
  if (f.trace_user_id) {
    trace_filter += " AND user_id = {trace_user_id:String}";
    c.AddParam(StringParam("trace_user_id", *f.trace_user_id));
  }
  if (!f.trace_tags.empty()) {
    trace_filter += " AND hasAll(tags, {trace_tags:Array(String)})";
    c.AddParam(StringArrayParam("trace_tags", f.trace_tags));
  }
  if (!trace_filter.empty() && !f.environments.empty()) {
    trace_filter += " AND environment IN {environments:Array(String)}";
    if (!simple("environment")) c.AddParam(StringArrayParam("environments", f.environments));
  }
  trace_filter += advanced->For(ColumnSource::kTrace);
  const std::string traces_of_project =
      "SELECT id FROM traces FINAL WHERE project_id = {project_id:String} AND is_deleted = 0" + trace_filter;
  if (!trace_filter.empty()) {
    c.Add("trace_id IN (" + traces_of_project + ")");
  } else if (query.include_trace) {
    c.Add("(trace_id IS NULL OR trace_id IN (" + traces_of_project + "))");
  }
  return c;
}

StatusOr<std::map<std::string, ScoreTraceAttributes>> TraceAttributes(
    ClickHouseTransport& transport, const std::string& project_id, const std::vector<ScoreRecord>& scores) {
  std::set<std::string> unique;
  for (const ScoreRecord& s : scores) {
    if (s.trace_id) unique.insert(*s.trace_id);
  }
  std::map<std::string, ScoreTraceAttributes> out;
  if (unique.empty()) return out;
  static const std::string kSql =
      "SELECT id, user_id, tags, environment, session_id FROM traces FINAL "
      "WHERE project_id = {project_id:String} AND id IN {ids:Array(String)} AND is_deleted = 0 "
      "ORDER BY event_ts DESC LIMIT 1 BY id";
  auto text = transport.Query(
      kSql, {StringParam("project_id", project_id), StringArrayParam("ids", {unique.begin(), unique.end()})});
  if (!text.ok()) return text.status();
  // The trace codec ignores the columns that were not selected.
  auto traces = ParseTracesJsonEachRow(*text);
  if (!traces.ok()) return traces.status();
  for (TraceRecord& t : *traces) {
    out[t.id] = ScoreTraceAttributes{std::move(t.user_id), std::move(t.tags), std::move(t.environment),
                                     std::move(t.session_id)};
  }
  return out;
}

}  // namespace

StatusOr<ListPaging> ParseListPaging(const std::string* page, const std::string* limit) {
  ListPaging paging;
  if (page != nullptr && !page->empty()) {
    auto parsed = ParseWholeNumber(*page, 1, uint64_t{1} << 53);
    if (!parsed) return Status::InvalidArgument("Invalid request data: page must be a whole number >= 1");
    paging.page = *parsed;
  }
  if (limit != nullptr && !limit->empty()) {
    auto parsed = ParseWholeNumber(*limit, 1, 100);
    if (!parsed)
      return Status::InvalidArgument("Invalid request data: limit must be a whole number from 1 to 100");
    paging.limit = *parsed;
  }
  return paging;
}

StatusOr<ObservationListPage> ListObservations(ClickHouseTransport& transport, const std::string& project_id,
                                               const ObservationListFilter& filter,
                                               const ListPaging& paging) {
  Conditions c;
  if (filter.name) c.Add("name = {name:String}", StringParam("name", *filter.name));
  if (filter.type) c.Add("type = {type:String}", StringParam("type", *filter.type));
  if (filter.trace_id) c.Add("trace_id = {trace_id:String}", StringParam("trace_id", *filter.trace_id));
  if (filter.parent_observation_id) {
    c.Add("parent_observation_id = {parent_observation_id:String}",
          StringParam("parent_observation_id", *filter.parent_observation_id));
  }
  if (filter.level) c.Add("level = {level:String}", StringParam("level", *filter.level));
  if (filter.version) c.Add("version = {version:String}", StringParam("version", *filter.version));
  if (!filter.environments.empty()) {
    c.Add("environment IN {environments:Array(String)}",
          StringArrayParam("environments", filter.environments));
  }
  if (filter.from_start_time_ms) {
    c.Add("start_time >= {from_start_time:DateTime64(3)}",
          DateTime64MsParam("from_start_time", *filter.from_start_time_ms));
  }
  if (filter.to_start_time_ms) {
    c.Add("start_time < {to_start_time:DateTime64(3)}",
          DateTime64MsParam("to_start_time", *filter.to_start_time_ms));
  }
  if (filter.user_id) {
    // Observations carry no user id: it is their trace's.
    c.Add(
        "trace_id IN (SELECT id FROM traces FINAL WHERE project_id = {project_id:String} "
        "AND user_id = {user_id:String} AND is_deleted = 0)",
        StringParam("user_id", *filter.user_id));
  }
  auto advanced = CompileFilter(ObservationFilterColumns(), filter.conditions);
  if (!advanced.ok()) return advanced.status();
  for (const QueryParam& p : advanced->params) c.AddParam(p);
  if (advanced->Uses(ColumnSource::kRow)) c.Add(advanced->For(ColumnSource::kRow).substr(5));
  if (advanced->Uses(ColumnSource::kTrace)) {
    // Conditions on the trace's columns: the trace must exist and match (Langfuse joins it).
    c.Add(
        "trace_id IN (SELECT id FROM traces FINAL WHERE project_id = {project_id:String} AND is_deleted = 0" +
        advanced->For(ColumnSource::kTrace) + ")");
  }

  std::vector<QueryParam> params = WithProject(project_id, c);
  ObservationListPage page;
  auto total = QueryCount(
      transport,
      "SELECT count() FROM (" + NewestVersions("id", "observations", c) + ")" + std::string(kFinalSettings),
      params);
  if (!total.ok()) return total.status();
  page.total_items = *total;
  if (page.total_items <= PageOffset(paging.page, paging.limit)) return page;  // past the end: no need to read rows

  const std::string sql = "SELECT * FROM (" +
                          NewestVersions(PublicObservationSelectColumns(), "observations", c) +
                          ") ORDER BY start_time DESC, id ASC LIMIT {limit:UInt64} OFFSET {offset:UInt64}" +
                          std::string(kFinalSettings);
  params.push_back(UInt64Param("limit", paging.limit));
  params.push_back(UInt64Param("offset", PageOffset(paging.page, paging.limit)));
  auto text = transport.Query(sql, params);
  if (!text.ok()) return text.status();
  auto rows = ParseObservationsJsonEachRow(*text);
  if (!rows.ok()) return rows.status();
  page.observations = std::move(rows).value();
  return page;
}

StatusOr<ScoreListPage> ListScores(ClickHouseTransport& transport, const std::string& project_id,
                                   const ScoreListQuery& query) {
  auto conditions = ScoreConditions(query);
  if (!conditions.ok()) return conditions.status();
  const Conditions& c = *conditions;

  std::vector<QueryParam> params = WithProject(project_id, c);
  ScoreListPage page;
  auto total = QueryCount(
      transport,
      "SELECT count() FROM (" + NewestVersions("id", "scores", c) + ")" + std::string(kFinalSettings),
      params);
  if (!total.ok()) return total.status();
  page.total_items = *total;
  if (page.total_items <= PageOffset(query.paging.page, query.paging.limit)) return page;

  const std::string sql = "SELECT * FROM (" + NewestVersions(ScoreSelectColumns(), "scores", c) +
                          ") ORDER BY `timestamp` DESC, id ASC LIMIT {limit:UInt64} OFFSET {offset:UInt64}" +
                          std::string(kFinalSettings);
  params.push_back(UInt64Param("limit", query.paging.limit));
  params.push_back(UInt64Param("offset", PageOffset(query.paging.page, query.paging.limit)));
  auto text = transport.Query(sql, params);
  if (!text.ok()) return text.status();
  auto rows = ParseScoresJsonEachRow(*text);
  if (!rows.ok()) return rows.status();
  page.scores = std::move(rows).value();

  if (query.include_trace) {
    auto traces = TraceAttributes(transport, project_id, page.scores);
    if (!traces.ok()) return traces.status();
    page.traces = std::move(traces).value();
  }
  return page;
}

StatusOr<std::optional<ScoreRecord>> GetScoreForApi(ClickHouseTransport& transport,
                                                    const std::string& project_id, const std::string& id,
                                                    ScoreApiVersion version) {
  Conditions c;
  c.Add("id = {id:String}", StringParam("id", id));
  if (version == ScoreApiVersion::kV1) c.Add(std::string(kV1ScoreScope));
  auto text = transport.Query(NewestVersions(ScoreSelectColumns(), "scores", c), WithProject(project_id, c));
  if (!text.ok()) return text.status();
  auto rows = ParseScoresJsonEachRow(*text);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<ScoreRecord>();
  return std::optional<ScoreRecord>(std::move(rows->front()));
}

}  // namespace langfuse::traces
