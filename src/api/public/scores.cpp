// POST /api/public/scores (Basic or Bearer pk) and DELETE /api/public/scores/{scoreId}. A posted
// score travels the ingestion path as a score-create event, like Langfuse's.
#include <simdjson.h>

#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/request_auth.h"
#include "common/ids.h"
#include "common/json_text.h"
#include "common/time.h"
#include "ingest/batch.h"

namespace langfuse::api {

void RegisterScoreRoutes(http::Router& router, ApiContext& context) {
  router.Add("POST", "/api/public/scores", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProjectOrScores, error);
    if (!auth) return error;
    // Give the body an id when it has none, then wrap it as one ingestion event.
    Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      return http::Response::Error(400, "InvalidRequestError", "Invalid request data: expected a JSON object");
    }
    if (!body.contains("id") || !body["id"].is_string() || body["id"].get<std::string>().empty()) body["id"] = NewUuidV4();
    const std::string id = body["id"].get<std::string>();
    const std::string now = FormatIso8601Ms(NowMs());
    Json envelope = {{"batch", Json::array({Json{{"id", NewUuidV4()}, {"timestamp", now}, {"type", "score-create"},
                                                 {"body", body}}})}};
    ingest::RequestParser parser;
    auto validation = ingest::ValidateBatch(parser.get(), envelope.dump(), ingest::EventScope{});
    if (!validation.ok()) return ErrorResponse(Status::InvalidArgument(validation.status().message()));
    if (!validation->errors.empty()) {
      return http::Response::Json(400, Json{{"message", "Invalid request data"},
                                            {"error", validation->errors.front().second.error}}
                                           .dump());
    }
    ingest::IngestionSource source;
    source.api_key_id = auth->api_key_id;
    const std::string payload = ingest::EncodeQueuePayload(auth->project_id, source, NowMs(), validation->accepted);
    Status queued = context.queue.Append({{payload, 1}});
    if (!queued.ok()) return ErrorResponse(queued);
    return http::Response::Json(200, Json{{"id", id}}.dump());
  });

  router.Add("DELETE", "/api/public/scores/{scoreId}", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    const std::string& id = request.path_params["scoreId"];
    auto found = context.traces.GetScores(auth->project_id, {id});
    if (!found.ok()) return ErrorResponse(found.status());
    if (found->empty()) return ErrorResponse(Status::NotFound("Score not found within authorized project"));
    Status deleted = context.traces.DeleteScores(auth->project_id, {id});
    if (!deleted.ok()) return ErrorResponse(deleted);
    return http::Response::Json(202, Json{{"message", "Score deleted"}}.dump());
  });
}

}  // namespace langfuse::api
