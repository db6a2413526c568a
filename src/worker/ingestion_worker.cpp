#include "worker/ingestion_worker.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include <fmt/core.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/time.h"
#include "ingest/batch.h"
#include "ingest/merge.h"

namespace langfuse::worker {
namespace {

using ingest::EntityKind;
using ingest::ParsedEvent;

// A map of recently merged rows that forgets the least recently *written* half when full: two
// generations, the older dropped when the younger fills. Cheaper than an exact LRU and good
// enough, since a miss only costs a read from ClickHouse.
// What a cached row costs in memory, roughly: its variable-length text plus a fixed overhead.
size_t TextBytes(const std::optional<std::string>& text) { return text ? text->size() : 0; }
size_t TextBytes(const traces::StringMap& map) {
  size_t n = 0;
  for (const auto& [key, value] : map) n += key.size() + value.size() + 64;
  return n;
}
size_t ApproxBytes(const std::string& key, const traces::TraceRecord& r) {
  return 512 + key.size() + TextBytes(r.input) + TextBytes(r.output) + TextBytes(r.metadata);
}
size_t ApproxBytes(const std::string& key, const traces::ObservationRecord& r) {
  return 768 + key.size() + TextBytes(r.input) + TextBytes(r.output) + TextBytes(r.metadata) +
         TextBytes(r.model_parameters);
}
size_t ApproxBytes(const std::string& key, const traces::ScoreRecord& r) {
  return 512 + key.size() + TextBytes(r.comment) + TextBytes(r.metadata) + r.long_string_value.size();
}

template <typename State>
class RecentRows {
 public:
  RecentRows(size_t capacity, size_t capacity_bytes)
      : half_(std::max<size_t>(capacity / 2, 1)), half_bytes_(std::max<size_t>(capacity_bytes / 2, 1)) {}

  const State* Find(const std::string& key) const {
    if (auto it = young_.find(key); it != young_.end()) return &it->second;
    if (auto it = old_.find(key); it != old_.end()) return &it->second;
    return nullptr;
  }

  void Put(const std::string& key, State state) {
    const size_t bytes = ApproxBytes(key, state.row);
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
    young_[key] = std::move(state);
    // A replaced entry's bytes stay counted until the generation rotates: an overestimate.
    young_bytes_ += bytes;
  }

 private:
  size_t half_;
  size_t half_bytes_;
  size_t young_bytes_ = 0;
  std::unordered_map<std::string, State> young_;
  std::unordered_map<std::string, State> old_;
};

constexpr size_t kMaxItemsPerRead = 32;  // queue entries (one per ingestion request) per read

std::string EntityKey(const std::string& project_id, const std::string& id) { return project_id + '\x1f' + id; }

struct WorkerMetrics {
  Counter& batches = Metrics().GetCounter("langfuse_ingestion_insert_batches_total", "Batched INSERTs written");
  Counter& failed_inserts =
      Metrics().GetCounter("langfuse_ingestion_insert_failures_total", "INSERT attempts that failed");
  Counter& trace_rows = Metrics().GetCounter("langfuse_ingestion_rows_inserted_total", "Rows inserted", "table=\"traces\"");
  Counter& observation_rows =
      Metrics().GetCounter("langfuse_ingestion_rows_inserted_total", "Rows inserted", "table=\"observations\"");
  Counter& score_rows = Metrics().GetCounter("langfuse_ingestion_rows_inserted_total", "Rows inserted", "table=\"scores\"");
  Counter& events = Metrics().GetCounter("langfuse_ingestion_events_processed_total", "Events merged and written");
  Counter& dead_lettered =
      Metrics().GetCounter("langfuse_ingestion_events_dead_lettered_total", "Events moved to the dead-letter store");
  Histogram& insert_latency =
      Metrics().GetHistogram("langfuse_ingestion_flush_seconds", "Time to merge and insert one batch");
  // Where a flush spends its time: reading stored rows of entities not in the cache, merging
  // (including row serialisation), and the INSERTs.
  Histogram& load_phase = Metrics().GetHistogram("langfuse_ingestion_flush_phase_seconds",
                                                 "Time per flush phase", "phase=\"load\"");
  Histogram& merge_phase = Metrics().GetHistogram("langfuse_ingestion_flush_phase_seconds",
                                                  "Time per flush phase", "phase=\"merge\"");
  Histogram& insert_phase = Metrics().GetHistogram("langfuse_ingestion_flush_phase_seconds",
                                                   "Time per flush phase", "phase=\"insert\"");
};

WorkerMetrics& GetWorkerMetrics() {
  static WorkerMetrics* m = new WorkerMetrics();
  return *m;
}

}  // namespace

struct IngestionWorker::Caches {
  Caches(size_t n, size_t bytes) : traces(n, bytes), observations(n, bytes), scores(n, bytes) {}
  RecentRows<ingest::TraceState> traces;
  RecentRows<ingest::ObservationState> observations;
  RecentRows<ingest::ScoreState> scores;
};

namespace internal {

// The events read from the queue but not yet written, grouped by entity.
class Batch {
 public:
  struct EventRef {
    ParsedEvent event;
    size_t order;  // arrival order, the last tie-breaker
    size_t payload_index;
  };
  struct Entity {
    std::string project_id;
    std::string id;
    std::vector<EventRef> events;
  };

  bool empty() const { return item_ids_.empty(); }
  size_t event_count() const { return event_count_; }
  size_t payload_bytes() const { return payload_bytes_; }
  int64_t started_at_ms() const { return started_at_ms_; }

  void Add(queue::QueueItem item, simdjson::dom::parser& parser) {
    if (item_ids_.empty()) started_at_ms_ = NowMs();
    item_ids_.push_back(item.id);
    auto decoded = ingest::DecodeQueuePayload(parser, item.payload);
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
      LOG_WARN("worker: {} event(s) of queue item {} no longer validate and are skipped", decoded->skipped, item.id);
    }
    // The queue entry as it was, for the dead-letter store should this batch end there.
    payload_bytes_ += item.payload.size();
    queued_.push_back({std::move(item.payload), item.event_count});
    const size_t payload_index = payloads_.size();
    for (size_t i = 0; i < decoded->events.size(); ++i) {
      ParsedEvent& e = decoded->events[i];
      auto& entities = e.kind == EntityKind::kTrace         ? traces_
                       : e.kind == EntityKind::kObservation ? observations_
                                                            : scores_;
      const std::string key = EntityKey(decoded->project_id, *e.body_id);
      auto [it, inserted] = entities.try_emplace(key);
      if (inserted) {
        it->second.project_id = decoded->project_id;
        it->second.id = *e.body_id;
      }
      it->second.events.push_back({std::move(e), order_++, payload_index});
      ++event_count_;
    }
    payloads_.push_back(std::move(*decoded));
  }

  std::unordered_map<std::string, Entity>& traces() { return traces_; }
  std::unordered_map<std::string, Entity>& observations() { return observations_; }
  std::unordered_map<std::string, Entity>& scores() { return scores_; }
  const std::vector<ingest::DecodedPayload>& payloads() const { return payloads_; }
  struct Queued {
    std::string payload;
    uint32_t event_count = 0;
  };
  //! The queue payload of each decoded payload (same index).
  const std::vector<Queued>& queued() const { return queued_; }
  const std::vector<std::string>& item_ids() const { return item_ids_; }
  const std::vector<queue::DeadLetter>& unreadable() const { return unreadable_; }
  const std::string& first_item_id() const { return item_ids_.front(); }

 private:
  std::vector<std::string> item_ids_;
  std::vector<ingest::DecodedPayload> payloads_;
  std::vector<Queued> queued_;
  std::vector<queue::DeadLetter> unreadable_;
  std::unordered_map<std::string, Entity> traces_, observations_, scores_;
  size_t event_count_ = 0;
  size_t payload_bytes_ = 0;
  size_t order_ = 0;
  int64_t started_at_ms_ = 0;
};

// Creates before updates at the same instant, then arrival order (Langfuse's sort).
void SortEvents(std::vector<Batch::EventRef>& events) {
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
    if (a.event.timestamp_ms != b.event.timestamp_ms) return a.event.timestamp_ms < b.event.timestamp_ms;
    if (a.event.is_update != b.event.is_update) return !a.event.is_update;
    return a.order < b.order;
  });
}

// The ids per project of entities that are not cached, to read in one query per project.
template <typename State>
std::unordered_map<std::string, std::vector<std::string>> MissingIds(
    const std::unordered_map<std::string, Batch::Entity>& entities, const RecentRows<State>& cache) {
  std::unordered_map<std::string, std::vector<std::string>> missing;
  for (const auto& [key, entity] : entities) {
    if (cache.Find(key) == nullptr) missing[entity.project_id].push_back(entity.id);
  }
  return missing;
}

}  // namespace internal

using internal::Batch;

namespace {

// Merges one table's entities into rows. Loads the stored rows of uncached entities first.
template <typename State, typename Record, typename NewFn, typename ApplyFn, typename FinishFn, typename LoadFn>
Status MergeEntities(std::unordered_map<std::string, Batch::Entity>& entities,
                     const RecentRows<State>& cache, int64_t now, LoadFn load, NewFn make_new, ApplyFn apply,
                     FinishFn finish, std::vector<std::pair<std::string, State>>& merged, std::vector<Record>& rows) {
  std::unordered_map<std::string, State> loaded;
  for (auto& [project_id, ids] : MissingIds(entities, cache)) {
    auto stored = load(project_id, ids);
    if (!stored.ok()) return stored.status();
    for (auto& row : *stored) {
      State s;
      s.row = std::move(row);
      s.stored = true;
      loaded.emplace(EntityKey(project_id, s.row.id), std::move(s));
    }
  }
  for (auto& [key, entity] : entities) {
    SortEvents(entity.events);
    State state;
    if (const State* cached = cache.Find(key)) {
      state = *cached;
    } else if (auto it = loaded.find(key); it != loaded.end()) {
      state = std::move(it->second);
    } else {
      state = make_new(entity.project_id, entity.id, entity.events.front(), now);
    }
    for (const auto& ref : entity.events) apply(state, ref, rows);
    finish(state, now);
    rows.push_back(state.row);
    state.stored = true;
    merged.emplace_back(key, std::move(state));
  }
  return Status::Ok();
}

}  // namespace

// One merged batch on its way to the tables: the rows, and what the writer needs to acknowledge
// the queue entries or dead-letter their events.
struct IngestionWorker::Write {
  std::unique_ptr<Batch> batch;
  std::vector<traces::TraceRecord> traces;
  std::vector<traces::ObservationRecord> observations;
  std::vector<traces::ScoreRecord> scores;
  std::chrono::steady_clock::time_point started;
};

IngestionWorker::IngestionWorker(queue::EventQueue& queue, traces::TraceStore& store, IngestionWorkerOptions options)
    : queue_(queue), store_(store), options_(options), caches_(std::make_unique<Caches>(options.cache_entries, options.cache_bytes)) {}

IngestionWorker::~IngestionWorker() { Stop(); }

void IngestionWorker::Start() {
  stopping_ = false;
  writer_stopping_ = false;
  writer_ = std::thread([this] { WriteLoop(); });
  thread_ = std::thread([this] { Run(); });
}

void IngestionWorker::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  queue_.Interrupt();
  thread_.join();  // hands its last batch to the writer
  {
    std::lock_guard lock(write_mu_);
    writer_stopping_ = true;
  }
  write_cv_.notify_all();
  writer_.join();  // writes what it was handed, then returns
}

bool IngestionWorker::DeadLetterBatch(Batch& batch, const std::string& reason) {
  auto& metrics = GetWorkerMetrics();
  // Each queue entry goes to the dead-letter store as it was queued (replay validates it again).
  for (size_t i = 0; i < batch.payloads().size(); ++i) {
    const auto& queued = batch.queued()[i];
    Status s = queue_.DeadLetterItem(queued.payload, queued.event_count, batch.payloads()[i].received_at_ms, reason);
    if (!s.ok()) {
      LOG_ERROR("worker: cannot dead-letter events: {}", s.message());
      return false;
    }
    metrics.dead_lettered.Add(queued.event_count);
  }
  LOG_ERROR("worker: {} event(s) moved to the dead-letter store: {}", batch.event_count(), reason);
  return true;
}

void IngestionWorker::Acknowledge(const Batch& batch) {
  Status ack = queue_.Ack(batch.item_ids());
  if (!ack.ok()) LOG_ERROR("worker: acknowledging queue entries failed (they will be merged again): {}", ack.message());
}

// The writer thread: inserts each merged batch (retrying with backoff), then acknowledges its
// queue entries; a batch that keeps failing goes to the dead-letter store. Runs while the merge
// thread prepares the next batch, so merging and inserting overlap.
void IngestionWorker::WriteLoop() {
  pthread_setname_np(pthread_self(), "lf-writer");
  auto& metrics = GetWorkerMetrics();
  for (;;) {
    std::unique_ptr<Write> write;
    {
      std::unique_lock lock(write_mu_);
      write_cv_.wait(lock, [&] { return pending_write_ != nullptr || writer_stopping_; });
      if (pending_write_ == nullptr) return;
      write = std::move(pending_write_);
    }
    write_cv_.notify_all();  // the merge thread may hand over the next batch now

    Batch& batch = *write->batch;
    // The same token on a retry of the same batch lets the engine drop a duplicate insert. Queue
    // ids alone do not identify a batch to the store: they restart when the queue file is new
    // (an emptied data folder, another instance on the same ClickHouse server), and a token the
    // engine already saw would silently drop the batch. So a hash of the entries' content is in
    // it too (libstdc++'s string hash: fixed across processes, and a few GB/s).
    uint64_t content = batch.queued().size();
    for (const auto& entry : batch.queued()) {
      content = content * 0x9E3779B97F4A7C15ULL ^ std::hash<std::string_view>{}(entry.payload);
    }
    const std::string token = fmt::format("lf-{}-{}-{:016x}", batch.first_item_id(), batch.item_ids().size(), content);
    size_t traces_done = 0, observations_done = 0, scores_done = 0;
    int unavailable_retries = 0;
    Status status;
    for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
      const auto insert_started = std::chrono::steady_clock::now();
      // A table already written is not written again on a retry (its token would make that
      // harmless anyway, but it costs time).
      status = Status::Ok();
      if (status.ok() && !traces_done) {
        status = write->traces.empty() ? Status::Ok() : store_.InsertTraces(write->traces, token + "-t");
        traces_done = status.ok();
      }
      if (status.ok() && !observations_done) {
        status = write->observations.empty() ? Status::Ok()
                                             : store_.InsertObservations(write->observations, token + "-o");
        observations_done = status.ok();
      }
      if (status.ok() && !scores_done) {
        status = write->scores.empty() ? Status::Ok() : store_.InsertScores(write->scores, token + "-s");
        scores_done = status.ok();
      }
      metrics.insert_phase.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - insert_started).count());
      if (status.ok()) break;
      metrics.failed_inserts.Add();
      if (status.code() == StatusCode::kUnavailable) {
        if (stopping_.load() || writer_stopping_.load()) break;  // Stop() must not wait for the store
        // The store is down (not the batch at fault): wait for it however long it takes rather
        // than dead-letter everything an outage touches. The entries stay unacknowledged, so a
        // stop or crash meanwhile loses nothing either.
        ++unavailable_retries;
        const int64_t wait_ms =
            std::min<int64_t>(int64_t{options_.retry_backoff_ms} << std::min(unavailable_retries, 5), 10'000);
        if (unavailable_retries == 1 || unavailable_retries % 10 == 0) {
          LOG_WARN("worker: the tracing store is unavailable ({}); {} event(s) wait, retrying every {} ms",
                   status.message(), batch.event_count(), wait_ms);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
        --attempt;
        continue;
      }
      LOG_WARN("worker: writing {} event(s) failed (attempt {}/{}): {}", batch.event_count(), attempt,
               options_.max_attempts, status.message());
      if (attempt < options_.max_attempts) {
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_backoff_ms << (attempt - 1)));
      }
    }
    if (status.ok()) {
      metrics.batches.Add();
      metrics.trace_rows.Add(write->traces.size());
      metrics.observation_rows.Add(write->observations.size());
      metrics.score_rows.Add(write->scores.size());
      metrics.events.Add(batch.event_count());
      metrics.insert_latency.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - write->started).count());
      Acknowledge(batch);
      continue;
    }
    // The merged rows were never stored: the merge thread must not build on them.
    reset_caches_ = true;
    if (status.code() == StatusCode::kUnavailable && (stopping_.load() || writer_stopping_.load())) {
      // Stopping while the store is down: the entries stay in the queue for the next start.
      LOG_WARN("worker: stopping with the tracing store unavailable; {} event(s) stay queued", batch.event_count());
      continue;
    }
    const std::string reason =
        "insert failed " + std::to_string(options_.max_attempts) + " times: " + status.message();
    // Neither written nor dead-lettered: keep trying to dead-letter (the entries stay
    // unacknowledged meanwhile, so even a crash here loses nothing).
    while (!DeadLetterBatch(batch, reason)) {
      if (writer_stopping_.load()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_backoff_ms));
    }
    Acknowledge(batch);
  }
}

void IngestionWorker::Run() {
  pthread_setname_np(pthread_self(), "lf-worker");  // shown by top -H, perf and gdb
  simdjson::dom::parser parser;
  auto& metrics = GetWorkerMetrics();
  auto batch = std::make_unique<Batch>();

  // Merges the batch into rows (reading stored rows the cache lacks).
  auto merge = [&](Write& write) -> Status {
    const auto started = std::chrono::steady_clock::now();
    const int64_t now = NowMs();
    if (reset_caches_.exchange(false)) caches_ = std::make_unique<Caches>(options_.cache_entries, options_.cache_bytes);
    std::vector<std::pair<std::string, ingest::TraceState>> merged_traces;
    std::vector<std::pair<std::string, ingest::ObservationState>> merged_observations;
    std::vector<std::pair<std::string, ingest::ScoreState>> merged_scores;
    write.traces.clear();
    write.observations.clear();
    write.scores.clear();
    double load_seconds = 0;
    auto timed_load = [&](auto read) {
      const auto t0 = std::chrono::steady_clock::now();
      auto result = read();
      load_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return result;
    };

    RETURN_IF_ERROR(MergeEntities(
        batch->traces(), caches_->traces, now,
        [&](const std::string& p, const std::vector<std::string>& ids) {
          return timed_load([&] { return store_.GetTraces(p, ids); });
        },
        [](const std::string& p, const std::string& id, const Batch::EventRef& first, int64_t t) {
          return ingest::NewTraceState(p, id, first.event, t);
        },
        [&](ingest::TraceState& s, const Batch::EventRef& ref, std::vector<traces::TraceRecord>& rows) {
          std::optional<traces::TraceRecord> tombstone;
          ingest::ApplyTraceEvent(s, ref.event, tombstone);
          if (tombstone) {
            tombstone->event_ts_ms = now;
            rows.push_back(std::move(*tombstone));
          }
        },
        ingest::FinishTrace, merged_traces, write.traces));
    RETURN_IF_ERROR(MergeEntities(
        batch->observations(), caches_->observations, now,
        [&](const std::string& p, const std::vector<std::string>& ids) {
          return timed_load([&] { return store_.GetObservations(p, ids); });
        },
        [](const std::string& p, const std::string& id, const Batch::EventRef& first, int64_t t) {
          return ingest::NewObservationState(p, id, first.event, t);
        },
        [&](ingest::ObservationState& s, const Batch::EventRef& ref, std::vector<traces::ObservationRecord>& rows) {
          std::optional<traces::ObservationRecord> tombstone;
          ingest::ApplyObservationEvent(s, ref.event, tombstone);
          if (tombstone) {
            tombstone->event_ts_ms = now;
            rows.push_back(std::move(*tombstone));
          }
        },
        ingest::FinishObservation, merged_observations, write.observations));
    RETURN_IF_ERROR(MergeEntities(
        batch->scores(), caches_->scores, now,
        [&](const std::string& p, const std::vector<std::string>& ids) {
          return timed_load([&] { return store_.GetScores(p, ids); });
        },
        [](const std::string& p, const std::string& id, const Batch::EventRef& first, int64_t t) {
          return ingest::NewScoreState(p, id, first.event, t);
        },
        [&](ingest::ScoreState& s, const Batch::EventRef& ref, std::vector<traces::ScoreRecord>&) {
          ingest::ApplyScoreEvent(s, ref.event, batch->payloads()[ref.payload_index].source);
        },
        ingest::FinishScore, merged_scores, write.scores));

    // The next batch merges onto these states before this one is written; should the write
    // fail for good, the writer has the caches reset.
    for (auto& [key, state] : merged_traces) caches_->traces.Put(key, std::move(state));
    for (auto& [key, state] : merged_observations) caches_->observations.Put(key, std::move(state));
    for (auto& [key, state] : merged_scores) caches_->scores.Put(key, std::move(state));
    metrics.load_phase.Observe(load_seconds);
    metrics.merge_phase.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() - load_seconds);
    return Status::Ok();
  };

  // Merges the batch and hands it to the writer; false when it must be tried again later.
  auto finish_batch = [&] {
    for (const auto& u : batch->unreadable()) {
      Status s = queue_.DeadLetterItem(u.payload, u.event_count, u.enqueued_at_ms, "unreadable queue payload: " + u.reason);
      if (!s.ok()) return false;
    }
    auto write = std::make_unique<Write>();
    write->started = std::chrono::steady_clock::now();
    Status status;
    int unavailable_retries = 0;
    for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
      status = merge(*write);
      if (status.ok()) break;
      if (status.code() == StatusCode::kUnavailable) {
        // The store is down: wait for it (see WriteLoop); on stop the entries stay queued.
        if (stopping_.load()) return false;
        ++unavailable_retries;
        if (unavailable_retries == 1 || unavailable_retries % 10 == 0) {
          LOG_WARN("worker: the tracing store is unavailable ({}); {} event(s) wait", status.message(),
                   batch->event_count());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(
            std::min<int64_t>(int64_t{options_.retry_backoff_ms} << std::min(unavailable_retries, 5), 10'000)));
        --attempt;
        continue;
      }
      LOG_WARN("worker: reading stored rows for {} event(s) failed (attempt {}/{}): {}", batch->event_count(),
               attempt, options_.max_attempts, status.message());
      if (attempt < options_.max_attempts) {
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_backoff_ms << (attempt - 1)));
      }
    }
    if (!status.ok()) {
      if (!DeadLetterBatch(*batch, "merge failed " + std::to_string(options_.max_attempts) +
                                       " times: " + status.message())) {
        return false;
      }
      Acknowledge(*batch);
      return true;
    }
    write->batch = std::move(batch);
    {
      std::unique_lock lock(write_mu_);
      write_cv_.wait(lock, [&] { return pending_write_ == nullptr; });
      pending_write_ = std::move(write);
    }
    write_cv_.notify_all();
    return true;
  };

  for (;;) {
    const bool pending = !batch->empty();
    const int64_t age = pending ? NowMs() - batch->started_at_ms() : 0;
    const bool full = batch->event_count() >= static_cast<size_t>(options_.batch_size);
    const bool due = pending && age >= options_.write_interval_ms;
    // While the writer still holds a batch it has not started, handing over another would only
    // wait: the batch keeps growing instead (up to max_batch_events), so under a backlog inserts
    // get larger and fewer (fewer parts to merge, fewer lookups) and an idle queue keeps small,
    // prompt ones.
    const bool at_max = batch->event_count() >= std::max<size_t>(options_.max_batch_events, options_.batch_size) ||
                        batch->payload_bytes() >= options_.max_batch_bytes;
    const bool writer_busy = [&] {
      std::lock_guard lock(write_mu_);
      return pending_write_ != nullptr;
    }();
    if (stopping_.load()) {
      if (pending) finish_batch();
      return;
    }
    if ((full || due) && (!writer_busy || at_max)) {
      // A batch that could be neither merged nor dead-lettered stays and is tried again.
      if (finish_batch()) {
        batch = std::make_unique<Batch>();
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_backoff_ms));
      }
      continue;
    }
    // A due batch waiting for the writer polls the queue at the linger pace rather than spinning.
    const int64_t until_due = options_.write_interval_ms - age;
    const auto wait = std::chrono::milliseconds(
        pending ? std::min<int64_t>(options_.linger_ms, until_due > 0 ? until_due : options_.linger_ms) : 200);
    // A bounded read keeps one batch's memory bounded; the batch grows over several reads.
    auto items = queue_.Read(kMaxItemsPerRead, wait);
    if (!items.ok()) {
      LOG_ERROR("worker: reading the queue failed: {}", items.status().message());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (items->empty()) {
      if (pending && !writer_busy) {
        if (finish_batch()) {
          batch = std::make_unique<Batch>();
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_backoff_ms));
        }
      }
      continue;
    }
    for (auto& item : *items) batch->Add(std::move(item), parser);
  }
}

}  // namespace langfuse::worker
