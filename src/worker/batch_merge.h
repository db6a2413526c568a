#pragma once

// Internal to the ingestion worker: the merge thread's per-batch work without its threads, queue
// and store, so that it can be tested and benchmarked on its own. Events read from the queue are
// grouped by entity (Batch), merged with the cached or stored row (MergeBatch), and the merged
// rows are kept for the next batches (RecentRows). Not thread-safe; one merge thread owns these.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

#include "common/status.h"
#include "ingest/batch.h"
#include "ingest/merge.h"
#include "queue/event_queue.h"
#include "storage/traces/records.h"

namespace langfuse::worker::internal {

//! What a cached row holds in memory: the record, its cache entry and hash node, and the heap
//! bytes behind its strings, maps and arrays (allocator rounding aside).
size_t ApproxBytes(const std::string& key, const traces::TraceRecord& r);
size_t ApproxBytes(const std::string& key, const traces::ObservationRecord& r);
size_t ApproxBytes(const std::string& key, const traces::ScoreRecord& r);

//! A merged row as the cache keeps it: the row itself stays in its batch's rows, which the writer
//! and the cache share (see MergedRows), plus what the merge knows about its sort-key values.
template <typename Record>
struct CachedRow {
  std::shared_ptr<const std::vector<Record>> rows;
  size_t index = 0;
  bool time_is_explicit = true;
  bool type_is_explicit = true;
  bool trace_id_is_explicit = true;

  const Record& row() const { return (*rows)[index]; }
};

//! A map of recently merged rows that forgets the least recently *written* half when full: two
//! generations, the older dropped when the younger fills. Cheaper than an exact LRU and good
//! enough, since a miss only costs a read from ClickHouse.
template <typename Record>
class RecentRows {
 public:
  RecentRows(size_t capacity, size_t capacity_bytes)
      : half_(std::max<size_t>(capacity / 2, 1)), half_bytes_(std::max<size_t>(capacity_bytes / 2, 1)) {}

  const CachedRow<Record>* Find(const std::string& key) const {
    if (auto it = young_.find(key); it != young_.end()) return &it->second;
    if (auto it = old_.find(key); it != old_.end()) return &it->second;
    return nullptr;
  }

  void Put(std::string key, CachedRow<Record> entry) {
    const size_t bytes = ApproxBytes(key, entry.row());
    if (young_.size() >= half_ || young_bytes_ + bytes > half_bytes_) {
      old_ = std::move(young_);
      young_.clear();
      young_bytes_ = 0;
    }
    // A row bigger than a whole generation is not kept: the next event for it reads it back.
    if (bytes > half_bytes_) {
      old_.erase(key);
      return;
    }
    young_.insert_or_assign(std::move(key), std::move(entry));
    // A replaced entry's bytes stay counted until the generation rotates: an overestimate.
    // (A batch's rows live as long as any of them is cached; those no longer cached are a small
    // excess over this count, the batches whose entries straddle a rotation.)
    young_bytes_ += bytes;
  }

  size_t size() const { return young_.size() + old_.size(); }

 private:
  size_t half_;
  size_t half_bytes_;
  size_t young_bytes_ = 0;
  std::unordered_map<std::string, CachedRow<Record>> young_;
  std::unordered_map<std::string, CachedRow<Record>> old_;
};

//! The recently merged rows of each table.
struct Caches {
  Caches(size_t n, size_t bytes) : traces(n, bytes), observations(n, bytes), scores(n, bytes) {}
  RecentRows<traces::TraceRecord> traces;
  RecentRows<traces::ObservationRecord> observations;
  RecentRows<traces::ScoreRecord> scores;
};

//! The cache key of an entity.
std::string EntityKey(const std::string& project_id, const std::string& id);

//! The events read from the queue but not yet written, grouped by entity. The events stay where
//! their queue entry was decoded (payloads()); entities refer to them.
class Batch {
 public:
  //! One event: its queue entry (an index into payloads()) and its place in that entry. Compared
  //! as a pair, refs are in arrival order.
  struct EventRef {
    uint32_t payload = 0;
    uint32_t index = 0;
    bool operator<(const EventRef& other) const {
      return payload != other.payload ? payload < other.payload : index < other.index;
    }
  };
  //! An entity's events, in arrival order, as a chain through the batch's event list.
  struct Entity {
    uint32_t first = 0;  //!< position in the batch's event list (see EventsOf)
    uint32_t last = 0;
  };
  struct Queued {
    std::string payload;
    uint32_t event_count = 0;
  };

  bool empty() const { return item_ids_.empty(); }
  size_t event_count() const { return refs_.size(); }
  size_t payload_bytes() const { return payload_bytes_; }
  int64_t started_at_ms() const { return started_at_ms_; }

  //! Decodes a queue entry and files its events under their entities. An entry that does not
  //! decode is set aside (unreadable()) for the dead-letter store.
  void Add(queue::QueueItem item, simdjson::dom::parser& parser);

  //! Entities by EntityKey, per table.
  std::unordered_map<std::string, Entity>& traces() { return traces_; }
  std::unordered_map<std::string, Entity>& observations() { return observations_; }
  std::unordered_map<std::string, Entity>& scores() { return scores_; }
  //! Replaces `out` with the entity's events in arrival order.
  void EventsOf(const Entity& entity, std::vector<EventRef>& out) const;
  EventRef first_event(const Entity& entity) const { return refs_[entity.first]; }
  ingest::ParsedEvent& event(EventRef ref) { return payloads_[ref.payload].events[ref.index]; }
  const ingest::DecodedPayload& payload(EventRef ref) const { return payloads_[ref.payload]; }

  const std::vector<ingest::DecodedPayload>& payloads() const { return payloads_; }
  //! The queue payload of each decoded payload (same index).
  const std::vector<Queued>& queued() const { return queued_; }
  const std::vector<std::string>& item_ids() const { return item_ids_; }
  const std::vector<queue::DeadLetter>& unreadable() const { return unreadable_; }
  const std::string& first_item_id() const { return item_ids_.front(); }

 private:
  static constexpr uint32_t kEndOfChain = UINT32_MAX;

  std::vector<std::string> item_ids_;
  std::vector<ingest::DecodedPayload> payloads_;
  std::vector<Queued> queued_;
  std::vector<queue::DeadLetter> unreadable_;
  std::unordered_map<std::string, Entity> traces_, observations_, scores_;
  std::vector<EventRef> refs_;  // every event, in arrival order
  std::vector<uint32_t> next_;  // per event: the next event of its entity, or kEndOfChain
  std::string key_;             // scratch for EntityKey
  std::string text_;            // scratch: the JSON text of the entry being decoded
  size_t payload_bytes_ = 0;
  int64_t started_at_ms_ = 0;
};

//! Where the merge reads the stored rows of entities the cache lacks (ids per project).
class StoredRowReader {
 public:
  virtual ~StoredRowReader() = default;
  virtual StatusOr<std::vector<traces::TraceRecord>> Traces(const std::string& project_id,
                                                            const std::vector<std::string>& ids) = 0;
  virtual StatusOr<std::vector<traces::ObservationRecord>> Observations(
      const std::string& project_id, const std::vector<std::string>& ids) = 0;
  virtual StatusOr<std::vector<traces::ScoreRecord>> Scores(const std::string& project_id,
                                                            const std::vector<std::string>& ids) = 0;
};

//! The rows one batch writes, per table (tombstones of moved rows included). Shared between the
//! writer, which inserts them, and the cache, whose entries point at them so that a merged row is
//! not copied to be cached; whichever lets go last frees them. Never changed once merged.
struct MergedRows {
  std::shared_ptr<const std::vector<traces::TraceRecord>> traces;
  std::shared_ptr<const std::vector<traces::ObservationRecord>> observations;
  std::shared_ptr<const std::vector<traces::ScoreRecord>> scores;
};

//! Merges every entity of the batch with its cached or stored row into `out`, then caches the
//! merged rows (the next batch builds on them before this one is written). The stored rows are
//! read first: an error from `reader` is returned with the batch, `out` and the caches
//! unchanged, so the call can be repeated. Once it succeeded, the events' values have been moved
//! into the rows: a batch is merged once.
Status MergeBatch(Batch& batch, Caches& caches, StoredRowReader& reader, int64_t now_ms, MergedRows& out);

}  // namespace langfuse::worker::internal
