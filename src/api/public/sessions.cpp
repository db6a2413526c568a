// GET /api/public/sessions and /api/public/sessions/{sessionId}.
#include "api/public/handlers.h"

namespace langfuse::api {

void RegisterSessionRoutes(http::Router&, ApiContext&) {}

}  // namespace langfuse::api
