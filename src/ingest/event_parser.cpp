// Validation of ingestion events, following the shapes of Langfuse's ingestion schemas: unknown
// fields are ignored, wrong types are rejected per event, nulls are explicit.
#include <cmath>
#include <string>

#include "common/ids.h"
#include "common/time.h"
#include "ingest/event.h"
#include "ingest/usage.h"

namespace langfuse::ingest {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr size_t kMaxIdLength = 800;
constexpr size_t kMaxNameLength = 1000;

// Collects the first validation failure of an event, as a path and what was wrong.
struct Validation {
  std::optional<std::string> failure;
  bool keep_values = true;  // false: input, output and metadata are checked, not copied
  bool Fail(std::string_view path, std::string_view what) {
    if (!failure) failure = std::string(path) + ": " + std::string(what);
    return false;
  }
  bool ok() const { return !failure; }
};

const char* TypeName(element_type t) {
  switch (t) {
    case element_type::ARRAY: return "array";
    case element_type::OBJECT: return "object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "number";
    case element_type::STRING: return "string";
    case element_type::BOOL: return "boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "unknown";
}

std::string Expected(std::string_view want, element v) {
  return "Expected " + std::string(want) + ", received " + TypeName(v.type());
}

bool Lookup(object o, std::string_view key, element& out) { return o.at_key(key).get(out) == simdjson::SUCCESS; }

// simdjson::minify(value), without its per-call buffer: the builder is kept per thread, so
// serialising costs one allocation (the result) instead of the buffer's growth plus a copy. A
// builder that grew for a large value is dropped, as RequestParser does with parsers.
std::string CompactJson(element value) {
  constexpr size_t kKeepBuilderBytes = 1 << 20;
  thread_local simdjson::internal::string_builder<> builder;
  builder.clear();
  builder.append(value);
  std::string out(builder.str());
  if (out.size() > kKeepBuilderBytes) builder = {};
  return out;
}

bool IsValidId(std::string_view id) { return !id.empty() && id.size() <= kMaxIdLength && id.find('\r') == id.npos; }

// Reads an optional, nullable string field.
bool ReadString(object body, std::string_view key, Field<std::string>& out, Validation& v,
                size_t max_len = std::string::npos) {
  element e;
  if (!Lookup(body, key, e)) return true;
  if (e.is_null()) {
    out.SetNull();
    return true;
  }
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return v.Fail(key, Expected("string", e));
  if (s.size() > max_len) return v.Fail(key, "String must contain at most " + std::to_string(max_len) + " character(s)");
  out.Set(std::string(s));
  return true;
}

bool ReadId(object body, std::string_view key, Field<std::string>& out, Validation& v) {
  if (!ReadString(body, key, out, v)) return false;
  if (out.has_value() && !IsValidId(out.value)) return v.Fail(key, "must be a string of 1 to 800 characters without \\r");
  return true;
}

bool ReadDateTime(object body, std::string_view key, Field<int64_t>& out, Validation& v) {
  element e;
  if (!Lookup(body, key, e)) return true;
  if (e.is_null()) {
    out.SetNull();
    return true;
  }
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return v.Fail(key, Expected("string", e));
  const auto ms = ParseIso8601Ms(s);
  if (!ms) return v.Fail(key, "Invalid datetime: an ISO 8601 date-time with a Z or offset is required");
  out.Set(*ms);
  return true;
}

bool ReadBool(object body, std::string_view key, Field<bool>& out, Validation& v) {
  element e;
  if (!Lookup(body, key, e)) return true;
  if (e.is_null()) {
    out.SetNull();
    return true;
  }
  bool b;
  if (e.get_bool().get(b) != simdjson::SUCCESS) return v.Fail(key, Expected("boolean", e));
  out.Set(b);
  return true;
}

bool ReadStringArray(object body, std::string_view key, Field<std::vector<std::string>>& out, Validation& v) {
  element e;
  if (!Lookup(body, key, e)) return true;
  if (e.is_null()) {
    out.SetNull();
    return true;
  }
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return v.Fail(key, Expected("array", e));
  std::vector<std::string> values;
  for (element item : arr) {
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS) return v.Fail(key, Expected("string", item) + " in array");
    values.emplace_back(s);
  }
  out.Set(std::move(values));
  return true;
}

// input/output: any JSON. Langfuse keeps strings verbatim and serialises the rest.
void ReadAnyJson(object body, std::string_view key, Field<std::string>& out, const Validation& v) {
  element e;
  if (!Lookup(body, key, e)) return;
  if (e.is_null()) {
    out.SetNull();
    return;
  }
  out.Set(v.keep_values ? StoredJsonText(e) : std::string());
}

// metadata: top-level keys become map entries; a non-object becomes {"metadata": value}.
void ReadMetadata(object body, Field<MetadataMap>& out, const Validation& v) {
  element e;
  if (!Lookup(body, "metadata", e)) return;
  if (e.is_null()) {
    out.SetNull();
    return;
  }
  if (!v.keep_values) {
    out.Set(MetadataMap{});
    return;
  }
  MetadataMap map;
  object o;
  if (e.get_object().get(o) == simdjson::SUCCESS) {
    for (auto [k, value] : o) map[std::string(k)] = StoredJsonText(value);
  } else {
    map["metadata"] = StoredJsonText(e);
  }
  out.Set(std::move(map));
}

bool ReadEnvironment(object body, Field<std::string>& out, Validation& v) {
  Field<std::string> raw;
  if (!ReadString(body, "environment", raw, v)) return false;
  // Langfuse never rejects an environment: anything unusable becomes "default".
  if (raw.has_value()) out.Set(NormalizeEnvironment(raw.value));
  return true;
}

bool ReadLevel(object body, Field<std::string>& out, Validation& v) {
  if (!ReadString(body, "level", out, v)) return false;
  if (out.has_value() && out.value != "DEBUG" && out.value != "DEFAULT" && out.value != "WARNING" &&
      out.value != "ERROR") {
    return v.Fail("level", "Invalid enum value. Expected 'DEBUG' | 'DEFAULT' | 'WARNING' | 'ERROR', received '" +
                               out.value + "'");
  }
  return true;
}

bool ReadModelParameters(object body, Field<std::string>& out, Validation& v) {
  element e;
  if (!Lookup(body, "modelParameters", e)) return true;
  if (e.is_null()) {
    out.SetNull();
    return true;
  }
  object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return v.Fail("modelParameters", Expected("object", e));
  out.Set(CompactJson(e));
  return true;
}

bool ReadTraceBody(object body, TracePatch& t, Validation& v) {
  return ReadDateTime(body, "timestamp", t.timestamp_ms, v) && ReadString(body, "name", t.name, v, kMaxNameLength) &&
         ReadString(body, "userId", t.user_id, v) && ReadString(body, "release", t.release, v) &&
         ReadString(body, "version", t.version, v) && ReadEnvironment(body, t.environment, v) &&
         ReadBool(body, "public", t.is_public, v) && ReadStringArray(body, "tags", t.tags, v) &&
         ReadString(body, "sessionId", t.session_id, v) && (ReadMetadata(body, t.metadata, v), true) &&
         (ReadAnyJson(body, "input", t.input, v), true) && (ReadAnyJson(body, "output", t.output, v), true);
}

bool ReadObservationBody(object body, bool generation_fields, ObservationPatch& o, Validation& v) {
  if (!(ReadId(body, "traceId", o.trace_id, v) && ReadEnvironment(body, o.environment, v) &&
        ReadString(body, "name", o.name, v) && ReadDateTime(body, "startTime", o.start_time_ms, v) &&
        ReadDateTime(body, "endTime", o.end_time_ms, v) && ReadLevel(body, o.level, v) &&
        ReadString(body, "statusMessage", o.status_message, v) &&
        ReadId(body, "parentObservationId", o.parent_observation_id, v) &&
        ReadString(body, "version", o.version, v))) {
    return false;
  }
  ReadMetadata(body, o.metadata, v);
  ReadAnyJson(body, "input", o.input, v);
  ReadAnyJson(body, "output", o.output, v);
  if (!generation_fields) return true;
  if (!(ReadDateTime(body, "completionStartTime", o.completion_start_time_ms, v) &&
        ReadString(body, "model", o.model, v) && ReadModelParameters(body, o.model_parameters, v) &&
        ReadString(body, "promptName", o.prompt_name, v))) {
    return false;
  }
  element pv;
  if (Lookup(body, "promptVersion", pv)) {
    if (pv.is_null()) {
      o.prompt_version.SetNull();
    } else {
      int64_t version;
      if (pv.get_int64().get(version) != simdjson::SUCCESS || version < 0 || version > 65535)
        return v.Fail("promptVersion", Expected("integer", pv));
      o.prompt_version.Set(static_cast<uint16_t>(version));
    }
  }
  if (o.prompt_name.has_value() != o.prompt_version.has_value())
    return v.Fail("promptName", "promptName and promptVersion must be set together");
  std::string usage_error;
  if (!ReadUsage(body, o.usage_details, o.cost_details, usage_error)) return v.Fail("usage", usage_error);
  return true;
}

bool ReadScoreBody(object body, ScorePatch& s, Validation& v) {
  Field<std::string> name;
  if (!ReadString(body, "name", name, v)) return false;
  if (!name.has_value() || name.value.empty()) return v.Fail("name", "Required: a non-empty string");
  s.name = name.value;
  if (!(ReadId(body, "traceId", s.trace_id, v) && ReadId(body, "sessionId", s.session_id, v) &&
        ReadId(body, "datasetRunId", s.dataset_run_id, v) && ReadId(body, "observationId", s.observation_id, v) &&
        ReadEnvironment(body, s.environment, v) && ReadString(body, "comment", s.comment, v) &&
        ReadString(body, "executionTraceId", s.execution_trace_id, v) && ReadString(body, "queueId", s.queue_id, v) &&
        ReadString(body, "configId", s.config_id, v) && ReadDateTime(body, "timestamp", s.timestamp_ms, v))) {
    return false;
  }
  ReadMetadata(body, s.metadata, v);
  Field<std::string> source;
  if (!ReadString(body, "source", source, v)) return false;
  if (source.has_value()) {
    if (source.value != "API" && source.value != "EVAL" && source.value != "ANNOTATION")
      return v.Fail("source", "Invalid enum value. Expected 'API' | 'EVAL' | 'ANNOTATION'");
    s.source = source.value;
  }
  Field<std::string> data_type;
  if (!ReadString(body, "dataType", data_type, v)) return false;
  element value;
  if (!Lookup(body, "value", value) || value.is_null()) return v.Fail("value", "Required");
  double number = 0;
  std::string_view text;
  const bool is_number = value.get_double().get(number) == simdjson::SUCCESS;
  const bool is_string = !is_number && value.get_string().get(text) == simdjson::SUCCESS;
  if (!is_number && !is_string) return v.Fail("value", Expected("number or string", value));
  if (is_number && !std::isfinite(number)) return v.Fail("value", "must be a finite number");
  std::string type = data_type.has_value() ? data_type.value : (is_number ? "NUMERIC" : "CATEGORICAL");
  if (type == "NUMERIC") {
    if (!is_number) return v.Fail("value", "NUMERIC scores need a number value");
    s.value = number;
  } else if (type == "CATEGORICAL") {
    if (!is_string) return v.Fail("value", "CATEGORICAL scores need a string value");
    s.string_value = std::string(text);
    // The label's numeric value, set by the web role once it checked the score against its
    // config (api/score_validation.h); honoured only next to a configId.
    element category_value;
    double category_number = 0;
    if (s.config_id.has_value() && !s.config_id.value.empty() && Lookup(body, "_configCategoryValue", category_value) &&
        category_value.get_double().get(category_number) == simdjson::SUCCESS && std::isfinite(category_number)) {
      s.value = category_number;
    }
  } else if (type == "CORRECTION") {
    // Langfuse's CORRECTION score: the corrected output text, stored as long_string_value under
    // the name "output" with value 0 (validateAndInflateScore).
    if (!is_string) return v.Fail("value", "CORRECTION scores need a string value");
    s.name = "output";
    s.long_string_value = std::string(text);
  } else if (type == "BOOLEAN") {
    if (!is_number || (number != 0 && number != 1)) return v.Fail("value", "BOOLEAN scores need the value 0 or 1");
    s.value = number;
    s.string_value = number == 1 ? "True" : "False";
  } else if (type == "TEXT") {
    if (!is_string || text.empty() || text.size() > 500)
      return v.Fail("value", "TEXT scores need a string of 1 to 500 characters");
    s.string_value = std::string(text);
  } else {
    return v.Fail("dataType",
                  "Invalid enum value. Expected 'NUMERIC' | 'CATEGORICAL' | 'BOOLEAN' | 'CORRECTION' | 'TEXT'");
  }
  s.data_type = type;
  return true;
}

struct EventTypeInfo {
  std::string_view name;
  EntityKind kind;
  std::string_view observation_type;  // empty: from the legacy body
  bool is_update;
  bool generation_fields;
};

constexpr EventTypeInfo kEventTypes[] = {
    {"trace-create", EntityKind::kTrace, "", false, false},
    {"score-create", EntityKind::kScore, "", false, false},
    {"span-create", EntityKind::kObservation, "SPAN", false, false},
    {"span-update", EntityKind::kObservation, "SPAN", true, false},
    {"generation-create", EntityKind::kObservation, "GENERATION", false, true},
    {"generation-update", EntityKind::kObservation, "GENERATION", true, true},
    {"event-create", EntityKind::kObservation, "EVENT", false, false},
    {"agent-create", EntityKind::kObservation, "AGENT", false, true},
    {"tool-create", EntityKind::kObservation, "TOOL", false, true},
    {"chain-create", EntityKind::kObservation, "CHAIN", false, true},
    {"retriever-create", EntityKind::kObservation, "RETRIEVER", false, true},
    {"evaluator-create", EntityKind::kObservation, "EVALUATOR", false, true},
    {"embedding-create", EntityKind::kObservation, "EMBEDDING", false, true},
    {"guardrail-create", EntityKind::kObservation, "GUARDRAIL", false, true},
    {"observation-create", EntityKind::kObservation, "", false, true},
    {"observation-update", EntityKind::kObservation, "", true, true},
};

}  // namespace

bool IsKnownEventType(std::string_view type) {
  if (type == "sdk-log" || type == "dataset-run-item-create") return true;
  for (const auto& candidate : kEventTypes) {
    if (candidate.name == type) return true;
  }
  return false;
}

std::string StoredJsonText(element value) {
  std::string_view s;
  if (value.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  return CompactJson(value);
}

std::string NormalizeEnvironment(std::string_view raw) {
  std::string env;
  env.reserve(raw.size());
  for (char c : raw) env.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  for (std::string_view prefix : {"langfuse-", "langfuse_", "langfuse"}) {
    if (env.rfind(prefix, 0) == 0) {
      env.erase(0, prefix.size());
      break;
    }
  }
  if (env.size() > 40) env.resize(40);
  if (env.empty()) return "default";
  for (char c : env) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return "default";
  }
  return env;
}

void ParseEventInto(element event, const EventScope& scope, ParsedEvent& out, std::optional<EventError>& error) {
  Validation v;
  v.keep_values = !scope.check_only;
  auto fail = [&](std::string detail, int status = 400, std::string message = "Invalid request data") {
    error = EventError{status, std::move(message), std::move(detail)};
  };
  object envelope;
  if (event.get_object().get(envelope) != simdjson::SUCCESS) {
    out.event_id = "unknown";
    return fail("event: " + Expected("object", event));
  }
  element e;
  std::string_view id;
  if (Lookup(envelope, "id", e) && e.get_string().get(id) == simdjson::SUCCESS && IsValidId(id)) {
    out.event_id = std::string(id);
  } else {
    out.event_id = "unknown";
    return fail("id: Required: a string of 1 to 800 characters");
  }
  std::string_view ts;
  if (!Lookup(envelope, "timestamp", e) || e.get_string().get(ts) != simdjson::SUCCESS)
    return fail("timestamp: Required: an ISO 8601 date-time string");
  const auto ts_ms = ParseIso8601Ms(ts);
  if (!ts_ms) return fail("timestamp: Invalid datetime: an ISO 8601 date-time with a Z or offset is required");
  out.timestamp_ms = *ts_ms;
  std::string_view type;
  if (!Lookup(envelope, "type", e) || e.get_string().get(type) != simdjson::SUCCESS)
    return fail("type: Required: an event type string");
  out.type = std::string(type);

  if (type == "sdk-log") {
    out.is_sdk_log = true;
    return;
  }
  if (type == "dataset-run-item-create")
    return fail("Dataset run item creation is only allowed for internal usage");
  const EventTypeInfo* info = nullptr;
  for (const auto& candidate : kEventTypes) {
    if (candidate.name == type) info = &candidate;
  }
  if (info == nullptr) return fail("type: Invalid discriminator value: unknown event type '" + out.type + "'");

  object body;
  if (!Lookup(envelope, "body", e) || e.get_object().get(body) != simdjson::SUCCESS)
    return fail("body: Required: an object");
  out.kind = info->kind;
  out.is_update = info->is_update;

  Field<std::string> body_id;
  if (!ReadId(body, "id", body_id, v)) return fail("body." + *v.failure);
  if (body_id.has_value()) out.body_id = std::move(body_id.value);

  bool ok = true;
  switch (info->kind) {
    case EntityKind::kTrace:
      ok = ReadTraceBody(body, out.trace, v);
      break;
    case EntityKind::kScore:
      ok = ReadScoreBody(body, out.score, v);
      break;
    case EntityKind::kObservation: {
      if (!out.body_id) return fail("body.id: Required");
      auto& o = out.observation;
      if (info->observation_type.empty()) {
        Field<std::string> legacy_type;
        ok = ReadString(body, "type", legacy_type, v);
        if (ok && (!legacy_type.has_value() ||
                   (legacy_type.value != "SPAN" && legacy_type.value != "GENERATION" && legacy_type.value != "EVENT"))) {
          ok = v.Fail("type", "Invalid enum value. Expected 'GENERATION' | 'SPAN' | 'EVENT'");
        }
        o.type = legacy_type.value;
        o.type_is_explicit = true;
      } else {
        o.type = std::string(info->observation_type);
        o.type_is_explicit = !info->is_update;
      }
      ok = ok && ReadObservationBody(body, info->generation_fields, o, v);
      break;
    }
  }
  if (!ok) return fail("body." + *v.failure);
  if (scope.scores_only && info->kind != EntityKind::kScore)
    return fail("Access Scope Denied", 401, "Authentication error");
}

ParsedEvent ParseEvent(element event, const EventScope& scope, std::optional<EventError>& error) {
  ParsedEvent out;
  ParseEventInto(event, scope, out, error);
  return out;
}

}  // namespace langfuse::ingest
