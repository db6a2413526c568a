#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "queue/redis_options.h"

namespace langfuse::queue {

//! One entry handed from the web role to the worker: an opaque payload (our JSON envelope of a
//! request's accepted events) plus bookkeeping.
struct QueueItem {
  std::string id;              //!< opaque, used to acknowledge
  std::string payload;
  int64_t enqueued_at_ms = 0;
  uint32_t event_count = 0;    //!< events inside the payload, for depth metrics
};

//! An entry that failed processing too often. Never dropped: listed and replayable.
struct DeadLetter {
  std::string id;
  std::string payload;
  int64_t enqueued_at_ms = 0;
  int64_t failed_at_ms = 0;
  uint32_t event_count = 0;
  std::string reason;
};

struct QueueStats {
  int64_t pending_items = 0;
  int64_t pending_events = 0;
  std::optional<int64_t> oldest_enqueued_at_ms;  //!< of the oldest unacknowledged item
  int64_t dead_letters = 0;
};

//! The durable hand-off between web and worker. Append returns only once the items survive a
//! crash of the process or the machine; an appended item is delivered to the worker at least
//! once until it is acknowledged (after the worker's insert succeeded). Implementations: a local
//! SQLite file (embedded default, group-committed) and Redis Streams (scale mode).
//! Thread-safety: all methods may be called concurrently from any thread.
class EventQueue {
 public:
  struct NewItem {
    std::string payload;
    uint32_t event_count = 0;
  };

  virtual ~EventQueue() = default;

  //! Durably appends the items (one group commit shared with concurrent callers).
  virtual Status Append(std::vector<NewItem> items) = 0;
  //! Up to `max_items` items not yet delivered to this consumer, waiting up to `wait` for the
  //! first. Unacknowledged items are delivered again after a restart.
  virtual StatusOr<std::vector<QueueItem>> Read(size_t max_items, std::chrono::milliseconds wait) = 0;
  //! Marks items as done; they are never delivered again.
  virtual Status Ack(const std::vector<std::string>& ids) = 0;
  //! Moves an item's payload to the dead-letter store and acknowledges it, in one step.
  virtual Status DeadLetterItem(const std::string& payload, uint32_t event_count, int64_t enqueued_at_ms,
                                const std::string& reason) = 0;

  virtual StatusOr<QueueStats> Stats() = 0;
  virtual StatusOr<std::vector<DeadLetter>> ListDeadLetters(size_t limit) = 0;
  //! Sends dead letters back to the queue (all when `ids` is empty); returns how many.
  virtual StatusOr<int64_t> ReplayDeadLetters(const std::vector<std::string>& ids) = 0;
  //! Wakes a blocked Read (used at shutdown).
  virtual void Interrupt() = 0;
};

//! Opens (creating if needed) the local durable queue file. Several processes may open the same
//! file (e.g. `langfuse dlq` next to a running server); one of them should consume.
StatusOr<std::unique_ptr<EventQueue>> OpenLocalEventQueue(const std::string& path);

//! Opens the queue on Redis Streams (scale mode): the stream `<prefix>langfuse:ingestion` read by
//! the consumer group `workers` (created when missing), dead letters in
//! `<prefix>langfuse:ingestion:dlq`. Any number of processes open it; each is one consumer and
//! entries are shared among them. Append is as durable as Redis's append-only file makes it (run
//! Redis with `appendonly yes`). Unavailable when Redis cannot be reached (calls on the opened
//! queue reconnect by themselves); InvalidArgument for options this client cannot honour (e.g. an
//! unreadable REDIS_TLS_CA_PATH).
StatusOr<std::unique_ptr<EventQueue>> OpenRedisEventQueue(const RedisOptions& redis,
                                                          const RedisQueueOptions& options = {});

}  // namespace langfuse::queue
