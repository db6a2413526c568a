// POST /api/public/otel/v1/traces (OTLP over HTTP) and /api/public/otel/v1/metrics.
#include "api/public/handlers.h"

namespace langfuse::api {

void RegisterOtelRoutes(http::Router&, ApiContext&) {}

}  // namespace langfuse::api
