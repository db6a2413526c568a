// POST /api/public/ingestion: the legacy batch API. Validates every event, makes the accepted
// ones durable in the queue, and only then answers 207 with per-event results.
#include <simdjson.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/request_auth.h"
#include "api/score_validation.h"
#include "common/json_text.h"
#include "common/metrics.h"
#include "common/time.h"
#include "ingest/batch.h"

namespace langfuse::api {
namespace {

Counter& EventCounter(const std::string& outcome, const std::string& type) {
  return Metrics().GetCounter("langfuse_ingestion_events_total", "Ingestion events by outcome and type",
                              "outcome=\"" + outcome + "\",type=\"" + type + "\"");
}

// One counter lookup per type and request, not per event (a batch is mostly a few types).
void CountEvents(const std::string& outcome, const std::vector<std::string>& types) {
  std::vector<std::pair<std::string_view, uint64_t>> counts;
  for (const auto& type : types) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == type; });
    if (it == counts.end()) {
      counts.emplace_back(type, 1);
    } else {
      ++it->second;
    }
  }
  for (const auto& [type, n] : counts) EventCounter(outcome, std::string(type)).Add(n);
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
    CountEvents("accepted", validation->accepted_types);
    CountEvents("rejected", validation->rejected_types);

    // Written directly: with hundreds of events per request a JSON tree costs more than the rest.
    std::string out;
    out.reserve(64 + 48 * validation->successes.size());
    out += "{\"successes\":[";
    for (size_t i = 0; i < validation->successes.size(); ++i) {
      out += i == 0 ? "{\"id\":" : ",{\"id\":";
      AppendJsonString(out, validation->successes[i]);
      out += ",\"status\":201}";
    }
    out += "],\"errors\":[";
    for (size_t i = 0; i < validation->errors.size(); ++i) {
      const auto& [id, e] = validation->errors[i];
      out += i == 0 ? "{\"id\":" : ",{\"id\":";
      AppendJsonString(out, id);
      out += ",\"status\":" + std::to_string(e.status) + ",\"message\":";
      AppendJsonString(out, e.message);
      out += ",\"error\":";
      AppendJsonString(out, e.error);
      out += '}';
    }
    out += "]}";
    return http::Response::Json(207, std::move(out));
  });
}

}  // namespace langfuse::api
