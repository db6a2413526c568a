#include "ingest/batch.h"

#include <algorithm>
#include <memory>
#include <string_view>
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

// The JSON text of a queue payload into `out`, which keeps its capacity from one call to the next.
Status PayloadJsonInto(std::string_view payload, size_t spare_capacity, std::string& out) {
  if (!IsZstdFrame(payload)) {
    out.clear();
    out.reserve(payload.size() + spare_capacity);
    out.assign(payload);
    return Status::Ok();
  }
  Status s = ZstdDecompress(payload, kMaxQueuePayloadJsonBytes, out, spare_capacity);
  if (!s.ok()) return Status::InvalidArgument("queue payload: " + s.message());
  return Status::Ok();
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
  std::string head;
  head.reserve(128 + project_id.size() + source.api_key_id.size() + source.sdk_name.size() +
               source.sdk_version.size());
  head += "{\"projectId\":";
  AppendJsonString(head, project_id);
  head += ",\"apiKeyId\":";
  AppendJsonString(head, source.api_key_id);
  head += ",\"sdkName\":";
  AppendJsonString(head, source.sdk_name);
  head += ",\"sdkVersion\":";
  AppendJsonString(head, source.sdk_version);
  head += ",\"receivedAt\":";
  head += std::to_string(received_at_ms);
  head += ",\"events\":[";
  // The events are compressed where they lie, separated by commas, instead of being copied into
  // one text first.
  std::vector<std::string_view> pieces;
  pieces.reserve(2 * events.size() + 2);
  pieces.emplace_back(head);
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) pieces.emplace_back(",");
    pieces.emplace_back(events[i]);
  }
  pieces.emplace_back("]}");
  return ZstdCompressPieces(pieces);
}

StatusOr<std::string> QueuePayloadJson(std::string_view payload, size_t spare_capacity) {
  std::string json;
  RETURN_IF_ERROR(PayloadJsonInto(payload, spare_capacity, json));
  return json;
}

StatusOr<DecodedPayload> DecodeQueuePayload(simdjson::dom::parser& parser, std::string_view payload) {
  std::string text;
  return DecodeQueuePayload(parser, payload, text);
}

StatusOr<DecodedPayload> DecodeQueuePayload(simdjson::dom::parser& parser, std::string_view payload,
                                            std::string& text) {
  RETURN_IF_ERROR(PayloadJsonInto(payload, simdjson::SIMDJSON_PADDING, text));
  simdjson::dom::object root;
  // The spare capacity is simdjson's padding, so it parses the text where it is.
  if (parser.parse(text.data(), text.size(), false).get_object().get(root) != simdjson::SUCCESS) {
    return Status::InvalidArgument("queue payload is not a JSON object");
  }
  DecodedPayload out;
  out.json_bytes = text.size();
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
