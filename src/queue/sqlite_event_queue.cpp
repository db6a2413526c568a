// The embedded durable queue: one SQLite file in WAL mode with synchronous=FULL, so a commit is
// on disk when it returns. Every write goes through one committer thread that gathers whatever
// requests are waiting into a single transaction: concurrent ingestion requests share one disk
// flush (group commit) instead of paying one each.
#include <charconv>
#include <pthread.h>
#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "common/metrics.h"
#include "common/time.h"
#include "queue/event_queue.h"

namespace langfuse::queue {
namespace {

constexpr const char* kSchema = R"sql(
-- The payload (often 100 KB) is the last column: SQLite stores a large value in overflow pages,
-- and a column after it could only be read by walking them, which made every Stats() call
-- (health checks, /metrics) read the whole queue.
CREATE TABLE IF NOT EXISTS queue_items (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_count INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_count INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  failed_at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  payload BLOB NOT NULL
);
)sql";

// Owns a prepared statement; resets it on scope exit so it can be reused.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("queue: cannot prepare statement: ") + sqlite3_errmsg(db));
    }
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

struct ResetOnExit {
  sqlite3_stmt* s;
  ~ResetOnExit() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

sqlite3* OpenDb(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("queue: cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 10'000);
  char* err = nullptr;
  // secure_delete off: SQLite built with it on (Debian's is) overwrites each freed page with
  // zeros, so every acknowledged entry was written a third time (after the WAL and the checkpoint).
  const char* pragmas =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=4000; PRAGMA secure_delete=OFF;";
  if (sqlite3_exec(db, pragmas, nullptr, nullptr, &err) != SQLITE_OK || sqlite3_exec(db, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    sqlite3_close(db);
    throw std::runtime_error("queue: cannot initialise " + path + ": " + msg);
  }
  return db;
}

class SqliteEventQueue final : public EventQueue {
 public:
  explicit SqliteEventQueue(const std::string& path)
      : writer_(OpenDb(path)),
        reader_(OpenDb(path)),
        insert_(writer_, "INSERT INTO queue_items (payload, event_count, enqueued_at) VALUES (?, ?, ?)"),
        delete_(writer_, "DELETE FROM queue_items WHERE seq = ?"),
        insert_dead_(writer_,
                     "INSERT INTO dead_letters (payload, event_count, enqueued_at, failed_at, reason) VALUES (?,?,?,?,?)"),
        replay_all_(writer_,
                    "INSERT INTO queue_items (payload, event_count, enqueued_at) SELECT payload, event_count, "
                    "enqueued_at FROM dead_letters ORDER BY id"),
        delete_all_dead_(writer_, "DELETE FROM dead_letters"),
        replay_one_(writer_,
                    "INSERT INTO queue_items (payload, event_count, enqueued_at) SELECT payload, event_count, "
                    "enqueued_at FROM dead_letters WHERE id = ?"),
        delete_dead_(writer_, "DELETE FROM dead_letters WHERE id = ?"),
        read_(reader_, "SELECT seq, payload, event_count, enqueued_at FROM queue_items WHERE seq > ? ORDER BY seq LIMIT ?"),
        stats_(reader_, "SELECT COUNT(*), COALESCE(SUM(event_count), 0), MIN(enqueued_at) FROM queue_items"),
        dead_count_(reader_, "SELECT COUNT(*) FROM dead_letters"),
        list_dead_(reader_,
                   "SELECT id, payload, event_count, enqueued_at, failed_at, reason FROM dead_letters ORDER BY id LIMIT ?"),
        committer_([this] { CommitLoop(); }) {}

  ~SqliteEventQueue() override {
    {
      std::lock_guard lock(ops_mu_);
      stopping_ = true;
    }
    ops_cv_.notify_all();
    committer_.join();
    // Statements are finalized by their destructors before the connections close below.
  }

  Status Append(std::vector<NewItem> items) override {
    if (items.empty()) return Status::Ok();
    Op op;
    op.kind = Op::kAppend;
    op.items = std::move(items);
    return Submit(std::move(op));
  }

  StatusOr<std::vector<QueueItem>> Read(size_t max_items, std::chrono::milliseconds wait) override {
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const uint64_t generation = committed_generation_.load();
      auto items = ReadOnce(max_items);
      if (!items.ok() || !items->empty()) return items;
      std::unique_lock lock(notify_mu_);
      // Wake on a local commit; an append by another process is seen at the latest at `deadline`.
      if (!notify_cv_.wait_until(lock, deadline, [&] { return committed_generation_.load() != generation || interrupted_; })) {
        return std::vector<QueueItem>{};
      }
      if (interrupted_) {
        interrupted_ = false;
        return std::vector<QueueItem>{};
      }
    }
  }

  // Ids here are row ids: decimal digits that fit an int64 (checked before they reach the
  // committer thread, which converts them).
  static Status CheckIds(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      int64_t value = 0;
      const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
      if (id.empty() || ec != std::errc() || end != id.data() + id.size() || value < 0) {
        return Status::InvalidArgument("not a queue entry id: '" + id.substr(0, 64) + "'");
      }
    }
    return Status::Ok();
  }

  Status Ack(const std::vector<std::string>& ids) override {
    if (ids.empty()) return Status::Ok();
    RETURN_IF_ERROR(CheckIds(ids));
    Op op;
    op.kind = Op::kAck;
    op.ids = ids;
    return Submit(std::move(op));
  }

  Status DeadLetterItem(const std::string& payload, uint32_t event_count, int64_t enqueued_at_ms,
                        const std::string& reason) override {
    Op op;
    op.kind = Op::kDeadLetter;
    op.items.push_back({payload, event_count});
    op.enqueued_at_ms = enqueued_at_ms;
    op.reason = reason;
    return Submit(std::move(op));
  }

  StatusOr<QueueStats> Stats() override {
    std::lock_guard lock(reader_mu_);
    QueueStats stats;
    {
      sqlite3_stmt* s = stats_.get();
      ResetOnExit reset{s};
      if (sqlite3_step(s) != SQLITE_ROW) return Status::Unavailable(std::string("queue: ") + sqlite3_errmsg(reader_));
      stats.pending_items = sqlite3_column_int64(s, 0);
      stats.pending_events = sqlite3_column_int64(s, 1);
      if (sqlite3_column_type(s, 2) != SQLITE_NULL) stats.oldest_enqueued_at_ms = sqlite3_column_int64(s, 2);
    }
    {
      sqlite3_stmt* s = dead_count_.get();
      ResetOnExit reset{s};
      if (sqlite3_step(s) != SQLITE_ROW) return Status::Unavailable(std::string("queue: ") + sqlite3_errmsg(reader_));
      stats.dead_letters = sqlite3_column_int64(s, 0);
    }
    return stats;
  }

  StatusOr<std::vector<DeadLetter>> ListDeadLetters(size_t limit) override {
    std::lock_guard lock(reader_mu_);
    sqlite3_stmt* s = list_dead_.get();
    ResetOnExit reset{s};
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(limit));
    std::vector<DeadLetter> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      DeadLetter d;
      d.id = std::to_string(sqlite3_column_int64(s, 0));
      d.payload.assign(static_cast<const char*>(sqlite3_column_blob(s, 1)), sqlite3_column_bytes(s, 1));
      d.event_count = static_cast<uint32_t>(sqlite3_column_int64(s, 2));
      d.enqueued_at_ms = sqlite3_column_int64(s, 3);
      d.failed_at_ms = sqlite3_column_int64(s, 4);
      d.reason = reinterpret_cast<const char*>(sqlite3_column_text(s, 5));
      out.push_back(std::move(d));
    }
    if (rc != SQLITE_DONE) return Status::Unavailable(std::string("queue: ") + sqlite3_errmsg(reader_));
    return out;
  }

  StatusOr<int64_t> ReplayDeadLetters(const std::vector<std::string>& ids) override {
    RETURN_IF_ERROR(CheckIds(ids));
    Op op;
    op.kind = Op::kReplay;
    op.ids = ids;
    auto future = op.replayed.get_future();
    RETURN_IF_ERROR(Submit(std::move(op)));
    return future.get();
  }

  void Interrupt() override {
    {
      std::lock_guard lock(notify_mu_);
      interrupted_ = true;
    }
    notify_cv_.notify_all();
  }

 private:
  struct Op {
    enum Kind { kAppend, kAck, kDeadLetter, kReplay } kind = kAppend;
    std::vector<NewItem> items;
    std::vector<std::string> ids;
    int64_t enqueued_at_ms = 0;
    std::string reason;
    std::promise<Status> done;
    std::promise<int64_t> replayed;
  };

  Status Submit(Op op) {
    auto future = op.done.get_future();
    {
      std::lock_guard lock(ops_mu_);
      if (stopping_) return Status::Unavailable("queue: shutting down");
      ops_.push_back(std::move(op));
    }
    ops_cv_.notify_one();
    return future.get();
  }

  StatusOr<std::vector<QueueItem>> ReadOnce(size_t max_items) {
    std::lock_guard lock(reader_mu_);
    sqlite3_stmt* s = read_.get();
    ResetOnExit reset{s};
    sqlite3_bind_int64(s, 1, last_delivered_seq_);
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(max_items));
    std::vector<QueueItem> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      QueueItem item;
      const int64_t seq = sqlite3_column_int64(s, 0);
      item.id = std::to_string(seq);
      item.payload.assign(static_cast<const char*>(sqlite3_column_blob(s, 1)), sqlite3_column_bytes(s, 1));
      item.event_count = static_cast<uint32_t>(sqlite3_column_int64(s, 2));
      item.enqueued_at_ms = sqlite3_column_int64(s, 3);
      last_delivered_seq_ = seq;
      out.push_back(std::move(item));
    }
    if (rc != SQLITE_DONE) return Status::Unavailable(std::string("queue: read failed: ") + sqlite3_errmsg(reader_));
    return out;
  }

  bool Exec(const char* sql) { return sqlite3_exec(writer_, sql, nullptr, nullptr, nullptr) == SQLITE_OK; }

  // Runs one op inside the open transaction; false when a statement failed.
  bool Apply(Op& op, int64_t& replayed) {
    const int64_t now = NowMs();
    auto step = [](sqlite3_stmt* s) { return sqlite3_step(s) == SQLITE_DONE; };
    switch (op.kind) {
      case Op::kAppend:
        for (const auto& item : op.items) {
          sqlite3_stmt* s = insert_.get();
          ResetOnExit reset{s};
          sqlite3_bind_blob(s, 1, item.payload.data(), static_cast<int>(item.payload.size()), SQLITE_STATIC);
          sqlite3_bind_int64(s, 2, item.event_count);
          sqlite3_bind_int64(s, 3, now);
          if (!step(s)) return false;
        }
        return true;
      case Op::kAck:
        for (const auto& id : op.ids) {
          sqlite3_stmt* s = delete_.get();
          ResetOnExit reset{s};
          sqlite3_bind_int64(s, 1, std::stoll(id));
          if (!step(s)) return false;
        }
        return true;
      case Op::kDeadLetter: {
        sqlite3_stmt* s = insert_dead_.get();
        ResetOnExit reset{s};
        const auto& item = op.items.front();
        sqlite3_bind_blob(s, 1, item.payload.data(), static_cast<int>(item.payload.size()), SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, item.event_count);
        sqlite3_bind_int64(s, 3, op.enqueued_at_ms);
        sqlite3_bind_int64(s, 4, now);
        sqlite3_bind_text(s, 5, op.reason.c_str(), static_cast<int>(op.reason.size()), SQLITE_STATIC);
        return step(s);
      }
      case Op::kReplay:
        if (op.ids.empty()) {
          sqlite3_stmt* a = replay_all_.get();
          ResetOnExit ra{a};
          if (!step(a)) return false;
          replayed += sqlite3_changes(writer_);
          sqlite3_stmt* d = delete_all_dead_.get();
          ResetOnExit rd{d};
          return step(d);
        }
        for (const auto& id : op.ids) {
          sqlite3_stmt* a = replay_one_.get();
          ResetOnExit ra{a};
          sqlite3_bind_int64(a, 1, std::stoll(id));
          if (!step(a)) return false;
          replayed += sqlite3_changes(writer_);
          sqlite3_stmt* d = delete_dead_.get();
          ResetOnExit rd{d};
          sqlite3_bind_int64(d, 1, std::stoll(id));
          if (!step(d)) return false;
        }
        return true;
    }
    return false;
  }

  // Commits `batch` in one transaction; on failure, falls back to one transaction per op so one
  // bad op does not fail its neighbours.
  void CommitBatch(std::deque<Op>& batch) {
    std::vector<int64_t> replayed(batch.size(), 0);
    bool ok = Exec("BEGIN IMMEDIATE");
    for (size_t i = 0; ok && i < batch.size(); ++i) ok = Apply(batch[i], replayed[i]);
    if (ok && Exec("COMMIT")) {
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].replayed.set_value(replayed[i]);
        batch[i].done.set_value(Status::Ok());
      }
      return;
    }
    const std::string batch_error = sqlite3_errmsg(writer_);
    Exec("ROLLBACK");
    if (batch.size() == 1) {
      LOG_ERROR("queue: commit failed: {}", batch_error);
      batch[0].replayed.set_value(0);
      batch[0].done.set_value(Status::Unavailable("queue: commit failed: " + batch_error));
      return;
    }
    for (auto& op : batch) {
      std::deque<Op> single;
      single.push_back(std::move(op));
      CommitBatch(single);
    }
  }

  void CommitLoop() {
    pthread_setname_np(pthread_self(), "lf-queue-commit");
    // A request's 207 waits for the commit under way and then its own: this is most of an
    // ingestion request's latency beyond its parsing.
    Histogram& commit_seconds = Metrics().GetHistogram(
        "langfuse_queue_commit_seconds", "Time of one group commit of the local queue (appends, acks, dead letters)");
    for (;;) {
      std::deque<Op> batch;
      {
        std::unique_lock lock(ops_mu_);
        ops_cv_.wait(lock, [&] { return stopping_ || !ops_.empty(); });
        if (ops_.empty() && stopping_) return;
        batch.swap(ops_);
      }
      const auto started = std::chrono::steady_clock::now();
      CommitBatch(batch);
      commit_seconds.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      {
        std::lock_guard lock(notify_mu_);
        committed_generation_.fetch_add(1);
      }
      notify_cv_.notify_all();
    }
  }

  // Closes a connection when the queue is destroyed (after the statements).
  struct DbCloser {
    sqlite3* db;
    DbCloser(sqlite3* d) : db(d) {}  // NOLINT
    ~DbCloser() { sqlite3_close_v2(db); }
    operator sqlite3*() const { return db; }  // NOLINT
  };

  DbCloser writer_;
  DbCloser reader_;
  Stmt insert_, delete_, insert_dead_, replay_all_, delete_all_dead_, replay_one_, delete_dead_;
  Stmt read_, stats_, dead_count_, list_dead_;

  std::mutex reader_mu_;
  int64_t last_delivered_seq_ = 0;  // GUARDED_BY(reader_mu_)

  std::mutex ops_mu_;
  std::condition_variable ops_cv_;
  std::deque<Op> ops_;   // GUARDED_BY(ops_mu_)
  bool stopping_ = false;  // GUARDED_BY(ops_mu_)

  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  std::atomic<uint64_t> committed_generation_{0};
  bool interrupted_ = false;  // GUARDED_BY(notify_mu_)

  std::thread committer_;  // last: starts after everything above exists
};

}  // namespace

StatusOr<std::unique_ptr<EventQueue>> OpenLocalEventQueue(const std::string& path) {
  try {
    return std::unique_ptr<EventQueue>(std::make_unique<SqliteEventQueue>(path));
  } catch (const std::exception& e) {
    return Status::Unavailable(e.what());
  }
}

}  // namespace langfuse::queue
