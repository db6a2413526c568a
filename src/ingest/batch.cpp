#include "ingest/batch.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "common/compression.h"
#include "common/idle_pool.h"
#include "common/json_text.h"

namespace langfuse::ingest {

namespace {
constexpr size_t kKeepParserCapacity = 1 << 20;

// Idle parsers, shared by every handler thread: only as many are busy as requests are parsed at
// once (bounded by the cores, not by the dozens of handler threads).
IdlePool<simdjson::dom::parser>& Pool() {
  // Never destroyed: handler threads may outlive statics.
  static auto* pool = new IdlePool<simdjson::dom::parser>(std::max<size_t>(4, 2 * std::thread::hardware_concurrency()));
  return *pool;
}
}  // namespace

RequestParser::RequestParser() : parser_(Pool().Take([] { return std::make_unique<simdjson::dom::parser>(); })) {}

RequestParser::~RequestParser() {
  if (parser_->capacity() > kKeepParserCapacity) return;  // grew for a large body: let it go
  Pool().Give(std::move(parser_));
}

StatusOr<BatchValidation> ValidateBatch(simdjson::dom::parser& parser, std::string_view body, const EventScope& scope) {
  simdjson::dom::element root;
  if (auto error = parser.parse(body.data(), body.size()).get(root); error) {
    return Status::InvalidArgument(std::string("Invalid JSON: ") + simdjson::error_message(error));
  }
  simdjson::dom::object envelope;
  if (root.get_object().get(envelope) != simdjson::SUCCESS) {
    return Status::InvalidArgument("Expected an object with a `batch` array");
  }
  simdjson::dom::element batch_element;
  simdjson::dom::array batch;
  if (envelope.at_key("batch").get(batch_element) != simdjson::SUCCESS) {
    return Status::InvalidArgument("batch: Required");
  }
  if (batch_element.get_array().get(batch) != simdjson::SUCCESS) {
    return Status::InvalidArgument("batch: Expected array");
  }
  BatchValidation result;
  // Only the verdict, the ids and the type are used here; the worker parses the events in full.
  EventScope check = scope;
  check.check_only = true;
  for (simdjson::dom::element event : batch) {
    std::optional<EventError> error;
    ParsedEvent parsed = ParseEvent(event, check, error);
    if (error) {
      result.errors.emplace_back(parsed.event_id, std::move(*error));
      result.rejected_types.push_back(IsKnownEventType(parsed.type) ? parsed.type : "invalid");
      continue;
    }
    if (parsed.is_sdk_log) continue;
    result.successes.push_back(parsed.event_id);
    result.accepted_types.push_back(parsed.type);
    if (parsed.body_id) result.accepted.push_back(simdjson::minify(event));
  }
  return result;
}

std::string EncodeQueuePayload(const std::string& project_id, const IngestionSource& source, int64_t received_at_ms,
                               const std::vector<std::string>& events) {
  size_t size = 128 + project_id.size();
  for (const auto& e : events) size += e.size() + 1;
  std::string out;
  out.reserve(size);
  out += "{\"projectId\":";
  AppendJsonString(out, project_id);
  out += ",\"apiKeyId\":";
  AppendJsonString(out, source.api_key_id);
  out += ",\"sdkName\":";
  AppendJsonString(out, source.sdk_name);
  out += ",\"sdkVersion\":";
  AppendJsonString(out, source.sdk_version);
  out += ",\"receivedAt\":";
  out += std::to_string(received_at_ms);
  out += ",\"events\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) out += ',';
    out += events[i];
  }
  out += "]}";
  return ZstdCompress(out);
}

StatusOr<std::string> QueuePayloadJson(std::string_view payload, size_t spare_capacity) {
  std::string json;
  if (!IsZstdFrame(payload)) {
    json.reserve(payload.size() + spare_capacity);
    json.assign(payload);
    return json;
  }
  Status s = ZstdDecompress(payload, kMaxQueuePayloadJsonBytes, json, spare_capacity);
  if (!s.ok()) return Status::InvalidArgument("queue payload: " + s.message());
  return json;
}

StatusOr<DecodedPayload> DecodeQueuePayload(simdjson::dom::parser& parser, std::string_view payload) {
  auto json = QueuePayloadJson(payload, simdjson::SIMDJSON_PADDING);
  if (!json.ok()) return json.status();
  simdjson::dom::object root;
  // The spare capacity is simdjson's padding, so it parses the text where it is.
  if (parser.parse(json->data(), json->size(), false).get_object().get(root) != simdjson::SUCCESS) {
    return Status::InvalidArgument("queue payload is not a JSON object");
  }
  DecodedPayload out;
  out.json_bytes = json->size();
  std::string_view s;
  int64_t received = 0;
  simdjson::dom::array events;
  if (root["projectId"].get_string().get(s) != simdjson::SUCCESS) return Status::InvalidArgument("payload: projectId");
  out.project_id = std::string(s);
  if (root["apiKeyId"].get_string().get(s) == simdjson::SUCCESS) out.source.api_key_id = std::string(s);
  if (root["sdkName"].get_string().get(s) == simdjson::SUCCESS) out.source.sdk_name = std::string(s);
  if (root["sdkVersion"].get_string().get(s) == simdjson::SUCCESS) out.source.sdk_version = std::string(s);
  if (root["receivedAt"].get_int64().get(received) == simdjson::SUCCESS) out.received_at_ms = received;
  if (root["events"].get_array().get(events) != simdjson::SUCCESS) return Status::InvalidArgument("payload: events");
  out.events.reserve(events.size());
  for (simdjson::dom::element event : events) {
    std::optional<EventError> error;
    ParsedEvent& parsed = out.events.emplace_back();
    ParseEventInto(event, EventScope{}, parsed, error);
    // Events were validated before they were enqueued; one that no longer parses (a rule changed
    // between versions) is skipped rather than blocking the queue.
    if (error) ++out.skipped;
    if (error || parsed.is_sdk_log || !parsed.body_id) out.events.pop_back();
  }
  return out;
}

}  // namespace langfuse::ingest
