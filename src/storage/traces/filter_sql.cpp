#include "storage/traces/filter_sql.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/core.h>

#include "common/time.h"
#include "storage/traces/record_json.h"

namespace langfuse::traces {
namespace {

using K = ColumnKind;
using S = ColumnSource;

// Sums of the map entries whose key contains `part` (Langfuse's input/output usage and cost).
#define LF_MAP_SUM(part, map) \
  "arraySum(mapValues(mapFilter((k, v) -> positionCaseInsensitive(k, '" part "') > 0, " map ")))"
#define LF_MAP_TOTAL(map) "if(mapContains(" map ", 'total'), " map "['total'], NULL)"

// Langfuse v3.225.4: tracesTableUiColumnDefinitions (kinds from tracesTableCols).
constexpr FilterColumn kTraceColumns[] = {
    {"bookmarked", "⭐️", "", "bookmarked", K::kBoolean},
    {"id", "ID", "", "id", K::kString},
    {"traceId", "Trace ID", "", "id", K::kString},
    {"name", "Name", "", "name", K::kStringOptions},
    {"traceName", "Trace Name", "", "name", K::kStringOptions},
    {"timestamp", "Timestamp", "", "`timestamp`", K::kDatetime},
    {"userId", "User ID", "", "user_id", K::kString},
    {"sessionId", "Session ID", "", "session_id", K::kString},
    {"metadata", "Metadata", "", "metadata", K::kStringObject},
    {"version", "Version", "", "version", K::kString},
    {"release", "Release", "", "release", K::kString},
    {"environment", "Environment", "", "environment", K::kStringOptions},
    {"tags", "Tags", "", "tags", K::kArrayOptions},
    {"traceTags", "Trace Tags", "", "tags", K::kArrayOptions},
    {"level", "Level", "", "o_level", K::kStringOptions, S::kObservationStats},
    {"warningCount", "Warning Level Count", "", "o_warning_count", K::kNumber, S::kObservationStats},
    {"errorCount", "Error Level Count", "", "o_error_count", K::kNumber, S::kObservationStats},
    {"defaultCount", "Default Level Count", "", "o_default_count", K::kNumber, S::kObservationStats},
    {"debugCount", "Debug Level Count", "", "o_debug_count", K::kNumber, S::kObservationStats},
    {"inputTokens", "Input Tokens", "", LF_MAP_SUM("input", "o_usage"), K::kNumber, S::kObservationStats},
    {"outputTokens", "Output Tokens", "", LF_MAP_SUM("output", "o_usage"), K::kNumber, S::kObservationStats},
    {"totalTokens", "Total Tokens", "", LF_MAP_TOTAL("o_usage"), K::kNumber, S::kObservationStats},
    {"tokens", "Tokens", "", LF_MAP_TOTAL("o_usage"), K::kNumber, S::kObservationStats},
    {"scores_avg", "Scores (numeric)", "", "s_avg", K::kNumberObject, S::kScoreStats},
    {"score_categories", "Scores (categorical)", "", "s_categories", K::kCategoryOptions, S::kScoreStats},
    {"score_booleans", "Scores (boolean)", "", "s_booleans", K::kBooleanObject, S::kScoreStats},
    {"latency", "Latency (s)", "", "o_latency_ms / 1000", K::kNumber, S::kObservationStats},
    {"inputCost", "Input Cost ($)", "", LF_MAP_SUM("input", "o_cost"), K::kNumber, S::kObservationStats},
    {"outputCost", "Output Cost ($)", "", LF_MAP_SUM("output", "o_cost"), K::kNumber, S::kObservationStats},
    {"totalCost", "Total Cost ($)", "", "o_cost['total']", K::kNumber, S::kObservationStats},
};

// Langfuse v3.225.4: observationsTableUiColumnDefinitions without the score columns (the public
// observations route drops them), kinds from observationsTableCols.
constexpr FilterColumn kObservationColumns[] = {
    {"traceTags", "Trace Tags", "", "tags", K::kArrayOptions, S::kTrace},
    {"userId", "User ID", "", "user_id", K::kString, S::kTrace},
    {"sessionId", "Session ID", "", "session_id", K::kString, S::kTrace},
    {"traceName", "Trace Name", "", "name", K::kStringOptions, S::kTrace},
    {"traceEnvironment", "Trace Environment", "", "environment", K::kStringOptions, S::kTrace},
    {"environment", "Environment", "", "environment", K::kStringOptions},
    {"type", "Type", "", "type", K::kStringOptions},
    {"id", "ID", "", "id", K::kStringOptions},
    {"name", "Name", "", "name", K::kStringOptions},
    {"traceId", "Trace ID", "", "trace_id", K::kString},
    {"parentObservationId", "Parent Observation ID", "", "parent_observation_id", K::kString},
    {"startTime", "Start Time", "", "start_time", K::kDatetime},
    {"endTime", "End Time", "", "end_time", K::kDatetime},
    {"timeToFirstToken", "Time To First Token (s)", "",
     "if(isNull(completion_start_time), NULL, date_diff('millisecond', start_time, completion_start_time) / "
     "1000)",
     K::kNumber},
    {"latency", "Latency (s)", "",
     "if(isNull(end_time), NULL, date_diff('millisecond', start_time, end_time) / 1000)", K::kNumber},
    {"tokensPerSecond", "Tokens per second", "",
     "(" LF_MAP_SUM("output", "usage_details") " / (date_diff('millisecond', start_time, end_time) / 1000))",
     K::kNumber},
    {"inputCost", "Input Cost ($)", "", LF_MAP_SUM("input", "cost_details"), K::kNumber},
    {"outputCost", "Output Cost ($)", "", LF_MAP_SUM("output", "cost_details"), K::kNumber},
    {"totalCost", "Total Cost ($)", "", LF_MAP_TOTAL("cost_details"), K::kNumber},
    {"level", "Level", "", "level", K::kStringOptions},
    {"statusMessage", "Status Message", "", "status_message", K::kString},
    {"model", "Model", "", "provided_model_name", K::kStringOptions},
    {"modelId", "Model ID", "", "internal_model_id", K::kStringOptions},
    {"inputTokens", "Input Tokens", "", LF_MAP_SUM("input", "usage_details"), K::kNumber},
    {"outputTokens", "Output Tokens", "", LF_MAP_SUM("output", "usage_details"), K::kNumber},
    {"totalTokens", "Total Tokens", "", LF_MAP_TOTAL("usage_details"), K::kNumber},
    {"tokens", "Tokens", "", LF_MAP_TOTAL("usage_details"), K::kNumber},
    {"metadata", "Metadata", "", "metadata", K::kStringObject},
    {"version", "Version", "", "version", K::kString},
    {"promptName", "Prompt Name", "", "prompt_name", K::kStringOptions},
    {"promptVersion", "Prompt Version", "", "prompt_version", K::kNumber},
    {"toolDefinitions", "Available Tools", "", "length(mapKeys(tool_definitions))", K::kNumber},
    {"toolCalls", "Tool Calls", "", "length(tool_calls)", K::kNumber},
    {"toolNames", "Tool Names", "", "mapKeys(tool_definitions)", K::kArrayOptions},
    {"calledToolNames", "Called Tool Names", "", "tool_call_names", K::kArrayOptions},
};

// Langfuse v3.225.4: scoresTableUiColumnDefinitions (kinds from scoresTableCols).
constexpr FilterColumn kScoreColumns[] = {
    {"id", "ID", "", "id", K::kString},
    {"timestamp", "Timestamp", "", "`timestamp`", K::kDatetime},
    {"environment", "Environment", "", "environment", K::kStringOptions},
    {"traceId", "Trace ID", "", "trace_id", K::kString},
    {"observationId", "Observation ID", "", "observation_id", K::kString},
    {"sessionId", "Session ID", "", "session_id", K::kString},
    {"name", "Name", "", "name", K::kStringOptions},
    {"value", "Value", "", "value", K::kNumber},
    {"booleanValue", "Boolean Value", "",
     "if(data_type = 'BOOLEAN' AND notEmpty(ifNull(string_value, '')), lowerUTF8(ifNull(string_value, '')), "
     "'')",
     K::kStringOptions},
    {"source", "Source", "", "source", K::kStringOptions},
    {"comment", "Comment", "", "comment", K::kString},
    {"authorUserId", "Author User ID", "", "author_user_id", K::kString},
    {"dataType", "Data Type", "", "data_type", K::kStringOptions},
    {"stringValue", "String Value", "", "string_value", K::kStringOptions},
    {"metadata", "Metadata", "", "metadata", K::kStringObject},
    {"traceName", "Trace Name", "", "name", K::kStringOptions, S::kTrace},
    {"userId", "User ID", "", "user_id", K::kStringOptions, S::kTrace},
    {"trace_tags", "Trace Tags", "tags", "tags", K::kArrayOptions, S::kTrace},
};

#undef LF_MAP_SUM
#undef LF_MAP_TOTAL

std::string_view KindName(ColumnKind kind) {
  switch (kind) {
    case K::kString:
      return "string";
    case K::kStringOptions:
      return "stringOptions";
    case K::kArrayOptions:
      return "arrayOptions";
    case K::kDatetime:
      return "datetime";
    case K::kNumber:
      return "number";
    case K::kBoolean:
      return "boolean";
    case K::kStringObject:
      return "stringObject";
    case K::kNumberObject:
      return "numberObject";
    case K::kBooleanObject:
      return "booleanObject";
    case K::kCategoryOptions:
      return "categoryOptions";
  }
  return "string";
}

// Langfuse's COMPATIBLE_FILTER_TYPES, plus `null` everywhere. categoryOptions columns take only
// categoryOptions here: a plain stringOptions list has no score name to pair its values with.
bool Compatible(ColumnKind kind, FilterType type) {
  if (type == FilterType::kNull) return true;
  switch (kind) {
    case K::kString:
    case K::kStringOptions:
      return type == FilterType::kString || type == FilterType::kStringOptions;
    case K::kArrayOptions:
      return type == FilterType::kArrayOptions || type == FilterType::kStringOptions;
    case K::kDatetime:
      return type == FilterType::kDatetime;
    case K::kNumber:
      return type == FilterType::kNumber;
    case K::kBoolean:
      return type == FilterType::kBoolean;
    case K::kStringObject:
      return type == FilterType::kStringObject;
    case K::kNumberObject:
      return type == FilterType::kNumberObject;
    case K::kBooleanObject:
      return type == FilterType::kBooleanObject;
    case K::kCategoryOptions:
      return type == FilterType::kCategoryOptions;
  }
  return false;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Langfuse's resolveLegacyScoreFilterColumn: `scores` names the score aggregate of the filter's
// type. The numeric one falls back to `scores` itself when the catalogue has no scores_avg.
StatusOr<std::string> ResolveColumnName(std::span<const FilterColumn> columns, const FilterCondition& c) {
  if (!EqualsIgnoreCase(c.column, "scores")) return c.column;
  switch (c.type) {
    case FilterType::kCategoryOptions:
      return std::string("score_categories");
    case FilterType::kBooleanObject:
      return std::string("score_booleans");
    case FilterType::kNumberObject: {
      for (const FilterColumn& col : columns) {
        if (col.id == "scores_avg") return std::string("scores_avg");
      }
      return c.column;
    }
    default:
      return Status::InvalidArgument(fmt::format(
          "Invalid filter type '{}' for legacy score column '{}'. Expected one of 'categoryOptions', "
          "'numberObject', or 'booleanObject'.",
          FilterTypeName(c.type), c.column));
  }
}

const FilterColumn* FindColumn(std::span<const FilterColumn> columns, std::string_view name) {
  for (const FilterColumn& col : columns) {
    if (col.id == name || col.ui_name == name || (!col.alias.empty() && col.alias == name)) return &col;
  }
  return nullptr;
}

// The SQL of one operator; `value` is the placeholder text. Operators were checked against the
// filter type by the API layer; anything else here is a programming error reported as internal.
StatusOr<std::string> CompareSql(std::string_view op, std::string_view lhs, std::string_view value) {
  if (op == "=" || op == ">" || op == "<" || op == ">=" || op == "<=") {
    return fmt::format("{} {} {}", lhs, op, value);
  }
  if (op == "<>" || op == "!=") return fmt::format("{} != {}", lhs, value);
  return Status::Internal(fmt::format("filter operator '{}' has no SQL form", op));
}

StatusOr<std::string> StringOpSql(std::string_view op, std::string_view lhs, std::string_view value) {
  if (op == "=") return fmt::format("{} = {}", lhs, value);
  if (op == "contains") return fmt::format("position({}, {}) > 0", lhs, value);
  if (op == "does not contain") return fmt::format("position({}, {}) = 0", lhs, value);
  if (op == "starts with") return fmt::format("startsWith({}, {})", lhs, value);
  if (op == "ends with") return fmt::format("endsWith({}, {})", lhs, value);
  return Status::Internal(fmt::format("string filter operator '{}' has no SQL form", op));
}

// The shortest text that reads back as the same double.
QueryParam Float64Param(std::string name, double value) {
  return {std::move(name), fmt::format("{}", value)};
}

StatusOr<std::string> ConditionSql(const FilterColumn& col, const FilterCondition& c, const std::string& p,
                                   std::vector<QueryParam>& params) {
  const std::string_view e = col.sql;
  switch (c.type) {
    case FilterType::kString:
      if (col.kind == K::kArrayOptions) break;
      params.push_back(StringParam(p, c.text));
      return StringOpSql(c.op, e, fmt::format("{{{}:String}}", p));
    case FilterType::kStringOptions: {
      params.push_back(StringArrayParam(p, c.values));
      const bool any = c.op == "any of";
      if (!any && c.op != "none of") break;
      // An array column takes a stringOptions list as "has any of them".
      if (col.kind == K::kArrayOptions) {
        return fmt::format("{}hasAny({}, {{{}:Array(String)}})", any ? "" : "NOT ", e, p);
      }
      return fmt::format("{} {}IN {{{}:Array(String)}}", e, any ? "" : "NOT ", p);
    }
    case FilterType::kArrayOptions:
      params.push_back(StringArrayParam(p, c.values));
      if (c.op == "any of") return fmt::format("hasAny({{{}:Array(String)}}, {})", p, e);
      if (c.op == "none of") return fmt::format("NOT hasAny({{{}:Array(String)}}, {})", p, e);
      if (c.op == "all of") return fmt::format("hasAll({}, {{{}:Array(String)}})", e, p);
      break;
    case FilterType::kNumber:
      params.push_back(Float64Param(p, c.number));
      return CompareSql(c.op, fmt::format("toFloat64({})", e), fmt::format("{{{}:Float64}}", p));
    case FilterType::kDatetime:
      params.push_back(DateTime64MsParam(p, std::clamp(c.time_ms, kMinDateTime64Ms, kMaxDateTime64Ms)));
      return CompareSql(c.op, e, fmt::format("{{{}:DateTime64(3)}}", p));
    case FilterType::kBoolean:
      params.push_back({p, c.flag ? "true" : "false"});
      return CompareSql(c.op, e, fmt::format("{{{}:Bool}}", p));
    case FilterType::kStringObject:
      params.push_back(StringParam(p + "k", c.key));
      params.push_back(StringParam(p, c.text));
      return StringOpSql(c.op, fmt::format("{}[{{{}k:String}}]", e, p), fmt::format("{{{}:String}}", p));
    case FilterType::kNumberObject: {
      params.push_back(StringParam(p + "k", c.key));
      params.push_back(Float64Param(p, c.number));
      auto compare = CompareSql(c.op, "x.2", fmt::format("{{{}:Float64}}", p));
      if (!compare.ok()) return compare.status();
      return fmt::format("arrayExists(x -> x.1 = {{{}k:String}} AND {}, {})", p, *compare, e);
    }
    case FilterType::kCategoryOptions: {
      // The aggregate holds "name:value" entries (Langfuse's score_categories).
      std::vector<std::string> entries;
      entries.reserve(c.values.size());
      for (const std::string& v : c.values) entries.push_back(c.key + ":" + v);
      params.push_back(StringArrayParam(p, entries));
      if (c.op == "any of") return fmt::format("hasAny({}, {{{}:Array(String)}})", e, p);
      if (c.op == "none of") return fmt::format("NOT hasAny({}, {{{}:Array(String)}})", e, p);
      break;
    }
    case FilterType::kBooleanObject:
      // "name:true" / "name:false" entries (Langfuse's score_booleans encoding).
      params.push_back(StringParam(p, c.key + (c.flag ? ":true" : ":false")));
      if (c.op == "=") return fmt::format("has({}, {{{}:String}})", e, p);
      if (c.op == "<>") return fmt::format("NOT has({}, {{{}:String}})", e, p);
      break;
    case FilterType::kNull:
      if (c.op == "is null") return fmt::format("{} IS NULL", e);
      if (c.op == "is not null") return fmt::format("{} IS NOT NULL", e);
      break;
  }
  return Status::Internal(
      fmt::format("filter type '{}' with operator '{}' has no SQL form", FilterTypeName(c.type), c.op));
}

}  // namespace

std::string_view FilterTypeName(FilterType type) {
  switch (type) {
    case FilterType::kDatetime:
      return "datetime";
    case FilterType::kString:
      return "string";
    case FilterType::kNumber:
      return "number";
    case FilterType::kStringOptions:
      return "stringOptions";
    case FilterType::kCategoryOptions:
      return "categoryOptions";
    case FilterType::kArrayOptions:
      return "arrayOptions";
    case FilterType::kStringObject:
      return "stringObject";
    case FilterType::kNumberObject:
      return "numberObject";
    case FilterType::kBooleanObject:
      return "booleanObject";
    case FilterType::kBoolean:
      return "boolean";
    case FilterType::kNull:
      return "null";
  }
  return "string";
}

std::span<const FilterColumn> TraceFilterColumns() { return kTraceColumns; }
std::span<const FilterColumn> ObservationFilterColumns() { return kObservationColumns; }
std::span<const FilterColumn> ScoreFilterColumns() { return kScoreColumns; }

bool CompiledFilter::Covers(std::string_view expression) const {
  return std::find(covered.begin(), covered.end(), expression) != covered.end();
}

StatusOr<CompiledFilter> CompileFilter(std::span<const FilterColumn> columns,
                                       const std::vector<FilterCondition>& conditions,
                                       std::string_view param_prefix) {
  CompiledFilter out;
  for (size_t i = 0; i < conditions.size(); ++i) {
    const FilterCondition& c = conditions[i];
    auto name = ResolveColumnName(columns, c);
    if (!name.ok()) return name.status();
    const FilterColumn* col = FindColumn(columns, *name);
    if (col == nullptr) {
      return Status::InvalidArgument(fmt::format("Column {} does not match a UI / CH table mapping.", *name));
    }
    if (!Compatible(col->kind, c.type)) {
      return Status::InvalidArgument(
          fmt::format("Invalid filter type '{}' for column '{}'. Expected filter type '{}'.",
                      FilterTypeName(c.type), c.column, KindName(col->kind)));
    }
    auto sql = ConditionSql(*col, c, fmt::format("{}{}", param_prefix, i), out.params);
    if (!sql.ok()) return sql.status();
    out.sql[static_cast<size_t>(col->source)] += " AND (" + *sql + ")";
    if (col->source == ColumnSource::kRow) out.covered.push_back(col->sql);
  }
  return out;
}

}  // namespace langfuse::traces
