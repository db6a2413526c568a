#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "storage/traces/records.h"

namespace langfuse::api {

using Json = nlohmann::ordered_json;

//! Stored input/output/metadata text as Langfuse returns it: parsed when it is JSON, the text
//! itself otherwise, null when absent.
Json ParseStoredJson(const std::optional<std::string>& text);

//! The public API's views of stored rows, field for field as Langfuse's responses.
Json TraceView(const traces::TraceRecord& row);
Json ObservationView(const traces::ObservationRecord& row);
Json ScoreView(const traces::ScoreRecord& row);

//! `/project/<projectId>/traces/<traceId>`, the UI path of a trace.
std::string TraceHtmlPath(const std::string& project_id, const std::string& trace_id);

}  // namespace langfuse::api
