#pragma once

// Daily metrics (GET /api/public/metrics/daily) and the v1 metrics query API (GET
// /api/public/metrics?query=...), as Langfuse v3.225.4 computes them.
//
// The query API compiles a JSON query object against a fixed data model (views, their dimensions
// and measures, as Langfuse's `features/query/dataModel.ts` declares them) into one ClickHouse
// SELECT. Only names found in that model reach the SQL text, and only as the model's own SQL;
// every value from the request is a typed `{name:Type}` parameter. Each table is read through a
// deduplicating subquery (FINAL, is_deleted = 0, newest version per id) limited to the project
// and the query's time window.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {

// ---------------------------------------------------------------------------------------------
// Daily metrics

//! Filters of GET /metrics/daily. Trace filters apply to the traces (and, through the trace, to
//! the observations); `environments` applies to both tables.
struct DailyMetricsFilter {
  std::string project_id;
  int64_t page = 1;    //!< >= 1
  int64_t limit = 50;  //!< 1..100
  std::optional<std::string> trace_name;
  std::optional<std::string> user_id;
  std::optional<std::vector<std::string>> tags;          //!< the trace has all of them
  std::optional<std::vector<std::string>> environments;  //!< any of them
  std::optional<int64_t> from_ms;                        //!< trace timestamp >= from
  std::optional<int64_t> to_ms;                          //!< trace timestamp < to
};

//! One model's usage on one day (`model` is null for observations without a model).
struct DailyModelUsage {
  std::optional<std::string> model;
  int64_t input_usage = 0;
  int64_t output_usage = 0;
  int64_t total_usage = 0;
  int64_t count_observations = 0;
  int64_t count_traces = 0;
  double total_cost = 0;
};

struct DailyMetricsDay {
  std::string date;  //!< YYYY-MM-DD (UTC)
  int64_t count_traces = 0;
  int64_t count_observations = 0;
  double total_cost = 0;
  std::vector<DailyModelUsage> usage;  //!< ordered by model name, null first
};

struct DailyMetricsPage {
  std::vector<DailyMetricsDay> days;  //!< newest day first, one page of them
  int64_t total_items = 0;            //!< days with traces matching the trace filters (as Langfuse)
};

StatusOr<DailyMetricsPage> QueryDailyMetrics(ClickHouseTransport& transport,
                                             const DailyMetricsFilter& filter);

// ---------------------------------------------------------------------------------------------
// v1 metrics query API

//! One filter of a metrics query; which value member is set follows `type`.
struct MetricsFilter {
  std::string column;
  std::string op;    //!< "=", "contains", "any of", ">=", "is null", ...
  std::string type;  //!< string, number, datetime, stringOptions, arrayOptions, stringObject, boolean, null
  std::optional<std::string> key;  //!< stringObject (metadata key)
  std::string string_value;
  double number_value = 0;
  bool bool_value = false;
  int64_t datetime_ms = 0;
  std::vector<std::string> list_value;
};

struct MetricsQuery {
  std::string view;  //!< traces, observations, scores-numeric, scores-categorical, scores-boolean
  std::vector<std::string> dimensions;
  struct Metric {
    std::string measure;
    std::string aggregation;  //!< sum avg count max min p50 p75 p90 p95 p99 histogram uniq
  };
  std::vector<Metric> metrics;
  std::vector<MetricsFilter> filters;
  std::optional<std::string> granularity;  //!< auto minute hour day week month; none = no time dimension
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  struct Order {
    std::string field;
    std::string direction;  //!< asc | desc
  };
  std::optional<std::vector<Order>> order_by;
  std::optional<int> bins;       //!< histogram bins 1..100 (default 10)
  std::optional<int> row_limit;  //!< 1..1000
};

//! Parses and shape-checks the JSON query object (types, enums, ranges, from < to). Names of
//! views, measures and dimensions are checked by CompileMetricsQuery. Errors are kInvalidArgument
//! with a message naming the offending field.
StatusOr<MetricsQuery> ParseMetricsQuery(std::string_view json);

//! A compiled query: SQL whose only variable parts are parameters.
struct CompiledMetricsQuery {
  std::string sql;
  std::vector<QueryParam> params;
};

//! How a compiled query reads the view's entities. kAuto reads each joined row as one entity when
//! the view's table has one live row per id (traces, observations), every table it joins gives at
//! most one row per entity (a table with several that only measures read counts: it is aggregated
//! per join key first) and no array dimension is exploded, and groups the rows per entity
//! otherwise; kPerEntity always groups (the same results, slower).
enum class MetricsPlan { kAuto, kPerEntity };

//! Checks the query against the data model (kInvalidArgument naming the unknown view, measure,
//! dimension, filter column, operator or order field and the allowed ones) and compiles it.
StatusOr<CompiledMetricsQuery> CompileMetricsQuery(const MetricsQuery& query, const std::string& project_id,
                                                   MetricsPlan plan = MetricsPlan::kAuto);

//! Compiles and runs the query; returns the rows as a JSON array text, each row an object keyed
//! as Langfuse keys them (dimension names, `time_dimension`, `<aggregation>_<measure>`), values
//! formatted as Langfuse's ClickHouse returns them (64-bit integers quoted, ISO date-times).
StatusOr<std::string> RunMetricsQuery(ClickHouseTransport& transport, const MetricsQuery& query,
                                      const std::string& project_id);

}  // namespace langfuse::traces
