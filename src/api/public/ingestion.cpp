// POST /api/public/ingestion: the legacy batch API. Validates every event, makes the accepted
// ones durable in the queue, and only then answers 207 with per-event results.
#include <simdjson.h>

#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/request_auth.h"
#include "api/score_validation.h"
#include "common/metrics.h"
#include "common/time.h"
#include "ingest/batch.h"

namespace langfuse::api {
namespace {

Counter& EventCounter(const std::string& outcome, const std::string& type) {
  return Metrics().GetCounter("langfuse_ingestion_events_total", "Ingestion events by outcome and type",
                              "outcome=\"" + outcome + "\",type=\"" + type + "\"");
}

}  // namespace

void RegisterIngestionRoutes(http::Router& router, ApiContext& context) {
  router.Add("POST", "/api/public/ingestion", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kIngestion, error);
    if (!auth) return error;

    ingest::RequestParser parser;
    ingest::EventScope scope{auth->access_level != auth::kAccessProject};
    auto validation = ingest::ValidateBatch(parser.get(), request.body, scope);
    if (!validation.ok()) {
      return http::Response::Json(
          400, Json{{"message", "Invalid request data"}, {"errors", Json::array({validation.status().message()})},
                    {"error", validation.status().message()}}
                   .dump());
    }
    // Scores against their configs (and the other score rules), before anything is queued.
    if (Status scores = CheckBatchScores(ScoreConfigCacheFor(context.meta), auth->project_id, *validation);
        !scores.ok()) {
      return ErrorResponse(scores);
    }
    if (!validation->accepted.empty()) {
      const std::string payload =
          ingest::EncodeQueuePayload(auth->project_id, IngestionSourceOf(request, *auth), NowMs(), validation->accepted);
      Status queued = context.queue.Append({{payload, static_cast<uint32_t>(validation->accepted.size())}});
      if (!queued.ok()) return ErrorResponse(queued);
    }
    for (const auto& type : validation->accepted_types) EventCounter("accepted", type).Add();
    for (const auto& type : validation->rejected_types) EventCounter("rejected", type).Add();

    Json successes = Json::array();
    for (const auto& id : validation->successes) successes.push_back(Json{{"id", id}, {"status", 201}});
    Json errors = Json::array();
    for (const auto& [id, e] : validation->errors) {
      errors.push_back(Json{{"id", id}, {"status", e.status}, {"message", e.message}, {"error", e.error}});
    }
    return http::Response::Json(207, Json{{"successes", successes}, {"errors", errors}}.dump());
  });
}

}  // namespace langfuse::api
