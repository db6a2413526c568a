#include "api/api.h"

#include "api/public/handlers.h"

namespace langfuse::api {

void RegisterPublicApi(http::Router& router, ApiContext& context) {
  RegisterHealthRoutes(router, context);
  RegisterProjectRoutes(router, context);
  RegisterIngestionRoutes(router, context);
  RegisterTraceRoutes(router, context);
  RegisterObservationRoutes(router, context);
  RegisterScoreRoutes(router, context);
  RegisterSessionRoutes(router, context);
  RegisterScoreConfigRoutes(router, context);
  RegisterMetricsApiRoutes(router, context);
  RegisterOtelRoutes(router, context);
  RegisterPrometheusRoutes(router, context);
}

}  // namespace langfuse::api
