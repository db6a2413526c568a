#include "app/application.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "api/api.h"
#include "auth/authenticator.h"
#include "auth/bootstrap.h"
#include "auth/redis_key_revocations.h"
#include "common/log.h"
#include "common/version.h"
#include "config/config.h"
#include "http/server.h"
#include "import_v2/import_v2.h"
#include "otel_grpc/otlp_grpc_server.h"
#include "queue/event_queue.h"
#include "queue/redis_options.h"
#include "storage/meta/meta_store.h"
#include "storage/traces/clickhouse_transport.h"
#include "storage/traces/trace_store.h"
#include "ui_api/session.h"
#include "ui_api/static_files.h"
#include "ui_api/ui_api.h"
#include "worker/ingestion_worker.h"

namespace langfuse::app {

StatusOr<std::unique_ptr<queue::EventQueue>> OpenConfiguredEventQueue(const Config& config) {
  if (!config.redis_configured) return queue::OpenLocalEventQueue(config.QueueDbPath());
  auto redis = queue::RedisOptionsFromEnv(GetEnv);
  if (!redis.ok()) return Status::InvalidArgument("Redis settings: " + redis.status().message());
  auto options = queue::RedisQueueOptionsFromEnv(GetEnv);
  if (!options.ok()) return Status::InvalidArgument("queue settings: " + options.status().message());
  return queue::OpenRedisEventQueue(**redis, *options);
}

struct Application::Impl {
  Config config;
  std::unique_ptr<meta::MetaStore> meta;
  std::unique_ptr<traces::TraceStore> traces;
  std::unique_ptr<queue::EventQueue> queue;
  std::unique_ptr<auth::ApiKeyAuthenticator> authenticator;
  //! Scale mode (Redis configured): API key revocations to and from the other processes.
  std::unique_ptr<auth::RedisKeyRevocations> key_revocations;
  int meta_migrations = 0;
  int trace_migrations = 0;
  std::atomic<bool> shutting_down{false};
  bool embedded_traces = false;    // chDB in this process (ShutdownChdb at exit)
  std::string store_description;   // for the start-up log line
};

Application::Application() : impl_(std::make_unique<Impl>()) {}

Application::~Application() {
  // Order matters: the queue and the tracing store go before chDB's engine is shut down, and
  // chDB is shut down before the process exits (its merge threads would otherwise race exit).
  impl_->key_revocations.reset();  // its subscriber uses the authenticator
  impl_->authenticator.reset();
  impl_->queue.reset();
  impl_->traces.reset();
  if (impl_->embedded_traces) traces::ShutdownChdb();
  impl_->meta.reset();
}

std::unique_ptr<Application> Application::Open(const Config& config) {
  std::unique_ptr<Application> app(new Application());
  Impl& s = *app->impl_;
  s.config = config;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) throw std::runtime_error("cannot create LANGFUSE_DATA_DIR " + config.data_dir + ": " + ec.message());

  const bool postgres = !config.database_url.empty();
  if (postgres && config.database_url.rfind("postgres", 0) != 0) {
    throw std::runtime_error("DATABASE_URL must be a postgresql:// URL (unset it for the embedded SQLite store)");
  }
  auto meta = postgres ? meta::OpenPostgresMetaStore(config.database_url) : meta::OpenSqliteMetaStore(config.MetaDbPath());
  if (!meta.ok()) {
    throw std::runtime_error("cannot open the transactional store (" +
                             std::string(postgres ? "DATABASE_URL" : config.MetaDbPath()) + "): " + meta.status().message());
  }
  s.meta = std::move(meta).value();
  if (Status m = s.meta->Migrate(&s.meta_migrations); !m.ok()) {
    throw std::runtime_error("transactional store migration failed: " + m.message());
  }

  s.embedded_traces = config.clickhouse_url.empty();
  StatusOr<std::unique_ptr<traces::ClickHouseTransport>> transport = Status::Internal("no transport");
  traces::SchemaTarget schema_target;
  if (s.embedded_traces) {
    transport = traces::OpenChdbTransport(config.ClickHousePath());
  } else {
    auto options = traces::HttpTransportOptionsFromEnv(GetEnv);
    if (!options.ok()) throw std::runtime_error("ClickHouse settings: " + options.status().message());
    transport = traces::OpenHttpTransport(**options);
    // CLICKHOUSE_CLUSTER_ENABLED (Langfuse's default: true) with CLICKHOUSE_CLUSTER_NAME
    // (default "default") renders the migrations ON CLUSTER with replicated engines.
    const auto enabled = GetEnv("CLICKHOUSE_CLUSTER_ENABLED");
    if (!enabled || (*enabled != "false" && *enabled != "0")) {
      const auto name = GetEnv("CLICKHOUSE_CLUSTER_NAME");
      schema_target.cluster = name && !name->empty() ? *name : "default";
    }
  }
  if (!transport.ok()) {
    throw std::runtime_error("cannot open the tracing store (" +
                             (s.embedded_traces ? config.ClickHousePath() : config.clickhouse_url) +
                             "): " + transport.status().message());
  }
  s.traces = std::make_unique<traces::TraceStore>(std::move(transport).value(), schema_target);
  if (Status m = s.traces->Migrate(&s.trace_migrations); !m.ok()) {
    throw std::runtime_error("tracing store migration failed: " + m.message());
  }

  auto queue = OpenConfiguredEventQueue(config);
  if (!queue.ok()) throw std::runtime_error("cannot open the queue: " + queue.status().message());
  s.queue = std::move(queue).value();
  s.store_description = std::string(postgres ? "Postgres" : "SQLite in " + config.data_dir) + ", " +
                        (s.embedded_traces ? "chDB" : "ClickHouse at " + config.clickhouse_url) + ", " +
                        (config.redis_configured ? "Redis queue" : "local queue");

  auth::AuthenticatorOptions auth_options;
  auth_options.cache_ttl_seconds = config.api_key_cache_enabled ? config.api_key_cache_ttl_seconds : 0;
  s.authenticator = std::make_unique<auth::ApiKeyAuthenticator>(*s.meta, config.salt, auth_options);
  if (config.redis_configured) {
    // Every process publishes the revocations it makes; web processes also subscribe (Serve), so
    // that a key revoked through one stops working in all of them at once.
    auto redis = queue::RedisOptionsFromEnv(GetEnv);
    if (!redis.ok() || !redis->has_value()) {
      throw std::runtime_error("Redis settings: " +
                               (redis.ok() ? std::string("not configured") : redis.status().message()));
    }
    auto revocations = auth::RedisKeyRevocations::Open(**redis);
    if (!revocations.ok()) throw std::runtime_error("API key revocations: " + revocations.status().message());
    s.key_revocations = std::move(revocations).value();
    s.authenticator->SetRevocationPublisher(
        [channel = s.key_revocations.get()](const auth::KeyRevocation& revocation) {
          channel->Publish(revocation);
        });
  }
  return app;
}

int Application::applied_meta_migrations() const { return impl_->meta_migrations; }
int Application::applied_trace_migrations() const { return impl_->trace_migrations; }
meta::MetaStore& Application::meta_store() { return *impl_->meta; }
traces::TraceStore& Application::trace_store() { return *impl_->traces; }
auth::ApiKeyAuthenticator& Application::authenticator() { return *impl_->authenticator; }

namespace {

// The web UI's settings. Several web processes must share NEXTAUTH_SECRET (a cookie signed by one
// is checked by another), so only the embedded single process may fall back to a secret of its own
// kept in the data directory.
ui_api::UiOptions WebUiOptions(const Config& config) {
  ui_api::UiOptions options;
  options.session_secret = config.nextauth_secret;
  if (options.session_secret.empty()) {
    const bool scale = !config.database_url.empty() || !config.clickhouse_url.empty() || config.redis_configured;
    if (scale) {
      throw std::runtime_error(
          "NEXTAUTH_SECRET is required with external stores (DATABASE_URL, CLICKHOUSE_URL or Redis): every web "
          "process must sign the UI's session cookies with the same secret, e.g. NEXTAUTH_SECRET=$(openssl rand "
          "-base64 32)");
    }
    auto secret = ui_api::LoadOrCreateSessionSecret(config.SessionSecretPath());
    if (!secret.ok()) throw std::runtime_error(secret.status().message());
    options.session_secret = *secret;
  }
  options.session_max_age_minutes = config.auth_session_max_age_minutes;
  options.signup_disabled = config.auth_disable_signup;
  options.secure_cookies = config.nextauth_url.rfind("https:", 0) == 0;
  options.ui_dir = config.ui_dir;
  options.api_key_salt = config.salt;
  return options;
}

}  // namespace

void Application::Initialize() {
  Impl& s = *impl_;
  // Before anything is created: a web process that cannot serve the UI must not initialise (and
  // print a default key nobody would see).
  (void)WebUiOptions(s.config);
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
  if (!(roles.web && roles.worker) && s.embedded_traces) {
    // chDB is in-process: one process owns the embedded store, so the roles cannot be split.
    throw std::runtime_error(
        "`langfuse web` and `langfuse worker` need a ClickHouse server (CLICKHOUSE_URL); with the embedded "
        "store run both roles in one process: `langfuse server`");
  }
  // The web UI's sessions, declared before the router whose handlers use them.
  std::optional<ui_api::Sessions> ui_sessions;
  http::Router router;
  api::ApiContext context{*s.meta, *s.traces, *s.queue, *s.authenticator, s.shutting_down};
  // The web role serves the public API; a worker on its own serves only health and metrics,
  // on its own port as Langfuse's worker does.
  if (roles.web) {
    api::RegisterPublicApi(router, context);
    const ui_api::UiOptions ui_options = WebUiOptions(s.config);
    ui_sessions.emplace(ui_options);
    ui_api::RegisterAccountRoutes(router, context, *ui_sessions, ui_options);
    ui_api::RegisterDataRoutes(router, context, *ui_sessions);
    if (ui_api::RegisterStaticFiles(router, ui_options.ui_dir)) {
      LOG_INFO("serving the web UI from {}", ui_options.ui_dir);
    } else {
      LOG_INFO("no web UI files (LANGFUSE_UI_DIR '{}' is not a directory); the /api/ui routes still answer",
               ui_options.ui_dir);
    }
    if (s.key_revocations) s.key_revocations->Subscribe(*s.authenticator);
  } else {
    api::RegisterWorkerRoutes(router, context);
  }

  // In-process chDB has no other writer: the ids of its rows can be kept here, and the worker's
  // lookups of stored rows skip the ids certainly new (most of them) instead of reading the
  // store, whose cost grows with the rows stored. Before the worker and the v2 import insert.
  if (roles.worker && s.embedded_traces) s.traces->TrackKnownIds();

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
  // LANGFUSE_IMPORT_V2_FROM: the worker role copies a Langfuse v2 database in the background
  // (resumable; in scale mode the import lease lets one worker at a time run it).
  std::unique_ptr<import_v2::BackgroundImport> v2_import;
  if (const auto from = GetEnv("LANGFUSE_IMPORT_V2_FROM"); roles.worker && from && !from->empty()) {
    import_v2::ImportOptions import_options;
    import_options.source_url = *from;
    // A v2 key used before its row was imported is cached as unknown; forget that here and, in
    // scale mode, in every web process (Invalidate publishes the revocation over Redis).
    import_options.on_keys_imported = [authenticator = s.authenticator.get()] { authenticator->Invalidate(); };
    v2_import = std::make_unique<import_v2::BackgroundImport>(import_options, *s.meta, *s.traces);
    v2_import->Start();
  }

  http::ServerOptions server_options;
  server_options.bind_address = s.config.hostname;
  server_options.port = roles.web ? s.config.port : s.config.worker_port;
  server_options.io_threads = s.config.http_io_threads;
  server_options.handler_threads = s.config.http_handler_threads;
  server_options.version = kVersion;
  http::Server server(server_options, router);
  server.Start();
  LOG_INFO("langfuse {} ({}) listening on {}:{} ({})", kVersion,
           roles.web && roles.worker ? "web + worker" : roles.web ? "web" : "worker", s.config.hostname,
           server.port(), s.store_description);
  std::unique_ptr<otel_grpc::OtlpGrpcServer> otlp_grpc;
  if (roles.web && s.config.otlp_grpc_port) {
    otel_grpc::OtlpGrpcServerOptions grpc_options;
    grpc_options.bind_address = s.config.hostname;
    grpc_options.port = *s.config.otlp_grpc_port;
    otlp_grpc = std::make_unique<otel_grpc::OtlpGrpcServer>(grpc_options, *s.queue, *s.authenticator);
    otlp_grpc->Start();
    LOG_INFO("OTLP/gRPC trace receiver listening on {}:{}", s.config.hostname, otlp_grpc->port());
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal_number = 0;
  sigwait(&set, &signal_number);
  LOG_INFO("received {}, shutting down: finishing in-flight requests", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  s.shutting_down = true;
  server.Stop();
  if (otlp_grpc) otlp_grpc->Stop();
  if (s.key_revocations) s.key_revocations->Stop();
  if (v2_import) v2_import->Stop();
  if (worker) {
    LOG_INFO("writing buffered events");
    worker->Stop();
  }
  LOG_INFO("stopped");
  return 0;
}

}  // namespace langfuse::app
