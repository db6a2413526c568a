// The tracing pages' reads: GET /api/ui/projects/{projectId}/{traces, traces/filter-options,
// traces/{traceId}, traces/{traceId}/observations/{observationId}, sessions, sessions/{sessionId},
// users, scores, dashboard} (docs/ui-api.md, "Tracing data"). Every handler first checks the
// session and the caller's membership (VIEWER at least); every query parameter is validated
// before anything is read, a bad one answering 400 with a message naming it.
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include <fmt/core.h>

#include "api/filter_param.h"
#include "api/json_views.h"
#include "api/request_auth.h"
#include "common/time.h"
#include "storage/traces/observation_queries.h"
#include "storage/traces/ui_queries.h"
#include "ui_api/ui_api.h"

namespace langfuse::ui_api {
namespace {

using api::ErrorResponse;
using api::Json;

http::Response JsonResponse(const Json& body) {
  return http::Response::Json(200, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

Status Invalid(std::string message) { return Status::InvalidArgument(std::move(message)); }

Json OptString(const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); }
Json OptTime(const std::optional<int64_t>& ms) { return ms ? Json(FormatIso8601Ms(*ms)) : Json(nullptr); }

std::optional<std::string> Param(const http::Request& request, std::string_view name) {
  const std::string* v = request.QueryParam(name);
  if (v == nullptr) return std::nullopt;
  return *v;
}

// A whole number in [min, max]; absent or empty = `fallback`.
StatusOr<uint64_t> IntParam(const http::Request& request, std::string_view name, uint64_t fallback,
                            uint64_t min, uint64_t max) {
  auto text = Param(request, name);
  if (!text || text->empty()) return fallback;
  uint64_t value = 0;
  bool ok = text->size() <= 19;
  for (const char c : *text) ok = ok && c >= '0' && c <= '9';
  if (ok) value = std::strtoull(text->c_str(), nullptr, 10);
  if (!ok || value < min || value > max) {
    return Invalid(fmt::format("{} must be a whole number from {} to {}", name, min, max));
  }
  return value;
}

StatusOr<traces::UiPaging> Paging(const http::Request& request) {
  traces::UiPaging p;
  ASSIGN_OR_RETURN(p.page, IntParam(request, "page", 1, 1, 1'000'000'000));
  ASSIGN_OR_RETURN(p.limit, IntParam(request, "limit", 50, 1, 100));
  return p;
}

StatusOr<std::optional<int64_t>> TimeParam(const http::Request& request, std::string_view name) {
  auto text = Param(request, name);
  if (!text || text->empty()) return std::optional<int64_t>();
  auto ms = ParseIso8601Ms(*text);
  if (!ms)
    return Invalid(fmt::format("{} must be an ISO 8601 date-time, e.g. 2024-01-31T12:00:00.000Z", name));
  return std::optional<int64_t>(*ms);
}

// fromTimestamp, toTimestamp, search, searchType and (traces only) filter.
StatusOr<traces::UiListFilter> ListFilter(const http::Request& request, bool with_filter) {
  traces::UiListFilter f;
  ASSIGN_OR_RETURN(f.from_ms, TimeParam(request, "fromTimestamp"));
  ASSIGN_OR_RETURN(f.to_ms, TimeParam(request, "toTimestamp"));
  if (f.from_ms && f.to_ms && *f.from_ms > *f.to_ms) {
    return Invalid("fromTimestamp must not be after toTimestamp");
  }
  f.search = Param(request, "search").value_or("");
  if (f.search.size() > 1000) return Invalid("search must be at most 1000 characters");
  const std::string search_type = Param(request, "searchType").value_or("");
  if (!search_type.empty() && search_type != "id" && search_type != "content") {
    return Invalid("searchType must be one of id, content");
  }
  f.search_content = search_type == "content";
  if (with_filter) {
    if (auto text = Param(request, "filter"); text && !text->empty()) {
      Json issues = Json::array();
      ASSIGN_OR_RETURN(f.conditions, api::ParseFilterParam(*text, issues));
      if (!issues.empty()) {
        const Json& first = issues.front();
        std::string path;
        if (first.contains("path")) {
          for (const Json& part : first["path"]) {
            path += (path.empty() ? "" : ".") + (part.is_string() ? part.get<std::string>() : part.dump());
          }
        }
        return Invalid(fmt::format("Invalid filter: {}{}", path.empty() ? "" : path + ": ",
                                   first.value("message", std::string("invalid value"))));
      }
    }
  }
  return f;
}

// `orderBy` as `column` or `column.asc` / `column.desc` over the columns `parse` knows; absent or
// empty = the default. Anything else is 400 naming the parameter, the value and the choices.
template <typename Column, typename Parse>
Status OrderParam(const http::Request& request, Parse parse, std::string_view choices, Column& column,
                  bool& ascending) {
  auto order = Param(request, "orderBy");
  if (!order || order->empty()) return Status::Ok();
  const size_t dot = order->find('.');
  const std::string name = order->substr(0, dot);
  const std::string direction = dot == std::string::npos ? "desc" : order->substr(dot + 1);
  std::optional<Column> parsed = parse(name);
  if (!parsed || (direction != "asc" && direction != "desc")) {
    std::string shown = order->size() > 100 ? order->substr(0, 100) + "..." : *order;
    return Invalid(
        fmt::format("Invalid orderBy '{}': the column must be one of {}, optionally followed by .asc "
                    "or .desc",
                    shown, choices));
  }
  column = *parsed;
  ascending = direction == "asc";
  return Status::Ok();
}

Json MetaJson(const traces::UiPaging& p, uint64_t total) {
  return {{"page", p.page},
          {"limit", p.limit},
          {"totalItems", total},
          {"totalPages", p.limit == 0 ? 0 : (total + p.limit - 1) / p.limit}};
}

Json ScoreSummaryJson(const traces::UiScoreSummary& s) {
  return {{"name", s.name},
          {"value", s.value},
          {"stringValue", OptString(s.string_value)},
          {"dataType", s.data_type}};
}

Json LightObservationJson(const traces::ObservationRecord& o) {
  Json usage = Json::object();
  for (const auto& [k, v] : o.usage_details) usage[k] = v;
  Json cost = Json::object();
  for (const auto& [k, v] : o.cost_details) cost[k] = v;
  return {{"id", o.id},
          {"traceId", o.trace_id},
          {"parentObservationId", OptString(o.parent_observation_id)},
          {"type", o.type},
          {"name", o.name},
          {"startTime", FormatIso8601Ms(o.start_time_ms)},
          {"endTime", OptTime(o.end_time_ms)},
          {"completionStartTime", OptTime(o.completion_start_time_ms)},
          {"level", o.level},
          {"statusMessage", OptString(o.status_message)},
          {"model", OptString(o.provided_model_name)},
          {"usageDetails", std::move(usage)},
          {"costDetails", std::move(cost)},
          {"totalCost", o.total_cost ? Json(*o.total_cost) : Json(nullptr)},
          {"latency", o.end_time_ms ? Json(static_cast<double>(*o.end_time_ms - o.start_time_ms) / 1000.0)
                                    : Json(nullptr)}};
}

// A score as the public /v2/scores route shows it.
Json PublicScoreJson(const traces::ScoreRecord& row) {
  Json j = api::ScoreView(row);
  if (row.data_type == "TEXT") j.erase("value");
  if (row.data_type == "NUMERIC") j["stringValue"] = nullptr;
  if (row.data_type == "CORRECTION") j["stringValue"] = row.long_string_value;
  j["executionTraceId"] = OptString(row.execution_trace_id);
  return j;
}

class DataRoutes {
 public:
  DataRoutes(api::ApiContext& context, const Sessions& sessions) : context_(context), sessions_(sessions) {}

  // Runs `body(project_id)` after the access check; maps its Status to an error answer.
  template <typename Body>
  http::Response Handle(http::Request& request, Body body) {
    http::Response error;
    const std::string project_id = request.path_params["projectId"];
    auto access = RequireProjectAccess(sessions_, context_.meta, request, project_id, Role::kViewer, &error);
    if (!access.ok()) return error;
    StatusOr<Json> result = body(access->project_id);
    if (!result.ok()) return ErrorResponse(result.status());
    return JsonResponse(*result);
  }

  traces::ClickHouseTransport& transport() { return context_.traces.transport(); }

  StatusOr<Json> Traces(const http::Request& request, const std::string& project_id) {
    traces::UiTraceListQuery q;
    ASSIGN_OR_RETURN(q.paging, Paging(request));
    ASSIGN_OR_RETURN(q.filter, ListFilter(request, /*with_filter=*/true));
    RETURN_IF_ERROR(OrderParam(request, traces::UiTraceOrderFromName,
                               "timestamp, name, latency, totalCost, totalTokens", q.order, q.ascending));
    ASSIGN_OR_RETURN(traces::UiTraceListPage page, traces::ListUiTraces(transport(), project_id, q));
    Json data = Json::array();
    for (const auto& row : page.rows) {
      const traces::TraceRecord& t = row.trace;
      const traces::UiTraceAggregates& a = row.aggregates;
      Json scores = Json::array();
      for (const auto& s : row.scores) scores.push_back(ScoreSummaryJson(s));
      data.push_back({{"id", t.id},
                      {"timestamp", FormatIso8601Ms(t.timestamp_ms)},
                      {"name", t.name},
                      {"userId", OptString(t.user_id)},
                      {"sessionId", OptString(t.session_id)},
                      {"tags", t.tags},
                      {"environment", t.environment},
                      {"release", OptString(t.release)},
                      {"version", OptString(t.version)},
                      {"level", a.level},
                      {"latency", a.latency_seconds},
                      {"totalCost", a.total_cost},
                      {"inputTokens", a.input_tokens},
                      {"outputTokens", a.output_tokens},
                      {"totalTokens", a.total_tokens},
                      {"observationCount", a.observation_count},
                      {"scores", std::move(scores)}});
    }
    return Json{{"data", std::move(data)}, {"meta", MetaJson(q.paging, page.total_items)}};
  }

  StatusOr<Json> FilterOptions(const http::Request& request, const std::string& project_id) {
    ASSIGN_OR_RETURN(auto from, TimeParam(request, "fromTimestamp"));
    ASSIGN_OR_RETURN(auto to, TimeParam(request, "toTimestamp"));
    ASSIGN_OR_RETURN(auto options, traces::UiTraceFilterOptionsOf(transport(), project_id, from, to));
    return Json{{"names", options.names},
                {"tags", options.tags},
                {"environments", options.environments},
                {"users", options.users}};
  }

  StatusOr<Json> Trace(const http::Request& request, const std::string& project_id) {
    const std::string& trace_id = request.path_params.at("traceId");
    ASSIGN_OR_RETURN(auto detail, traces::GetUiTrace(transport(), project_id, trace_id));
    if (!detail) return Status::NotFound("Trace " + trace_id + " not found");
    Json trace = api::TraceView(detail->trace);
    double cost = 0;
    std::optional<int64_t> first, last;
    Json observations = Json::array();
    for (const auto& o : detail->observations) {
      cost += o.total_cost.value_or(0);
      const int64_t end = o.end_time_ms.value_or(o.start_time_ms);
      first = std::min(first.value_or(std::min(o.start_time_ms, end)), std::min(o.start_time_ms, end));
      last = std::max(last.value_or(std::max(o.start_time_ms, end)), std::max(o.start_time_ms, end));
      observations.push_back(LightObservationJson(o));
    }
    trace["latency"] = first ? static_cast<double>(*last - *first) / 1000.0 : 0.0;
    trace["totalCost"] = cost;
    Json scores = Json::array();
    for (const auto& s : detail->scores) scores.push_back(api::ScoreView(s));
    return Json{{"trace", std::move(trace)},
                {"observations", std::move(observations)},
                {"scores", std::move(scores)}};
  }

  StatusOr<Json> Observation(const http::Request& request, const std::string& project_id) {
    const std::string& trace_id = request.path_params.at("traceId");
    const std::string& id = request.path_params.at("observationId");
    ASSIGN_OR_RETURN(auto found, traces::GetUiObservation(transport(), project_id, trace_id, id));
    if (!found) return Status::NotFound("Observation " + id + " not found");
    return api::ObservationView(*found);
  }

  StatusOr<Json> SessionList(const http::Request& request, const std::string& project_id) {
    ASSIGN_OR_RETURN(traces::UiPaging paging, Paging(request));
    ASSIGN_OR_RETURN(traces::UiListFilter filter, ListFilter(request, /*with_filter=*/false));
    traces::UiGroupOrder<traces::UiSessionOrder> order;
    RETURN_IF_ERROR(OrderParam(request, traces::UiSessionOrderFromName,
                               "createdAt, lastTraceAt, traceCount, totalCost, totalTokens, id", order.column,
                               order.ascending));
    ASSIGN_OR_RETURN(auto page, traces::ListUiSessions(transport(), project_id, filter, paging, order));
    Json data = Json::array();
    for (const auto& s : page.rows) {
      data.push_back({{"id", s.id},
                      {"createdAt", FormatIso8601Ms(s.created_at_ms)},
                      {"lastTraceAt", FormatIso8601Ms(s.last_trace_at_ms)},
                      {"traceCount", s.trace_count},
                      {"userIds", s.user_ids},
                      {"totalCost", s.total_cost},
                      {"totalTokens", s.total_tokens}});
    }
    return Json{{"data", std::move(data)}, {"meta", MetaJson(paging, page.total_items)}};
  }

  StatusOr<Json> Session(const http::Request& request, const std::string& project_id) {
    const std::string& session_id = request.path_params.at("sessionId");
    ASSIGN_OR_RETURN(auto rows, traces::GetUiSession(transport(), project_id, session_id));
    if (rows.empty()) return Status::NotFound("Session " + session_id + " not found");
    Json traces = Json::array();
    for (const auto& r : rows) {
      traces.push_back({{"id", r.trace.id},
                        {"timestamp", FormatIso8601Ms(r.trace.timestamp_ms)},
                        {"name", r.trace.name},
                        {"userId", OptString(r.trace.user_id)},
                        {"input", api::ParseStoredJson(r.trace.input)},
                        {"output", api::ParseStoredJson(r.trace.output)},
                        {"latency", r.latency_seconds},
                        {"totalCost", r.total_cost}});
    }
    return Json{{"id", session_id}, {"traces", std::move(traces)}};
  }

  StatusOr<Json> Users(const http::Request& request, const std::string& project_id) {
    ASSIGN_OR_RETURN(traces::UiPaging paging, Paging(request));
    ASSIGN_OR_RETURN(traces::UiListFilter filter, ListFilter(request, /*with_filter=*/false));
    traces::UiGroupOrder<traces::UiUserOrder> order;
    RETURN_IF_ERROR(
        OrderParam(request, traces::UiUserOrderFromName,
                   "lastTrace, firstTrace, traceCount, observationCount, totalTokens, totalCost, userId",
                   order.column, order.ascending));
    ASSIGN_OR_RETURN(auto page, traces::ListUiUsers(transport(), project_id, filter, paging, order));
    Json data = Json::array();
    for (const auto& u : page.rows) {
      data.push_back({{"userId", u.user_id},
                      {"traceCount", u.trace_count},
                      {"observationCount", u.observation_count},
                      {"totalTokens", u.total_tokens},
                      {"totalCost", u.total_cost},
                      {"firstTrace", FormatIso8601Ms(u.first_trace_ms)},
                      {"lastTrace", FormatIso8601Ms(u.last_trace_ms)}});
    }
    return Json{{"data", std::move(data)}, {"meta", MetaJson(paging, page.total_items)}};
  }

  StatusOr<Json> Scores(const http::Request& request, const std::string& project_id) {
    traces::ScoreListQuery q;
    q.version = traces::ScoreApiVersion::kV2;
    q.include_trace = false;
    ASSIGN_OR_RETURN(traces::UiPaging paging, Paging(request));
    q.paging.page = paging.page;
    q.paging.limit = paging.limit;
    traces::ScoreListFilter& f = q.filter;
    auto non_empty = [&](std::string_view name) {
      auto v = Param(request, name);
      return v && !v->empty() ? v : std::nullopt;
    };
    f.name = non_empty("name");
    f.trace_id = non_empty("traceId");
    f.session_id = non_empty("sessionId");
    f.config_id = non_empty("configId");
    f.trace_user_id = non_empty("userId");
    if (auto env = non_empty("environment")) f.environments = {*env};
    auto one_of = [&](std::string_view name, std::initializer_list<std::string_view> allowed,
                      std::optional<std::string>& out) -> Status {
      auto v = non_empty(name);
      if (!v) return Status::Ok();
      for (std::string_view a : allowed) {
        if (a == *v) {
          out = *v;
          return Status::Ok();
        }
      }
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Invalid(fmt::format("{} must be one of {}", name, list));
    };
    RETURN_IF_ERROR(one_of("source", {"API", "EVAL", "ANNOTATION"}, f.source));
    RETURN_IF_ERROR(
        one_of("dataType", {"NUMERIC", "CATEGORICAL", "BOOLEAN", "CORRECTION", "TEXT"}, f.data_type));
    ASSIGN_OR_RETURN(f.from_timestamp_ms, TimeParam(request, "fromTimestamp"));
    ASSIGN_OR_RETURN(f.to_timestamp_ms, TimeParam(request, "toTimestamp"));
    if (auto text = non_empty("filter")) {
      Json issues = Json::array();
      ASSIGN_OR_RETURN(f.conditions, api::ParseFilterParam(*text, issues));
      if (!issues.empty()) {
        return Invalid("Invalid filter: " + issues.front().value("message", std::string("invalid value")));
      }
    }
    ASSIGN_OR_RETURN(traces::ScoreListPage page, traces::ListScores(transport(), project_id, q));
    std::set<std::string> trace_ids;
    for (const auto& s : page.scores) {
      if (s.trace_id) trace_ids.insert(*s.trace_id);
    }
    ASSIGN_OR_RETURN(auto names,
                     traces::TraceNamesOf(transport(), project_id,
                                          std::vector<std::string>(trace_ids.begin(), trace_ids.end())));
    Json data = Json::array();
    for (const auto& s : page.scores) {
      Json j = PublicScoreJson(s);
      const auto it = s.trace_id ? names.find(*s.trace_id) : names.end();
      j["traceName"] = it != names.end() ? Json(it->second) : Json(nullptr);
      data.push_back(std::move(j));
    }
    return Json{{"data", std::move(data)}, {"meta", MetaJson(paging, page.total_items)}};
  }

  StatusOr<Json> Dashboard(const http::Request& request, const std::string& project_id) {
    ASSIGN_OR_RETURN(auto from, TimeParam(request, "fromTimestamp"));
    ASSIGN_OR_RETURN(auto to, TimeParam(request, "toTimestamp"));
    if (!from) return Invalid("fromTimestamp is required");
    if (!to) return Invalid("toTimestamp is required");
    if (*from >= *to) return Invalid("fromTimestamp must be before toTimestamp");
    ASSIGN_OR_RETURN(traces::UiDashboard d, traces::QueryUiDashboard(transport(), project_id, *from, *to));
    auto counts = [](const std::vector<traces::UiDashboard::TimeCount>& v) {
      Json out = Json::array();
      for (const auto& b : v) out.push_back({{"time", b.time}, {"count", b.count}});
      return out;
    };
    Json cost = Json::array();
    for (const auto& c : d.cost_by_model) {
      cost.push_back(
          {{"time", c.time}, {"model", c.model.empty() ? Json(nullptr) : Json(c.model)}, {"cost", c.cost}});
    }
    Json latency = Json::array();
    for (const auto& l : d.latency_by_name) {
      latency.push_back(
          {{"name", l.name}, {"p50", l.p50}, {"p90", l.p90}, {"p99", l.p99}, {"count", l.count}});
    }
    Json scores = Json::array();
    for (const auto& s : d.scores) {
      scores.push_back({{"name", s.name},
                        {"dataType", s.data_type},
                        {"avg", s.avg ? Json(*s.avg) : Json(nullptr)},
                        {"count", s.count}});
    }
    return Json{
        {"granularity", d.granularity},
        {"tracesOverTime", counts(d.traces_over_time)},
        {"observationsOverTime", counts(d.observations_over_time)},
        {"costByModel", std::move(cost)},
        {"latencyByName", std::move(latency)},
        {"scores", std::move(scores)},
        {"totals",
         {{"traces", d.total_traces}, {"observations", d.total_observations}, {"totalCost", d.total_cost}}}};
  }

 private:
  api::ApiContext& context_;
  const Sessions& sessions_;
};

}  // namespace

void RegisterDataRoutes(http::Router& router, api::ApiContext& context, const Sessions& sessions) {
  // Lives as long as the router (built once at start-up).
  auto routes = std::make_shared<DataRoutes>(context, sessions);
  const std::string base = "/api/ui/projects/{projectId}";
  using Method = StatusOr<Json> (DataRoutes::*)(const http::Request&, const std::string&);
  auto add = [&](const std::string& path, Method method) {
    router.Add("GET", base + path, [routes, method](http::Request& request) {
      return routes->Handle(
          request, [&](const std::string& project_id) { return ((*routes).*method)(request, project_id); });
    });
  };
  add("/traces", &DataRoutes::Traces);
  add("/traces/filter-options", &DataRoutes::FilterOptions);
  add("/traces/{traceId}", &DataRoutes::Trace);
  add("/traces/{traceId}/observations/{observationId}", &DataRoutes::Observation);
  add("/sessions", &DataRoutes::SessionList);
  add("/sessions/{sessionId}", &DataRoutes::Session);
  add("/users", &DataRoutes::Users);
  add("/scores", &DataRoutes::Scores);
  add("/dashboard", &DataRoutes::Dashboard);
}

}  // namespace langfuse::ui_api
