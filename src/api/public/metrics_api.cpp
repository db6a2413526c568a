// GET /api/public/metrics/daily and GET /api/public/metrics (the v1 metrics query API).
#include <charconv>

#include <fmt/core.h>

#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/public/query_params.h"
#include "api/request_auth.h"
#include "common/time.h"
#include "storage/traces/metrics_queries.h"

namespace langfuse::api {
namespace {

constexpr int64_t kNoUpperBound = INT64_MAX / 1000;

// An integer query parameter within [lo, hi], `fallback` when absent or empty.
StatusOr<int64_t> IntParam(const http::Request& request, std::string_view name, int64_t fallback, int64_t lo,
                           int64_t hi) {
  const std::string* text = request.QueryParam(name);
  if (text == nullptr || text->empty()) return fallback;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < lo || value > hi) {
    return Status::InvalidArgument(
        hi == kNoUpperBound
            ? fmt::format("Invalid request data: {} must be an integer of at least {}", name, lo)
            : fmt::format("Invalid request data: {} must be an integer from {} to {}", name, lo, hi));
  }
  return value;
}

// A repeatable list parameter (one value split at commas); absent = no condition.
std::optional<std::vector<std::string>> ListParam(const http::Request& request, const char* name) {
  if (request.QueryParams(name).empty()) return std::nullopt;
  return public_query::ListParam(request, name);
}

StatusOr<std::optional<int64_t>> DateParam(const http::Request& request, std::string_view name) {
  const std::string* text = request.QueryParam(name);
  if (text == nullptr) return std::optional<int64_t>();
  const std::optional<int64_t> ms = ParseIso8601Ms(*text);
  if (!ms) {
    return Status::InvalidArgument(
        fmt::format("Invalid request data: {} must be an ISO 8601 date-time with a time zone offset", name));
  }
  return ms;
}

std::optional<std::string> OptionalParam(const http::Request& request, std::string_view name) {
  const std::string* text = request.QueryParam(name);
  if (text == nullptr) return std::nullopt;
  return *text;
}

http::Response DailyMetricsRoute(ApiContext& context, const std::string& project_id,
                                 const http::Request& request) {
  traces::DailyMetricsFilter filter;
  filter.project_id = project_id;
  auto page = IntParam(request, "page", 1, 1, kNoUpperBound);
  if (!page.ok()) return ErrorResponse(page.status());
  auto limit = IntParam(request, "limit", 50, 1, 100);
  if (!limit.ok()) return ErrorResponse(limit.status());
  auto from = DateParam(request, "fromTimestamp");
  if (!from.ok()) return ErrorResponse(from.status());
  auto to = DateParam(request, "toTimestamp");
  if (!to.ok()) return ErrorResponse(to.status());
  filter.page = *page;
  filter.limit = *limit;
  filter.from_ms = *from;
  filter.to_ms = *to;
  filter.trace_name = OptionalParam(request, "traceName");
  filter.user_id = OptionalParam(request, "userId");
  filter.tags = ListParam(request, "tags");
  filter.environments = ListParam(request, "environment");

  auto result = traces::QueryDailyMetrics(context.traces.transport(), filter);
  if (!result.ok()) return ErrorResponse(result.status());
  Json data = Json::array();
  for (const auto& day : result->days) {
    Json usage = Json::array();
    for (const auto& u : day.usage) {
      usage.push_back(Json{{"model", u.model ? Json(*u.model) : Json(nullptr)},
                           {"inputUsage", u.input_usage},
                           {"outputUsage", u.output_usage},
                           {"totalUsage", u.total_usage},
                           {"countObservations", u.count_observations},
                           {"countTraces", u.count_traces},
                           {"totalCost", u.total_cost}});
    }
    data.push_back(Json{{"date", day.date},
                        {"countTraces", day.count_traces},
                        {"countObservations", day.count_observations},
                        {"totalCost", day.total_cost},
                        {"usage", std::move(usage)}});
  }
  const int64_t total = result->total_items;
  Json meta = {{"page", filter.page},
               {"limit", filter.limit},
               {"totalItems", total},
               {"totalPages", (total + filter.limit - 1) / filter.limit}};
  return http::Response::Json(200, Json{{"data", std::move(data)}, {"meta", std::move(meta)}}.dump(
                                       -1, ' ', false, Json::error_handler_t::replace));
}

http::Response MetricsQueryRoute(ApiContext& context, const std::string& project_id,
                                 const http::Request& request) {
  const std::string* text = request.QueryParam("query");
  if (text == nullptr)
    return ErrorResponse(Status::InvalidArgument("Invalid request data: query is required"));
  auto query = traces::ParseMetricsQuery(*text);
  if (!query.ok()) return ErrorResponse(query.status());
  auto rows = traces::RunMetricsQuery(context.traces.transport(), *query, project_id);
  if (!rows.ok()) return ErrorResponse(rows.status());
  std::string body = "{\"data\":";
  body += *rows;
  body += '}';
  return http::Response::Json(200, std::move(body));
}

}  // namespace

void RegisterMetricsApiRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/api/public/metrics/daily", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    return DailyMetricsRoute(context, auth->project_id, request);
  });
  router.Add("GET", "/api/public/metrics", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    return MetricsQueryRoute(context, auth->project_id, request);
  });
}

}  // namespace langfuse::api
