#include "api/public/query_params.h"

#include <cmath>
#include <cstdlib>

#include "common/time.h"

namespace langfuse::api {

namespace public_query {

Json Issue(std::string_view code, Json path, std::string_view message) {
  Json issue = Json::object();
  issue["code"] = code;
  issue["path"] = std::move(path);
  issue["message"] = message;
  return issue;
}

http::Response InvalidRequestData(Json issues) {
  return http::Response::Json(400,
                              Json{{"message", "Invalid request data"}, {"error", std::move(issues)}}.dump(
                                  -1, ' ', false, Json::error_handler_t::replace));
}

// JS Number() over a query value: nullopt when it is not a number (NaN).
std::optional<double> JsNumber(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\n\r");
  if (begin == std::string::npos) return 0.0;
  const size_t end = text.find_last_not_of(" \t\n\r") + 1;
  const std::string trimmed = text.substr(begin, end - begin);
  if (trimmed == "Infinity" || trimmed == "+Infinity") return HUGE_VAL;
  if (trimmed == "-Infinity") return -HUGE_VAL;
  char* parsed_end = nullptr;
  const double value = std::strtod(trimmed.c_str(), &parsed_end);
  if (parsed_end != trimmed.c_str() + trimmed.size() || std::isnan(value) ||
      trimmed.find_first_of("iInN") != std::string::npos) {
    return std::nullopt;
  }
  return value;
}

// `page` (> 0, default 1) and `limit` (integer 1..100, default 50) as publicApiPaginationZod;
// a page must also be a whole number here (Langfuse would fail later on a fractional offset).
void ParsePagination(const http::Request& request, uint64_t& page, uint64_t& limit, Json& issues) {
  page = 1;
  limit = 50;
  if (const std::string* text = request.QueryParam("page"); text != nullptr && !text->empty()) {
    auto value = JsNumber(*text);
    if (!value) {
      issues.push_back(Issue("invalid_type", {"page"}, "Invalid input: expected number, received NaN"));
    } else if (*value <= 0) {
      Json issue = Issue("too_small", {"page"}, "Too small: expected number to be >0");
      issue["origin"] = "number";
      issue["minimum"] = 0;
      issue["inclusive"] = false;
      issues.push_back(std::move(issue));
    } else if (*value != std::floor(*value) || *value > 9007199254740991.0) {
      issues.push_back(Issue("invalid_type", {"page"}, "Invalid input: expected int, received number"));
    } else {
      page = static_cast<uint64_t>(*value);
    }
  }
  if (const std::string* text = request.QueryParam("limit"); text != nullptr && !text->empty()) {
    auto value = JsNumber(*text);
    if (!value) {
      issues.push_back(Issue("invalid_type", {"limit"}, "Invalid input: expected number, received NaN"));
    } else if (*value != std::floor(*value) || std::isinf(*value)) {
      issues.push_back(Issue("invalid_type", {"limit"}, "Invalid input: expected int, received number"));
    } else if (*value < 1) {
      Json issue = Issue("too_small", {"limit"}, "Too small: expected number to be >=1");
      issue["origin"] = "number";
      issue["minimum"] = 1;
      issue["inclusive"] = true;
      issues.push_back(std::move(issue));
    } else if (*value > 100) {
      Json issue = Issue("too_big", {"limit"}, "Too big: expected number to be <=100");
      issue["origin"] = "number";
      issue["maximum"] = 100;
      issue["inclusive"] = true;
      issues.push_back(std::move(issue));
    } else {
      limit = static_cast<uint64_t>(*value);
    }
  }
}

// An ISO-8601 date-time with `Z` or an offset (zod's iso.datetime({offset: true})).
std::optional<int64_t> ParseTimestampParam(const http::Request& request, const char* name, Json& issues) {
  const std::string* text = request.QueryParam(name);
  if (text == nullptr) return std::nullopt;
  auto ms = ParseIso8601Ms(*text);
  if (!ms) {
    Json issue = Issue("invalid_format", {name}, "Invalid ISO datetime");
    issue["origin"] = "string";
    issue["format"] = "datetime";
    issues.push_back(std::move(issue));
  }
  return ms;
}

StatusOr<std::optional<int64_t>> DateParam(const http::Request& request, std::string_view name) {
  const std::string* value = request.QueryParam(name);
  if (value == nullptr) return std::optional<int64_t>();
  auto ms = ParseIso8601Ms(*value);
  if (!ms) {
    return Status::InvalidArgument("Invalid request data: " + std::string(name) +
                                   " must be an ISO 8601 date-time with a time zone offset or Z");
  }
  return std::optional<int64_t>(*ms);
}

// A repeatable list parameter: repeated values as they are, one value split on commas (the legacy
// SDK sends arrays as "a,b"), as Langfuse's simple-filter conversion does.
std::vector<std::string> ListParam(const http::Request& request, const char* name) {
  std::vector<std::string> values = request.QueryParams(name);
  if (values.size() != 1) return values;
  std::vector<std::string> split;
  std::string_view rest = values.front();
  for (;;) {
    const size_t comma = rest.find(',');
    split.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return split;
}

Json MetaJson(uint64_t page, uint64_t limit, uint64_t total_items) {
  return Json{{"page", page},
              {"limit", limit},
              {"totalItems", total_items},
              {"totalPages", limit == 0 ? 0 : (total_items + limit - 1) / limit}};
}

// A trace as Langfuse returns it; empty input/output text reads as null there.
Json TraceJson(const traces::TraceRecord& row) {
  Json j = TraceView(row);
  if (row.input && row.input->empty()) j["input"] = nullptr;
  if (row.output && row.output->empty()) j["output"] = nullptr;
  return j;
}

}  // namespace public_query

}  // namespace langfuse::api
