// /api/public/score-configs: POST (create), GET (paged list), GET /{configId}, PATCH /{configId}.
// Configs live in the transactional store; validation follows Langfuse's zod schemas
// (web/src/features/public-api/types/score-configs.ts, packages/shared/src/domain/score-configs.ts).
#include <fmt/core.h>

#include <limits>
#include <set>

#include "api/json_views.h"
#include "api/public/handlers.h"
#include "api/request_auth.h"
#include "api/score_validation.h"
#include "common/ids.h"
#include "common/time.h"
#include "storage/traces/observation_queries.h"

namespace langfuse::api {
namespace {

constexpr size_t kNameMaxLength = 35;
constexpr std::string_view kCategoriesShape =
    "Category must be an array of objects with label value pairs, where labels and values are unique.";

std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The zod-style 400 Langfuse answers for a body that does not match the schema.
http::Response InvalidBody(const std::vector<std::pair<std::string, std::string>>& issues) {
  Json list = Json::array();
  for (const auto& [path, message] : issues) {
    Json issue = {{"code", "custom"}, {"message", message}, {"path", Json::array()}};
    if (!path.empty()) issue["path"].push_back(path);
    list.push_back(std::move(issue));
  }
  return http::Response::Json(400,
                              Dump(Json{{"message", "Invalid request data"}, {"error", std::move(list)}}));
}

Json ConfigView(const meta::ScoreConfig& c) {
  auto number = [](const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); };
  Json j;
  j["id"] = c.id;
  j["projectId"] = c.project_id;
  j["name"] = c.name;
  j["description"] = c.description ? Json(*c.description) : Json(nullptr);
  j["createdAt"] = FormatIso8601Ms(c.created_at_ms);
  j["updatedAt"] = FormatIso8601Ms(c.updated_at_ms);
  j["isArchived"] = c.is_archived;
  j["maxValue"] = number(c.max_value);
  j["minValue"] = number(c.min_value);
  j["dataType"] = c.data_type;
  j["categories"] = ParseStoredJson(c.categories);
  return j;
}

// Langfuse's ScoreConfigNameSchema: 1..35 characters of letters, digits, `_`, space, `.`, `(`,
// `)`, `-`. Letters and digits are Unicode classes there; here any non-ASCII character passes.
std::optional<std::string> NameProblem(const Json& name) {
  if (!name.is_string()) return "name must be a string";
  const std::string& text = name.get_ref<const std::string&>();
  size_t characters = 0;
  for (unsigned char ch : text) {
    if ((ch & 0xC0) != 0x80) ++characters;  // count code points, not UTF-8 continuation bytes
    const bool ascii_ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                          ch == '_' || ch == ' ' || ch == '.' || ch == '(' || ch == ')' || ch == '-';
    if (ch < 0x80 && !ascii_ok) return "Name contains invalid characters";
  }
  if (characters < 1) return "name must contain at least 1 character";
  if (characters > kNameMaxLength) return "name must contain at most 35 characters";
  return std::nullopt;
}

bool IsAbsent(const Json& body, const char* key) { return !body.contains(key); }
bool IsNullish(const Json& body, const char* key) { return !body.contains(key) || body[key].is_null(); }

// Categories as Langfuse accepts them: [{label: non-empty string, value: number}], labels and
// values unique. Returns the normalised JSON text ({label, value} only) or the problem.
struct CategoriesResult {
  std::optional<std::string> json;
  std::optional<std::string> problem;
};
CategoriesResult CheckCategories(const Json& categories) {
  if (!categories.is_array()) return {std::nullopt, std::string(kCategoriesShape)};
  Json normalised = Json::array();
  std::set<std::string> labels;
  std::set<double> values;
  for (const Json& c : categories) {
    if (!c.is_object() || !c.contains("label") || !c["label"].is_string() ||
        c["label"].get<std::string>().empty() || !c.contains("value") || !c["value"].is_number()) {
      return {std::nullopt, std::string(kCategoriesShape)};
    }
    const std::string label = c["label"].get<std::string>();
    const double value = c["value"].get<double>();
    if (!labels.insert(label).second) {
      return {std::nullopt,
              fmt::format("Duplicate category label: {}, category labels must be unique", label)};
    }
    if (!values.insert(value).second) {
      return {std::nullopt,
              fmt::format("Duplicate category value: {}, category values must be unique", value)};
    }
    normalised.push_back(Json{{"label", label}, {"value", c["value"]}});
  }
  return {normalised.dump(), std::nullopt};
}

std::string BooleanCategories() { return R"([{"label":"True","value":1},{"label":"False","value":0}])"; }

// Checks a stored-shape config (after a PATCH merged into it) as Langfuse's ScoreConfigSchema.
std::vector<std::string> ConfigProblems(const meta::ScoreConfig& c) {
  std::vector<std::string> problems;
  if (c.data_type == "NUMERIC") {
    if (c.categories) problems.push_back("categories cannot be set for a NUMERIC config");
    if (c.min_value && c.max_value && *c.max_value <= *c.min_value) {
      problems.push_back("Maximum value must be greater than Minimum value");
    }
  } else if (c.data_type == "CATEGORICAL" || c.data_type == "TEXT") {
    if (c.min_value || c.max_value)
      problems.push_back("minValue and maxValue cannot be set for a " + c.data_type + " config");
    if (c.data_type == "TEXT" && c.categories)
      problems.push_back("categories cannot be set for a TEXT config");
    if (c.data_type == "CATEGORICAL") {
      const Json categories = ParseStoredJson(c.categories);
      if (auto checked = CheckCategories(categories); checked.problem) problems.push_back(*checked.problem);
    }
  } else if (c.data_type == "BOOLEAN") {
    if (ParseStoredJson(c.categories) != Json::parse(BooleanCategories())) {
      problems.push_back("Boolean data type must have exactly 2 categories: True (1) and False (0).");
    }
  }
  return problems;
}

std::optional<double> OptionalNumber(const Json& body, const char* key) {
  if (IsNullish(body, key)) return std::nullopt;
  return body[key].get<double>();
}

http::Response Create(ApiContext& context, const std::string& project_id, const std::string& request_body) {
  Json body = Json::parse(request_body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return InvalidBody({{"", "Expected a JSON object"}});

  const std::string data_type =
      body.contains("dataType") && body["dataType"].is_string() ? body["dataType"].get<std::string>() : "";
  if (data_type != "NUMERIC" && data_type != "CATEGORICAL" && data_type != "BOOLEAN" && data_type != "TEXT") {
    return InvalidBody(
        {{"dataType",
          "Invalid discriminator value. Expected 'NUMERIC' | 'CATEGORICAL' | 'BOOLEAN' | 'TEXT'"}});
  }
  std::vector<std::pair<std::string, std::string>> issues;
  if (!body.contains("name")) {
    issues.emplace_back("name", "Required");
  } else if (auto problem = NameProblem(body["name"])) {
    issues.emplace_back("name", *problem);
  }
  if (!IsNullish(body, "description") && !body["description"].is_string()) {
    issues.emplace_back("description",
                        "Expected string, received " + std::string(body["description"].type_name()));
  }
  const bool ranged = data_type == "NUMERIC";
  for (const char* key : {"minValue", "maxValue"}) {
    if (IsNullish(body, key) || data_type == "BOOLEAN") continue;  // BOOLEAN bodies drop them
    if (!ranged) {
      issues.emplace_back(key, fmt::format("{} cannot be set for a {} config", key, data_type));
    } else if (!body[key].is_number()) {
      issues.emplace_back(key, "Expected number, received " + std::string(body[key].type_name()));
    }
  }
  meta::ScoreConfig config;
  if (data_type == "CATEGORICAL") {
    if (!body.contains("categories")) {
      issues.emplace_back("categories", std::string(kCategoriesShape));
    } else if (auto checked = CheckCategories(body["categories"]); checked.problem) {
      issues.emplace_back("categories", *checked.problem);
    } else {
      config.categories = checked.json;
    }
  } else if (data_type == "NUMERIC" ? !IsNullish(body, "categories") : !IsAbsent(body, "categories")) {
    // NUMERIC tolerates `categories: null`; BOOLEAN and TEXT want no categories key at all
    // (BOOLEAN's are generated).
    issues.emplace_back("categories", fmt::format("categories cannot be set for a {} config", data_type));
  }
  if (issues.empty() && ranged) {
    const auto min = OptionalNumber(body, "minValue");
    const auto max = OptionalNumber(body, "maxValue");
    if (min && max && *max <= *min)
      issues.emplace_back("", "Maximum value must be greater than Minimum value");
  }
  if (!issues.empty()) return InvalidBody(issues);

  config.id = NewUuidV4();
  config.project_id = project_id;
  config.name = body["name"].get<std::string>();
  config.data_type = data_type;
  if (ranged) {
    config.min_value = OptionalNumber(body, "minValue");
    config.max_value = OptionalNumber(body, "maxValue");
  }
  if (data_type == "BOOLEAN") config.categories = BooleanCategories();
  if (!IsNullish(body, "description")) config.description = body["description"].get<std::string>();
  config.created_at_ms = NowMs();
  config.updated_at_ms = config.created_at_ms;
  Status created = context.meta.CreateScoreConfig(config);
  if (!created.ok()) return ErrorResponse(created);
  return http::Response::Json(200, Dump(ConfigView(config)));
}

http::Response Update(ApiContext& context, const std::string& project_id, const std::string& id,
                      const std::string& request_body) {
  Json body = Json::parse(request_body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return InvalidBody({{"", "Expected a JSON object"}});

  // Every field is optional but not nullable; unknown keys are dropped before the emptiness check.
  std::vector<std::pair<std::string, std::string>> issues;
  bool any = false;
  auto expect = [&](const char* key, bool ok, const char* type) {
    if (!body.contains(key)) return false;
    any = true;
    if (!ok) issues.emplace_back(key, fmt::format("Expected {}, received {}", type, body[key].type_name()));
    return ok;
  };
  expect("isArchived", body.contains("isArchived") && body["isArchived"].is_boolean(), "boolean");
  if (expect("name", body.contains("name") && body["name"].is_string(), "string")) {
    if (auto problem = NameProblem(body["name"])) issues.emplace_back("name", *problem);
  }
  expect("minValue", body.contains("minValue") && body["minValue"].is_number(), "number");
  expect("maxValue", body.contains("maxValue") && body["maxValue"].is_number(), "number");
  expect("description", body.contains("description") && body["description"].is_string(), "string");
  std::optional<std::string> categories;
  if (body.contains("categories")) {
    any = true;
    auto checked = CheckCategories(body["categories"]);
    if (checked.problem) {
      issues.emplace_back("categories", *checked.problem);
    } else {
      categories = checked.json;
    }
  }
  if (!any)
    issues.emplace_back("", "Request body cannot be empty. At least one field must be provided for update.");
  if (!issues.empty()) return InvalidBody(issues);

  auto found = context.meta.GetScoreConfig(project_id, id);
  if (!found.ok()) return ErrorResponse(found.status());
  if (!found->has_value())
    return ErrorResponse(Status::NotFound("Score config not found within authorized project"));
  meta::ScoreConfig config = std::move(**found);
  if (body.contains("isArchived")) config.is_archived = body["isArchived"].get<bool>();
  if (body.contains("name")) config.name = body["name"].get<std::string>();
  if (body.contains("minValue")) config.min_value = body["minValue"].get<double>();
  if (body.contains("maxValue")) config.max_value = body["maxValue"].get<double>();
  if (body.contains("description")) config.description = body["description"].get<std::string>();
  if (categories) config.categories = categories;
  const std::vector<std::string> problems = ConfigProblems(config);
  if (!problems.empty()) {
    std::string joined;
    for (const std::string& p : problems) joined += (joined.empty() ? "" : ", ") + p;
    return ErrorResponse(Status::InvalidArgument(joined));
  }
  config.updated_at_ms = NowMs();
  Status updated = context.meta.UpdateScoreConfig(config);
  // Scores posted from now on are checked against the new version (this process at once,
  // others within the cache's lifetime).
  ScoreConfigCacheFor(context.meta).Invalidate(project_id, config.id);
  if (!updated.ok()) return ErrorResponse(updated);
  return http::Response::Json(200, Dump(ConfigView(config)));
}

}  // namespace

void RegisterScoreConfigRoutes(http::Router& router, ApiContext& context) {
  router.Add("POST", "/api/public/score-configs", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    return Create(context, auth->project_id, request.body);
  });

  router.Add("GET", "/api/public/score-configs", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    auto paging = traces::ParseListPaging(request.QueryParam("page"), request.QueryParam("limit"));
    if (!paging.ok()) return ErrorResponse(paging.status());
    auto total = context.meta.CountScoreConfigs(auth->project_id);
    if (!total.ok()) return ErrorResponse(total.status());
    // Page numbers beyond any offset SQLite can take simply read nothing.
    const uint64_t max_page = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / paging->limit;
    std::vector<meta::ScoreConfig> configs;
    if (paging->page <= max_page) {
      auto listed = context.meta.ListScoreConfigs(auth->project_id, static_cast<int64_t>(paging->limit),
                                                  static_cast<int64_t>((paging->page - 1) * paging->limit));
      if (!listed.ok()) return ErrorResponse(listed.status());
      configs = std::move(listed).value();
    }
    Json data = Json::array();
    for (const meta::ScoreConfig& c : configs) data.push_back(ConfigView(c));
    const uint64_t total_items = static_cast<uint64_t>(*total);
    Json body = {{"data", std::move(data)},
                 {"meta",
                  {{"page", paging->page},
                   {"limit", paging->limit},
                   {"totalItems", total_items},
                   {"totalPages", (total_items + paging->limit - 1) / paging->limit}}}};
    return http::Response::Json(200, Dump(body));
  });

  router.Add("GET", "/api/public/score-configs/{configId}", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    auto found = context.meta.GetScoreConfig(auth->project_id, request.path_params["configId"]);
    if (!found.ok()) return ErrorResponse(found.status());
    if (!found->has_value())
      return ErrorResponse(Status::NotFound("Score config not found within authorized project"));
    return http::Response::Json(200, Dump(ConfigView(**found)));
  });

  router.Add("PATCH", "/api/public/score-configs/{configId}", [&context](http::Request& request) {
    http::Response error;
    auto auth = AuthenticateRequest(context, request, KeyAccess::kProject, error);
    if (!auth) return error;
    return Update(context, auth->project_id, request.path_params["configId"], request.body);
  });
}

}  // namespace langfuse::api
