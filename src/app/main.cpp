// The `langfuse` binary: subcommand dispatch only.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "app/application.h"
#include "app/dlq_command.h"
#include "app/import_v2_command.h"
#include "common/log.h"
#include "common/malloc_tuning.h"
#include "common/version.h"
#include "config/config.h"
#include "storage/traces/migrations.h"
#include "storage/traces/trace_store.h"

namespace {

constexpr const char* kUsage = R"(Usage: langfuse <command> [options]

An LLM observability server compatible with Langfuse's API and SDKs.

Commands:
  server     Run the web and worker roles in one process (the default)
  web        Run only the web role (public API); scale mode (CLICKHOUSE_URL set)
  worker     Run only the worker role (ingestion); scale mode (CLICKHOUSE_URL set)
  migrate    Apply pending migrations of the transactional and tracing stores, then exit
  dlq        List or replay events in the dead-letter store
  import-v2  Copy a Langfuse v2 database (PostgreSQL) into this instance
  version    Print the version

Run `langfuse <command> --help` for a command's options. Configuration comes from the
environment (Langfuse's variable names): PORT, HOSTNAME, LANGFUSE_DATA_DIR, SALT, LANGFUSE_OTLP_GRPC_PORT,
LANGFUSE_INIT_*, LANGFUSE_INGESTION_CLICKHOUSE_WRITE_BATCH_SIZE, ... (see README.md).
)";

constexpr const char* kServerHelp = R"(Usage: langfuse server

Runs the public API (web role) and the ingestion worker in one process on the embedded stores
under LANGFUSE_DATA_DIR (default ./data): SQLite for transactional data, chDB for tracing data,
and a durable local queue. Listens on PORT (default 3000). Stops gracefully on SIGTERM/SIGINT:
stops accepting, finishes in-flight requests, writes buffered events, closes the stores.
)";

constexpr const char* kWebHelp = R"(Usage: langfuse web

Runs the web role alone: the public API on PORT (default 3000) and the OTLP/gRPC receiver on
LANGFUSE_OTLP_GRPC_PORT. Accepted events go to the queue for the workers. Needs the scale-mode
stores, chosen by Langfuse's variables: DATABASE_URL (Postgres), CLICKHOUSE_URL (ClickHouse over
HTTP) and REDIS_CONNECTION_STRING or REDIS_HOST (Redis). Run any number of web processes.
)";

constexpr const char* kWorkerHelp = R"(Usage: langfuse worker

Runs the worker role alone: reads the queue, merges events and writes them to ClickHouse.
Serves GET /api/health, /api/ready and /metrics on LANGFUSE_WORKER_PORT (default 3030). Needs
the scale-mode stores (see `langfuse web --help`). Run any number of workers: they share the
Redis queue's consumer group, and a dead worker's unacknowledged entries are taken over.
)";

constexpr const char* kMigrateHelp = R"(Usage: langfuse migrate [--sort-observations-by-trace]

Applies the numbered migrations of the transactional store (LANGFUSE_DATA_DIR/langfuse.db) and
the tracing store (LANGFUSE_DATA_DIR/clickhouse) that are not applied yet, prints how many ran,
and exits. `langfuse server` does the same at start; running it twice applies nothing.

  --sort-observations-by-trace
      Then rewrites an observations table sorted otherwise (as Langfuse or an earlier version
      of this server created it) into one sorted by day, type and trace, as this server creates
      it now: a trace's observations are then read from a few granules instead of every granule
      of their day. Copies every row and merges the copy: about two minutes per ten million
      observations on two cores, and room for a second copy on disk. Stop every server and
      worker writing to the store first: rows written during the copy would be lost. Not for a
      ClickHouse cluster. Does nothing on a table sorted so already, and can be run again after
      an interruption.
)";

constexpr const char* kVersionHelp = "Usage: langfuse version\n\nPrints the version.\n";

bool WantsHelp(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

langfuse::LogLevel ParseLevel(const std::string& level) {
  if (level == "debug" || level == "trace") return langfuse::LogLevel::kDebug;
  if (level == "warn") return langfuse::LogLevel::kWarn;
  if (level == "error" || level == "fatal") return langfuse::LogLevel::kError;
  return langfuse::LogLevel::kInfo;
}

// `langfuse migrate --sort-observations-by-trace`, after the migrations.
int SortObservations(langfuse::traces::TraceStore& store) {
  if (!store.schema_target().cluster.empty()) {
    std::fprintf(stderr, "langfuse migrate: --sort-observations-by-trace is not for a ClickHouse cluster "
                         "(CLICKHOUSE_CLUSTER_ENABLED)\n");
    return 2;
  }
  std::printf("observations: sorting by trace...\n");
  std::fflush(stdout);
  auto sorted = langfuse::traces::SortObservationsByTrace(store.transport());
  if (!sorted.ok()) {
    std::fprintf(stderr, "langfuse migrate: %s\n", sorted.status().message().c_str());
    return 1;
  }
  std::printf(*sorted ? "observations: sorted by trace\n" : "observations: already sorted by trace\n");
  return 0;
}

int Run(const std::string& command, const std::vector<std::string>& args) {
  using langfuse::app::Application;
  if (command == "version") {
    if (WantsHelp(args)) return std::fputs(kVersionHelp, stdout), 0;
    std::printf("langfuse %s\n", langfuse::kVersion);
    return 0;
  }
  if (command == "dlq") return langfuse::app::RunDlqCommand(args);
  if (command == "import-v2") return langfuse::app::RunImportV2Command(args);
  if (command != "server" && command != "migrate" && command != "web" && command != "worker") {
    std::fprintf(stderr, "langfuse: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return 2;
  }
  if (WantsHelp(args)) {
    std::fputs(command == "server"   ? kServerHelp
               : command == "web"    ? kWebHelp
               : command == "worker" ? kWorkerHelp
                                     : kMigrateHelp,
               stdout);
    return 0;
  }
  bool sort_observations = false;
  for (const std::string& arg : args) {
    if (command == "migrate" && arg == "--sort-observations-by-trace" && !sort_observations) {
      sort_observations = true;
      continue;
    }
    std::fprintf(stderr, "langfuse %s: unexpected argument '%s' (see --help)\n", command.c_str(),
                 arg.c_str());
    return 2;
  }
  const langfuse::Config config = langfuse::LoadConfig();
  langfuse::SetLogLevel(ParseLevel(config.log_level));
  if (config.salt.empty()) {
    LOG_WARN("SALT is not set: API keys are hashed with an empty salt; set SALT in production");
  }
  langfuse::app::BlockShutdownSignals();
  auto app = Application::Open(config);
  if (command == "migrate") {
    std::printf("transactional store: %d migration(s) applied\ntracing store: %d migration(s) applied\n",
                app->applied_meta_migrations(), app->applied_trace_migrations());
    if (sort_observations) return SortObservations(app->trace_store());
    return 0;
  }
  langfuse::app::Roles roles;
  roles.web = command != "worker";
  roles.worker = command != "web";
  if (roles.web) app->Initialize();  // headless initialisation: once per deployment, by a web process
  return app->Serve(roles);
}

}  // namespace

int main(int argc, char** argv) {
  langfuse::TuneMalloc();
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string command = "server";
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!args.empty() && args[0].rfind("-", 0) != 0) {
    command = args[0];
    args.erase(args.begin());
  }
  try {
    return Run(command, args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "langfuse: %s\n", e.what());
    return 1;
  }
}
