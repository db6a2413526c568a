#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "queue/event_queue.h"

namespace langfuse::meta {
class MetaStore;
}
namespace langfuse::traces {
class TraceStore;
}
namespace langfuse::auth {
class ApiKeyAuthenticator;
}

namespace langfuse::app {

//! Which roles a process runs.
struct Roles {
  bool web = true;
  bool worker = true;
};

//! One running langfuse process: its stores, the HTTP server (web role) and the queue consumers
//! (worker role), started and stopped in order. Not thread-safe: owned by main.
class Application {
 public:
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  //! Opens the stores under the configured data directory and applies pending migrations.
  //! Throws std::runtime_error with an operator-actionable message on failure (start-up only).
  static std::unique_ptr<Application> Open(const Config& config);

  //! Applies the headless initialisation (LANGFUSE_INIT_*) or, on an empty store, creates a
  //! default organisation, project and key pair and prints them once.
  void Initialize();
  //! Starts the roles, blocks until SIGTERM or SIGINT, then shuts down gracefully.
  int Serve(Roles roles);

  //! Migrations applied by Open (for `langfuse migrate`).
  int applied_meta_migrations() const;
  int applied_trace_migrations() const;

  //! The opened stores (for `langfuse import-v2`).
  meta::MetaStore& meta_store();
  traces::TraceStore& trace_store();
  //! The API key checker; its Invalidate() reaches the other processes in scale mode.
  auth::ApiKeyAuthenticator& authenticator();

 private:
  Application();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

//! The ingestion queue the configuration names: Redis Streams when Redis is configured, else the
//! local queue file in the data directory (created when missing).
StatusOr<std::unique_ptr<queue::EventQueue>> OpenConfiguredEventQueue(const Config& config);

//! Blocks SIGTERM/SIGINT in the calling thread (and every thread it starts afterwards) so that
//! Serve can wait for them synchronously. Call first thing in main.
void BlockShutdownSignals();

}  // namespace langfuse::app
