#pragma once

// OTLP trace export requests, decoded from protobuf or OTLP/JSON into one in-memory shape.
//
// Attribute values are kept as Langfuse's OTel processor sees them after its "plain JavaScript"
// conversion: strings, numbers (int64 kept exact), booleans, arrays of those; kvlist and bytes
// values become the JSON text of their OTLP/JSON form; a double NaN/Infinity stays a string.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "otel/attributes.h"

namespace langfuse::otel {

struct SpanEvent {
  std::string name;
  uint64_t time_unix_nano = 0;
  Attributes attributes;
};

struct Span {
  //! Lower-case hex; empty when absent. Validity is judged by the mapping (ValidateSpanIds).
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;
  //! Set when an id was present but not decodable (e.g. JSON id that is not hex).
  std::string id_error;
  std::string name;
  std::optional<uint64_t> start_time_unix_nano;  //!< absent or 0 on the wire -> nullopt
  std::optional<uint64_t> end_time_unix_nano;
  Attributes attributes;
  std::vector<SpanEvent> events;
  int32_t status_code = 0;  //!< 0 unset, 1 ok, 2 error
  std::string status_message;
};

struct Scope {
  std::string name;
  std::string version;
  Attributes attributes;
};

struct ScopeSpans {
  Scope scope;
  std::vector<Span> spans;
};

struct ResourceSpans {
  Attributes resource_attributes;
  std::vector<ScopeSpans> scope_spans;
};

//! One ExportTraceServiceRequest.
struct ExportRequest {
  std::vector<ResourceSpans> resource_spans;
  size_t SpanCount() const;
};

//! Decodes a protobuf ExportTraceServiceRequest. Truncated or malformed bytes are an
//! InvalidArgument status.
StatusOr<ExportRequest> DecodeProtobufRequest(std::string_view bytes);

//! Decodes an OTLP/JSON ExportTraceServiceRequest (lowerCamelCase or snake_case field names, hex
//! ids, int64 as strings or numbers). Invalid JSON is an InvalidArgument status.
StatusOr<ExportRequest> DecodeJsonRequest(std::string_view json);

//! The protobuf bytes of an ExportTraceServiceResponse; partial_success only when
//! rejected_spans > 0 or error_message is set.
std::string EncodeProtobufResponse(int64_t rejected_spans, const std::string& error_message);

//! The OTLP/JSON form of the same response: `{}` or `{"partialSuccess":{...}}`.
std::string EncodeJsonResponse(int64_t rejected_spans, const std::string& error_message);

//! Largest body a gzip request may inflate to (a guard against gzip bombs).
inline constexpr size_t kMaxInflatedBytes = 20u << 20;

//! Inflates a gzip (or zlib) body. More than `max_bytes` of output is a PayloadTooLarge status;
//! corrupt or truncated input is InvalidArgument.
StatusOr<std::string> Gunzip(std::string_view compressed, size_t max_bytes = kMaxInflatedBytes);

}  // namespace langfuse::otel
