// What `langfuse worker` serves on LANGFUSE_WORKER_PORT, as Langfuse's worker does on 3030:
// GET /api/health, /api/ready and the Prometheus /metrics. Not part of the public API.
#include "api/api.h"
#include "api/public/handlers.h"

namespace langfuse::api {

void RegisterWorkerRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/api/health", [&context](http::Request&) { return HealthResponse(context); });
  router.Add("GET", "/api/ready", [&context](http::Request&) { return ReadyResponse(context); });
  RegisterPrometheusRoutes(router, context);
}

}  // namespace langfuse::api
