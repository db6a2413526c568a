// GET /api/public/metrics/daily and GET /api/public/metrics (the v1 metrics query API).
#include "api/public/handlers.h"

namespace langfuse::api {

void RegisterMetricsApiRoutes(http::Router&, ApiContext&) {}

}  // namespace langfuse::api
