#include "app/application.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "api/api.h"
#include "auth/authenticator.h"
#include "auth/bootstrap.h"
#include "common/log.h"
#include "common/version.h"
#include "http/server.h"
#include "queue/event_queue.h"
#include "storage/meta/meta_store.h"
#include "storage/traces/trace_store.h"
#include "worker/ingestion_worker.h"

namespace langfuse::app {

struct Application::Impl {
  Config config;
  std::unique_ptr<meta::MetaStore> meta;
  std::unique_ptr<traces::TraceStore> traces;
  std::unique_ptr<queue::EventQueue> queue;
  std::unique_ptr<auth::ApiKeyAuthenticator> authenticator;
  int meta_migrations = 0;
  int trace_migrations = 0;
  std::atomic<bool> shutting_down{false};
};

Application::Application() : impl_(std::make_unique<Impl>()) {}

Application::~Application() {
  // Order matters: the queue and the tracing store go before chDB's engine is shut down, and
  // chDB is shut down before the process exits (its merge threads would otherwise race exit).
  impl_->authenticator.reset();
  impl_->queue.reset();
  impl_->traces.reset();
  traces::ShutdownChdb();
  impl_->meta.reset();
}

std::unique_ptr<Application> Application::Open(const Config& config) {
  std::unique_ptr<Application> app(new Application());
  Impl& s = *app->impl_;
  s.config = config;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) throw std::runtime_error("cannot create LANGFUSE_DATA_DIR " + config.data_dir + ": " + ec.message());

  auto meta = meta::OpenSqliteMetaStore(config.MetaDbPath());
  if (!meta.ok()) throw std::runtime_error("cannot open " + config.MetaDbPath() + ": " + meta.status().message());
  s.meta = std::move(meta).value();
  if (Status m = s.meta->Migrate(&s.meta_migrations); !m.ok()) {
    throw std::runtime_error("transactional store migration failed: " + m.message());
  }

  auto transport = traces::OpenChdbTransport(config.ClickHousePath());
  if (!transport.ok()) {
    throw std::runtime_error("cannot open the tracing store at " + config.ClickHousePath() + ": " +
                             transport.status().message());
  }
  s.traces = std::make_unique<traces::TraceStore>(std::move(transport).value());
  if (Status m = s.traces->Migrate(&s.trace_migrations); !m.ok()) {
    throw std::runtime_error("tracing store migration failed: " + m.message());
  }

  auto queue = queue::OpenLocalEventQueue(config.QueueDbPath());
  if (!queue.ok()) throw std::runtime_error("cannot open the queue: " + queue.status().message());
  s.queue = std::move(queue).value();

  auth::AuthenticatorOptions auth_options;
  auth_options.cache_ttl_seconds = config.api_key_cache_enabled ? config.api_key_cache_ttl_seconds : 0;
  s.authenticator = std::make_unique<auth::ApiKeyAuthenticator>(*s.meta, config.salt, auth_options);
  return app;
}

int Application::applied_meta_migrations() const { return impl_->meta_migrations; }
int Application::applied_trace_migrations() const { return impl_->trace_migrations; }

void Application::Initialize() {
  Impl& s = *impl_;
  const auth::InitOptions options = auth::InitOptionsFromEnv();
  if (Status st = auth::InitializeFromOptions(*s.meta, options, s.config.salt); !st.ok()) {
    throw std::runtime_error("LANGFUSE_INIT_* initialisation failed: " + st.message());
  }
  auto defaults = auth::CreateDefaultsIfEmpty(*s.meta, s.config.salt);
  if (!defaults.ok()) throw std::runtime_error("creating the default project failed: " + defaults.status().message());
  if (defaults->has_value()) {
    const auto& d = **defaults;
    // Printed once: only the hash of the secret is stored.
    std::printf(
        "\nCreated a default organisation and project with an API key (the secret is shown only now):\n"
        "  LANGFUSE_PUBLIC_KEY=%s\n  LANGFUSE_SECRET_KEY=%s\n  project id: %s\n\n",
        d.public_key.c_str(), d.secret_key.c_str(), d.project_id.c_str());
    std::fflush(stdout);
  }
  s.authenticator->Invalidate();
}

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int Application::Serve(Roles roles) {
  Impl& s = *impl_;
  http::Router router;
  api::ApiContext context{*s.meta, *s.traces, *s.queue, *s.authenticator, s.shutting_down};
  api::RegisterPublicApi(router, context);

  std::unique_ptr<worker::IngestionWorker> worker;
  if (roles.worker) {
    worker::IngestionWorkerOptions options;
    options.batch_size = s.config.write_batch_size;
    options.write_interval_ms = s.config.write_interval_ms;
    options.max_attempts = s.config.max_attempts;
    options.retry_backoff_ms = s.config.retry_backoff_ms;
    worker = std::make_unique<worker::IngestionWorker>(*s.queue, *s.traces, options);
    worker->Start();
  }

  http::ServerOptions server_options;
  server_options.bind_address = s.config.hostname;
  server_options.port = s.config.port;
  server_options.io_threads = s.config.http_io_threads;
  server_options.handler_threads = s.config.http_handler_threads;
  server_options.version = kVersion;
  http::Server server(server_options, router);
  server.Start();
  LOG_INFO("langfuse {} listening on {}:{} (data in {})", kVersion, s.config.hostname, server.port(), s.config.data_dir);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal_number = 0;
  sigwait(&set, &signal_number);
  LOG_INFO("received {}, shutting down: finishing in-flight requests", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  s.shutting_down = true;
  server.Stop();
  if (worker) {
    LOG_INFO("writing buffered events");
    worker->Stop();
  }
  LOG_INFO("stopped");
  return 0;
}

}  // namespace langfuse::app
