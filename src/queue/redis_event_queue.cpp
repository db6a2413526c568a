// The scale-mode queue on Redis Streams.
//
// Keys, all under REDIS_KEY_PREFIX:
//   langfuse:ingestion                 the stream: one entry per appended item (fields event_count,
//                                      enqueued_at_ms, payload), read by the consumer group "workers"
//   langfuse:ingestion:pending-events  the sum of event_count over the stream's entries
//   langfuse:ingestion:dlq             dead letters (event_count, enqueued_at_ms, failed_at_ms, reason,
//                                      payload)
//
// Delivery. Each process is one consumer, named `<hostname>-<pid>-<random>`, so a restarted process
// never inherits the pending entries of its previous life by name. Read first takes over entries that
// some consumer received and then left idle for claim_min_idle_ms (XAUTOCLAIM), then reads new ones
// (XREADGROUP). A live consumer keeps the entries it holds from looking idle (a keeper thread touches
// them with XCLAIM every third of that time), so only the entries of a stopped process, or of one that
// gave up acknowledging them, are taken over. Ack is XACK + XDEL + the counter's decrement in one
// script: the stream holds exactly the unacknowledged entries and never grows beyond the backlog.
//
// Durability. Append returns once Redis has answered the transaction that adds the entries. Redis
// writes it to its append-only file before answering, so with `appendonly yes` a crash of the Redis
// process loses nothing; a crash of the machine loses what was not yet fsynced: up to about a second
// with `appendfsync everysec`, nothing with `appendfsync always`. Without the append-only file a
// restart of Redis loses the backlog. Scale deployments therefore run Redis with `appendonly yes`,
// `appendfsync everysec` (or `always`) and `maxmemory-policy noeviction` (an evicted stream is lost
// events); opening the queue logs a warning when Redis reports otherwise.
//
// Connections. Calls other than Read share a small pool; Read has its own connection because a
// blocking XREADGROUP holds it, and blocks in short slices so Interrupt() takes effect promptly. A
// connection that fails is dropped and the call returns Unavailable; the next call connects again.
// ConnectRedis (redis_connect.h) opens every connection, over TLS when configured.
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time.h"
#include "queue/event_queue.h"
#include "queue/redis_connect.h"

namespace langfuse::queue {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kGroup = "workers";
//! Longest single XREADGROUP BLOCK: bounds how long Interrupt() waits.
constexpr int64_t kBlockSliceMs = 100;
//! Ids per script call (Ack, replay by id, keep-alive), to bound one script's run time.
constexpr size_t kIdsPerScript = 500;
//! Dead letters moved per script call when replaying all.
constexpr int kReplayChunk = 100;

// Acknowledges and deletes entries, keeping the event counter equal to the events in the stream.
// KEYS: stream, counter. ARGV: group, ids...
constexpr const char* kAckScript = R"lua(
local acked, events = 0, 0
for i = 2, #ARGV do
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  local entry = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if #entry == 1 then
    local fields = entry[1][2]
    for j = 1, #fields, 2 do
      if fields[j] == 'event_count' then events = events + (tonumber(fields[j + 1]) or 0) end
    end
    redis.call('XDEL', KEYS[1], ARGV[i])
  end
end
if events > 0 then redis.call('DECRBY', KEYS[2], events) end
return acked
)lua";

// Moves dead letters back to the stream, each keeping its payload, event count and enqueue time.
// KEYS: stream, counter, dlq. ARGV: 'ids', id... | 'upto', last id, count.
constexpr const char* kReplayScript = R"lua(
local function move(entry)
  local f = {}
  for j = 1, #entry[2], 2 do f[entry[2][j]] = entry[2][j + 1] end
  local count = tonumber(f['event_count']) or 0
  redis.call('XADD', KEYS[1], '*', 'event_count', count, 'enqueued_at_ms', f['enqueued_at_ms'] or '0',
             'payload', f['payload'] or '')
  if count > 0 then redis.call('INCRBY', KEYS[2], count) end
  redis.call('XDEL', KEYS[3], entry[1])
end
local moved = 0
if ARGV[1] == 'ids' then
  for i = 2, #ARGV do
    local entry = redis.call('XRANGE', KEYS[3], ARGV[i], ARGV[i])
    if #entry == 1 then move(entry[1]); moved = moved + 1 end
  end
else
  for _, entry in ipairs(redis.call('XRANGE', KEYS[3], '-', ARGV[2], 'COUNT', ARGV[3])) do
    move(entry); moved = moved + 1
  end
end
return moved
)lua";

// Resets the idle time of the entries this consumer still owns; returns the ids it no longer owns
// (taken over by another consumer, or acknowledged).
// KEYS: stream. ARGV: group, consumer, ids...
// Takes or renews the reader lease: KEYS[1] lease, ARGV[1] consumer, ARGV[2] ttl ms. 1 when held.
constexpr const char* kLeaseScript = R"lua(
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
)lua";

// Gives the lease up if this consumer holds it: KEYS[1] lease, ARGV[1] consumer.
constexpr const char* kReleaseLeaseScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

constexpr const char* kKeepAliveScript = R"lua(
local lost = {}
for i = 3, #ARGV do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) == 1 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
)lua";

// Removes consumers that own no entry and have not been seen for ARGV[3] ms (stopped processes);
// a removed consumer that was alive after all is recreated by its next read, having lost nothing.
// KEYS: stream. ARGV: group, this consumer, min idle ms.
constexpr const char* kSweepScript = R"lua(
local removed = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for j = 1, #c, 2 do info[c[j]] = c[j + 1] end
  if info['name'] ~= ARGV[2] and info['pending'] == 0 and info['idle'] >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed = removed + 1
  end
end
return removed
)lua";

// Deletes this consumer from the group when it owns no entry (a clean shutdown).
// KEYS: stream. ARGV: group, consumer.
constexpr const char* kReleaseScript = R"lua(
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
)lua";

struct QueueMetrics {
  Counter& claimed =
      Metrics().GetCounter("langfuse_queue_entries_claimed_total",
                           "Queue entries taken over from a consumer that stopped before acknowledging them");
  Counter& connection_failures = Metrics().GetCounter("langfuse_redis_connection_failures_total",
                                                      "Redis calls that failed for want of a connection");
};

QueueMetrics& GetQueueMetrics() {
  static QueueMetrics* m = new QueueMetrics();
  return *m;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

//! One command's arguments. Borrowed arguments must outlive the call; owned ones live here.
class Command {
 public:
  Command(std::initializer_list<std::string_view> args) {
    for (std::string_view a : args) Arg(a);
  }
  Command& Arg(std::string_view borrowed) {
    args_.push_back({borrowed, -1});
    return *this;
  }
  Command& Own(std::string value) {
    owned_.push_back(std::move(value));
    args_.push_back({{}, static_cast<int>(owned_.size() - 1)});
    return *this;
  }
  Command& Int(int64_t value) { return Own(std::to_string(value)); }

  //! The argument vectors hiredis takes; valid while this command is unchanged.
  void Argv(std::vector<const char*>& argv, std::vector<size_t>& lens) const {
    argv.clear();
    lens.clear();
    for (const auto& a : args_) {
      const std::string_view v = a.owned < 0 ? a.borrowed : std::string_view(owned_[a.owned]);
      argv.push_back(v.data());
      lens.push_back(v.size());
    }
  }

 private:
  struct Argument {
    std::string_view borrowed;
    int owned;  // index into owned_, or -1
  };
  std::vector<Argument> args_;
  std::vector<std::string> owned_;
};

timeval ToTimeval(int64_t ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

std::string_view ReplyText(const redisReply* r) {
  return r->str != nullptr ? std::string_view(r->str, r->len) : std::string_view();
}

bool IsError(const redisReply* r, std::string_view prefix = {}) {
  return r->type == REDIS_REPLY_ERROR && ReplyText(r).starts_with(prefix);
}

std::optional<int64_t> ToInt(std::string_view text) {
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return out;
}

// Stream entry ids as Redis makes them: `<ms>-<seq>`. Checked before any id reaches a script,
// since a script stopped by a bad argument keeps the writes it made before.
bool IsEntryId(std::string_view id) {
  const size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 20 || id.size() - dash - 1 == 0 ||
      id.size() - dash - 1 > 20) {
    return false;
  }
  return std::all_of(id.begin(), id.begin() + dash, [](char c) { return c >= '0' && c <= '9'; }) &&
         std::all_of(id.begin() + dash + 1, id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Status CheckIds(const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (!IsEntryId(id)) {
      return Status::InvalidArgument("queue: malformed entry id '" + id + "' (expected <ms>-<seq>)");
    }
  }
  return Status::Ok();
}

//! One connection to Redis, connected on first use and after a failure. Not thread-safe.
class RedisConnection {
 public:
  //! `extra_timeout_ms` lengthens the socket timeout (the reader's commands block on purpose).
  RedisConnection(const RedisOptions& options, int64_t extra_timeout_ms)
      : options_(options), extra_timeout_ms_(extra_timeout_ms) {}
  ~RedisConnection() { Close(); }
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  //! Sends the commands in one write and reads every reply (server errors are replies). An I/O
  //! failure drops the connection and returns Unavailable. When the connection had served earlier
  //! calls and was found closed, the commands are sent once more on a new connection: that is the
  //! usual state after Redis restarted while we were idle. (If Redis had executed them before the
  //! connection broke, they run twice; the queue's delivery is at-least-once anyway.)
  StatusOr<std::vector<Reply>> Pipeline(const std::vector<Command>& commands) {
    if (!ctx_) RETURN_IF_ERROR(Connect());
    const bool was_used = used_;
    bool closed_by_peer = false;
    auto replies = PipelineOnce(commands, &closed_by_peer);
    if (!replies.ok() && was_used && closed_by_peer) {
      RETURN_IF_ERROR(Connect());
      replies = PipelineOnce(commands, nullptr);
    }
    if (replies.ok()) used_ = true;
    return replies;
  }

  StatusOr<Reply> Run(const Command& command) {
    ASSIGN_OR_RETURN(auto replies, Pipeline({command}));
    return std::move(replies.front());
  }

  void Close() {
    ctx_.reset();
    used_ = false;
  }

 private:
  Status Connect() {
    Close();
    SigpipeGuard guard;
    ASSIGN_OR_RETURN(ctx_,
                     ConnectRedis(options_, RedisIo::kBlocking,
                                  {Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms)}));
    // 0: no timeout.
    const int64_t timeout =
        options_.socket_timeout_ms > 0 ? options_.socket_timeout_ms + extra_timeout_ms_ : 0;
    redisSetTimeout(ctx_.get(), ToTimeval(timeout));
    std::vector<Command> setup;
    if (!options_.password.empty()) {
      setup.push_back(options_.username.empty() ? Command{"AUTH", options_.password}
                                                : Command{"AUTH", options_.username, options_.password});
    }
    if (options_.db != 0) setup.push_back(Command{"SELECT"}.Int(options_.db));
    if (setup.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(auto replies, PipelineOnce(setup, nullptr));
    for (size_t i = 0; i < replies.size(); ++i) {
      if (replies[i]->type == REDIS_REPLY_ERROR) {
        const std::string why(ReplyText(replies[i].get()));
        Close();
        const bool auth = !options_.password.empty() && i == 0;
        return Status::Unavailable("redis " + options_.Address() + ": " +
                                   (auth ? "authentication failed (REDIS_AUTH / REDIS_USERNAME): "
                                         : "cannot select database " + std::to_string(options_.db) + ": ") +
                                   why);
      }
    }
    return Status::Ok();
  }

  StatusOr<std::vector<Reply>> PipelineOnce(const std::vector<Command>& commands, bool* closed_by_peer) {
    SigpipeGuard guard;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const Command& command : commands) {
      command.Argv(argv, lens);
      if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data()) !=
          REDIS_OK) {
        return Failure(closed_by_peer);
      }
    }
    std::vector<Reply> replies;
    replies.reserve(commands.size());
    for (size_t i = 0; i < commands.size(); ++i) {
      void* reply = nullptr;
      if (redisGetReply(ctx_.get(), &reply) != REDIS_OK) return Failure(closed_by_peer);
      replies.emplace_back(static_cast<redisReply*>(reply));
    }
    return replies;
  }

  Status Failure(bool* closed_by_peer) {
    const int err = ctx_->err;
    const int sys_errno = errno;
    std::string why = ctx_->errstr;
    if (err == REDIS_ERR_IO && (sys_errno == EAGAIN || sys_errno == EWOULDBLOCK)) {
      why =
          "no answer within " + std::to_string(options_.socket_timeout_ms) + " ms (REDIS_SOCKET_TIMEOUT_MS)";
    }
    if (closed_by_peer != nullptr) {
      *closed_by_peer =
          err == REDIS_ERR_EOF || (err == REDIS_ERR_IO && (sys_errno == ECONNRESET || sys_errno == EPIPE));
    }
    Close();
    return Status::Unavailable("redis " + options_.Address() + ": " + why);
  }

  const RedisOptions& options_;
  const int64_t extra_timeout_ms_;
  RedisSocket ctx_;
  bool used_ = false;  // has answered a call since it connected
};

//! Up to `max` connections shared by any thread; a caller waits when all are busy.
class ConnectionPool {
 public:
  ConnectionPool(const RedisOptions& options, int max) : options_(options), max_(std::max(max, 1)) {}

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<RedisConnection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    ~Lease() { pool_.Release(std::move(conn_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    RedisConnection* operator->() { return conn_.get(); }
    RedisConnection& operator*() { return *conn_; }

   private:
    ConnectionPool& pool_;
    std::unique_ptr<RedisConnection> conn_;
  };

  Lease Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || created_ < max_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
    ++created_;
    return Lease(*this, std::make_unique<RedisConnection>(options_, 0));
  }

 private:
  void Release(std::unique_ptr<RedisConnection> conn) {
    {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
  }

  const RedisOptions& options_;
  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;  // GUARDED_BY(mu_)
  int created_ = 0;                                     // GUARDED_BY(mu_)
};

std::string DefaultConsumerName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "unknown");
  }
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + RandomHex(4);
}

// Fields of a stream entry ([id, [field, value, ...]]), or nullopt for an entry deleted meanwhile.
std::optional<std::pair<std::string, std::vector<std::pair<std::string_view, std::string_view>>>> EntryFields(
    const redisReply* entry) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 ||
      entry->element[0]->type != REDIS_REPLY_STRING || entry->element[1]->type != REDIS_REPLY_ARRAY) {
    return std::nullopt;
  }
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  const redisReply* list = entry->element[1];
  for (size_t i = 0; i + 1 < list->elements; i += 2) {
    fields.emplace_back(ReplyText(list->element[i]), ReplyText(list->element[i + 1]));
  }
  return std::make_pair(std::string(ReplyText(entry->element[0])), std::move(fields));
}

// An entry's enqueue time, or else the time in its id (set by Redis when it was added).
int64_t EnqueuedAt(const std::string& id, std::optional<int64_t> field) {
  if (field) return *field;
  return ToInt(std::string_view(id).substr(0, id.find('-'))).value_or(0);
}

// Stream entries (queue items) from an array of entries; deleted ones (nil) are skipped.
std::vector<QueueItem> ToItems(const redisReply* entries) {
  std::vector<QueueItem> items;
  if (entries == nullptr || entries->type != REDIS_REPLY_ARRAY) return items;
  for (size_t i = 0; i < entries->elements; ++i) {
    auto entry = EntryFields(entries->element[i]);
    if (!entry) continue;
    QueueItem item;
    item.id = std::move(entry->first);
    std::optional<int64_t> enqueued;
    for (const auto& [name, value] : entry->second) {
      if (name == "payload") {
        item.payload.assign(value);
      } else if (name == "event_count") {
        item.event_count = static_cast<uint32_t>(std::max<int64_t>(ToInt(value).value_or(0), 0));
      } else if (name == "enqueued_at_ms") {
        enqueued = ToInt(value);
      }
    }
    item.enqueued_at_ms = EnqueuedAt(item.id, enqueued);
    items.push_back(std::move(item));
  }
  return items;
}

//! The EventQueue on a Redis stream and its consumer group; this process is one consumer.
//! Thread-safe: Append, Ack, Stats and the dead-letter calls run concurrently on pooled
//! connections; concurrent Reads take turns on the reader's connection.
class RedisEventQueue final : public EventQueue {
 public:
  RedisEventQueue(const RedisOptions& redis, const RedisQueueOptions& options, std::string consumer)
      : redis_(redis),
        options_(options),
        consumer_(std::move(consumer)),
        stream_key_(redis.key_prefix + "langfuse:ingestion"),
        events_key_(redis.key_prefix + "langfuse:ingestion:pending-events"),
        dlq_key_(redis.key_prefix + "langfuse:ingestion:dlq"),
        lease_key_(redis.key_prefix + "langfuse:ingestion:reader"),
        sweep_idle_ms_(std::max<int64_t>(3'600'000, 10 * options.claim_min_idle_ms)),
        pool_(redis_, options.max_connections),
        reader_(redis_, kBlockSliceMs),
        keeper_([this] { KeepAliveLoop(); }) {}

  ~RedisEventQueue() override {
    {
      std::lock_guard lock(keeper_mu_);
      stopping_ = true;
    }
    keeper_cv_.notify_all();
    keeper_.join();
    if (leader_.load()) {
      // A clean stop hands the stream over at once instead of after the lease expires.
      Command c{"EVAL", kReleaseLeaseScript, "1", lease_key_, consumer_};
      (void)Call(c);
    }
    if (has_read_.load()) {
      // A clean shutdown leaves no consumer behind; one that still owns entries stays, so that
      // another consumer can take them over.
      (void)Call(Command{"EVAL", kReleaseScript, "1", stream_key_, kGroup, consumer_});
    }
  }

  //! Creates the stream and group when missing, and reports a Redis configured to lose data.
  Status Init() {
    RETURN_IF_ERROR(CreateGroup(nullptr));
    auto info = Call(Command{"INFO"});
    if (!info.ok() || (*info)->type != REDIS_REPLY_STRING) return Status::Ok();  // INFO may be disabled
    std::string_view text = ReplyText(info->get());
    auto value = [&](std::string_view key) -> std::string_view {
      const std::string needle = "\n" + std::string(key) + ":";
      const size_t at = text.find(needle);
      if (at == std::string_view::npos) return {};
      const size_t start = at + needle.size();
      return text.substr(start, text.find_first_of("\r\n", start) - start);
    };
    const std::string_view version = value("redis_version");
    int major = 0, minor = 0;
    if (auto dot = version.find('.'); dot != std::string_view::npos) {
      major = static_cast<int>(ToInt(version.substr(0, dot)).value_or(0));
      minor =
          static_cast<int>(ToInt(version.substr(dot + 1, version.find('.', dot + 1) - dot - 1)).value_or(0));
    }
    if (major != 0 && (major < 6 || (major == 6 && minor < 2))) {
      return Status::InvalidArgument("redis " + redis_.Address() + " runs Redis " + std::string(version) +
                                     "; the queue needs Redis 6.2 or newer (XAUTOCLAIM)");
    }
    if (value("aof_enabled") == "0") {
      LOG_WARN(
          "queue: Redis at {} runs without its append-only file (appendonly no): queued events are lost if "
          "Redis restarts; run it with appendonly yes",
          redis_.Address());
    }
    const std::string_view policy = value("maxmemory_policy");
    if (!policy.empty() && policy != "noeviction") {
      LOG_WARN("queue: Redis at {} has maxmemory-policy {}: it may evict the queue's stream; use noeviction",
               redis_.Address(), policy);
    }
    return Status::Ok();
  }

  Status Append(std::vector<NewItem> items) override {
    if (items.empty()) return Status::Ok();
    const int64_t now = NowMs();
    int64_t events = 0;
    std::vector<Command> commands;
    commands.reserve(items.size() + 3);
    commands.push_back(Command{"MULTI"});
    for (const NewItem& item : items) {
      commands.push_back(Command{"XADD", stream_key_, "*", "event_count"}
                             .Int(item.event_count)
                             .Arg("enqueued_at_ms")
                             .Int(now)
                             .Arg("payload")
                             .Arg(item.payload));
      events += item.event_count;
    }
    commands.push_back(Command{"INCRBY", events_key_}.Int(events));
    commands.push_back(Command{"EXEC"});
    ASSIGN_OR_RETURN(auto replies, CallPipeline(commands));
    // A command refused while queued (out of memory, ...) aborts the transaction: report its reason.
    for (const Reply& reply : replies) {
      if (IsError(reply.get())) return ServerError(reply.get(), "append");
    }
    const redisReply* exec = replies.back().get();
    if (exec->type != REDIS_REPLY_ARRAY) {
      return Status::Unavailable("queue: redis " + redis_.Address() + ": append aborted");
    }
    for (size_t i = 0; i < exec->elements; ++i) {
      if (IsError(exec->element[i])) return ServerError(exec->element[i], "append");
    }
    return Status::Ok();
  }

  StatusOr<std::vector<QueueItem>> Read(size_t max_items, std::chrono::milliseconds wait) override {
    if (max_items == 0) return std::vector<QueueItem>{};
    std::lock_guard lock(read_mu_);
    has_read_ = true;
    const auto deadline = Clock::now() + wait;
    for (;;) {
      if (options_.exclusive_reader) {
        ASSIGN_OR_RETURN(const bool leader, HoldLease());
        if (!leader) {
          // A standby: another consumer reads. Wait (interruptibly) and report nothing.
          if (interrupted_.exchange(false) || Clock::now() >= deadline) return std::vector<QueueItem>{};
          std::this_thread::sleep_for(std::min<Clock::duration>(deadline - Clock::now(), std::chrono::milliseconds(kBlockSliceMs)));
          continue;
        }
      }
      if (Clock::now() >= next_claim_) {
        ASSIGN_OR_RETURN(auto claimed, ClaimIdle(max_items));
        if (!claimed.empty()) return Hold(std::move(claimed));
      }
      const bool interrupted = interrupted_.exchange(false);
      const int64_t remaining_ms =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      // -1: do not block. BLOCK 0 would mean forever, hence at least 1.
      const int64_t block_ms =
          interrupted || remaining_ms <= 0 ? -1 : std::clamp<int64_t>(remaining_ms, 1, kBlockSliceMs);
      ASSIGN_OR_RETURN(auto items, ReadNew(max_items, block_ms));
      if (!items.empty()) {
        if (interrupted) interrupted_ = true;  // not consumed: this read did not wait
        return Hold(std::move(items));
      }
      if (block_ms < 0) return items;
    }
  }

  Status Ack(const std::vector<std::string>& ids) override {
    if (ids.empty()) return Status::Ok();
    RETURN_IF_ERROR(CheckIds(ids));
    Status status = ForEachChunk(ids, [&](auto begin, auto end) -> Status {
      Command c{"EVAL", kAckScript, "2", stream_key_, events_key_, kGroup};
      for (auto it = begin; it != end; ++it) c.Arg(*it);
      ASSIGN_OR_RETURN(auto reply, Call(c));
      if (IsError(reply.get())) return ServerError(reply.get(), "acknowledge");
      return Status::Ok();
    });
    // Forgotten even when the call failed: an entry whose acknowledgement may not have arrived is
    // no longer kept alive, so it is delivered again after the idle time instead of never.
    std::lock_guard lock(held_mu_);
    for (const auto& id : ids) held_.erase(id);
    return status;
  }

  Status DeadLetterItem(const std::string& payload, uint32_t event_count, int64_t enqueued_at_ms,
                        const std::string& reason) override {
    Command c{"XADD", dlq_key_, "*", "event_count"};
    c.Int(event_count).Arg("enqueued_at_ms").Int(enqueued_at_ms).Arg("failed_at_ms").Int(NowMs());
    c.Arg("reason").Arg(reason).Arg("payload").Arg(payload);
    ASSIGN_OR_RETURN(auto reply, Call(c));
    if (IsError(reply.get())) return ServerError(reply.get(), "dead-letter");
    return Status::Ok();
  }

  StatusOr<QueueStats> Stats() override {
    ASSIGN_OR_RETURN(auto replies, CallPipeline({Command{"MULTI"}, Command{"XLEN", stream_key_},
                                                 Command{"GET", events_key_},
                                                 Command{"XRANGE", stream_key_, "-", "+", "COUNT", "1"},
                                                 Command{"XLEN", dlq_key_}, Command{"EXEC"}}));
    const redisReply* exec = replies.back().get();
    if (IsError(exec)) return ServerError(exec, "stats");
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != 4) {
      return Status::Internal("queue: redis " + redis_.Address() + ": unexpected answer to the stats query");
    }
    for (size_t i = 0; i < exec->elements; ++i) {
      if (IsError(exec->element[i])) return ServerError(exec->element[i], "stats");
    }
    QueueStats stats;
    stats.pending_items = exec->element[0]->integer;
    if (exec->element[1]->type == REDIS_REPLY_STRING) {
      stats.pending_events = std::max<int64_t>(ToInt(ReplyText(exec->element[1])).value_or(0), 0);
    }
    auto first = ToItems(exec->element[2]);
    if (!first.empty()) stats.oldest_enqueued_at_ms = first.front().enqueued_at_ms;
    stats.dead_letters = exec->element[3]->integer;
    return stats;
  }

  StatusOr<std::vector<DeadLetter>> ListDeadLetters(size_t limit) override {
    std::vector<DeadLetter> out;
    if (limit == 0) return out;
    ASSIGN_OR_RETURN(auto reply, Call(Command{"XRANGE", dlq_key_, "-", "+", "COUNT"}.Int(static_cast<int64_t>(
                                     std::min<size_t>(limit, std::numeric_limits<int32_t>::max())))));
    if (IsError(reply.get())) return ServerError(reply.get(), "list dead letters");
    if (reply->type != REDIS_REPLY_ARRAY) return out;
    for (size_t i = 0; i < reply->elements; ++i) {
      auto entry = EntryFields(reply->element[i]);
      if (!entry) continue;
      DeadLetter d;
      d.id = std::move(entry->first);
      std::optional<int64_t> enqueued;
      for (const auto& [name, value] : entry->second) {
        if (name == "payload") {
          d.payload.assign(value);
        } else if (name == "event_count") {
          d.event_count = static_cast<uint32_t>(std::max<int64_t>(ToInt(value).value_or(0), 0));
        } else if (name == "enqueued_at_ms") {
          enqueued = ToInt(value);
        } else if (name == "failed_at_ms") {
          d.failed_at_ms = ToInt(value).value_or(0);
        } else if (name == "reason") {
          d.reason.assign(value);
        }
      }
      d.enqueued_at_ms = EnqueuedAt(d.id, enqueued);
      out.push_back(std::move(d));
    }
    return out;
  }

  StatusOr<int64_t> ReplayDeadLetters(const std::vector<std::string>& ids) override {
    RETURN_IF_ERROR(CheckIds(ids));
    int64_t moved = 0;
    auto run = [&](Command c) -> StatusOr<int64_t> {
      ASSIGN_OR_RETURN(auto reply, Call(c));
      if (IsError(reply.get())) return ServerError(reply.get(), "replay dead letters");
      return reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    };
    if (!ids.empty()) {
      RETURN_IF_ERROR(ForEachChunk(ids, [&](auto begin, auto end) -> Status {
        Command c{"EVAL", kReplayScript, "3", stream_key_, events_key_, dlq_key_, "ids"};
        for (auto it = begin; it != end; ++it) c.Arg(*it);
        ASSIGN_OR_RETURN(const int64_t n, run(std::move(c)));
        moved += n;
        return Status::Ok();
      }));
      return moved;
    }
    // Everything dead-lettered up to now; letters added while replaying wait for the next replay.
    ASSIGN_OR_RETURN(auto last, Call(Command{"XREVRANGE", dlq_key_, "+", "-", "COUNT", "1"}));
    if (IsError(last.get())) return ServerError(last.get(), "replay dead letters");
    if (last->type != REDIS_REPLY_ARRAY || last->elements == 0) return moved;
    auto newest = EntryFields(last->element[0]);
    if (!newest) return moved;
    for (;;) {
      ASSIGN_OR_RETURN(const int64_t n, run(Command{"EVAL", kReplayScript, "3", stream_key_, events_key_,
                                                    dlq_key_, "upto", newest->first}
                                                .Int(kReplayChunk)));
      moved += n;
      if (n == 0) return moved;
    }
  }

  void Interrupt() override { interrupted_ = true; }

 private:
  template <typename Fn>
  static Status ForEachChunk(const std::vector<std::string>& ids, Fn fn) {
    for (size_t start = 0; start < ids.size(); start += kIdsPerScript) {
      const size_t end = std::min(ids.size(), start + kIdsPerScript);
      RETURN_IF_ERROR(fn(ids.begin() + static_cast<std::ptrdiff_t>(start),
                         ids.begin() + static_cast<std::ptrdiff_t>(end)));
    }
    return Status::Ok();
  }

  // Errors Redis answers with. Those that pass (loading after a restart, out of memory, a replica
  // promoted, a failing disk) are Unavailable; anything else is a defect or a misconfiguration.
  Status ServerError(const redisReply* reply, std::string_view what) const {
    const std::string_view text = ReplyText(reply);
    std::string message =
        "queue: redis " + redis_.Address() + ": " + std::string(what) + " failed: " + std::string(text);
    for (std::string_view transient :
         {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "MISCONF", "TRYAGAIN", "CLUSTERDOWN",
          "NOREPLICAS", "NOAUTH", "WRONGPASS", "NOPERM", "EXECABORT"}) {
      if (text.starts_with(transient)) return Status::Unavailable(std::move(message));
    }
    return Status::Internal(std::move(message));
  }

  // Runs commands on a pooled connection; notes when Redis becomes unreachable and reachable again.
  StatusOr<std::vector<Reply>> CallPipeline(const std::vector<Command>& commands) {
    auto lease = pool_.Acquire();
    return Observe(lease->Pipeline(commands));
  }

  StatusOr<Reply> Call(const Command& command) {
    ASSIGN_OR_RETURN(auto replies, CallPipeline({command}));
    return std::move(replies.front());
  }

  template <typename T>
  StatusOr<T> Observe(StatusOr<T> result) {
    if (!result.ok()) {
      GetQueueMetrics().connection_failures.Add();
      if (reachable_.exchange(false)) LOG_ERROR("queue: {}", result.status().message());
      return Status::Unavailable("queue: " + result.status().message());
    }
    if (!reachable_.exchange(true)) LOG_INFO("queue: Redis at {} answers again", redis_.Address());
    return result;
  }

  // XGROUP CREATE ... MKSTREAM, from the stream's first entry (all of them are undelivered when the
  // group is new, e.g. after a Redis restart without its append-only file recreated the stream).
  Status CreateGroup(RedisConnection* conn) {
    const Command c{"XGROUP", "CREATE", stream_key_, kGroup, "0", "MKSTREAM"};
    auto reply = conn != nullptr ? Observe(conn->Run(c)) : Call(c);
    if (!reply.ok()) return reply.status();
    if (IsError(reply->get()) && !IsError(reply->get(), "BUSYGROUP")) {
      return ServerError(reply->get(), "create group");
    }
    return Status::Ok();
  }

  // Runs a group command on the reader's connection, creating the group when Redis lost it.
  StatusOr<Reply> RunOnReader(const Command& c, std::string_view what) {
    ASSIGN_OR_RETURN(Reply reply, Observe(reader_.Run(c)));
    if (IsError(reply.get(), "NOGROUP")) {
      LOG_WARN("queue: the consumer group of {} is missing (Redis lost its data?); creating it", stream_key_);
      RETURN_IF_ERROR(CreateGroup(&reader_));
      ASSIGN_OR_RETURN(reply, Observe(reader_.Run(c)));
    }
    if (IsError(reply.get())) return ServerError(reply.get(), what);
    return reply;
  }

  // New entries for this consumer, waiting up to block_ms (-1: not at all).
  StatusOr<std::vector<QueueItem>> ReadNew(size_t max_items, int64_t block_ms) {
    Command c{"XREADGROUP", "GROUP", kGroup, consumer_, "COUNT"};
    c.Int(static_cast<int64_t>(max_items));
    if (block_ms >= 0) c.Arg("BLOCK").Int(block_ms);
    c.Arg("STREAMS").Arg(stream_key_).Arg(">");
    ASSIGN_OR_RETURN(Reply reply, RunOnReader(c, "read"));
    // nil after a BLOCK without news, else [[stream, [entries]]].
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return std::vector<QueueItem>{};
    const redisReply* stream = reply->element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2) return std::vector<QueueItem>{};
    return ToItems(stream->element[1]);
  }

  // Takes over entries other consumers left idle for claim_min_idle_ms, walking the group's pending
  // list with a cursor across calls; once it wrapped around, waits claim_interval before the next walk.
  StatusOr<std::vector<QueueItem>> ClaimIdle(size_t max_items) {
    Command c{"XAUTOCLAIM", stream_key_, kGroup, consumer_};
    c.Int(options_.claim_min_idle_ms).Arg(claim_cursor_).Arg("COUNT").Int(static_cast<int64_t>(max_items));
    ASSIGN_OR_RETURN(Reply reply, RunOnReader(c, "claim idle entries"));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
      return Status::Internal("queue: redis " + redis_.Address() + ": unexpected answer to XAUTOCLAIM");
    }
    claim_cursor_ = std::string(ReplyText(reply->element[0]));
    auto items = ToItems(reply->element[1]);
    if (claim_cursor_ == "0-0") {
      next_claim_ = Clock::now() + ClaimInterval();
      if (Clock::now() >= next_sweep_) {
        next_sweep_ = Clock::now() + std::chrono::minutes(10);
        auto swept = RunOnReader(
            Command{"EVAL", kSweepScript, "1", stream_key_, kGroup, consumer_}.Int(sweep_idle_ms_),
            "remove stopped consumers");
        if (!swept.ok()) {
          LOG_WARN("queue: removing stopped consumers from the group failed: {}", swept.status().message());
        } else if ((*swept)->type == REDIS_REPLY_INTEGER && (*swept)->integer > 0) {
          LOG_INFO("queue: removed {} stopped consumer(s) without entries from the group", (*swept)->integer);
        }
      }
    }
    if (!items.empty()) {
      GetQueueMetrics().claimed.Add(items.size());
      LOG_WARN("queue: took over {} entr{} left unacknowledged for over {} ms by a stopped consumer",
               items.size(), items.size() == 1 ? "y" : "ies", options_.claim_min_idle_ms);
    }
    return items;
  }

  std::chrono::milliseconds ClaimInterval() const {
    return std::chrono::milliseconds(std::clamp<int64_t>(options_.claim_min_idle_ms / 4, 10, 5000));
  }

  std::vector<QueueItem> Hold(std::vector<QueueItem> items) {
    std::lock_guard lock(held_mu_);
    for (const auto& item : items) held_.insert(item.id);
    return items;
  }

  // Takes the reader lease if free, renews it if ours. True when this consumer holds it.
  StatusOr<bool> HoldLease() {
    Command c{"EVAL", kLeaseScript, "1", lease_key_, consumer_};
    c.Int(options_.claim_min_idle_ms);
    ASSIGN_OR_RETURN(auto reply, Call(c));
    if (IsError(reply.get())) return ServerError(reply.get(), "reader lease");
    const bool held = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    if (held && !leader_.exchange(true)) LOG_INFO("queue: this worker ({}) now reads the ingestion queue", consumer_);
    if (!held && leader_.exchange(false)) LOG_WARN("queue: this worker ({}) lost the reader lease", consumer_);
    return held;
  }

  // Touches the entries this consumer holds every third of the claim idle time.
  void KeepAliveLoop() {
    const auto interval = std::chrono::milliseconds(std::max<int64_t>(options_.claim_min_idle_ms / 3, 5));
    std::unique_lock lock(keeper_mu_);
    while (!keeper_cv_.wait_for(lock, interval, [&] { return stopping_; })) {
      lock.unlock();
      // The lease is renewed here too: a worker busy with a long insert does not call Read.
      if (options_.exclusive_reader && leader_.load()) (void)HoldLease();
      std::vector<std::string> held;
      {
        std::lock_guard held_lock(held_mu_);
        held.assign(held_.begin(), held_.end());
      }
      std::vector<std::string> lost;
      (void)ForEachChunk(held, [&](auto begin, auto end) -> Status {
        Command c{"EVAL", kKeepAliveScript, "1", stream_key_, kGroup, consumer_};
        for (auto it = begin; it != end; ++it) c.Arg(*it);
        ASSIGN_OR_RETURN(auto reply, Call(c));
        if (IsError(reply.get())) return ServerError(reply.get(), "keep entries");
        for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; ++i) {
          lost.emplace_back(ReplyText(reply->element[i]));
        }
        return Status::Ok();
      });
      if (!lost.empty()) {
        std::lock_guard held_lock(held_mu_);
        for (const auto& id : lost) held_.erase(id);
      }
      lock.lock();
    }
  }

  const RedisOptions redis_;
  const RedisQueueOptions options_;
  const std::string consumer_;
  const std::string stream_key_;
  const std::string events_key_;
  const std::string dlq_key_;
  const std::string lease_key_;
  std::atomic<bool> leader_{false};  // holds the reader lease (exclusive_reader)
  const int64_t sweep_idle_ms_;
  ConnectionPool pool_;
  std::atomic<bool> reachable_{true};

  std::mutex read_mu_;
  RedisConnection reader_;            // GUARDED_BY(read_mu_)
  std::string claim_cursor_ = "0-0";  // GUARDED_BY(read_mu_)
  Clock::time_point next_claim_{};    // GUARDED_BY(read_mu_)
  Clock::time_point next_sweep_{};    // GUARDED_BY(read_mu_)
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> has_read_{false};

  std::mutex held_mu_;
  std::set<std::string> held_;  // GUARDED_BY(held_mu_): delivered here, not yet acknowledged

  std::mutex keeper_mu_;
  std::condition_variable keeper_cv_;
  bool stopping_ = false;  // GUARDED_BY(keeper_mu_)
  std::thread keeper_;     // last: starts after everything above exists
};

}  // namespace

StatusOr<std::unique_ptr<EventQueue>> OpenRedisEventQueue(const RedisOptions& redis,
                                                          const RedisQueueOptions& options) {
  RETURN_IF_ERROR(CheckRedisTls(redis));
  if (options.claim_min_idle_ms <= 0) {
    return Status::InvalidArgument("queue: the claim idle time must be positive");
  }
  if (options.max_connections < 1) {
    return Status::InvalidArgument("queue: at least one Redis connection is needed");
  }
  auto queue = std::make_unique<RedisEventQueue>(
      redis, options, options.consumer_name.empty() ? DefaultConsumerName() : options.consumer_name);
  RETURN_IF_ERROR(queue->Init());
  return std::unique_ptr<EventQueue>(std::move(queue));
}

}  // namespace langfuse::queue
