#pragma once

// Invariants of the OTLP -> ingestion mapping, checked by the OTLP fuzz targets on every request
// that decodes. A broken invariant aborts, so libFuzzer keeps the input as a crash.

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <simdjson.h>

#include "ingest/event.h"
#include "otel/otel_mapping.h"
#include "otel/otlp.h"

#define LF_FUZZ_CHECK(cond)                                                             \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace langfuse::otel::fuzz {

//! A fixed clock, so an input maps the same way on every run.
inline constexpr int64_t kNowMs = 1750000000000;

//! Maps `request` and checks what POST /v1/traces relies on: every span is either accepted or
//! rejected, each accepted span yields its observation (and at most one trace event), and every
//! event passes the ingestion validation the worker applies again.
inline void CheckMapping(const ExportRequest& request) {
  const MappedSpans mapped = MapToIngestionEvents(request, kNowMs);
  LF_FUZZ_CHECK(mapped.accepted_spans >= 0 && mapped.rejected_spans >= 0);
  LF_FUZZ_CHECK(static_cast<size_t>(mapped.accepted_spans + mapped.rejected_spans) == request.SpanCount());
  LF_FUZZ_CHECK(mapped.events.size() == mapped.event_types.size());
  LF_FUZZ_CHECK(mapped.events.size() >= static_cast<size_t>(mapped.accepted_spans));
  LF_FUZZ_CHECK(mapped.events.size() <= 2 * static_cast<size_t>(mapped.accepted_spans));
  LF_FUZZ_CHECK(mapped.error_message.empty() == (mapped.rejected_spans == 0));
  simdjson::dom::parser parser;
  for (size_t i = 0; i < mapped.events.size(); ++i) {
    simdjson::dom::element element;
    LF_FUZZ_CHECK(parser.parse(mapped.events[i]).get(element) == simdjson::SUCCESS);
    std::optional<ingest::EventError> error;
    const ingest::ParsedEvent event = ingest::ParseEvent(element, ingest::EventScope{}, error);
    LF_FUZZ_CHECK(!error);
    LF_FUZZ_CHECK(event.type == mapped.event_types[i]);
    LF_FUZZ_CHECK(ingest::IsKnownEventType(event.type));
    LF_FUZZ_CHECK(event.body_id.has_value());
  }
  // The response bodies for the counts (protobuf and JSON) must always encode.
  const std::string json_response = EncodeJsonResponse(mapped.rejected_spans, mapped.error_message);
  LF_FUZZ_CHECK(parser.parse(json_response).error() == simdjson::SUCCESS);
  (void)EncodeProtobufResponse(mapped.rejected_spans, mapped.error_message);
}

}  // namespace langfuse::otel::fuzz
