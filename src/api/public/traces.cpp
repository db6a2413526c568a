// GET /api/public/traces/{traceId}: one trace with its observations and scores.
#include <algorithm>

#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/request_auth.h"

namespace langfuse::api {

void RegisterTraceRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/api/public/traces/{traceId}", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    const std::string& id = request.path_params["traceId"];
    auto found = context.traces.GetTraces(auth->project_id, {id});
    if (!found.ok()) return ErrorResponse(found.status());
    if (found->empty()) return ErrorResponse(Status::NotFound("Trace not found within authorized project"));
    auto observations = context.traces.ObservationsOfTrace(auth->project_id, id);
    if (!observations.ok()) return ErrorResponse(observations.status());
    auto scores = context.traces.ScoresOfTrace(auth->project_id, id);
    if (!scores.ok()) return ErrorResponse(scores.status());

    const traces::TraceRecord& trace = found->front();
    Json j = TraceView(trace);
    j["htmlPath"] = TraceHtmlPath(auth->project_id, trace.id);
    double total_cost = 0;
    std::optional<int64_t> first_start, last_end;
    Json observation_views = Json::array();
    for (const auto& o : *observations) {
      total_cost += o.total_cost.value_or(0);
      first_start = std::min(first_start.value_or(o.start_time_ms), o.start_time_ms);
      const int64_t end = o.end_time_ms.value_or(o.start_time_ms);
      last_end = std::max(last_end.value_or(end), end);
      observation_views.push_back(ObservationView(o));
    }
    j["latency"] = first_start ? Json(static_cast<double>(*last_end - *first_start) / 1000.0) : Json(0);
    j["totalCost"] = total_cost;
    j["observations"] = std::move(observation_views);
    Json score_views = Json::array();
    for (const auto& s : *scores) score_views.push_back(ScoreView(s));
    j["scores"] = std::move(score_views);
    return http::Response::Json(200, j.dump(-1, ' ', false, Json::error_handler_t::replace));
  });
}

}  // namespace langfuse::api
