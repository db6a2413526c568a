// GET /api/public/health and /api/public/ready: unauthenticated, for load balancers and
// orchestrators (the worker serves the same answers on its own port, api/worker_routes.cpp).
#include "api/json_views.h"
#include "api/public/handlers.h"
#include "common/version.h"

namespace langfuse::api {

http::Response HealthResponse(ApiContext& context) {
  // Every store must answer; a health check that only says "the process runs" hides outages.
  for (Status s : {context.meta.Ping(), context.traces.Ping()}) {
    if (!s.ok()) {
      return http::Response::Json(503, Json{{"status", "Database not available: " + s.message()},
                                            {"version", kVersion}}.dump());
    }
  }
  if (auto stats = context.queue.Stats(); !stats.ok()) {
    return http::Response::Json(503, Json{{"status", "Queue not available: " + stats.status().message()},
                                          {"version", kVersion}}.dump());
  }
  return http::Response::Json(200, Json{{"status", "OK"}, {"version", kVersion}}.dump());
}

http::Response ReadyResponse(ApiContext& context) {
  if (context.shutting_down.load()) {
    return http::Response::Json(500, Json{{"status", "Server is shutting down"}, {"version", kVersion}}.dump());
  }
  return http::Response::Json(200, Json{{"status", "OK"}, {"version", kVersion}}.dump());
}

void RegisterHealthRoutes(http::Router& router, ApiContext& context) {
  router.Add("GET", "/api/public/health", [&context](http::Request&) { return HealthResponse(context); });
  router.Add("GET", "/api/public/ready", [&context](http::Request&) { return ReadyResponse(context); });
}

}  // namespace langfuse::api
