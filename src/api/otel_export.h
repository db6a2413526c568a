#pragma once

// The transport-independent part of an OTLP trace export, shared by POST
// /api/public/otel/v1/traces (OTLP/HTTP) and the OTLP/gRPC receiver (otel_grpc/): both
// authenticate and decode in their own way, then hand the decoded request here.

#include <cstdint>
#include <string>
#include <string_view>

#include "auth/authenticator.h"
#include "common/status.h"
#include "ingest/merge.h"
#include "otel/otlp.h"
#include "queue/event_queue.h"

namespace langfuse::api {

//! What one export produced: the ExportTraceServiceResponse's partial_success fields.
struct OtelExportResult {
  int64_t accepted_spans = 0;
  int64_t rejected_spans = 0;
  std::string error_message;  //!< why spans were rejected; empty when none were
};

//! Checks the optional x-langfuse-ingestion-version header/metadata value as Langfuse does
//! (parseInt semantics: leading digits count; unparsable or above 4 is refused). Empty is fine.
//! InvalidArgument with Langfuse's message otherwise.
Status CheckOtelIngestionVersion(std::string_view version);

//! Maps every span of `request` to ingestion events (otel/otel_mapping.h) and appends them to
//! the queue for the key's project, durably, before returning: an OK result means the accepted
//! spans survive a crash. Counts spans in langfuse_otel_spans_total{outcome}. A queue failure is
//! returned as is (nothing was acknowledged, the client should retry) and counts no spans.
StatusOr<OtelExportResult> ExportOtelSpans(queue::EventQueue& queue, const auth::AuthContext& auth,
                                           const ingest::IngestionSource& source,
                                           const otel::ExportRequest& request);

}  // namespace langfuse::api
