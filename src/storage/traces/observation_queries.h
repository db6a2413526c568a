#pragma once

// The public read API's queries over observations and scores: filtered, paged observation lists
// (GET /observations), score lists and single scores as the v1 and v2 score routes see them
// (GET /scores, /v2/scores and their /{id}), and the trace attributes a v2 score list carries.
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

//! One page of a v1-style paged list (`page`, `limit`).
struct ListPaging {
  uint64_t page = 1;    //!< 1-based
  uint64_t limit = 50;  //!< 1..100
};

//! Langfuse's paging rules for the public list routes: `page` a whole number >= 1 (default 1),
//! `limit` a whole number 1..100 (default 50); an absent or empty value takes the default.
//! kInvalidArgument (a 400) names the parameter that is wrong.
StatusOr<ListPaging> ParseListPaging(const std::string* page, const std::string* limit);

//! GET /observations filters; every set field must hold (AND). Unset = no condition.
struct ObservationListFilter {
  std::optional<std::string> name;
  std::optional<std::string> user_id;  //!< the observation's trace has this user_id
  std::optional<std::string> type;
  std::optional<std::string> trace_id;
  std::optional<std::string> parent_observation_id;
  std::optional<std::string> level;
  std::optional<std::string> version;
  std::vector<std::string> environments;      //!< any of them (empty = any environment)
  std::optional<int64_t> from_start_time_ms;  //!< start_time >= this
  std::optional<int64_t> to_start_time_ms;    //!< start_time < this
  //! The `filter` parameter's conditions over ObservationFilterColumns(), applied together with
  //! the simple filters above (Langfuse names the columns differently in the two, so neither
  //! replaces the other there).
  std::vector<FilterCondition> conditions;
};

struct ObservationListPage {
  std::vector<ObservationRecord> observations;  //!< newest start_time first, ties by id
  uint64_t total_items = 0;                     //!< every observation matching the filter
};

//! One page of a project's observations. kInvalidArgument for a condition on a column the
//! catalogue does not have or of a filter type the column does not take.
StatusOr<ObservationListPage> ListObservations(ClickHouseTransport& transport, const std::string& project_id,
                                               const ObservationListFilter& filter, const ListPaging& paging);

//! Which score route is asking; they see different scores (Langfuse's "scoreScope").
enum class ScoreApiVersion {
  kV1,  //!< trace and observation scores only (no session or dataset-run scores), no CORRECTION
  kV2,  //!< every score
};

//! GET /scores and /v2/scores filters; every set field must hold (AND). Unset = no condition.
struct ScoreListFilter {
  std::optional<std::string> name;
  std::optional<std::string> source;
  std::optional<std::string> data_type;
  std::optional<std::string> config_id;
  std::optional<std::string> queue_id;
  std::optional<std::string> session_id;
  std::optional<std::string> dataset_run_id;
  std::optional<std::string> trace_id;
  std::vector<std::string> observation_ids;  //!< any of them (empty = no condition)
  std::vector<std::string> score_ids;        //!< any of them (empty = no condition)
  std::vector<std::string> environments;     //!< any of them (empty = any environment)
  std::optional<int64_t> from_timestamp_ms;  //!< timestamp >= this
  std::optional<int64_t> to_timestamp_ms;    //!< timestamp < this
  //! `value <op> value_operand` with op one of < > <= >= = != (anything else is rejected).
  std::optional<std::string> value_operator;
  std::optional<double> value_operand;
  // Trace conditions: the score's trace must exist and match them; its environment must then be
  // one of `environments` too (as Langfuse joins the trace for these).
  std::optional<std::string> trace_user_id;
  std::vector<std::string> trace_tags;  //!< the trace carries all of them
  //! The `filter` parameter's conditions over ScoreFilterColumns(). A simple score filter above
  //! on the same column gives way to them, as in Langfuse; conditions on the trace's columns
  //! require the trace to exist and match.
  std::vector<FilterCondition> conditions;
};

struct ScoreListQuery {
  ScoreApiVersion version = ScoreApiVersion::kV2;
  ScoreListFilter filter;
  ListPaging paging;
  //! The `trace` field group: scores that reference a trace are listed only when that trace
  //! exists (Langfuse joins it), and each such score gets its trace's attributes.
  bool include_trace = true;
};

//! What a score list shows of a score's trace.
struct ScoreTraceAttributes {
  std::optional<std::string> user_id;
  std::vector<std::string> tags;
  std::string environment;
  std::optional<std::string> session_id;
};

struct ScoreListPage {
  std::vector<ScoreRecord> scores;  //!< newest timestamp first, ties by id
  //! By trace id, for the page's scores when include_trace was asked for.
  std::map<std::string, ScoreTraceAttributes> traces;
  uint64_t total_items = 0;  //!< every score matching the filter
};

//! One page of a project's scores. kInvalidArgument for a bad condition, as ListObservations.
StatusOr<ScoreListPage> ListScores(ClickHouseTransport& transport, const std::string& project_id,
                                   const ScoreListQuery& query);

//! The score `id` of the project as the given route sees it (v1: trace-level scores of the
//! listable data types only); nullopt when there is none.
StatusOr<std::optional<ScoreRecord>> GetScoreForApi(ClickHouseTransport& transport,
                                                    const std::string& project_id, const std::string& id,
                                                    ScoreApiVersion version);

}  // namespace langfuse::traces
