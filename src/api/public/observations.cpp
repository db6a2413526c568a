// GET /api/public/observations (v1 list) and GET /api/public/observations/{observationId}.
#include <array>

#include "api/filter_param.h"
#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/public/query_params.h"
#include "api/request_auth.h"
#include "common/time.h"
#include "storage/traces/observation_queries.h"

namespace langfuse::api {
namespace {

constexpr std::array<std::string_view, 10> kObservationTypes = {
    "GENERATION", "SPAN",      "EVENT",     "AGENT",     "TOOL",
    "CHAIN",      "RETRIEVER", "EVALUATOR", "EMBEDDING", "GUARDRAIL"};
constexpr std::array<std::string_view, 4> kLevels = {"DEBUG", "DEFAULT", "WARNING", "ERROR"};

template <size_t N>
bool OneOf(const std::array<std::string_view, N>& allowed, std::string_view value) {
  for (std::string_view a : allowed) {
    if (a == value) return true;
  }
  return false;
}

std::optional<std::string> OptionalQuery(const http::Request& request, std::string_view name) {
  const std::string* value = request.QueryParam(name);
  return value != nullptr ? std::optional<std::string>(*value) : std::nullopt;
}

StatusOr<traces::ObservationListFilter> ParseFilter(const http::Request& request) {
  traces::ObservationListFilter f;
  f.name = OptionalQuery(request, "name");
  f.user_id = OptionalQuery(request, "userId");
  f.trace_id = OptionalQuery(request, "traceId");
  f.parent_observation_id = OptionalQuery(request, "parentObservationId");
  f.version = OptionalQuery(request, "version");
  f.type = OptionalQuery(request, "type");
  if (f.type && f.type->empty()) f.type.reset();
  if (f.type && !OneOf(kObservationTypes, *f.type)) {
    return Status::InvalidArgument(
        "Invalid request data: type must be one of GENERATION, SPAN, EVENT, AGENT, TOOL, CHAIN, RETRIEVER, "
        "EVALUATOR, EMBEDDING, GUARDRAIL");
  }
  f.level = OptionalQuery(request, "level");
  if (f.level && f.level->empty()) f.level.reset();
  if (f.level && !OneOf(kLevels, *f.level)) {
    return Status::InvalidArgument(
        "Invalid request data: level must be one of DEBUG, DEFAULT, WARNING, ERROR");
  }
  f.environments = public_query::ListParam(request, "environment");
  ASSIGN_OR_RETURN(f.from_start_time_ms, public_query::DateParam(request, "fromStartTime"));
  ASSIGN_OR_RETURN(f.to_start_time_ms, public_query::DateParam(request, "toStartTime"));
  return f;
}

std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

void RegisterObservationRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/api/public/observations", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    auto paging = traces::ParseListPaging(request.QueryParam("page"), request.QueryParam("limit"));
    if (!paging.ok()) return ErrorResponse(paging.status());
    auto filter = ParseFilter(request);
    if (!filter.ok()) return ErrorResponse(filter.status());
    if (const std::string* text = request.QueryParam("filter"); text != nullptr) {
      Json issues = Json::array();
      auto conditions = ParseFilterParam(*text, issues);
      if (!conditions.ok()) return ErrorResponse(conditions.status());
      if (!issues.empty()) return public_query::InvalidRequestData(std::move(issues));
      filter->conditions = std::move(conditions).value();
    }
    auto page = traces::ListObservations(context.traces.transport(), auth->project_id, *filter, *paging);
    if (!page.ok()) return ErrorResponse(page.status());

    Json data = Json::array();
    for (const traces::ObservationRecord& row : page->observations) data.push_back(ObservationView(row));
    const uint64_t total_pages = (page->total_items + paging->limit - 1) / paging->limit;
    Json body = {{"data", std::move(data)},
                 {"meta",
                  {{"page", paging->page},
                   {"limit", paging->limit},
                   {"totalItems", page->total_items},
                   {"totalPages", total_pages}}}};
    return http::Response::Json(200, Dump(body));
  });

  router.Add("GET", "/api/public/observations/{observationId}", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    auto found = context.traces.GetObservations(auth->project_id, {request.path_params["observationId"]});
    if (!found.ok()) return ErrorResponse(found.status());
    if (found->empty())
      return ErrorResponse(Status::NotFound("Observation not found within authorized project"));
    return http::Response::Json(200, Dump(ObservationView(found->front())));
  });
}

}  // namespace langfuse::api
