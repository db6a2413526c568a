#include "storage/traces/known_ids.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <fmt/core.h>

namespace langfuse::traces {
namespace {

// A 64-bit finalizer (SplitMix64's): spreads a layer's seed through the hash, so that the layers
// of one filter give the same hash unrelated home slots and fingerprints.
constexpr uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Where a hash starts its walk in a layer, and the fingerprint it leaves there (never 0, which
// marks an empty slot).
struct Probe {
  size_t home;
  uint32_t fingerprint;
};
Probe ProbeOf(uint64_t hash, uint64_t seed, size_t slots) {
  const uint64_t h = Mix(hash ^ seed);
  const auto fingerprint = static_cast<uint32_t>(h);
  return {static_cast<size_t>(((h >> 32) * slots) >> 32), fingerprint == 0 ? 1u : fingerprint};
}

// Each table with the time its sort key's date comes from, by KnownIdTable.
struct TrackedTable {
  const char* name;
  const char* time;
};
constexpr std::array<TrackedTable, 3> kTables = {
    {{"traces", "timestamp"}, {"observations", "start_time"}, {"scores", "timestamp"}}};

}  // namespace

uint64_t KnownIdHash(std::string_view project_id, std::string_view id) {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  XXH64_update(&state, project_id.data(), project_id.size());
  const char separator = '\x1f';
  XXH64_update(&state, &separator, 1);
  XXH64_update(&state, id.data(), id.size());
  return XXH64_digest(&state);
}

std::string_view KnownIdTableName(KnownIdTable table) { return kTables[static_cast<size_t>(table)].name; }

IdHashFilter::IdHashFilter(size_t initial_capacity)
    : initial_capacity_(std::max<size_t>(initial_capacity, 64)) {}

void IdHashFilter::AddLayer(size_t capacity) {
  Layer layer;
  layer.capacity = capacity;
  // Filled to 80 % at most: a lookup of an absent hash then walks about 13 slots (a cache line or
  // two) and compares 13 fingerprints, each matching by chance once in 2^32.
  layer.slots.resize(capacity + capacity / 4 + 1);
  layer.seed = Mix(0x6c66'6b6e'6f77'6e00ULL + layers_.size());
  layers_.push_back(std::move(layer));
}

void IdHashFilter::Reserve(size_t n) {
  if (!layers_.empty() && layers_.back().capacity - layers_.back().count >= n) return;
  size_t total = 0;
  for (const Layer& l : layers_) total += l.capacity;
  AddLayer(std::max({n, initial_capacity_, 2 * total}));
}

bool IdHashFilter::LayerHas(const Layer& layer, uint64_t hash) {
  const size_t n = layer.slots.size();
  const Probe p = ProbeOf(hash, layer.seed, n);
  // The layer is never full, so the walk ends at an empty slot.
  for (size_t at = p.home;; at = at + 1 == n ? 0 : at + 1) {
    const uint32_t slot = layer.slots[at];
    if (slot == p.fingerprint) return true;
    if (slot == 0) return false;
  }
}

void IdHashFilter::Add(uint64_t hash) {
  if (MayContain(hash)) return;
  if (layers_.empty() || layers_.back().count >= layers_.back().capacity) Reserve(1);
  Layer& layer = layers_.back();
  const size_t n = layer.slots.size();
  const Probe p = ProbeOf(hash, layer.seed, n);
  size_t at = p.home;
  while (layer.slots[at] != 0) at = at + 1 == n ? 0 : at + 1;
  layer.slots[at] = p.fingerprint;
  ++layer.count;
  ++size_;
}

bool IdHashFilter::MayContain(uint64_t hash) const {
  for (const Layer& layer : layers_) {
    if (LayerHas(layer, hash)) return true;
  }
  return false;
}

size_t IdHashFilter::memory_bytes() const {
  size_t n = 0;
  for (const Layer& l : layers_) n += l.slots.capacity() * sizeof(uint32_t);
  return n;
}

std::vector<std::string> KnownIds::MaybeStored(KnownIdTable table, const std::string& project_id,
                                               const std::vector<std::string>& ids) const {
  if (!Ready()) return ids;
  std::vector<std::string> maybe;
  std::lock_guard lock(mu_);
  const IdHashFilter& filter = filters_[static_cast<size_t>(table)];
  for (const std::string& id : ids) {
    if (filter.MayContain(KnownIdHash(project_id, id))) maybe.push_back(id);
  }
  return maybe;
}

Status KnownIds::Load(ClickHouseTransport& transport, const std::atomic<bool>& stop) {
  for (size_t t = 0; t < kTables.size(); ++t) {
    const TrackedTable& table = kTables[t];
    // A day at a time (a range of the sort key): the hashes in flight, and the engine's buffers
    // for them, are then a day's (8 bytes a row) rather than the table's.
    // TSV lines "YYYY-MM-DD<tab>rows": nothing in them needs unescaping.
    auto days = transport.Query(
        fmt::format("SELECT toDate({0}) AS day, count() FROM {1} GROUP BY day ORDER BY day", table.time, table.name),
        {}, "TSV");
    if (!days.ok()) return days.status();
    std::vector<std::string> dates;
    size_t rows = 0;
    for (std::string_view rest = *days; !rest.empty();) {
      const size_t end = std::min(rest.find('\n'), rest.size());
      const std::string_view line = rest.substr(0, end);
      rest.remove_prefix(std::min(end + 1, rest.size()));
      const size_t tab = line.find('\t');
      size_t count = 0;
      if (tab == std::string_view::npos ||
          std::from_chars(line.data() + tab + 1, line.data() + line.size(), count).ec != std::errc()) {
        return Status::Internal("known ids: unreadable list of days");
      }
      dates.emplace_back(line.substr(0, tab));
      rows += count;
    }
    {
      std::lock_guard lock(mu_);
      filters_[t].Reserve(rows);
    }
    // One thread: the load runs beside ingestion, and a day's rows take milliseconds anyway.
    const std::string sql = fmt::format(
        "SELECT xxHash64(concat(project_id, '\\x1f', id)) FROM {} WHERE toDate({}) = {{day:Date}} "
        "SETTINGS max_threads = 1",
        table.name, table.time);
    for (const std::string& day : dates) {
      if (stop.load()) return Status::Ok();
      auto hashes = transport.Query(sql, {StringParam("day", day)}, "RowBinary");
      if (!hashes.ok()) return hashes.status();
      if (hashes->size() % sizeof(uint64_t) != 0) return Status::Internal("known ids: truncated hash list");
      std::lock_guard lock(mu_);
      for (size_t at = 0; at < hashes->size(); at += sizeof(uint64_t)) {
        uint64_t h = 0;
        std::memcpy(&h, hashes->data() + at, sizeof h);  // RowBinary: little-endian, as this host
        filters_[t].Add(h);
      }
    }
  }
  ready_.store(true, std::memory_order_release);
  return Status::Ok();
}

size_t KnownIds::size() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const IdHashFilter& f : filters_) n += f.size();
  return n;
}

size_t KnownIds::memory_bytes() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const IdHashFilter& f : filters_) n += f.memory_bytes();
  return n;
}

}  // namespace langfuse::traces
