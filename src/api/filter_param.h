#pragma once

// The `filter` query parameter of the public list routes: a JSON array of Langfuse's filter
// conditions (singleFilter in packages/shared/src/interfaces/filters.ts, v3.225.4), parsed and
// validated as Langfuse's zod schema does:
//   - text that is not JSON: kInvalidArgument "Invalid JSON in filter parameter" (Langfuse's
//     InvalidRequestError, answered {"message":..., "error":"InvalidRequestError"});
//   - JSON of the wrong shape: zod issues (code, path ["filter", i, field], message, as zod 4
//     words them) appended to the route's issue list, answered as every other bad parameter:
//     {"message":"Invalid request data","error":[issues]}.
// Which columns exist and which filter types they take is the storage layer's catalogue
// (storage/traces/filter_sql.h). positionInTrace conditions are validated, then dropped, as
// Langfuse's query builder drops them.

#include <optional>
#include <string_view>
#include <vector>

#include "api/json_views.h"
#include "common/status.h"
#include "storage/traces/filter_sql.h"

namespace langfuse::api {

//! Parses the `filter` parameter's text. An empty text means no filter (an empty list). Shape
//! problems are appended to `issues` (then the returned list is meaningless).
StatusOr<std::vector<traces::FilterCondition>> ParseFilterParam(std::string_view text, Json& issues);

}  // namespace langfuse::api
