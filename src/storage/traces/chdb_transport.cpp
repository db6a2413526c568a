// ClickHouseTransport over chDB, the ClickHouse engine as an in-process library (libchdb.so).

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "common/log.h"
#include "storage/traces/chdb_api.h"
#include "storage/traces/clickhouse_sql.h"
#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {
namespace {

// How long a Query waits for a free reader connection before answering kUnavailable.
constexpr auto kReaderWait = std::chrono::seconds(30);
// Insert payloads are handed to chDB in slices of this size (chDB copies each one; the input
// parser reassembles rows across slices, so block boundaries and dedup hashes do not depend on it).
constexpr size_t kInsertSlice = 4 << 20;

// chDB runs one engine per process, on the data path of the first connection; connections to
// another path fail until every connection is closed, and after chdb_shutdown() the library is
// closed for the rest of the process. This records that state to turn chdb_connect's bare NULL
// into an actionable error. Leaked on purpose: it must outlive static destruction.
struct EngineState {
  std::mutex mu;
  std::string path;          // data path of the running engine, empty when no connection is open
  int open_connections = 0;  // over all transports
  bool shut_down = false;
  bool signal_handlers_disabled = false;
};

EngineState& Engine() {
  static auto* state = new EngineState;
  return *state;
}

// One chDB session, closed on destruction; keeps EngineState's connection count.
class Connection {
 public:
  Connection() = default;
  explicit Connection(chdb_connection* handle) : handle_(handle) {}
  Connection(Connection&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Connection& operator=(Connection&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { Close(); }

  chdb_connection get() const { return *handle_; }

  void Close() {
    if (handle_ == nullptr) return;
    chdb_close_conn(handle_);
    handle_ = nullptr;
    EngineState& engine = Engine();
    std::lock_guard lock(engine.mu);
    if (--engine.open_connections == 0) engine.path.clear();
  }

 private:
  chdb_connection* handle_ = nullptr;
};

StatusOr<Connection> Connect(const std::string& data_path) {
  // argv as clickhouse-local's command line: the data path plus the pinned session settings,
  // which chDB applies to this connection only.
  std::vector<std::string> args = {"langfuse", "--path=" + data_path};
  for (const SessionSetting& s : SessionSettings()) args.push_back(fmt::format("--{}={}", s.name, s.value));
  // The engine's caches default to server sizes (5 GiB each); in-process beside the web and
  // worker roles they are held to sizes that still keep every mark of a large store warm.
  for (const char* cache : {"mark_cache_size", "index_mark_cache_size", "primary_index_cache_size"}) {
    args.push_back(fmt::format("--{}={}", cache, 256u << 20));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());

  EngineState& engine = Engine();
  std::lock_guard lock(engine.mu);
  if (engine.shut_down)
    return Status::Unavailable("chDB was shut down in this process; it cannot be reopened");
  if (!engine.path.empty() && engine.path != data_path) {
    return Status::Unavailable(
        fmt::format("chDB already runs on '{}' in this process; one process can open only one chDB data path",
                    engine.path));
  }
  if (!engine.signal_handlers_disabled) {
    // Before the first connect: the host process, not chDB, owns SIGSEGV/SIGINT/... handling.
    chdb_set_signal_handlers_enabled(0);
    engine.signal_handlers_disabled = true;
  }
  chdb_connection* handle = chdb_connect(static_cast<int>(argv.size()), argv.data());
  if (handle == nullptr) {
    return Status::Unavailable(fmt::format("chDB could not open '{}' (see chDB's stderr output)", data_path));
  }
  engine.path = data_path;
  ++engine.open_connections;
  return Connection(handle);
}

// Owns a chdb_result and frees it on every path.
class Result {
 public:
  explicit Result(chdb_result* r) : r_(r) {}
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result() {
    if (r_ != nullptr) chdb_destroy_query_result(r_);
  }
  chdb_result* get() const { return r_; }

 private:
  chdb_result* r_;
};

StatusOr<std::string> RunQuery(chdb_connection conn, std::string_view sql,
                               const std::vector<QueryParam>& params, std::string_view format) {
  chdb_result* raw = nullptr;
  if (params.empty()) {
    raw = chdb_query_n(conn, sql.data(), sql.size(), format.data(), format.size());
  } else {
    std::vector<const char*> names, values;
    std::vector<size_t> name_lens, value_lens;
    for (const QueryParam& p : params) {
      names.push_back(p.name.data());
      name_lens.push_back(p.name.size());
      values.push_back(p.value.data());
      value_lens.push_back(p.value.size());
    }
    raw = chdb_query_with_params_n(conn, sql.data(), sql.size(), format.data(), format.size(), names.data(),
                                   name_lens.data(), values.data(), value_lens.data(), params.size());
  }
  if (raw == nullptr) return Status::Unavailable("chDB query: no result (engine not running?)");
  const Result result(raw);
  if (const char* error = chdb_result_error(raw); error != nullptr) {
    return StatusFromClickHouseError("chDB query", error);
  }
  const char* buffer = chdb_result_buffer(raw);
  const size_t length = chdb_result_length(raw);
  return buffer == nullptr ? std::string() : std::string(buffer, length);
}

Status StreamInsert(chdb_connection conn, const std::string& sql, std::string_view format, std::string_view rows) {
  chdb_insert_stream stream = chdb_stream_insert_n(conn, sql.data(), sql.size(), format.data(), format.size());
  if (stream == nullptr) return Status::Unavailable("chDB insert: no stream (engine not running?)");
  // chdb_destroy_insert_stream is required on every path and cancels an unfinished insert.
  struct StreamGuard {
    chdb_insert_stream s;
    ~StreamGuard() { chdb_destroy_insert_stream(s); }
  } guard{stream};

  if (const char* error = chdb_stream_insert_error(stream); error != nullptr) {
    return StatusFromClickHouseError("chDB insert", error);
  }
  for (size_t at = 0; at < rows.size(); at += kInsertSlice) {
    const size_t n = std::min(kInsertSlice, rows.size() - at);
    if (chdb_stream_append(stream, rows.data() + at, n) != CHDBSuccess) {
      const char* error = chdb_stream_insert_error(stream);
      return StatusFromClickHouseError("chDB insert", error != nullptr ? error : "append failed");
    }
  }
  chdb_result* raw = chdb_stream_done(stream);
  if (raw == nullptr) return Status::Unavailable("chDB insert: no result (engine not running?)");
  const Result result(raw);
  if (const char* error = chdb_result_error(raw); error != nullptr) {
    return StatusFromClickHouseError("chDB insert", error);
  }
  return Status::Ok();
}

// Runs `run`, observing its duration and counting its failure.
template <typename Run>
auto Timed(Histogram& seconds, Counter& errors, Run run) {
  const auto start = std::chrono::steady_clock::now();
  auto result = run();
  seconds.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!result.ok()) errors.Add();
  return result;
}

// ClickHouse's errors for a data part that disappeared under a running read.
bool IsVanishedPartError(std::string_view message) {
  return message.find("FILE_DOESNT_EXIST") != message.npos || message.find("NOT_FOUND_EXPECTED_DATA_PART") != message.npos ||
         message.find("CANNOT_OPEN_FILE") != message.npos;
}

//! ClickHouseTransport on chDB. One writer connection runs inserts and every statement that
//! changes state (DDL, DELETE), one at a time; a pool of reader connections runs read-only
//! statements concurrently, so reads never queue behind a large insert. Thread-safety: all
//! methods may be called concurrently; the destructor must not race any call.
class ChdbTransport final : public ClickHouseTransport {
 public:
  ChdbTransport(Connection writer, std::vector<Connection> readers)
      : writer_(std::move(writer)), readers_(std::move(readers)) {
    for (Connection& r : readers_) free_readers_.push_back(&r);
  }

  ~ChdbTransport() override {
    // Every connection is closed here, readers and writer alike: chDB must see no open
    // connection before ShutdownChdb().
    readers_.clear();
    writer_.Close();
  }

  StatusOr<std::string> Query(std::string_view sql, const std::vector<QueryParam>& params,
                              std::string_view format) override {
    if (!IsSqlIdentifier(format))
      return Status::InvalidArgument(fmt::format("bad output format '{}'", format));
    for (const QueryParam& p : params) {
      if (!IsSqlIdentifier(p.name))
        return Status::InvalidArgument(fmt::format("bad parameter name '{}'", p.name));
    }
    // Read-only statements go to the reader pool; everything else (DDL, DELETE, INSERT ... SELECT)
    // is serialized with the inserts on the writer connection.
    if (!IsReadOnlyStatement(sql)) {
      std::lock_guard lock(writer_mu_);
      return Timed(metrics_.write_seconds, metrics_.write_errors,
                   [&] { return RunQuery(writer_.get(), sql, params, format); });
    }
    Connection* reader = nullptr;
    {
      std::unique_lock lock(pool_mu_);
      if (!pool_cv_.wait_for(lock, kReaderWait, [&] { return !free_readers_.empty(); })) {
        metrics_.connection_wait_timeouts.Add();
        return Status::Unavailable(fmt::format("chDB: no reader connection free within {}s",
                                               std::chrono::seconds(kReaderWait).count()));
      }
      reader = free_readers_.back();
      free_readers_.pop_back();
    }
    // A read that lands on a part a concurrent merge just replaced can fail to open its files;
    // reads are idempotent, so such a failure is retried on a fresh snapshot.
    StatusOr<std::string> result = Status::Internal("not run");
    for (int attempt = 0; attempt < 3; ++attempt) {
      const auto start = std::chrono::steady_clock::now();
      result = Timed(metrics_.read_seconds, metrics_.read_errors,
                     [&] { return RunQuery(reader->get(), sql, params, format); });
      LOG_DEBUG("chDB read {:.1f} ms, {} bytes: {:.300}",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(),
                result.ok() ? result->size() : 0, sql);
      if (result.ok() || !IsVanishedPartError(result.status().message())) break;
    }
    {
      std::lock_guard lock(pool_mu_);
      free_readers_.push_back(reader);
    }
    pool_cv_.notify_one();
    return result;
  }

  Status Insert(std::string_view table, std::string_view format, std::string_view rows,
                std::string_view dedup_token) override {
    if (!IsSqlIdentifier(format)) return Status::InvalidArgument(fmt::format("bad input format '{}'", format));
    if (!IsSafeSqlName(table)) {
      return Status::InvalidArgument(fmt::format("insert table name '{}' is not [A-Za-z0-9_.-]+", table));
    }
    if (!dedup_token.empty() && !IsSafeSqlName(dedup_token)) {
      return Status::InvalidArgument(
          fmt::format("insert dedup token '{}' is not [A-Za-z0-9_.-]+", dedup_token));
    }
    if (format == "JSONEachRow" && rows.find_first_not_of(" \t\r\n") == std::string_view::npos) return Status::Ok();
    if (rows.empty()) return Status::Ok();
    const std::string sql = InsertStatement(table, dedup_token);
    std::lock_guard lock(writer_mu_);
    return Timed(metrics_.insert_seconds, metrics_.insert_errors,
                 [&] { return StreamInsert(writer_.get(), sql, format, rows); });
  }

  Status Ping() override { return Query("SELECT 1", {}, "TabSeparated").status(); }

 private:
  TransportMetrics& metrics_ = GetTransportMetrics("chdb");
  std::mutex writer_mu_;
  Connection writer_;  // used under writer_mu_ (one statement at a time per connection)

  std::vector<Connection> readers_;  // fixed after construction; free_readers_ points into it
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<Connection*> free_readers_;  // guarded by pool_mu_
};

}  // namespace

StatusOr<std::unique_ptr<ClickHouseTransport>> OpenChdbTransport(const std::string& data_path,
                                                                 int reader_connections) {
  if (data_path.empty()) return Status::InvalidArgument("chDB data path is empty");
  std::error_code ec;
  std::filesystem::create_directories(data_path, ec);  // chDB needs the folder to exist
  if (ec) {
    return Status::Unavailable(
        fmt::format("cannot create chDB data folder '{}': {}", data_path, ec.message()));
  }
  // chDB keys its engine on the path text: one spelling for every connection and transport.
  const std::string path = std::filesystem::weakly_canonical(data_path, ec).string();
  if (ec)
    return Status::Unavailable(
        fmt::format("cannot resolve chDB data folder '{}': {}", data_path, ec.message()));

  ASSIGN_OR_RETURN(Connection writer, Connect(path));
  std::vector<Connection> readers;
  for (int i = 0; i < std::max(1, reader_connections); ++i) {
    ASSIGN_OR_RETURN(Connection reader, Connect(path));
    readers.push_back(std::move(reader));
  }
  LOG_INFO("chDB {} open at {} ({} reader connections)", chdb_version(), path, readers.size());
  return std::unique_ptr<ClickHouseTransport>(new ChdbTransport(std::move(writer), std::move(readers)));
}

void ShutdownChdb() {
  EngineState& engine = Engine();
  std::lock_guard lock(engine.mu);
  if (engine.open_connections > 0) {
    LOG_WARN("ShutdownChdb: {} chDB connections still open; destroy every transport first",
             engine.open_connections);
    return;
  }
  if (!engine.signal_handlers_disabled || engine.shut_down) return;  // never started, or done
  engine.shut_down = true;
  if (chdb_shutdown() != CHDBSuccess) {
    // chDB 26.7 reports this once a MergeTree table has been opened, with every connection and
    // result closed; the remaining threads are idle and end with the process.
    LOG_DEBUG("chDB could not join every engine thread; they end with the process");
  }
}

}  // namespace langfuse::traces
