#pragma once

// Query-parameter validation of the public read API, answering as Langfuse's zod schemas do:
// 400 {"message":"Invalid request data","error":[issues]} listing every bad parameter.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json_views.h"
#include "common/status.h"
#include "http/http_types.h"

namespace langfuse::api::public_query {

//! One zod-style issue `{code, path, message}`.
Json Issue(std::string_view code, Json path, std::string_view message);
//! The 400 answer listing `issues`.
http::Response InvalidRequestData(Json issues);
//! JS Number() over a query value: nullopt when it is not a number.
std::optional<double> JsNumber(const std::string& text);
//! `page` (> 0, default 1) and `limit` (1..100, default 50); problems are appended to `issues`.
void ParsePagination(const http::Request& request, uint64_t& page, uint64_t& limit, Json& issues);
//! An ISO-8601 date-time with `Z` or an offset; nullopt when absent or invalid (then an issue).
std::optional<int64_t> ParseTimestampParam(const http::Request& request, const char* name, Json& issues);
//! An ISO-8601 date-time with offset as a Status: absent -> nullopt, malformed -> InvalidArgument.
StatusOr<std::optional<int64_t>> DateParam(const http::Request& request, std::string_view name);
//! A repeatable parameter; a single value is split on commas, as the legacy SDK sends arrays.
std::vector<std::string> ListParam(const http::Request& request, const char* name);
//! `{page, limit, totalItems, totalPages}`.
Json MetaJson(uint64_t page, uint64_t limit, uint64_t total_items);
//! A trace as the list and session routes return it (empty input/output text reads as null).
Json TraceJson(const traces::TraceRecord& row);

}  // namespace langfuse::api::public_query
