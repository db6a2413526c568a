#pragma once

// Route registration per resource; one file each. Internal to the api module.

#include "api/api.h"

namespace langfuse::api {

void RegisterHealthRoutes(http::Router& router, ApiContext& context);
//! The answers of the health routes: 200 when every store answers, 503 naming the one that
//! does not; ready is 500 once shutting down.
http::Response HealthResponse(ApiContext& context);
http::Response ReadyResponse(ApiContext& context);
void RegisterProjectRoutes(http::Router& router, ApiContext& context);
void RegisterIngestionRoutes(http::Router& router, ApiContext& context);
void RegisterTraceRoutes(http::Router& router, ApiContext& context);
void RegisterObservationRoutes(http::Router& router, ApiContext& context);
void RegisterScoreRoutes(http::Router& router, ApiContext& context);
void RegisterSessionRoutes(http::Router& router, ApiContext& context);
void RegisterScoreConfigRoutes(http::Router& router, ApiContext& context);
void RegisterMetricsApiRoutes(http::Router& router, ApiContext& context);
void RegisterOtelRoutes(http::Router& router, ApiContext& context);
void RegisterPrometheusRoutes(http::Router& router, ApiContext& context);

}  // namespace langfuse::api
