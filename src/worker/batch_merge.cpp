#include "worker/batch_merge.h"

#include "common/log.h"
#include "common/time.h"

namespace langfuse::worker::internal {
namespace {

using ingest::EntityKind;
using ingest::ParsedEvent;

// Heap bytes behind a row's members (short strings live inside the string itself).
size_t HeapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }
size_t HeapBytes(const std::optional<std::string>& s) { return s ? HeapBytes(*s) : 0; }
size_t HeapBytes(const std::vector<std::string>& v) {
  size_t n = v.capacity() * sizeof(std::string);
  for (const std::string& s : v) n += HeapBytes(s);
  return n;
}
// A std::map node: three pointers and a colour beside the pair, rounded up by malloc.
constexpr size_t kMapNodeOverhead = 48;
template <typename Value>
size_t HeapBytes(const std::map<std::string, Value>& map) {
  size_t n = map.size() * (kMapNodeOverhead + sizeof(std::pair<const std::string, Value>));
  for (const auto& [key, value] : map) {
    n += HeapBytes(key);
    if constexpr (std::is_same_v<Value, std::string>) n += HeapBytes(value);
  }
  return n;
}
template <typename... Members>
size_t SumHeapBytes(const Members&... members) {
  return (HeapBytes(members) + ...);
}

// A cache entry's fixed part: the row in its batch's vector, the CachedRow and the hash node.
template <typename Record>
constexpr size_t kEntryBytes = sizeof(Record) + sizeof(std::string) + sizeof(CachedRow<Record>) + 32;

// Creates before updates at the same instant, then arrival order (Langfuse's sort). Arrival
// order makes the order total, so an unstable sort gives the same result as a stable one.
void SortEvents(Batch& batch, std::vector<Batch::EventRef>& refs) {
  auto before = [&](Batch::EventRef a, Batch::EventRef b) {
    const ParsedEvent& x = batch.event(a);
    const ParsedEvent& y = batch.event(b);
    if (x.timestamp_ms != y.timestamp_ms) return x.timestamp_ms < y.timestamp_ms;
    if (x.is_update != y.is_update) return !x.is_update;
    return a < b;
  };
  // Usually already in order (one request's events for an entity, in the order they happened).
  if (!std::is_sorted(refs.begin(), refs.end(), before)) std::sort(refs.begin(), refs.end(), before);
}

// What one table's merge starts from, found before any event is applied.
template <typename Record>
struct StartingRows {
  //! Per entity, in the batch's map order: its cached row, or null. (Looked up once: the cache
  //! is not changed before the merge that uses these.)
  std::vector<const CachedRow<Record>*> cached;
  //! The stored rows of the entities not cached, by EntityKey.
  std::unordered_map<std::string, Record> loaded;
};

// Looks up each entity in the cache and reads those it lacks from the store, in one query per
// project.
template <typename Record, typename LoadFn>
Status FindStartingRows(Batch& batch, const std::unordered_map<std::string, Batch::Entity>& entities,
                        const RecentRows<Record>& cache, LoadFn load, StartingRows<Record>& out) {
  std::unordered_map<std::string, std::vector<std::string>> missing;
  out.cached.reserve(entities.size());
  for (const auto& [key, entity] : entities) {
    const CachedRow<Record>* cached = cache.Find(key);
    out.cached.push_back(cached);
    if (cached != nullptr) continue;
    const Batch::EventRef first = batch.first_event(entity);
    missing[batch.payload(first).project_id].push_back(*batch.event(first).body_id);
  }
  for (auto& [project_id, ids] : missing) {
    auto stored = load(project_id, ids);
    if (!stored.ok()) return stored.status();
    for (auto& row : *stored) out.loaded.try_emplace(EntityKey(project_id, row.id), std::move(row));
  }
  return Status::Ok();
}

// Merges one table's entities into rows, from the cached row, the stored row (`loaded`) or a new
// one, then caches them. The events' values are moved into the rows.
template <typename Record, typename NewFn, typename ApplyFn, typename FinishFn>
void MergeEntities(Batch& batch, std::unordered_map<std::string, Batch::Entity>& entities,
                   RecentRows<Record>& cache, StartingRows<Record>& start, int64_t now, NewFn make_new,
                   ApplyFn apply, FinishFn finish, std::shared_ptr<const std::vector<Record>>& out) {
  auto rows = std::make_shared<std::vector<Record>>();
  rows->reserve(entities.size());
  // Where each entity's row is in `rows`, with what the cache keeps beside it.
  std::vector<std::pair<const std::string*, CachedRow<Record>>> merged;
  merged.reserve(entities.size());
  std::vector<Batch::EventRef> events;
  size_t i = 0;
  for (auto& [key, entity] : entities) {
    batch.EventsOf(entity, events);
    SortEvents(batch, events);
    ingest::MergeState<Record> state;
    if (const CachedRow<Record>* cached = start.cached[i++]) {
      state.row = cached->row();
      state.stored = true;
      state.time_is_explicit = cached->time_is_explicit;
      state.type_is_explicit = cached->type_is_explicit;
      state.trace_id_is_explicit = cached->trace_id_is_explicit;
    } else if (auto it = start.loaded.find(key); it != start.loaded.end()) {
      state.row = std::move(it->second);
      state.stored = true;
    } else {
      const ParsedEvent& first = batch.event(events.front());
      state = make_new(batch.payload(events.front()).project_id, *first.body_id, first, now);
    }
    for (const Batch::EventRef ref : events) apply(state, ref, *rows);
    finish(state, now);
    CachedRow<Record> entry;
    entry.index = rows->size();
    entry.time_is_explicit = state.time_is_explicit;
    entry.type_is_explicit = state.type_is_explicit;
    entry.trace_id_is_explicit = state.trace_id_is_explicit;
    rows->push_back(std::move(state.row));
    merged.emplace_back(&key, std::move(entry));
  }
  out = rows;
  for (auto& [key, entry] : merged) {
    entry.rows = out;
    cache.Put(*key, std::move(entry));
  }
}

}  // namespace

size_t ApproxBytes(const std::string& key, const traces::TraceRecord& r) {
  return kEntryBytes<traces::TraceRecord> + HeapBytes(key) +
         SumHeapBytes(r.id, r.name, r.user_id, r.metadata, r.release, r.version, r.project_id, r.environment,
                      r.tags, r.input, r.output, r.session_id);
}
size_t ApproxBytes(const std::string& key, const traces::ObservationRecord& r) {
  return kEntryBytes<traces::ObservationRecord> + HeapBytes(key) +
         SumHeapBytes(r.id, r.trace_id, r.project_id, r.environment, r.type, r.parent_observation_id, r.name,
                      r.metadata, r.level, r.status_message, r.version, r.input, r.output, r.provided_model_name,
                      r.internal_model_id, r.model_parameters, r.provided_usage_details, r.usage_details,
                      r.provided_cost_details, r.cost_details, r.prompt_id, r.prompt_name,
                      r.usage_pricing_tier_id, r.usage_pricing_tier_name, r.tool_definitions, r.tool_calls,
                      r.tool_call_names);
}
size_t ApproxBytes(const std::string& key, const traces::ScoreRecord& r) {
  return kEntryBytes<traces::ScoreRecord> + HeapBytes(key) +
         SumHeapBytes(r.id, r.project_id, r.environment, r.trace_id, r.session_id, r.dataset_run_id,
                      r.observation_id, r.name, r.source, r.comment, r.metadata, r.author_user_id, r.config_id,
                      r.data_type, r.string_value, r.long_string_value, r.queue_id, r.execution_trace_id,
                      r.ingestion_api_key, r.ingestion_sdk_name, r.ingestion_sdk_version);
}

// The cache key of an entity, written into `out` (a reused buffer avoids an allocation per event).
void AssignEntityKey(std::string& out, const std::string& project_id, const std::string& id) {
  out.assign(project_id);
  out += '\x1f';
  out += id;
}

std::string EntityKey(const std::string& project_id, const std::string& id) {
  std::string key;
  AssignEntityKey(key, project_id, id);
  return key;
}

// A row that moved (its sort key changed) leaves a deleted copy under the old key, written now.
template <typename Record>
void AddTombstone(std::optional<Record>& tombstone, int64_t now, std::vector<Record>& rows) {
  if (!tombstone) return;
  tombstone->event_ts_ms = now;
  rows.push_back(std::move(*tombstone));
}

void Batch::Add(queue::QueueItem item, simdjson::dom::parser& parser) {
  if (item_ids_.empty()) started_at_ms_ = NowMs();
  item_ids_.push_back(item.id);
  auto decoded = ingest::DecodeQueuePayload(parser, item.payload, text_);
  if (!decoded.ok()) {
    // Not ours to interpret: keep it where an operator can see it rather than drop it.
    queue::DeadLetter unreadable;
    unreadable.payload = std::move(item.payload);
    unreadable.event_count = item.event_count;
    unreadable.enqueued_at_ms = item.enqueued_at_ms;
    unreadable.reason = decoded.status().message();
    unreadable_.push_back(std::move(unreadable));
    return;
  }
  if (decoded->skipped > 0) {
    LOG_WARN("worker: {} event(s) of queue item {} no longer validate and are skipped", decoded->skipped,
             item.id);
  }
  // The queue entry as it was, for the dead-letter store should this batch end there. What the
  // batch holds in memory is its events as parsed, so they count at their JSON size.
  payload_bytes_ += item.payload.size() + decoded->json_bytes;
  queued_.push_back({std::move(item.payload), item.event_count});
  const auto payload_index = static_cast<uint32_t>(payloads_.size());
  payloads_.push_back(std::move(*decoded));
  const ingest::DecodedPayload& payload = payloads_.back();
  refs_.reserve(refs_.size() + payload.events.size());
  next_.reserve(next_.size() + payload.events.size());
  for (size_t i = 0; i < payload.events.size(); ++i) {
    const ParsedEvent& e = payload.events[i];
    auto& entities = e.kind == EntityKind::kTrace         ? traces_
                     : e.kind == EntityKind::kObservation ? observations_
                                                          : scores_;
    const auto position = static_cast<uint32_t>(refs_.size());
    refs_.push_back({payload_index, static_cast<uint32_t>(i)});
    next_.push_back(kEndOfChain);
    AssignEntityKey(key_, payload.project_id, *e.body_id);
    // One lookup; the key is copied only for a new entity.
    auto [it, inserted] = entities.try_emplace(key_, Entity{position, position});
    if (!inserted) {
      next_[it->second.last] = position;
      it->second.last = position;
    }
  }
}

void Batch::EventsOf(const Entity& entity, std::vector<EventRef>& out) const {
  out.clear();
  for (uint32_t at = entity.first; at != kEndOfChain; at = next_[at]) out.push_back(refs_[at]);
}

Status MergeBatch(Batch& batch, Caches& caches, StoredRowReader& reader, int64_t now, MergedRows& out) {
  // Every read first: once an event's values moved into a row, the batch cannot be merged again.
  StartingRows<traces::TraceRecord> trace_start;
  StartingRows<traces::ObservationRecord> observation_start;
  StartingRows<traces::ScoreRecord> score_start;
  RETURN_IF_ERROR(FindStartingRows(
      batch, batch.traces(), caches.traces,
      [&](const std::string& p, const std::vector<std::string>& ids) { return reader.Traces(p, ids); },
      trace_start));
  RETURN_IF_ERROR(FindStartingRows(
      batch, batch.observations(), caches.observations,
      [&](const std::string& p, const std::vector<std::string>& ids) { return reader.Observations(p, ids); },
      observation_start));
  RETURN_IF_ERROR(FindStartingRows(
      batch, batch.scores(), caches.scores,
      [&](const std::string& p, const std::vector<std::string>& ids) { return reader.Scores(p, ids); },
      score_start));

  MergeEntities(
      batch, batch.traces(), caches.traces, trace_start, now, ingest::NewTraceState,
      [&](ingest::TraceState& s, Batch::EventRef ref, std::vector<traces::TraceRecord>& rows) {
        std::optional<traces::TraceRecord> tombstone;
        ingest::ApplyTraceEvent(s, std::move(batch.event(ref)), tombstone);
        AddTombstone(tombstone, now, rows);
      },
      ingest::FinishTrace, out.traces);
  MergeEntities(
      batch, batch.observations(), caches.observations, observation_start, now, ingest::NewObservationState,
      [&](ingest::ObservationState& s, Batch::EventRef ref, std::vector<traces::ObservationRecord>& rows) {
        std::optional<traces::ObservationRecord> tombstone;
        ingest::ApplyObservationEvent(s, std::move(batch.event(ref)), tombstone);
        AddTombstone(tombstone, now, rows);
      },
      ingest::FinishObservation, out.observations);
  MergeEntities(
      batch, batch.scores(), caches.scores, score_start, now, ingest::NewScoreState,
      [&](ingest::ScoreState& s, Batch::EventRef ref, std::vector<traces::ScoreRecord>& rows) {
        std::optional<traces::ScoreRecord> tombstone;
        ingest::ApplyScoreEvent(s, std::move(batch.event(ref)), batch.payload(ref).source, tombstone);
        AddTombstone(tombstone, now, rows);
      },
      ingest::FinishScore, out.scores);
  return Status::Ok();
}

}  // namespace langfuse::worker::internal
