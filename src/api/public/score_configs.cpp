// /api/public/score-configs.
#include "api/public/handlers.h"

namespace langfuse::api {

void RegisterScoreConfigRoutes(http::Router&, ApiContext&) {}

}  // namespace langfuse::api
