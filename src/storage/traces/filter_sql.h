#pragma once

// The `filter` query parameter of the public list routes (GET /traces, /observations, /scores and
// /v2/scores): Langfuse's typed filter conditions and their translation into ClickHouse SQL.
//
// Each route has a fixed catalogue of filterable columns (Langfuse v3.225.4's UI column mappings
// for that table: API id, UI name, what the column holds). A condition is looked up in the
// catalogue by id, UI name or alias, its filter type is checked against the column's kind, and it
// becomes SQL text written here (the catalogue's expression, an operator from a closed list and
// `{name:Type}` placeholders); every value from the request travels as a parameter.
//
// Free functions over constant data: thread-safe.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {

//! Langfuse's filter types (singleFilter's `type` discriminator), positionInTrace excepted: it is
//! accepted by the parameter's schema and then ignored, so it never reaches this layer.
enum class FilterType {
  kDatetime,
  kString,
  kNumber,
  kStringOptions,
  kCategoryOptions,
  kArrayOptions,
  kStringObject,
  kNumberObject,
  kBooleanObject,
  kBoolean,
  kNull,
};

//! "datetime", "stringOptions", ... as the API spells them.
std::string_view FilterTypeName(FilterType type);

//! One condition of a `filter` parameter, shape-checked by the API layer: `op` is one of the
//! operators of `type`, and the value member that `type` uses is set.
struct FilterCondition {
  FilterType type = FilterType::kString;
  std::string column;               //!< as the request names it
  std::string op;                   //!< "=", "contains", "any of", ">=", "is null", "<>"...
  std::string key;                  //!< stringObject / numberObject / booleanObject / categoryOptions
  std::string text;                 //!< string, stringObject
  double number = 0;                //!< number, numberObject
  int64_t time_ms = 0;              //!< datetime
  bool flag = false;                //!< boolean, booleanObject
  std::vector<std::string> values;  //!< stringOptions, categoryOptions, arrayOptions
};

//! What a catalogue column holds; decides which filter types it takes (Langfuse's
//! COMPATIBLE_FILTER_TYPES): string/stringOptions columns take string and stringOptions,
//! arrayOptions columns arrayOptions and stringOptions, the others only their own type; every
//! column takes `null`.
enum class ColumnKind {
  kString,
  kStringOptions,
  kArrayOptions,
  kDatetime,
  kNumber,
  kBoolean,
  kStringObject,
  kNumberObject,
  kBooleanObject,
  kCategoryOptions,
};

//! Where a column's value is read, relative to the row a route lists.
enum class ColumnSource {
  kRow,               //!< the listed row itself
  kTrace,             //!< the row's trace (observations, scores)
  kObservationStats,  //!< the trace's observations, aggregated (traces)
  kScoreStats,        //!< the trace's scores, aggregated (traces)
};
inline constexpr size_t kColumnSourceCount = 4;

//! A filterable column of a route.
struct FilterColumn {
  std::string_view id;       //!< the API's id ("userId")
  std::string_view ui_name;  //!< Langfuse's UI name, accepted as well ("User ID")
  std::string_view alias;    //!< one more accepted name, or empty
  std::string_view sql;      //!< expression over the source's columns
  ColumnKind kind;
  ColumnSource source = ColumnSource::kRow;
};

//! GET /traces: trace columns, the observation aggregates (level, counts, tokens, cost, latency)
//! and the score aggregates (scores_avg, score_categories, score_booleans).
std::span<const FilterColumn> TraceFilterColumns();
//! GET /observations: observation columns and the trace's tags, user, session, name, environment.
std::span<const FilterColumn> ObservationFilterColumns();
//! GET /scores and /v2/scores: score columns and the trace's name, user and tags.
std::span<const FilterColumn> ScoreFilterColumns();

//! Conditions compiled to SQL, grouped by where they apply.
struct CompiledFilter {
  //! " AND <cond>" per source (indexed by ColumnSource), empty when none.
  std::array<std::string, kColumnSourceCount> sql;
  std::vector<QueryParam> params;
  //! Catalogue expressions that have a condition: a route's simple parameter on the same
  //! expression gives way to it (Langfuse's "the filter parameter takes precedence").
  std::vector<std::string_view> covered;

  const std::string& For(ColumnSource source) const { return sql[static_cast<size_t>(source)]; }
  bool Uses(ColumnSource source) const { return !For(source).empty(); }
  bool Covers(std::string_view expression) const;
};

//! Compiles `conditions` against `columns`. kInvalidArgument, with Langfuse's messages, for a
//! column that is not in the catalogue ("Column x does not match a UI / CH table mapping.") or a
//! filter type the column does not take ("Invalid filter type 'number' for column 'name'.
//! Expected filter type 'stringOptions'."). Parameter names are `<param_prefix><n>...`.
StatusOr<CompiledFilter> CompileFilter(std::span<const FilterColumn> columns,
                                       const std::vector<FilterCondition>& conditions,
                                       std::string_view param_prefix = "flt");

}  // namespace langfuse::traces
