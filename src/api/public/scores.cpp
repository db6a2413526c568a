// Scores: POST /api/public/scores (Basic or Bearer pk), DELETE /api/public/scores/{scoreId}, and
// the reads GET /api/public/scores, /scores/{scoreId} (v1: trace-level scores) and
// GET /api/public/v2/scores, /v2/scores/{scoreId} (every score). A posted score travels the
// ingestion path as a score-create event, like Langfuse's; a score naming a config is checked
// against it before it is queued.
#include <simdjson.h>

#include <cmath>
#include <cstdlib>

#include <fmt/core.h>

#include "api/filter_param.h"
#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/public/query_params.h"
#include "api/request_auth.h"
#include "api/score_validation.h"
#include "common/ids.h"
#include "common/json_text.h"
#include "common/time.h"
#include "ingest/batch.h"
#include "storage/traces/observation_queries.h"

namespace langfuse::api {
namespace {

using traces::ScoreApiVersion;

std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

// ---- reading ------------------------------------------------------------------------------------

// A score as the v1 or v2 routes return it (Langfuse's APIScoreSchemaV1/V2): v1 has no session or
// dataset-run reference; TEXT scores have no `value`; CORRECTION scores show their text as
// stringValue; NUMERIC scores have stringValue null.
Json ScoreApiView(const traces::ScoreRecord& row, ScoreApiVersion version) {
  const Json base = ScoreView(row);
  Json j;
  for (const char* key : {"id", "projectId", "environment", "name"}) j[key] = base[key];
  if (row.data_type != "TEXT") j["value"] = row.value;
  for (const char* key : {"source", "authorUserId", "comment", "metadata", "configId", "queueId"})
    j[key] = base[key];
  j["executionTraceId"] = row.execution_trace_id ? Json(*row.execution_trace_id) : Json(nullptr);
  for (const char* key : {"createdAt", "updatedAt", "timestamp", "traceId", "observationId"})
    j[key] = base[key];
  if (version == ScoreApiVersion::kV2) {
    j["sessionId"] = base["sessionId"];
    j["datasetRunId"] = base["datasetRunId"];
  }
  if (row.data_type == "NUMERIC") {
    j["stringValue"] = nullptr;
  } else if (row.data_type == "CORRECTION") {
    j["stringValue"] = row.long_string_value;
  } else {
    j["stringValue"] = row.string_value ? Json(*row.string_value) : Json(nullptr);
  }
  j["dataType"] = row.data_type;
  return j;
}

Json TraceAttributesView(const traces::ScoreTraceAttributes& t, ScoreApiVersion version) {
  Json j = {{"userId", t.user_id ? Json(*t.user_id) : Json(nullptr)},
            {"tags", t.tags},
            {"environment", t.environment}};
  if (version == ScoreApiVersion::kV2) j["sessionId"] = t.session_id ? Json(*t.session_id) : Json(nullptr);
  return j;
}

std::optional<std::string> OptionalQuery(const http::Request& request, std::string_view name) {
  const std::string* value = request.QueryParam(name);
  return value != nullptr ? std::optional<std::string>(*value) : std::nullopt;
}

// Splits at commas; `trim` drops blanks around each item (Langfuse trims scoreIds and
// observationId, not environment or traceTags).
std::vector<std::string> SplitCommas(std::string_view text, bool trim) {
  std::vector<std::string> parts;
  while (true) {
    const size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    if (trim) {
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    }
    parts.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parts;
}

// An enum parameter: empty counts as absent (as Langfuse's nullish enums), others must match.
StatusOr<std::optional<std::string>> EnumQuery(const http::Request& request, std::string_view name,
                                               std::initializer_list<std::string_view> allowed) {
  auto value = OptionalQuery(request, name);
  if (!value || value->empty()) return std::optional<std::string>();
  for (std::string_view a : allowed) {
    if (a == *value) return value;
  }
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  return Status::InvalidArgument(fmt::format("Invalid request data: {} must be one of {}", name, list));
}

StatusOr<traces::ScoreListQuery> ParseListQuery(const http::Request& request, ScoreApiVersion version) {
  traces::ScoreListQuery q;
  q.version = version;
  ASSIGN_OR_RETURN(q.paging,
                   traces::ParseListPaging(request.QueryParam("page"), request.QueryParam("limit")));
  traces::ScoreListFilter& f = q.filter;
  f.name = OptionalQuery(request, "name");
  f.config_id = OptionalQuery(request, "configId");
  f.queue_id = OptionalQuery(request, "queueId");
  f.trace_user_id = OptionalQuery(request, "userId");
  f.trace_tags = public_query::ListParam(request, "traceTags");
  f.environments = public_query::ListParam(request, "environment");
  ASSIGN_OR_RETURN(f.source, EnumQuery(request, "source", {"API", "EVAL", "ANNOTATION"}));
  ASSIGN_OR_RETURN(f.data_type, EnumQuery(request, "dataType",
                                          {"NUMERIC", "CATEGORICAL", "BOOLEAN", "CORRECTION", "TEXT"}));
  ASSIGN_OR_RETURN(f.value_operator, EnumQuery(request, "operator", {"<", ">", "<=", ">=", "!=", "="}));
  ASSIGN_OR_RETURN(f.from_timestamp_ms, public_query::DateParam(request, "fromTimestamp"));
  ASSIGN_OR_RETURN(f.to_timestamp_ms, public_query::DateParam(request, "toTimestamp"));
  if (auto value = OptionalQuery(request, "value"); value && !value->empty()) {
    // JavaScript's Number(): the whole text must be a finite number.
    char* end = nullptr;
    const double number = std::strtod(value->c_str(), &end);
    if (end != value->c_str() + value->size() || !std::isfinite(number)) {
      return Status::InvalidArgument("Invalid request data: value must be a number");
    }
    f.value_operand = number;
  }
  if (auto ids = OptionalQuery(request, "scoreIds")) f.score_ids = SplitCommas(*ids, /*trim=*/true);

  if (version == ScoreApiVersion::kV2) {
    // v1 accepts these parameters too but Langfuse's v1 route ignores them.
    f.session_id = OptionalQuery(request, "sessionId");
    f.dataset_run_id = OptionalQuery(request, "datasetRunId");
    f.trace_id = OptionalQuery(request, "traceId");
    if (auto ids = OptionalQuery(request, "observationId"))
      f.observation_ids = SplitCommas(*ids, /*trim=*/true);

    // `fields`: comma list of score,trace (unknown names dropped); absent/empty = both.
    if (auto fields = OptionalQuery(request, "fields"); fields && !fields->empty()) {
      bool score = false;
      bool trace = false;
      for (const std::string& item : SplitCommas(*fields, /*trim=*/true)) {
        score = score || item == "score";
        trace = trace || item == "trace";
      }
      if (!score) return Status::InvalidArgument("Scores needs to be selected always.");
      q.include_trace = trace;
    }
    if (!q.include_trace && (f.trace_user_id || !f.trace_tags.empty())) {
      return Status::InvalidArgument(
          "Cannot filter by trace properties (userId, traceTags) when 'trace' field is not included. Please "
          "add "
          "'trace' to the fields parameter or remove trace filters.");
    }
  }
  return q;
}

http::Response ListScoresResponse(ApiContext& context, const http::Request& request,
                                  ScoreApiVersion version) {
  http::Response error;
  auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
  if (!auth) return error;
  auto query = ParseListQuery(request, version);
  if (!query.ok()) return ErrorResponse(query.status());
  if (const std::string* text = request.QueryParam("filter"); text != nullptr) {
    Json issues = Json::array();
    auto conditions = ParseFilterParam(*text, issues);
    if (!conditions.ok()) return ErrorResponse(conditions.status());
    if (!issues.empty()) return public_query::InvalidRequestData(std::move(issues));
    query->filter.conditions = std::move(conditions).value();
  }
  auto page = traces::ListScores(context.traces.transport(), auth->project_id, *query);
  if (!page.ok()) return ErrorResponse(page.status());

  Json data = Json::array();
  for (const traces::ScoreRecord& row : page->scores) {
    Json item = ScoreApiView(row, version);
    Json trace = nullptr;
    if (query->include_trace && row.trace_id) {
      auto it = page->traces.find(*row.trace_id);
      // Listed scores that name a trace have one (the query requires it); a trace deleted in
      // between shows as Langfuse's join default.
      trace = TraceAttributesView(it != page->traces.end() ? it->second : traces::ScoreTraceAttributes{},
                                  version);
    }
    item["trace"] = std::move(trace);
    data.push_back(std::move(item));
  }
  const uint64_t limit = query->paging.limit;
  Json body = {{"data", std::move(data)},
               {"meta",
                {{"page", query->paging.page},
                 {"limit", limit},
                 {"totalItems", page->total_items},
                 {"totalPages", (page->total_items + limit - 1) / limit}}}};
  return http::Response::Json(200, Dump(body));
}

http::Response GetScoreResponse(ApiContext& context, http::Request& request, ScoreApiVersion version) {
  http::Response error;
  auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
  if (!auth) return error;
  auto found = traces::GetScoreForApi(context.traces.transport(), auth->project_id,
                                      request.path_params["scoreId"], version);
  if (!found.ok()) return ErrorResponse(found.status());
  if (!found->has_value()) return ErrorResponse(Status::NotFound("Score not found"));
  return http::Response::Json(200, Dump(ScoreApiView(**found, version)));
}

// ---- writing ------------------------------------------------------------------------------------

// POST /scores takes only the sources an API client may set (Langfuse's
// PublicApiCreateScoreSourceDomain), then every check ingestion applies (api/score_validation.h);
// a score naming a config takes the config's name, data type and category value.
Status CheckPostedScore(ApiContext& context, const std::string& project_id, Json& body) {
  if (body.contains("source") && body["source"].is_string()) {
    const std::string source = body["source"].get<std::string>();
    if (source != "API" && source != "ANNOTATION") {
      return Status::InvalidArgument("Invalid request data: source must be one of API, ANNOTATION");
    }
  }
  auto inflation = ValidateScore(ScoreConfigCacheFor(context.meta), project_id, body);
  if (!inflation.ok()) return inflation.status();
  if (inflation->has_value()) {
    ApplyScoreInflation(**inflation, body);
  } else {
    body.erase(std::string(kCategoryValueField));
  }
  return Status::Ok();
}

}  // namespace

void RegisterScoreRoutes(http::Router& router, ApiContext& context) {
  router.Add("POST", "/api/public/scores", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProjectOrScores, error);
    if (!auth) return error;
    // Give the body an id when it has none, then wrap it as one ingestion event.
    Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      return http::Response::Error(400, "InvalidRequestError",
                                   "Invalid request data: expected a JSON object");
    }
    if (!body.contains("id") || !body["id"].is_string() || body["id"].get<std::string>().empty())
      body["id"] = NewUuidV4();
    const std::string id = body["id"].get<std::string>();
    Status checked = CheckPostedScore(context, auth->project_id, body);
    if (!checked.ok()) return ErrorResponse(checked);
    const std::string now = FormatIso8601Ms(NowMs());
    Json envelope = {
        {"batch", Json::array({Json{
                      {"id", NewUuidV4()}, {"timestamp", now}, {"type", "score-create"}, {"body", body}}})}};
    ingest::RequestParser parser;
    auto validation = ingest::ValidateBatch(parser.get(), envelope.dump(), ingest::EventScope{});
    if (!validation.ok()) return ErrorResponse(Status::InvalidArgument(validation.status().message()));
    if (!validation->errors.empty()) {
      return http::Response::Json(
          400, Json{{"message", "Invalid request data"}, {"error", validation->errors.front().second.error}}
                   .dump());
    }
    ingest::IngestionSource source;
    source.api_key_id = auth->api_key_id;
    const std::string payload =
        ingest::EncodeQueuePayload(auth->project_id, source, NowMs(), validation->accepted);
    Status queued = context.queue.Append({{payload, 1}});
    if (!queued.ok()) return ErrorResponse(queued);
    return http::Response::Json(200, Json{{"id", id}}.dump());
  });

  router.Add("GET", "/api/public/scores", [&context](http::Request& request) {
    return ListScoresResponse(context, request, ScoreApiVersion::kV1);
  });
  router.Add("GET", "/api/public/v2/scores", [&context](http::Request& request) {
    return ListScoresResponse(context, request, ScoreApiVersion::kV2);
  });
  router.Add("GET", "/api/public/scores/{scoreId}", [&context](http::Request& request) {
    return GetScoreResponse(context, request, ScoreApiVersion::kV1);
  });
  router.Add("GET", "/api/public/v2/scores/{scoreId}", [&context](http::Request& request) {
    return GetScoreResponse(context, request, ScoreApiVersion::kV2);
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
