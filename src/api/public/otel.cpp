// POST /api/public/otel/v1/traces (OTLP over HTTP, protobuf or JSON, optionally gzip) and the
// no-op POST /api/public/otel/v1/metrics. Spans become ingestion events (otel/otel_mapping.h) that
// are made durable in the same queue as POST /api/public/ingestion before the answer is sent, so
// an acknowledged span is never lost; the worker merges them like any other event. The mapping
// and the enqueue are shared with the OTLP/gRPC receiver (api/otel_export.h).
#include "api/otel_export.h"
#include "api/public/handlers.h"
#include "api/request_auth.h"
#include "common/metrics.h"
#include "otel/otlp.h"

namespace langfuse::api {
namespace {

Counter& RequestErrorCounter(const char* reason) {
  return Metrics().GetCounter("langfuse_otel_request_errors_total", "OTLP trace requests refused, by reason",
                              std::string("reason=\"") + reason + "\"");
}

http::Response JsonError(int status, const std::string& message, const char* reason) {
  RequestErrorCounter(reason).Add();
  return http::Response::Json(status, nlohmann::json{{"error", message}}.dump(
                                          -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

http::Response HandleTraces(ApiContext& context, http::Request& request) {
  http::Response error;
  auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
  if (!auth) return error;

  std::string_view version = request.Header("x-langfuse-ingestion-version");
  if (version.empty()) version = request.Header("x_langfuse_ingestion_version");
  if (Status supported = CheckOtelIngestionVersion(version); !supported.ok()) {
    return JsonError(400, supported.message(), "ingestion_version");
  }

  const std::string content_type = Lower(request.Header("content-type"));
  const bool is_protobuf = content_type.find("application/x-protobuf") != std::string::npos;
  const bool is_json = !is_protobuf && content_type.find("application/json") != std::string::npos;
  if (!is_protobuf && !is_json) return JsonError(400, "Invalid content type", "content_type");

  std::string inflated;
  std::string_view body = request.body;
  if (Lower(request.Header("content-encoding")).find("gzip") != std::string::npos) {
    auto result = otel::Gunzip(request.body);
    if (!result.ok()) {
      if (result.status().code() == StatusCode::kPayloadTooLarge) {
        return JsonError(413, result.status().message(), "too_large");
      }
      return JsonError(400, "Failed to decompress request body", "gzip");
    }
    inflated = std::move(result).value();
    body = inflated;
  }

  auto decoded = is_protobuf ? otel::DecodeProtobufRequest(body) : otel::DecodeJsonRequest(body);
  if (!decoded.ok()) return JsonError(400, decoded.status().message(), is_protobuf ? "protobuf" : "json");

  auto exported = ExportOtelSpans(context.queue, *auth, IngestionSourceOf(request, *auth, "otel"), *decoded);
  if (!exported.ok()) return ErrorResponse(exported.status());

  if (is_protobuf) {
    http::Response response;
    response.status = 200;
    response.content_type = "application/x-protobuf";
    response.body = otel::EncodeProtobufResponse(exported->rejected_spans, exported->error_message);
    return response;
  }
  return http::Response::Json(200,
                              otel::EncodeJsonResponse(exported->rejected_spans, exported->error_message));
}

}  // namespace

void RegisterOtelRoutes(http::Router& router, ApiContext& context) {
  router.Add("POST", "/api/public/otel/v1/traces",
             [&context](http::Request& request) { return HandleTraces(context, request); });
  // Langfuse accepts OTLP metrics and drops them.
  router.Add("POST", "/api/public/otel/v1/metrics", [&context](http::Request& request) {
    http::Response error;
    if (!AuthenticateRequest(context, request, KeyAccess::kProject, error)) return error;
    return http::Response::Json(200, R"({"message":"OK"})");
  });
}

}  // namespace langfuse::api
