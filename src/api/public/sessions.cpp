// GET /api/public/sessions and /api/public/sessions/{sessionId}.
//
// Langfuse keeps sessions in Postgres (trace_sessions, a row written when the first trace of a
// session is ingested); here a session is derived from the traces that carry its id: createdAt is
// its earliest trace's timestamp and environment that trace's environment. So a session whose
// traces were all deleted is gone (Langfuse keeps its row and returns it with `traces: []`).
#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/public/query_params.h"
#include "api/request_auth.h"
#include "common/time.h"
#include "storage/traces/trace_queries.h"

namespace langfuse::api {


namespace {

Json SessionJson(const traces::SessionRecord& s) {
  return Json{{"id", s.id},
              {"createdAt", FormatIso8601Ms(s.created_at_ms)},
              {"projectId", s.project_id},
              {"environment", s.environment}};
}

http::Response ListSessions(ApiContext& context, http::Request& request) {
  http::Response error;
  auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
  if (!auth) return error;
  Json issues = Json::array();
  traces::SessionListQuery query;
  public_query::ParsePagination(request, query.page, query.limit, issues);
  query.from_timestamp_ms = public_query::ParseTimestampParam(request, "fromTimestamp", issues);
  query.to_timestamp_ms = public_query::ParseTimestampParam(request, "toTimestamp", issues);
  // Langfuse matches a single value exactly and repeated values with IN (no comma splitting).
  query.environments = request.QueryParams("environment");
  if (!issues.empty()) return public_query::InvalidRequestData(std::move(issues));

  auto page = traces::ListSessions(context.traces.transport(), auth->project_id, query);
  if (!page.ok()) return ErrorResponse(page.status());
  Json data = Json::array();
  for (const auto& s : page->sessions) data.push_back(SessionJson(s));
  Json body = {{"data", std::move(data)},
               {"meta", public_query::MetaJson(query.page, query.limit, page->total_items)}};
  return http::Response::Json(200, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

http::Response GetSession(ApiContext& context, http::Request& request) {
  http::Response error;
  auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
  if (!auth) return error;
  auto found =
      traces::GetSession(context.traces.transport(), auth->project_id, request.path_params["sessionId"]);
  if (!found.ok()) return ErrorResponse(found.status());
  if (!found->has_value())
    return ErrorResponse(Status::NotFound("Session not found within authorized project"));
  const traces::SessionWithTraces& session = **found;
  Json body = SessionJson(session.session);
  Json trace_views = Json::array();
  for (const auto& t : session.traces) trace_views.push_back(public_query::TraceJson(t));
  body["traces"] = std::move(trace_views);
  return http::Response::Json(200, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

}  // namespace

void RegisterSessionRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/api/public/sessions",
             [&context](http::Request& request) { return ListSessions(context, request); });
  router.Add("GET", "/api/public/sessions/{sessionId}",
             [&context](http::Request& request) { return GetSession(context, request); });
}

}  // namespace langfuse::api
