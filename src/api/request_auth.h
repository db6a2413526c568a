#pragma once

#include <optional>

#include "api/api.h"
#include "http/http_types.h"
#include "ingest/merge.h"

namespace langfuse::api {

enum class KeyAccess {
  kProject,         //!< Basic pk:sk of a project key only
  kProjectOrScores, //!< also `Bearer pk` (POST /scores)
  kIngestion,       //!< POST /ingestion: any project key level; the handler limits Bearer to scores
};

//! Authenticates the request's API key. On failure returns nullopt and fills `response` with
//! Langfuse's 401/403 body.
std::optional<auth::AuthContext> AuthenticateRequest(ApiContext& context, const http::Request& request, KeyAccess access,
                                                     http::Response& response);

//! Who sent the events (key id, and the SDK headers Langfuse records: X-Langfuse-Sdk-Name/-Version
//! or their underscore forms), with `default_sdk_name` when the client sent none.
ingest::IngestionSource IngestionSourceOf(const http::Request& request, const auth::AuthContext& auth,
                                          std::string_view default_sdk_name = "unknown");

//! Maps a store or validation Status to Langfuse's error response.
http::Response ErrorResponse(const Status& status);

}  // namespace langfuse::api
