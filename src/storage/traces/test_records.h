#pragma once

// Records with every column set to a value that exercises its encoding (unicode, quotes,
// newlines, backslashes, control characters, 64-bit extremes, decimal fractions), for the codec
// and the chDB tests.

#include <limits>
#include <string>

#include "storage/traces/records.h"

namespace langfuse::traces::testing {

//! Text a naive encoder gets wrong: quotes, backslashes, newlines, tabs, a NUL, control
//! characters, multi-byte UTF-8 (2, 3 and 4 bytes) and SQL.
inline std::string TrickyText() {
  return std::string("He said \"hi\" \\ 'ok'\n\ttab\r\x01\x1f end; DROP TABLE traces; -- ") +
         std::string(1, '\0') + "Grüße, 日本語, 🚀 {\"json\": [1, 2]}";
}

inline TraceRecord FullTrace(const std::string& project_id, const std::string& id) {
  TraceRecord t;
  t.id = id;
  t.timestamp_ms = 1'718'000'000'123;
  t.name = "trace " + TrickyText();
  t.user_id = "user-ü";
  t.metadata = {{"key", "value"}, {"quote\"key", "line\nbreak"}, {"emoji 🚀", ""}, {"", "empty key"}};
  t.release = "v1.2.3";
  t.version = "7";
  t.project_id = project_id;
  t.environment = "production";
  t.is_public = true;
  t.bookmarked = true;
  t.tags = {"a", "b c", "ü", ""};
  t.input = R"({"messages":[{"role":"user","content":"hi \"there\""}]})";
  t.output = TrickyText();
  t.session_id = "session-1";
  t.created_at_ms = 1'718'000'000'000;
  t.updated_at_ms = 1'718'000'000'500;
  t.event_ts_ms = 1'718'000'000'999;
  t.is_deleted = 0;
  return t;
}

//! Only what is required; every Nullable null, every map/array empty.
inline TraceRecord MinimalTrace(const std::string& project_id, const std::string& id) {
  TraceRecord t;
  t.id = id;
  t.project_id = project_id;
  t.timestamp_ms = 1'700'000'000'000;
  t.created_at_ms = 1'700'000'000'000;
  t.updated_at_ms = 1'700'000'000'000;
  t.event_ts_ms = 1'700'000'000'000;
  return t;
}

inline ObservationRecord FullObservation(const std::string& project_id, const std::string& id,
                                         const std::string& trace_id) {
  ObservationRecord o;
  o.id = id;
  o.trace_id = trace_id;
  o.project_id = project_id;
  o.environment = "staging";
  o.type = "GENERATION";
  o.parent_observation_id = "parent-" + id;
  o.start_time_ms = 1'718'000'001'000;
  o.end_time_ms = 1'718'000'002'345;
  o.name = "chat " + TrickyText();
  o.metadata = {{"k", "v"}, {"nested", R"({"a":1})"}};
  o.level = "WARNING";
  o.status_message = "slow\nresponse";
  o.version = "v2";
  o.input = TrickyText();
  o.output = R"(["a","b"])";
  o.provided_model_name = "gpt-4o";
  o.internal_model_id = "model-1";
  o.model_parameters = R"({"temperature":0.7,"max_tokens":100})";
  o.provided_usage_details = {{"input", 10}, {"output", 20}, {"max", std::numeric_limits<uint64_t>::max()}};
  o.usage_details = {{"input", 10}, {"output", 20}, {"total", 30}};
  o.provided_cost_details = {{"input", 0.000025}, {"output", 0.5}};
  o.cost_details = {{"input", 0.000025}, {"output", 0.5}, {"total", 123456.789012}};
  o.total_cost = 123456.789012;
  o.completion_start_time_ms = 1'718'000'001'500;
  o.prompt_id = "prompt-1";
  o.prompt_name = "my prompt";
  o.prompt_version = 65535;
  o.usage_pricing_tier_id = "tier-1";
  o.usage_pricing_tier_name = "Large context";
  o.tool_definitions = {{"get_weather", R"({"type":"object"})"}};
  o.tool_calls = {R"({"name":"get_weather","arguments":"{}"})"};
  o.tool_call_names = {"get_weather"};
  o.created_at_ms = 1'718'000'000'000;
  o.updated_at_ms = 1'718'000'003'000;
  o.event_ts_ms = 1'718'000'003'000;
  return o;
}

inline ObservationRecord MinimalObservation(const std::string& project_id, const std::string& id,
                                            const std::string& trace_id, int64_t start_time_ms) {
  ObservationRecord o;
  o.id = id;
  o.trace_id = trace_id;
  o.project_id = project_id;
  o.type = "SPAN";
  o.start_time_ms = start_time_ms;
  o.created_at_ms = start_time_ms;
  o.updated_at_ms = start_time_ms;
  o.event_ts_ms = start_time_ms;
  return o;
}

inline ScoreRecord FullScore(const std::string& project_id, const std::string& id,
                             const std::string& trace_id) {
  ScoreRecord s;
  s.id = id;
  s.timestamp_ms = 1'718'000'004'000;
  s.project_id = project_id;
  s.environment = "dev";
  s.trace_id = trace_id;
  s.session_id = "session-1";
  s.dataset_run_id = "run-1";
  s.observation_id = "obs-1";
  s.name = "quality " + TrickyText();
  s.value = 0.875;
  s.source = "ANNOTATION";
  s.comment = "looks \"good\"\n";
  s.metadata = {{"reviewer", "ü"}};
  s.author_user_id = "author-1";
  s.config_id = "config-1";
  s.data_type = "CATEGORICAL";
  s.string_value = "good";
  s.long_string_value = std::string(10'000, 'x') + TrickyText();
  s.queue_id = "queue-1";
  s.execution_trace_id = "exec-trace-1";
  s.ingestion_api_key = "pk-lf-123";
  s.ingestion_sdk_name = "langfuse-python";
  s.ingestion_sdk_version = "3.1.0";
  s.created_at_ms = 1'718'000'004'000;
  s.updated_at_ms = 1'718'000'004'001;
  s.event_ts_ms = 1'718'000'004'002;
  return s;
}

inline ScoreRecord MinimalScore(const std::string& project_id, const std::string& id, int64_t timestamp_ms) {
  ScoreRecord s;
  s.id = id;
  s.project_id = project_id;
  s.name = "score";
  s.timestamp_ms = timestamp_ms;
  s.created_at_ms = timestamp_ms;
  s.updated_at_ms = timestamp_ms;
  s.event_ts_ms = timestamp_ms;
  return s;
}

}  // namespace langfuse::traces::testing
