// Traces: GET /api/public/traces (filtered, ordered, paged list), GET /api/public/traces/{traceId}
// (one trace with its observations and scores), DELETE /api/public/traces/{traceId} and
// DELETE /api/public/traces {traceIds}.
//
// Query validation answers as Langfuse's zod schemas do: 400 {"message":"Invalid request data",
// "error":[issues]} listing every bad parameter, with zod's issue codes and messages.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <future>
#include <map>
#include <set>

#include "api/filter_param.h"
#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/public/query_params.h"
#include "api/request_auth.h"
#include "common/time.h"
#include "storage/traces/trace_queries.h"

namespace langfuse::api {

namespace {

using public_query::InvalidRequestData;
using public_query::Issue;
using public_query::ListParam;
using public_query::MetaJson;
using public_query::ParsePagination;
using public_query::ParseTimestampParam;
using public_query::TraceJson;

constexpr size_t kMaxDeleteIds = 1000;

std::optional<std::string> OptionalParam(const http::Request& request, const char* name) {
  const std::string* text = request.QueryParam(name);
  return text != nullptr ? std::optional<std::string>(*text) : std::nullopt;
}

// The `fields` groups requested (comma list; unknown names ignored; none = all).
struct FieldGroups {
  bool io = true, scores = true, observations = true, metrics = true;
};

FieldGroups ParseFields(const http::Request& request) {
  std::set<std::string> requested;
  for (const std::string& value : request.QueryParams("fields")) {
    std::string_view rest = value;
    for (;;) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
      if (item == "core" || item == "io" || item == "scores" || item == "observations" || item == "metrics") {
        requested.emplace(item);
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  FieldGroups groups;
  if (requested.empty()) return groups;
  groups.io = requested.count("io") > 0;
  groups.scores = requested.count("scores") > 0;
  groups.observations = requested.count("observations") > 0;
  groups.metrics = requested.count("metrics") > 0;
  return groups;
}

http::Response ListTraces(ApiContext& context, http::Request& request) {
  http::Response error;
  auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
  if (!auth) return error;

  Json issues = Json::array();
  traces::TraceListQuery query;
  ParsePagination(request, query.page, query.limit, issues);
  traces::TraceListFilter& f = query.filter;
  f.user_id = OptionalParam(request, "userId");
  f.name = OptionalParam(request, "name");
  f.session_id = OptionalParam(request, "sessionId");
  f.version = OptionalParam(request, "version");
  f.release = OptionalParam(request, "release");
  f.tags = ListParam(request, "tags");
  f.environments = ListParam(request, "environment");
  f.from_timestamp_ms = ParseTimestampParam(request, "fromTimestamp", issues);
  f.to_timestamp_ms = ParseTimestampParam(request, "toTimestamp", issues);

  std::optional<std::string> order_column_name;
  if (const std::string* order_by = request.QueryParam("orderBy");
      order_by != nullptr && !order_by->empty()) {
    // "column.direction", the direction case-insensitive, as Langfuse splits it.
    const size_t dot = order_by->find('.');
    order_column_name = order_by->substr(0, dot);
    std::string direction;
    if (dot != std::string::npos) {
      direction = order_by->substr(dot + 1, order_by->find('.', dot + 1) - dot - 1);
      std::transform(direction.begin(), direction.end(), direction.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    }
    if (direction == "ASC" || direction == "DESC") {
      query.ascending = direction == "ASC";
    } else {
      Json issue =
          Issue("invalid_value", {"orderBy", "order"}, "Invalid option: expected one of \"ASC\"|\"DESC\"");
      issue["values"] = {"ASC", "DESC"};
      issues.push_back(std::move(issue));
    }
  }
  if (const std::string* text = request.QueryParam("filter"); text != nullptr) {
    // Unreadable JSON answers on its own (Langfuse throws while parsing the query); a wrong
    // shape joins the other parameters' issues.
    auto conditions = ParseFilterParam(*text, issues);
    if (!conditions.ok()) return ErrorResponse(conditions.status());
    f.conditions = std::move(conditions).value();
  }
  if (!issues.empty()) return InvalidRequestData(std::move(issues));
  if (order_column_name) {
    auto column = traces::TraceOrderColumnFromName(*order_column_name);
    if (!column)
      return ErrorResponse(Status::InvalidArgument("Invalid order by column: " + *order_column_name));
    query.order_column = *column;
  }
  const FieldGroups fields = ParseFields(request);
  query.include_io = fields.io;

  auto& transport = context.traces.transport();
  auto page = traces::ListTraces(transport, auth->project_id, query);
  if (!page.ok()) return ErrorResponse(page.status());
  std::vector<std::string> ids;
  ids.reserve(page->traces.size());
  std::optional<int64_t> earliest;
  for (const auto& t : page->traces) {
    ids.push_back(t.id);
    earliest = std::min(earliest.value_or(t.timestamp_ms), t.timestamp_ms);
  }
  // The score ids are read beside the observation stats.
  std::future<StatusOr<std::map<std::string, std::vector<std::string>>>> scores_of;
  if (fields.scores) {
    scores_of = std::async(std::launch::async,
                           [&] { return traces::ScoreIdsOfTraces(transport, auth->project_id, ids); });
  }
  std::map<std::string, traces::TraceObservationStats> observation_stats;
  if (fields.observations || fields.metrics) {
    auto stats = traces::ObservationStatsOfTraces(transport, auth->project_id, ids, earliest);
    if (!stats.ok()) return ErrorResponse(stats.status());
    observation_stats = std::move(stats).value();
  }
  std::map<std::string, std::vector<std::string>> score_ids;
  if (scores_of.valid()) {
    auto found = scores_of.get();
    if (!found.ok()) return ErrorResponse(found.status());
    score_ids = std::move(found).value();
  }

  Json data = Json::array();
  for (const auto& t : page->traces) {
    Json j = TraceJson(t);
    const auto stats = observation_stats.find(t.id);
    const bool has_stats = stats != observation_stats.end();
    j["htmlPath"] = TraceHtmlPath(auth->project_id, t.id);
    // Excluded groups keep their keys (SDK clients expect them): empty lists and -1 metrics.
    j["observations"] =
        fields.observations && has_stats ? Json(stats->second.observation_ids) : Json::array();
    const auto scores = score_ids.find(t.id);
    j["scores"] = fields.scores && scores != score_ids.end() ? Json(scores->second) : Json::array();
    j["totalCost"] = !fields.metrics ? Json(-1) : has_stats ? Json(stats->second.total_cost) : Json(0);
    j["latency"] = !fields.metrics ? Json(-1) : has_stats ? Json(stats->second.latency_seconds) : Json(0);
    data.push_back(std::move(j));
  }
  Json body = {{"data", std::move(data)}, {"meta", MetaJson(query.page, query.limit, page->total_items)}};
  return http::Response::Json(200, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

// As Langfuse's GET /traces/{traceId}, `fields` included: an omitted group reads as empty lists,
// -1 metrics or null input/output and {} metadata.
http::Response GetTrace(ApiContext& context, http::Request& request) {
  http::Response error;
  auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
  if (!auth) return error;
  const FieldGroups fields = ParseFields(request);
  const std::string& id = request.path_params["traceId"];
  auto& transport = context.traces.transport();
  const Status not_found = Status::NotFound("Trace " + id + " not found within authorized project");
  // The scores need nothing from the trace row, so they are read beside everything else; the
  // observations need the trace's timestamp only, so they are read beside the whole trace row.
  std::future<StatusOr<std::vector<traces::ScoreRecord>>> scores_of;
  if (fields.scores) {
    scores_of = std::async(std::launch::async,
                           [&] { return traces::ScoresOfTraceForApi(transport, auth->project_id, id); });
  }
  std::future<StatusOr<std::vector<traces::ObservationRecord>>> observations_of;
  if (fields.observations || fields.metrics) {
    auto timestamp = traces::TraceTimestampForApi(transport, auth->project_id, id);
    if (!timestamp.ok()) return ErrorResponse(timestamp.status());
    if (!timestamp->has_value()) return ErrorResponse(not_found);
    observations_of = std::async(std::launch::async, [&, from = **timestamp] {
      return traces::ObservationsOfTraceForApi(transport, auth->project_id, id, from);
    });
  }
  auto found = traces::GetTraceForApi(transport, auth->project_id, id);
  std::vector<traces::ObservationRecord> observations;
  if (observations_of.valid()) {
    auto read = observations_of.get();
    if (!read.ok()) return ErrorResponse(read.status());
    observations = std::move(read).value();
  }
  if (!found.ok()) return ErrorResponse(found.status());
  if (!found->has_value()) return ErrorResponse(not_found);
  traces::TraceRecord& trace = **found;
  std::vector<traces::ScoreRecord> scores;
  if (scores_of.valid()) {
    auto read = scores_of.get();
    if (!read.ok()) return ErrorResponse(read.status());
    scores = std::move(read).value();
  }

  if (!fields.io) {
    trace.input.reset();
    trace.output.reset();
    trace.metadata.clear();
  }
  Json j = TraceJson(trace);
  j["htmlPath"] = TraceHtmlPath(auth->project_id, trace.id);
  // Latency as Langfuse's handler computes it: the latest end minus the earliest start; without
  // any end, the latest start minus the earliest; 0 without observations.
  double total_cost = 0;
  std::optional<int64_t> first_start, last_start, last_end;
  for (const auto& o : observations) {
    total_cost += o.total_cost.value_or(0);
    first_start = std::min(first_start.value_or(o.start_time_ms), o.start_time_ms);
    last_start = std::max(last_start.value_or(o.start_time_ms), o.start_time_ms);
    if (o.end_time_ms) last_end = std::max(last_end.value_or(*o.end_time_ms), *o.end_time_ms);
  }
  double latency = 0;
  if (first_start) latency = static_cast<double>(last_end.value_or(*last_start) - *first_start) / 1000.0;
  j["latency"] = fields.metrics ? Json(latency) : Json(-1);
  j["totalCost"] = fields.metrics ? Json(total_cost) : Json(-1);
  Json observation_views = Json::array();
  if (fields.observations) {
    for (const auto& o : observations) observation_views.push_back(ObservationView(o));
  }
  j["observations"] = std::move(observation_views);
  Json score_views = Json::array();
  // The listable data types only, as Langfuse's getScoresForTraces (no CORRECTION scores).
  for (const auto& s : scores) score_views.push_back(ScoreView(s));
  j["scores"] = std::move(score_views);
  return http::Response::Json(200, j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

http::Response DeleteTrace(ApiContext& context, http::Request& request) {
  http::Response error;
  auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
  if (!auth) return error;
  // As Langfuse: 200 whether or not the id exists; only the key's project is touched.
  Status deleted =
      traces::DeleteTraces(context.traces.transport(), auth->project_id, {request.path_params["traceId"]});
  if (!deleted.ok()) return ErrorResponse(deleted);
  return http::Response::Json(200, R"({"message":"Trace deleted successfully"})");
}

// DELETE /traces body: a strict object {traceIds: string[1..1000]} (DeleteTracesV1Body).
http::Response DeleteTraces(ApiContext& context, http::Request& request) {
  http::Response error;
  auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
  if (!auth) return error;
  const Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  Json issues = Json::array();
  std::vector<std::string> ids;
  if (body.is_discarded() || !body.is_object()) {
    Json issue = Issue("invalid_type", Json::array(), "Invalid input: expected object");
    issue["expected"] = "object";
    issues.push_back(std::move(issue));
  } else {
    Json unknown = Json::array();
    for (const auto& [key, value] : body.items()) {
      if (key != "traceIds") unknown.push_back(key);
    }
    if (!unknown.empty()) {
      Json issue = Issue("unrecognized_keys", Json::array(),
                         unknown.size() == 1 ? "Unrecognized key: \"" + unknown[0].get<std::string>() + "\""
                                             : "Unrecognized keys: " + unknown.dump());
      issue["keys"] = unknown;
      issues.push_back(std::move(issue));
    }
    const auto it = body.find("traceIds");
    if (it == body.end() || !it->is_array()) {
      Json issue = Issue("invalid_type", {"traceIds"}, "Invalid input: expected array");
      issue["expected"] = "array";
      issues.push_back(std::move(issue));
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) {
          Json issue = Issue("invalid_type", {"traceIds", i}, "Invalid input: expected string");
          issue["expected"] = "string";
          issues.push_back(std::move(issue));
        } else {
          ids.push_back((*it)[i].get<std::string>());
        }
      }
      if (it->empty()) {
        Json issue = Issue("too_small", {"traceIds"}, "At least 1 traceId is required.");
        issue["origin"] = "array";
        issue["minimum"] = 1;
        issue["inclusive"] = true;
        issues.push_back(std::move(issue));
      } else if (it->size() > kMaxDeleteIds) {
        Json issue =
            Issue("too_big", {"traceIds"}, "Cannot specify more than 1000 traces in a single request.");
        issue["origin"] = "array";
        issue["maximum"] = kMaxDeleteIds;
        issue["inclusive"] = true;
        issues.push_back(std::move(issue));
      }
    }
  }
  if (!issues.empty()) return InvalidRequestData(std::move(issues));
  Status deleted = traces::DeleteTraces(context.traces.transport(), auth->project_id, ids);
  if (!deleted.ok()) return ErrorResponse(deleted);
  return http::Response::Json(200, R"({"message":"Traces deleted successfully"})");
}

}  // namespace

void RegisterTraceRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/api/public/traces",
             [&context](http::Request& request) { return ListTraces(context, request); });
  router.Add("DELETE", "/api/public/traces",
             [&context](http::Request& request) { return DeleteTraces(context, request); });
  router.Add("GET", "/api/public/traces/{traceId}",
             [&context](http::Request& request) { return GetTrace(context, request); });
  router.Add("DELETE", "/api/public/traces/{traceId}",
             [&context](http::Request& request) { return DeleteTrace(context, request); });
}

}  // namespace langfuse::api
