#include "api/request_auth.h"

#include "common/log.h"

namespace langfuse::api {

std::optional<auth::AuthContext> AuthenticateRequest(ApiContext& context, const http::Request& request,
                                                     KeyAccess access, http::Response& response) {
  const std::string_view header = request.Header("authorization");
  auto result = access == KeyAccess::kIngestion
                    ? context.authenticator.AuthenticateIngestion(header)
                    : context.authenticator.AuthenticateProjectRoute(header, access == KeyAccess::kProjectOrScores);
  if (!result.ok()) {
    response = ErrorResponse(result.status());
    return std::nullopt;
  }
  return std::move(result).value();
}

ingest::IngestionSource IngestionSourceOf(const http::Request& request, const auth::AuthContext& auth,
                                          std::string_view default_sdk_name) {
  auto header = [&](const char* dashed, const char* underscored) {
    std::string_view v = request.Header(dashed);
    if (v.empty()) v = request.Header(underscored);
    return std::string(v.substr(0, 64));  // bounded: stored as a LowCardinality column
  };
  ingest::IngestionSource source;
  source.api_key_id = auth.api_key_id;
  source.sdk_name = header("x-langfuse-sdk-name", "x_langfuse_sdk_name");
  source.sdk_version = header("x-langfuse-sdk-version", "x_langfuse_sdk_version");
  if (source.sdk_name.empty()) source.sdk_name = std::string(default_sdk_name);
  if (source.sdk_version.empty()) source.sdk_version = "unknown";
  return source;
}

http::Response ErrorResponse(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return http::Response::Json(200, R"({"message":"OK"})");
    case StatusCode::kInvalidArgument:
      return http::Response::Error(400, "InvalidRequestError", status.message());
    case StatusCode::kUnauthenticated:
      return http::Response::Error(401, "UnauthorizedError", status.message());
    case StatusCode::kPermissionDenied:
      return http::Response::Error(403, "ForbiddenError", status.message());
    case StatusCode::kNotFound:
      return http::Response::Error(404, "LangfuseNotFoundError", status.message());
    case StatusCode::kConflict:
      return http::Response::Error(409, "LangfuseConflictError", status.message());
    case StatusCode::kPayloadTooLarge:
      return http::Response::Error(413, "PayloadTooLargeError", status.message());
    case StatusCode::kUnavailable:
      LOG_ERROR("request failed, a store is unavailable: {}", status.message());
      return http::Response::Error(503, "ServiceUnavailableError", "Service unavailable: " + status.message());
    case StatusCode::kInternal:
      LOG_ERROR("request failed: {}", status.message());
      return http::Response::Error(500, "Internal Server Error", status.message());
  }
  return http::Response::Error(500, "Internal Server Error", status.message());
}

}  // namespace langfuse::api
