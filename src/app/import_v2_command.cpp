#include "app/import_v2_command.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/core.h>

#include "app/application.h"
#include "auth/authenticator.h"
#include "common/time.h"
#include "config/config.h"
#include "import_v2/import_v2.h"

namespace langfuse::app {
namespace {

constexpr const char* kHelp =
    R"(Usage: langfuse import-v2 --from <postgres url> [--batch-size N] [--data-dir DIR]

Copies a Langfuse v2 database (PostgreSQL) into this instance: organisations, projects, users,
API keys, prompts, datasets, models, score configs, then traces, observations and scores
(newest first, in batches of N rows, default 5000). The target is whatever `langfuse server`
would use with the same environment: LANGFUSE_DATA_DIR (or --data-dir) for the embedded stores,
or DATABASE_URL and CLICKHOUSE_URL. The source is only read.

Resumable: progress is stored in the target; a stopped or killed import continues where it
stopped when run again, and running it after it finished changes nothing. Progress goes to
stderr, a per-table summary (source rows vs rows in this instance) to stdout.
See docs/migrate-from-langfuse-v2.md.
)";

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

std::string Duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace

int RunImportV2Command(const std::vector<std::string>& args) {
  import_v2::ImportOptions options;
  std::string data_dir;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--from" && has_value) {
      options.source_url = args[++i];
    } else if (a == "--batch-size" && has_value) {
      try {
        options.batch_size = std::stoi(args[++i]);
      } catch (const std::exception&) {
        options.batch_size = 0;
      }
    } else if (a == "--data-dir" && has_value) {
      data_dir = args[++i];
    } else {
      std::fprintf(stderr, "langfuse import-v2: unexpected argument '%s'\n\n%s", a.c_str(), kHelp);
      return 2;
    }
  }
  if (options.source_url.empty()) {
    std::fprintf(stderr, "langfuse import-v2: --from <postgres url> is required\n\n%s", kHelp);
    return 2;
  }
  if (options.batch_size < 1 || options.batch_size > 100000) {
    std::fprintf(stderr, "langfuse import-v2: --batch-size must be a number from 1 to 100000\n");
    return 2;
  }
  if (const Status source = import_v2::CheckSource(options.source_url); !source.ok()) {
    std::fprintf(stderr, "langfuse import-v2: %s\n", source.message().c_str());
    return source.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  Config config = LoadConfig();
  if (!data_dir.empty()) config.data_dir = data_dir;

  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  auto app = Application::Open(config);
  // In scale mode web processes run beside the command: a v2 key refused (and cached as unknown)
  // before its row was imported works as soon as the keys are in. The revocation goes out over
  // Redis; the application's shutdown gives what is still queued a last attempt.
  options.on_keys_imported = [&app] { app->authenticator().Invalidate(); };
  const auto started = std::chrono::steady_clock::now();
  auto table_started = started;
  std::string current;
  int64_t start_done = 0;
  int64_t last_print_ms = 0;
  const import_v2::ProgressFn progress = [&](const std::string& table, int64_t done, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (table != current) {
      current = table;
      table_started = now;
      start_done = done;
    }
    const int64_t now_ms = NowMs();
    if (now_ms - last_print_ms < 1000 && done < total) return;
    last_print_ms = now_ms;
    const double seconds = std::chrono::duration<double>(now - table_started).count();
    const double rate = seconds > 0 ? static_cast<double>(done - start_done) / seconds : 0;
    const int64_t left = total > done ? total - done : 0;
    const std::string speed = rate > 0 ? fmt::format(", {:.0f} rows/s, {} left, ETA {}", rate, left,
                                                     Duration(static_cast<double>(left) / rate))
                                       : fmt::format(", {} left", left);
    std::fprintf(stderr, "%s: %lld/%lld rows (%.1f%%)%s\n", table.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total),
                 total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0,
                 speed.c_str());
    std::fflush(stderr);
  };

  import_v2::ImportReport report;
  const Status status =
      import_v2::RunImport(options, app->meta_store(), app->trace_store(), g_stop, progress, &report);
  if (!status.ok()) {
    if (g_stop.load()) {
      std::fprintf(stderr, "langfuse import-v2: stopped; run the same command again to resume\n");
      return 130;
    }
    std::fprintf(stderr, "langfuse import-v2: %s\n", status.message().c_str());
    return status.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("source: %s\n", report.source.c_str());
  if (report.already_done) std::printf("already imported: nothing to do\n");
  std::printf("%-24s %12s %12s %12s\n", "table", "source", "imported", "target");
  bool short_rows = false;
  for (const auto& [table, c] : report.counts) {
    const bool short_here = c.target < c.source;
    short_rows = short_rows || short_here;
    std::printf("%-24s %12lld %12lld %12lld%s\n", table.c_str(), static_cast<long long>(c.source),
                static_cast<long long>(c.imported), static_cast<long long>(c.target),
                short_here ? "  (fewer rows than the source)" : "");
  }
  std::printf("done in %s\n", Duration(seconds).c_str());
  if (short_rows) {
    std::fprintf(
        stderr,
        "langfuse import-v2: some tables hold fewer rows than the source (rows written to the v2 database "
        "after the import had passed them are not copied; see docs/migrate-from-langfuse-v2.md)\n");
  }
  return 0;
}

}  // namespace langfuse::app
