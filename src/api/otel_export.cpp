#include "api/otel_export.h"

#include <charconv>

#include "common/metrics.h"
#include "common/time.h"
#include "ingest/batch.h"
#include "otel/otel_mapping.h"

namespace langfuse::api {
namespace {

Counter& SpanCounter(const char* outcome) {
  return Metrics().GetCounter("langfuse_otel_spans_total", "OTLP spans by outcome",
                              std::string("outcome=\"") + outcome + "\"");
}

}  // namespace

Status CheckOtelIngestionVersion(std::string_view version) {
  if (version.empty()) return Status::Ok();
  int64_t parsed = 0;
  const auto [end, ec] = std::from_chars(version.data(), version.data() + version.size(), parsed);
  if (ec != std::errc() || end == version.data() || parsed > 4) {
    return Status::InvalidArgument("Unsupported x-langfuse-ingestion-version: \"" +
                                   std::string(version.substr(0, 32)) + "\". Maximum supported: \"4\".");
  }
  return Status::Ok();
}

StatusOr<OtelExportResult> ExportOtelSpans(queue::EventQueue& queue, const auth::AuthContext& auth,
                                           const ingest::IngestionSource& source,
                                           const otel::ExportRequest& request) {
  const int64_t now = NowMs();
  otel::MappedSpans mapped = otel::MapToIngestionEvents(request, now);
  if (!mapped.events.empty()) {
    std::string payload = ingest::EncodeQueuePayload(auth.project_id, source, now, mapped.events);
    RETURN_IF_ERROR(queue.Append({{std::move(payload), static_cast<uint32_t>(mapped.events.size())}}));
  }
  SpanCounter("accepted").Add(static_cast<uint64_t>(mapped.accepted_spans));
  SpanCounter("rejected").Add(static_cast<uint64_t>(mapped.rejected_spans));
  return OtelExportResult{mapped.accepted_spans, mapped.rejected_spans, std::move(mapped.error_message)};
}

}  // namespace langfuse::api
