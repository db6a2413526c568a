#include "api/json_views.h"

#include "common/time.h"

namespace langfuse::api {
namespace {

Json OptString(const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); }

Json OptTime(const std::optional<int64_t>& ms) { return ms ? Json(FormatIso8601Ms(*ms)) : Json(nullptr); }

Json Metadata(const traces::StringMap& map) {
  Json out = Json::object();
  for (const auto& [key, value] : map) out[key] = ParseStoredJson(value);
  return out;
}

}  // namespace

Json ParseStoredJson(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  Json parsed = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return *text;
  return parsed;
}

std::string TraceHtmlPath(const std::string& project_id, const std::string& trace_id) {
  return "/project/" + project_id + "/traces/" + trace_id;
}

Json TraceView(const traces::TraceRecord& row) {
  Json j;
  j["id"] = row.id;
  j["projectId"] = row.project_id;
  j["timestamp"] = FormatIso8601Ms(row.timestamp_ms);
  j["name"] = row.name.empty() ? Json(nullptr) : Json(row.name);
  j["input"] = ParseStoredJson(row.input);
  j["output"] = ParseStoredJson(row.output);
  j["sessionId"] = OptString(row.session_id);
  j["release"] = OptString(row.release);
  j["version"] = OptString(row.version);
  j["userId"] = OptString(row.user_id);
  j["metadata"] = Metadata(row.metadata);
  j["tags"] = row.tags;
  j["public"] = row.is_public;
  j["bookmarked"] = row.bookmarked;
  j["environment"] = row.environment;
  j["externalId"] = nullptr;
  j["createdAt"] = FormatIso8601Ms(row.created_at_ms);
  j["updatedAt"] = FormatIso8601Ms(row.updated_at_ms);
  return j;
}

Json ObservationView(const traces::ObservationRecord& row) {
  Json j;
  j["id"] = row.id;
  j["traceId"] = row.trace_id;
  j["projectId"] = row.project_id;
  j["type"] = row.type;
  j["name"] = row.name.empty() ? Json(nullptr) : Json(row.name);
  j["startTime"] = FormatIso8601Ms(row.start_time_ms);
  j["endTime"] = OptTime(row.end_time_ms);
  j["completionStartTime"] = OptTime(row.completion_start_time_ms);
  j["model"] = OptString(row.provided_model_name);
  j["modelParameters"] = row.model_parameters ? ParseStoredJson(row.model_parameters) : Json::object();
  j["input"] = ParseStoredJson(row.input);
  j["output"] = ParseStoredJson(row.output);
  j["version"] = OptString(row.version);
  j["metadata"] = Metadata(row.metadata);
  j["level"] = row.level;
  j["statusMessage"] = OptString(row.status_message);
  j["parentObservationId"] = OptString(row.parent_observation_id);
  j["promptId"] = OptString(row.prompt_id);
  j["promptName"] = OptString(row.prompt_name);
  j["promptVersion"] = row.prompt_version ? Json(*row.prompt_version) : Json(nullptr);
  j["environment"] = row.environment;

  // Legacy usage view: sums of the input*/output* keys and the total key.
  uint64_t input = 0, output = 0, total = 0;
  for (const auto& [key, value] : row.usage_details) {
    if (key.rfind("input", 0) == 0) input += value;
    if (key.rfind("output", 0) == 0) output += value;
    if (key == "total") total = value;
  }
  Json usage_details = Json::object();
  for (const auto& [key, value] : row.usage_details) usage_details[key] = value;
  Json cost_details = Json::object();
  for (const auto& [key, value] : row.cost_details) cost_details[key] = value;
  j["usageDetails"] = usage_details;
  j["costDetails"] = cost_details;
  j["usage"] = Json{{"input", input}, {"output", output}, {"total", total}, {"unit", "TOKENS"}};
  j["unit"] = "TOKENS";
  j["promptTokens"] = input;
  j["completionTokens"] = output;
  j["totalTokens"] = total;

  auto cost = [&](const char* key) -> Json {
    auto it = row.cost_details.find(key);
    return it == row.cost_details.end() ? Json(nullptr) : Json(it->second);
  };
  j["modelId"] = OptString(row.internal_model_id);
  j["inputPrice"] = nullptr;
  j["outputPrice"] = nullptr;
  j["totalPrice"] = nullptr;
  j["calculatedInputCost"] = cost("input");
  j["calculatedOutputCost"] = cost("output");
  j["calculatedTotalCost"] = row.total_cost ? Json(*row.total_cost) : Json(nullptr);
  j["latency"] = row.end_time_ms ? Json(static_cast<double>(*row.end_time_ms - row.start_time_ms) / 1000.0) : Json(nullptr);
  j["timeToFirstToken"] = row.completion_start_time_ms
                              ? Json(static_cast<double>(*row.completion_start_time_ms - row.start_time_ms) / 1000.0)
                              : Json(nullptr);
  j["createdAt"] = FormatIso8601Ms(row.created_at_ms);
  j["updatedAt"] = FormatIso8601Ms(row.updated_at_ms);
  return j;
}

Json ScoreView(const traces::ScoreRecord& row) {
  Json j;
  j["id"] = row.id;
  j["projectId"] = row.project_id;
  j["traceId"] = OptString(row.trace_id);
  j["sessionId"] = OptString(row.session_id);
  j["observationId"] = OptString(row.observation_id);
  j["datasetRunId"] = OptString(row.dataset_run_id);
  j["name"] = row.name;
  j["value"] = row.value;
  if (row.data_type != "NUMERIC") j["stringValue"] = OptString(row.string_value);
  j["dataType"] = row.data_type;
  j["source"] = row.source;
  j["timestamp"] = FormatIso8601Ms(row.timestamp_ms);
  j["createdAt"] = FormatIso8601Ms(row.created_at_ms);
  j["updatedAt"] = FormatIso8601Ms(row.updated_at_ms);
  j["authorUserId"] = OptString(row.author_user_id);
  j["comment"] = OptString(row.comment);
  j["metadata"] = Metadata(row.metadata);
  j["configId"] = OptString(row.config_id);
  j["queueId"] = OptString(row.queue_id);
  j["environment"] = row.environment;
  return j;
}

}  // namespace langfuse::api
