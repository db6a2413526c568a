// GET /api/public/observations/{observationId}.
#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/request_auth.h"

namespace langfuse::api {

void RegisterObservationRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/api/public/observations/{observationId}", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    auto found = context.traces.GetObservations(auth->project_id, {request.path_params["observationId"]});
    if (!found.ok()) return ErrorResponse(found.status());
    if (found->empty()) return ErrorResponse(Status::NotFound("Observation not found within authorized project"));
    return http::Response::Json(200, ObservationView(found->front()).dump(-1, ' ', false, Json::error_handler_t::replace));
  });
}

}  // namespace langfuse::api
