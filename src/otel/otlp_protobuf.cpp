// OTLP protobuf <-> the in-memory request, with the classes protoc generates from our .proto files.
#include <cmath>

#include "common/ids.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "otel/otlp.h"

namespace langfuse::otel {
namespace {

namespace pb_common = opentelemetry::proto::common::v1;
namespace pb_trace = opentelemetry::proto::trace::v1;
namespace pb_collector = opentelemetry::proto::collector::trace::v1;

nlohmann::json ToOtlpJson(const pb_common::AnyValue& value);

nlohmann::json KeyValuesToOtlpJson(const google::protobuf::RepeatedPtrField<pb_common::KeyValue>& kvs) {
  nlohmann::json values = nlohmann::json::array();
  for (const auto& kv : kvs) values.push_back({{"key", kv.key()}, {"value", ToOtlpJson(kv.value())}});
  return values;
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t n = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// The OTLP/JSON form of a value, used where Langfuse stringifies a value it does not convert.
nlohmann::json ToOtlpJson(const pb_common::AnyValue& value) {
  switch (value.value_case()) {
    case pb_common::AnyValue::kStringValue: return {{"stringValue", value.string_value()}};
    case pb_common::AnyValue::kBoolValue: return {{"boolValue", value.bool_value()}};
    case pb_common::AnyValue::kIntValue: return {{"intValue", std::to_string(value.int_value())}};
    case pb_common::AnyValue::kDoubleValue: return {{"doubleValue", value.double_value()}};
    case pb_common::AnyValue::kArrayValue: {
      nlohmann::json values = nlohmann::json::array();
      for (const auto& v : value.array_value().values()) values.push_back(ToOtlpJson(v));
      return {{"arrayValue", {{"values", values}}}};
    }
    case pb_common::AnyValue::kKvlistValue:
      return {{"kvlistValue", {{"values", KeyValuesToOtlpJson(value.kvlist_value().values())}}}};
    case pb_common::AnyValue::kBytesValue: return {{"bytesValue", Base64(value.bytes_value())}};
    case pb_common::AnyValue::VALUE_NOT_SET: break;
  }
  return nlohmann::json::object();
}

// Langfuse's convertValueToPlainJavascript. Strings are moved out of the message, which is
// dropped right after decoding.
nlohmann::json ToPlain(pb_common::AnyValue& value) {
  switch (value.value_case()) {
    case pb_common::AnyValue::kStringValue: return std::move(*value.mutable_string_value());
    case pb_common::AnyValue::kBoolValue: return value.bool_value();
    case pb_common::AnyValue::kIntValue: return value.int_value();
    case pb_common::AnyValue::kDoubleValue: {
      const double d = value.double_value();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      return d;
    }
    case pb_common::AnyValue::kArrayValue: {
      nlohmann::json values = nlohmann::json::array();
      for (auto& v : *value.mutable_array_value()->mutable_values()) values.push_back(ToPlain(v));
      return values;
    }
    default: return ToOtlpJson(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

Attributes ToAttributes(google::protobuf::RepeatedPtrField<pb_common::KeyValue>& kvs) {
  std::vector<Attributes::Entry> entries;
  entries.reserve(kvs.size());
  for (auto& kv : kvs) entries.emplace_back(std::move(*kv.mutable_key()), ToPlain(*kv.mutable_value()));
  return Attributes(std::move(entries));
}

// Ids are raw bytes; an id of the wrong length is kept as hex and rejected by the mapping.
std::string IdHex(const std::string& bytes) { return ToHex(bytes); }

}  // namespace

StatusOr<ExportRequest> DecodeProtobufRequest(std::string_view bytes) {
  // The parsed message lives in an arena (a few blocks instead of an allocation per message) and
  // only until its strings are moved into the request.
  google::protobuf::Arena arena;
  auto* request = google::protobuf::Arena::CreateMessage<pb_collector::ExportTraceServiceRequest>(&arena);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::InvalidArgument("Failed to parse OTel Protobuf Trace");
  }
  ExportRequest out;
  out.resource_spans.reserve(request->resource_spans_size());
  for (auto& rs : *request->mutable_resource_spans()) {
    ResourceSpans& resource = out.resource_spans.emplace_back();
    resource.resource_attributes = ToAttributes(*rs.mutable_resource()->mutable_attributes());
    for (auto& ss : *rs.mutable_scope_spans()) {
      ScopeSpans& scope = resource.scope_spans.emplace_back();
      scope.scope.name = std::move(*ss.mutable_scope()->mutable_name());
      scope.scope.version = std::move(*ss.mutable_scope()->mutable_version());
      scope.scope.attributes = ToAttributes(*ss.mutable_scope()->mutable_attributes());
      scope.spans.reserve(ss.spans_size());
      for (auto& s : *ss.mutable_spans()) {
        Span& span = scope.spans.emplace_back();
        span.trace_id = IdHex(s.trace_id());
        span.span_id = IdHex(s.span_id());
        span.parent_span_id = IdHex(s.parent_span_id());
        span.name = std::move(*s.mutable_name());
        if (s.start_time_unix_nano() != 0) span.start_time_unix_nano = s.start_time_unix_nano();
        if (s.end_time_unix_nano() != 0) span.end_time_unix_nano = s.end_time_unix_nano();
        span.attributes = ToAttributes(*s.mutable_attributes());
        for (auto& e : *s.mutable_events()) {
          span.events.push_back(
              SpanEvent{std::move(*e.mutable_name()), e.time_unix_nano(), ToAttributes(*e.mutable_attributes())});
        }
        span.status_code = static_cast<int32_t>(s.status().code());
        span.status_message = s.status().message();
      }
    }
  }
  return out;
}

std::string EncodeProtobufResponse(int64_t rejected_spans, const std::string& error_message) {
  pb_collector::ExportTraceServiceResponse response;
  if (rejected_spans > 0 || !error_message.empty()) {
    auto* partial = response.mutable_partial_success();
    partial->set_rejected_spans(rejected_spans);
    partial->set_error_message(error_message);
  }
  return response.SerializeAsString();
}

}  // namespace langfuse::otel
