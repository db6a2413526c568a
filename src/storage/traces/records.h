#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace langfuse::traces {

// One row of each tracing table, column for column as Langfuse v3's ClickHouse schema has it.
// Times are milliseconds since the Unix epoch (DateTime64(3), UTC). Decimal64(12) costs are
// carried as double. input/output/model_parameters hold JSON or plain text verbatim.

using StringMap = std::map<std::string, std::string>;

struct TraceRecord {
  std::string id;
  int64_t timestamp_ms = 0;
  std::string name;
  std::optional<std::string> user_id;
  StringMap metadata;
  std::optional<std::string> release;
  std::optional<std::string> version;
  std::string project_id;
  std::string environment = "default";
  bool is_public = false;  //!< column `public`
  bool bookmarked = false;
  std::vector<std::string> tags;
  std::optional<std::string> input;
  std::optional<std::string> output;
  std::optional<std::string> session_id;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t event_ts_ms = 0;
  uint8_t is_deleted = 0;

  bool operator==(const TraceRecord&) const = default;
};

struct ObservationRecord {
  std::string id;
  std::string trace_id;
  std::string project_id;
  std::string environment = "default";
  std::string type;  //!< SPAN, GENERATION, EVENT, AGENT, TOOL, ...
  std::optional<std::string> parent_observation_id;
  int64_t start_time_ms = 0;
  std::optional<int64_t> end_time_ms;
  std::string name;
  StringMap metadata;
  std::string level = "DEFAULT";
  std::optional<std::string> status_message;
  std::optional<std::string> version;
  std::optional<std::string> input;
  std::optional<std::string> output;
  std::optional<std::string> provided_model_name;
  std::optional<std::string> internal_model_id;
  std::optional<std::string> model_parameters;
  std::map<std::string, uint64_t> provided_usage_details;
  std::map<std::string, uint64_t> usage_details;
  std::map<std::string, double> provided_cost_details;
  std::map<std::string, double> cost_details;
  std::optional<double> total_cost;
  std::optional<int64_t> completion_start_time_ms;
  std::optional<std::string> prompt_id;
  std::optional<std::string> prompt_name;
  std::optional<uint16_t> prompt_version;
  std::optional<std::string> usage_pricing_tier_id;
  std::optional<std::string> usage_pricing_tier_name;
  StringMap tool_definitions;
  std::vector<std::string> tool_calls;
  std::vector<std::string> tool_call_names;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t event_ts_ms = 0;
  uint8_t is_deleted = 0;

  bool operator==(const ObservationRecord&) const = default;
};

struct ScoreRecord {
  std::string id;
  int64_t timestamp_ms = 0;
  std::string project_id;
  std::string environment = "default";
  std::optional<std::string> trace_id;
  std::optional<std::string> session_id;
  std::optional<std::string> dataset_run_id;
  std::optional<std::string> observation_id;
  std::string name;
  double value = 0;
  std::string source = "API";
  std::optional<std::string> comment;
  StringMap metadata;
  std::optional<std::string> author_user_id;
  std::optional<std::string> config_id;
  std::string data_type = "NUMERIC";
  std::optional<std::string> string_value;
  std::string long_string_value;
  std::optional<std::string> queue_id;
  std::optional<std::string> execution_trace_id;
  std::string ingestion_api_key;
  std::string ingestion_sdk_name = "unknown";
  std::string ingestion_sdk_version = "unknown";
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t event_ts_ms = 0;
  uint8_t is_deleted = 0;

  bool operator==(const ScoreRecord&) const = default;
};

}  // namespace langfuse::traces
