#pragma once

// Route registration per resource; one file each. Internal to the api module.

#include "api/api.h"

namespace langfuse::api {

void RegisterHealthRoutes(http::Router& router, ApiContext& context);
void RegisterProjectRoutes(http::Router& router, ApiContext& context);
void RegisterIngestionRoutes(http::Router& router, ApiContext& context);
void RegisterTraceRoutes(http::Router& router, ApiContext& context);
void RegisterObservationRoutes(http::Router& router, ApiContext& context);
void RegisterScoreRoutes(http::Router& router, ApiContext& context);
void RegisterMetricsRoutes(http::Router& router, ApiContext& context);

}  // namespace langfuse::api
