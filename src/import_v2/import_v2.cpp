// `langfuse import-v2` as a library: source checks, target checks, the lease, then the
// transactional tables (transactional_import.cpp) and the tracing tables (tracing_import.cpp).

#include "import_v2/import_v2.h"

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/core.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/time.h"
#include "import_v2/tracing_import.h"
#include "storage/meta/detail/pg_conn.h"
#include "storage/meta/meta_store.h"
#include "storage/traces/trace_store.h"

namespace langfuse::import_v2 {
namespace {

using detail::SourceQuery;
using detail::SourceRows;

// Langfuse's background migrations consider a lock stale after this long without a heartbeat.
constexpr int64_t kLeaseStaleMs = 60'000;
constexpr auto kHeartbeatEvery = std::chrono::seconds(10);
// One batch read (or the count of a large table) must not hang on a stuck source.
constexpr std::string_view kSourceStatementTimeout = "600s";

// The columns of v2 (Langfuse 2.x, Prisma schema) this import reads, per table. A database
// missing any of them is not a v2 database this import understands.
const std::vector<std::pair<std::string, std::vector<std::string>>>& RequiredColumns() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> tables = {
      {"projects", {"id", "name", "created_at"}},
      {"traces",
       {"id", "timestamp", "name", "user_id", "metadata", "release", "version", "project_id", "public",
        "bookmarked", "tags", "input", "output", "session_id", "created_at", "updated_at"}},
      {"observations",
       {"id",
        "trace_id",
        "project_id",
        "type",
        "start_time",
        "end_time",
        "name",
        "metadata",
        "parent_observation_id",
        "level",
        "status_message",
        "version",
        "created_at",
        "updated_at",
        "model",
        "internal_model_id",
        "modelParameters",
        "input",
        "output",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "input_cost",
        "output_cost",
        "total_cost",
        "calculated_input_cost",
        "calculated_output_cost",
        "calculated_total_cost",
        "completion_start_time",
        "prompt_id"}},
      {"scores",
       {"id", "timestamp", "project_id", "name", "value", "source", "author_user_id", "comment", "trace_id",
        "observation_id", "config_id", "string_value", "queue_id", "created_at", "updated_at", "data_type"}},
  };
  return tables;
}

struct PgConnCloser {
  void operator()(pg_conn* c) const { PQfinish(c); }
};
using SourceConn = std::unique_ptr<pg_conn, PgConnCloser>;

//! The source connection, read-only, with the session settings the readers rely on.
struct Source {
  SourceConn conn;
  std::string identity;
  std::string redacted_url;
  bool has_prompts = false;
  std::vector<std::string> project_ids;
};

StatusOr<Source> OpenSource(const std::string& url) {
  if (url.empty())
    return Status::InvalidArgument("no source given: --from postgresql://user:pass@host:port/db");
  auto parsed = meta::detail::ParsePostgresUrl(url);
  if (!parsed.ok()) return Status::InvalidArgument("the source URL: " + parsed.status().message());
  Source source;
  source.redacted_url = parsed->redacted;
  std::vector<const char*> keywords{"dbname"};
  std::vector<const char*> values{parsed->base.c_str()};
  for (const auto& [key, value] : parsed->libpq_params) {
    keywords.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  source.conn.reset(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1));
  if (!source.conn || PQstatus(source.conn.get()) != CONNECTION_OK) {
    std::string reason = source.conn ? PQerrorMessage(source.conn.get()) : "out of memory";
    for (char& c : reason) {
      if (c == '\n' || c == '\t') c = ' ';
    }
    while (reason.find("  ") != std::string::npos) reason.replace(reason.find("  "), 2, " ");
    while (!reason.empty() && reason.back() == ' ') reason.pop_back();
    return Status::Unavailable(
        fmt::format("cannot connect to the Langfuse v2 database at {}: {}", parsed->redacted, reason));
  }
  pg_conn* conn = source.conn.get();
  // Read-only from here on: every transaction of this session refuses writes. Each batch is one
  // statement, so it reads one consistent snapshot.
  RETURN_IF_ERROR(
      SourceQuery(conn,
                  "SELECT set_config('default_transaction_read_only', 'on', false), "
                  "set_config('search_path', $1, false), set_config('DateStyle', 'ISO', false), "
                  "set_config('TimeZone', 'UTC', false), set_config('extra_float_digits', '3', false), "
                  "set_config('statement_timeout', $2, false)",
                  {"\"" + parsed->schema + "\"", std::string(kSourceStatementTimeout)})
          .status());

  // Is it v2? Every table and column the import reads must be there.
  ASSIGN_OR_RETURN(const SourceRows columns,
                   SourceQuery(conn,
                               "SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE table_schema = current_schema()",
                               {}));
  std::set<std::pair<std::string, std::string>> present;
  for (int i = 0; i < columns.rows; ++i) present.emplace(*columns.At(i, 0), *columns.At(i, 1));
  for (const auto& [table, required] : RequiredColumns()) {
    std::vector<std::string> missing;
    for (const std::string& column : required) {
      if (!present.count({table, column})) missing.push_back(column);
    }
    if (missing.size() == required.size()) {
      return Status::InvalidArgument(
          fmt::format("{} (schema {}) is not a Langfuse v2 database: it has no table `{}`", parsed->redacted,
                      parsed->schema, table));
    }
    if (!missing.empty()) {
      std::string list;
      for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
      return Status::InvalidArgument(fmt::format(
          "{} (schema {}) is not a Langfuse v2 database this import understands: table `{}` lacks {}",
          parsed->redacted, parsed->schema, table, list));
    }
  }
  source.has_prompts = present.count({"prompts", "id"}) && present.count({"prompts", "name"}) &&
                       present.count({"prompts", "version"});

  // Identity: the cluster's system identifier (when this role may read it), database and schema.
  std::string cluster;
  if (auto id = SourceQuery(conn, "SELECT system_identifier::text FROM pg_control_system()", {});
      id.ok() && id->rows == 1 && id->At(0, 0)) {
    cluster = *id->At(0, 0);
  } else {
    ASSIGN_OR_RETURN(const SourceRows where,
                     SourceQuery(conn,
                                 "SELECT coalesce(host(inet_server_addr()), 'local') || ':' || "
                                 "coalesce(inet_server_port()::text, '')",
                                 {}));
    cluster = where.At(0, 0).value_or("");
  }
  ASSIGN_OR_RETURN(const SourceRows db, SourceQuery(conn, "SELECT current_database(), current_schema()", {}));
  source.identity = fmt::format("{}/{}/{}", cluster, db.At(0, 0).value_or(""), db.At(0, 1).value_or(""));
  ASSIGN_OR_RETURN(const SourceRows projects, SourceQuery(conn, "SELECT id FROM projects ORDER BY id", {}));
  for (int i = 0; i < projects.rows; ++i) source.project_ids.push_back(projects.At(i, 0).value_or(""));
  return source;
}

std::string HostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// A lease owner is "host:pid:random". One on this host whose process is gone is dead for sure,
// without waiting for its heartbeat to go stale.
bool OwnerIsDeadLocalProcess(const std::string& owner) {
  const std::string prefix = HostName() + ":";
  if (owner.rfind(prefix, 0) != 0) return false;
  const std::string rest = owner.substr(prefix.size());
  const size_t colon = rest.find(':');
  if (colon == std::string::npos) return false;
  const long pid = std::strtol(rest.substr(0, colon).c_str(), nullptr, 10);
  if (pid <= 0 || pid == static_cast<long>(getpid())) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Refuses a target that holds another source's data, or data of this source's projects that no
// import recorded (a partial foreign migration). Reads only.
Status CheckTarget(const Source& source, meta::MetaStore& meta, traces::TraceStore& traces,
                   const std::vector<meta::ImportProgress>& progress) {
  bool ours = false;
  for (const auto& p : progress) {
    if (p.table == meta::kImportLeaseRow || p.source.empty()) continue;
    if (p.source != source.identity) {
      return Status::Conflict(fmt::format(
          "this instance already holds data imported from another Langfuse v2 database ({}, {}); the source "
          "given is {}. Import into an empty instance (a new LANGFUSE_DATA_DIR, or empty DATABASE_URL and "
          "CLICKHOUSE_URL databases); nothing was changed",
          p.source, p.finished ? "finished" : "not finished", source.identity));
    }
    ours = true;
  }
  if (ours) return Status::Ok();  // resuming (or re-running) the same source
  for (const std::string& id : source.project_ids) {
    ASSIGN_OR_RETURN(const auto project, meta.GetProject(id));
    if (project) {
      return Status::Conflict(
          fmt::format("the target is partly migrated: project {} of the source already exists here, but no "
                      "import of this "
                      "source is recorded. Import into an empty instance; nothing was changed",
                      id));
    }
  }
  for (const std::string& table : detail::TracingTables()) {
    ASSIGN_OR_RETURN(const int64_t n, detail::CountTarget(traces, table, source.project_ids));
    if (n > 0) {
      return Status::Conflict(fmt::format(
          "the target is partly migrated: it holds {} {} of the source's projects, but no import of this "
          "source is recorded. Import into an empty instance; nothing was changed",
          n, table));
    }
  }
  return Status::Ok();
}

//! Holds the import lease for one run and renews it every kHeartbeatEvery in a thread of its own.
class LeaseHolder {
 public:
  LeaseHolder(meta::MetaStore& meta, std::string owner) : meta_(meta), owner_(std::move(owner)) {}
  ~LeaseHolder() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (held_) {
      if (Status s = meta_.ReleaseImportLease(owner_); !s.ok())
        LOG_WARN("v2 import: releasing the lease: {}", s.message());
    }
  }

  Status Acquire() {
    ASSIGN_OR_RETURN(const auto rows, meta_.ListImportProgress());
    std::string replaceable;
    for (const auto& p : rows) {
      if (p.table == meta::kImportLeaseRow && !p.owner.empty() && OwnerIsDeadLocalProcess(p.owner))
        replaceable = p.owner;
    }
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(const auto lease, meta_.AcquireImportLease(owner_, replaceable, now, kLeaseStaleMs));
    if (lease.owner != owner_) {
      return Status::Unavailable(fmt::format(
          "another import is running ({}, last heartbeat {} s ago); it holds the lease until it ends or its "
          "heartbeat is {} s old",
          lease.owner, (now - lease.heartbeat_at_ms) / 1000, kLeaseStaleMs / 1000));
    }
    held_ = true;
    thread_ = std::thread([this] { Beat(); });
    return Status::Ok();
  }

  //! kUnavailable once another process took the lease over (this one looked dead to it).
  Status Check() const {
    if (lost_.load()) return Status::Unavailable("the import lease was taken over by another process");
    return Status::Ok();
  }

 private:
  void Beat() {
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, kHeartbeatEvery, [this] { return stopping_; })) {
      lock.unlock();
      auto lease = meta_.AcquireImportLease(owner_, "", NowMs(), kLeaseStaleMs);
      if (lease.ok() && lease->owner != owner_) {
        lost_ = true;
        held_ = false;
      } else if (!lease.ok()) {
        LOG_WARN("v2 import: renewing the lease: {}", lease.status().message());
      }
      lock.lock();
    }
  }

  meta::MetaStore& meta_;
  const std::string owner_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::atomic<bool> held_{false};
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

}  // namespace

Status CheckSource(const std::string& url) { return OpenSource(url).status(); }

Status RunImport(const ImportOptions& options, meta::MetaStore& meta, traces::TraceStore& traces,
                 const std::atomic<bool>& stop, const ProgressFn& progress, ImportReport* report) {
  if (options.batch_size < 1 || options.batch_size > 100'000) {
    return Status::InvalidArgument("the batch size must be between 1 and 100000");
  }
  ASSIGN_OR_RETURN(Source source, OpenSource(options.source_url));
  ImportReport local;
  ImportReport& out = report != nullptr ? *report : local;
  out.source = source.identity;

  ASSIGN_OR_RETURN(auto progress_rows, meta.ListImportProgress());
  RETURN_IF_ERROR(CheckTarget(source, meta, traces, progress_rows));

  const std::string owner = options.owner.empty()
                                ? fmt::format("{}:{}:{}", HostName(), getpid(), NewUuidV4().substr(0, 8))
                                : options.owner;
  LeaseHolder lease(meta, owner);
  RETURN_IF_ERROR(lease.Acquire());
  // Again under the lease: another process may have started meanwhile.
  ASSIGN_OR_RETURN(progress_rows, meta.ListImportProgress());
  RETURN_IF_ERROR(CheckTarget(source, meta, traces, progress_rows));

  std::map<std::string, meta::ImportProgress> state;
  for (auto& p : progress_rows) state[p.table] = p;
  const auto finished = [&state](const std::string& table) {
    const auto it = state.find(table);
    return it != state.end() && it->second.finished;
  };
  bool all_done = finished("transactional");
  for (const std::string& table : detail::TracingTables()) all_done = all_done && finished(table);
  out.already_done = all_done;

  // Claim the target for this source before anything is written, so that a run killed at any
  // point is recognised as this source's partial import.
  for (const std::string& table : {std::string("transactional"), std::string("traces"),
                                   std::string("observations"), std::string("scores")}) {
    if (state.count(table)) continue;
    meta::ImportProgress p;
    p.table = table;
    p.source = source.identity;
    RETURN_IF_ERROR(meta.SaveImportProgress(p));
    state[table] = p;
  }

  if (!state["transactional"].finished) {
    if (stop.load()) return Status::Unavailable("stopped");
    const Status copied = ImportTransactional(source.conn.get(), meta, progress, &out.counts);
    // Some keys may be in even when the copy failed part way.
    if (options.on_keys_imported) options.on_keys_imported();
    RETURN_IF_ERROR(copied);
    meta::ImportProgress p = state["transactional"];
    p.finished = true;
    p.updated_at_ms = NowMs();
    RETURN_IF_ERROR(meta.SaveImportProgress(p));
  }

  for (const std::string& table : detail::TracingTables()) {
    detail::TableJob job;
    job.table = table;
    job.source_identity = source.identity;
    job.has_prompts = source.has_prompts;
    job.batch_size = options.batch_size;
    TableCount& count = out.counts[table];
    RETURN_IF_ERROR(detail::ImportTracingTable(
        source.conn.get(), job, meta, traces, stop, [&lease] { return lease.Check(); }, progress, &count));
    ASSIGN_OR_RETURN(count.target, detail::CountTarget(traces, table, source.project_ids));
  }
  return Status::Ok();
}

// ---- BackgroundImport ----------------------------------------------------------------------------

struct BackgroundImport::State {
  ImportOptions options;
  meta::MetaStore& meta;
  traces::TraceStore& traces;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable wake;
  std::thread thread;

  State(ImportOptions o, meta::MetaStore& m, traces::TraceStore& t)
      : options(std::move(o)), meta(m), traces(t) {}

  // Sleeps up to `d`; false when asked to stop meanwhile.
  bool Wait(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    return !wake.wait_for(lock, d, [this] { return stop.load(); });
  }

  void Run() {
    std::chrono::milliseconds backoff{2'000};
    int64_t last_log_ms = 0;
    const ProgressFn progress = [&](const std::string& table, int64_t done, int64_t total) {
      const int64_t now = NowMs();
      if (now - last_log_ms < 10'000 && done < total) return;
      last_log_ms = now;
      LOG_INFO("v2 import: {} {}/{} rows", table, done, total);
    };
    while (!stop.load()) {
      ImportReport report;
      const Status s = RunImport(options, meta, traces, stop, progress, &report);
      if (s.ok()) {
        if (report.already_done) {
          LOG_INFO("v2 import from {}: already complete", report.source);
        } else {
          for (const auto& [table, c] : report.counts) {
            LOG_INFO("v2 import: {}: source {}, imported now {}, in this instance {}", table, c.source,
                     c.imported, c.target);
          }
          LOG_INFO("v2 import from {}: complete", report.source);
        }
        return;
      }
      if (stop.load()) {
        LOG_INFO("v2 import stopped; the next start resumes it");
        return;
      }
      if (s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kConflict) {
        LOG_ERROR("v2 import (LANGFUSE_IMPORT_V2_FROM) not run: {}", s.message());
        return;
      }
      // Another worker holds the lease, or the source or a store is unavailable: try again later
      // (the other worker's run ends with everything finished, and this one then sees that).
      LOG_WARN("v2 import: {}; retrying in {} s", s.message(), backoff.count() / 1000);
      if (!Wait(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(60'000));
    }
  }
};

BackgroundImport::BackgroundImport(ImportOptions options, meta::MetaStore& meta, traces::TraceStore& traces)
    : state_(std::make_unique<State>(std::move(options), meta, traces)) {}

BackgroundImport::~BackgroundImport() { Stop(); }

void BackgroundImport::Start() {
  if (state_->thread.joinable()) return;
  state_->thread = std::thread([s = state_.get()] { s->Run(); });
}

void BackgroundImport::Stop() {
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->wake.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
}

}  // namespace langfuse::import_v2
