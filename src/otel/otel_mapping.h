#pragma once

// OTLP spans -> Langfuse ingestion events, following Langfuse's OtelIngestionProcessor
// (contracts §6): `langfuse.*` attributes first, then the GenAI semantic conventions, OpenInference,
// the Vercel AI SDK and OpenLLMetry. The events have the shapes of POST /api/public/ingestion and
// are validated with the ingestion rules, so they take the same queue and worker path.

#include <cstdint>
#include <string>
#include <vector>

#include "otel/otlp.h"

namespace langfuse::otel {

//! The ingestion events of one export request.
struct MappedSpans {
  std::vector<std::string> events;       //!< compact JSON envelopes, validated by ingest::ParseEvent
  std::vector<std::string> event_types;  //!< aligned with `events` (for metrics)
  int64_t accepted_spans = 0;
  int64_t rejected_spans = 0;            //!< invalid ids or events that fail validation
  std::string error_message;             //!< why spans were rejected (the first few reasons)
};

//! Bound on the JSON text of the events one request maps to. Every event repeats the resource and
//! scope attributes, so large resource attributes times many spans would grow quadratically;
//! spans past the bound are rejected.
inline constexpr size_t kMaxMappedEventBytes = 128u << 20;

//! Maps every span of the request. Pure apart from random envelope ids; `now_ms` stands in for
//! missing span times and is the observation envelope timestamp.
MappedSpans MapToIngestionEvents(const ExportRequest& request, int64_t now_ms,
                                 size_t max_event_bytes = kMaxMappedEventBytes);

}  // namespace langfuse::otel
