#pragma once

// Which (project, id) pairs a table may hold, kept in memory so that the ingestion worker's read
// of stored rows can skip the ids that are certainly new. Used only where this process is the
// tracing store's sole writer (the embedded mode): every id then reaches the store through
// TraceStore's inserts, which record it first, or was there when the store was opened, which
// Load() records.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {

//! The hash the filters keep: XXH64 (seed 0) of `project_id`, a 0x1F byte and `id`, which is
//! ClickHouse's xxHash64(concat(project_id, '\x1f', id)), so the store can compute it for its rows.
uint64_t KnownIdHash(std::string_view project_id, std::string_view id);

//! A set of 64-bit hashes that never answers "absent" for a hash it was given, and answers
//! "maybe present" for one it was not given about once in a hundred million lookups: open
//! addressing over 32-bit fingerprints (the home slot from one half of the hash, the fingerprint
//! from the other), filled to 80 %, so 5 bytes per hash (up to three times that just after it
//! grew). It grows by adding a table twice the size of all before it, and looks a hash up in
//! each. A hash added twice is kept once.
//! Not thread-safe.
class IdHashFilter {
 public:
  explicit IdHashFilter(size_t initial_capacity = size_t{1} << 16);

  void Add(uint64_t hash);
  bool MayContain(uint64_t hash) const;
  //! Makes room for `n` more hashes in one table (fewer, larger tables answer faster).
  void Reserve(size_t n);

  size_t size() const { return size_; }
  size_t memory_bytes() const;

 private:
  struct Layer {
    std::vector<uint32_t> slots;  // 0 = empty
    size_t capacity = 0;          // hashes it takes before the next layer is added
    size_t count = 0;
    uint64_t seed = 0;
  };
  void AddLayer(size_t capacity);
  static bool LayerHas(const Layer& layer, uint64_t hash);

  size_t initial_capacity_;
  size_t size_ = 0;
  std::vector<Layer> layers_;
};

//! The tables whose ids are tracked.
enum class KnownIdTable { kTraces = 0, kObservations = 1, kScores = 2 };
//! The table's name in the store ("traces", "observations", "scores").
std::string_view KnownIdTableName(KnownIdTable table);

//! The ids of the three tracing tables, filled from the store once (Load) and by every insert
//! (Add). Until Load() has finished, Ready() is false and callers must read the store as if there
//! were no filter. Thread-safe.
class KnownIds {
 public:
  //! Records the ids of `rows` (anything with `project_id` and `id` members).
  template <typename Rows>
  void Add(KnownIdTable table, const Rows& rows) {
    std::lock_guard lock(mu_);
    IdHashFilter& filter = filters_[static_cast<size_t>(table)];
    for (const auto& row : rows) filter.Add(KnownIdHash(row.project_id, row.id));
  }
  //! The ids of `ids` the table may hold for the project (all of them until Ready()).
  std::vector<std::string> MaybeStored(KnownIdTable table, const std::string& project_id,
                                       const std::vector<std::string>& ids) const;
  bool Ready() const { return ready_.load(std::memory_order_acquire); }

  //! Reads the hashes of every row the tables hold, one day at a time, then marks the set
  //! ready. Called once, before or while inserts run (they record their own ids). Returns early
  //! (not ready) when `stop` becomes true.
  Status Load(ClickHouseTransport& transport, const std::atomic<bool>& stop);

  //! Hashes held and the bytes they take, over all tables.
  size_t size() const;
  size_t memory_bytes() const;

 private:
  mutable std::mutex mu_;
  std::array<IdHashFilter, 3> filters_;  // GUARDED_BY(mu_), by KnownIdTable
  std::atomic<bool> ready_{false};
};

}  // namespace langfuse::traces
