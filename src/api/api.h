#pragma once

#include <atomic>
#include <string>

#include "auth/authenticator.h"
#include "http/router.h"
#include "queue/event_queue.h"
#include "storage/meta/meta_store.h"
#include "storage/traces/trace_store.h"

namespace langfuse::api {

//! What the public API handlers need; owned by the application, outlives the router.
struct ApiContext {
  meta::MetaStore& meta;
  traces::TraceStore& traces;
  queue::EventQueue& queue;
  auth::ApiKeyAuthenticator& authenticator;
  std::atomic<bool>& shutting_down;  //!< /ready answers 500 once set
};

//! Registers every route under /api/public plus GET /metrics.
void RegisterPublicApi(http::Router& router, ApiContext& context);
//! What `langfuse worker` serves on its own port: GET /api/health, /api/ready and /metrics.
void RegisterWorkerRoutes(http::Router& router, ApiContext& context);

}  // namespace langfuse::api
