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
#include "worker/batch_merge.h"

namespace langfuse::worker {
namespace {

constexpr size_t kMaxItemsPerRead = 32;  // queue entries (one per ingestion request) per read

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

using internal::Batch;

struct IngestionWorker::Caches : internal::Caches {
  using internal::Caches::Caches;
};

namespace {

template <typename Read>
auto TimedRead(Read read, double& seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  auto result = read();
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

// Reads stored rows from the tracing store, timing the reads for the flush phase metric.
class TimedStoreReader final : public internal::StoredRowReader {
 public:
  explicit TimedStoreReader(traces::TraceStore& store) : store_(store) {}
  double seconds() const { return seconds_; }
  StatusOr<std::vector<traces::TraceRecord>> Traces(const std::string& project_id,
                                                    const std::vector<std::string>& ids) override {
    return TimedRead([&] { return store_.GetTraces(project_id, ids); }, seconds_);
  }
  StatusOr<std::vector<traces::ObservationRecord>> Observations(const std::string& project_id,
                                                                const std::vector<std::string>& ids) override {
    return TimedRead([&] { return store_.GetObservations(project_id, ids); }, seconds_);
  }
  StatusOr<std::vector<traces::ScoreRecord>> Scores(const std::string& project_id,
                                                    const std::vector<std::string>& ids) override {
    return TimedRead([&] { return store_.GetScores(project_id, ids); }, seconds_);
  }

 private:
  traces::TraceStore& store_;
  double seconds_ = 0;
};

}  // namespace

// One merged batch on its way to the tables: the rows, and what the writer needs to acknowledge
// the queue entries or dead-letter their events.
struct IngestionWorker::Write {
  std::unique_ptr<Batch> batch;
  internal::MergedRows rows;
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
    const auto& write_traces = *write->rows.traces;
    const auto& write_observations = *write->rows.observations;
    const auto& write_scores = *write->rows.scores;
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
        status = write_traces.empty() ? Status::Ok() : store_.InsertTraces(write_traces, token + "-t");
        traces_done = status.ok();
      }
      if (status.ok() && !observations_done) {
        status = write_observations.empty() ? Status::Ok()
                                             : store_.InsertObservations(write_observations, token + "-o");
        observations_done = status.ok();
      }
      if (status.ok() && !scores_done) {
        status = write_scores.empty() ? Status::Ok() : store_.InsertScores(write_scores, token + "-s");
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
      metrics.trace_rows.Add(write_traces.size());
      metrics.observation_rows.Add(write_observations.size());
      metrics.score_rows.Add(write_scores.size());
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
    if (reset_caches_.exchange(false)) caches_ = std::make_unique<Caches>(options_.cache_entries, options_.cache_bytes);
    TimedStoreReader reader(store_);
    // The next batch merges onto this one's rows (cached) before this one is written; should
    // the write fail for good, the writer has the caches reset.
    RETURN_IF_ERROR(internal::MergeBatch(*batch, *caches_, reader, NowMs(), write.rows));
    metrics.load_phase.Observe(reader.seconds());
    metrics.merge_phase.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() - reader.seconds());
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

  bool behind = false;  // the last read took as many entries as it could: more are waiting
  for (;;) {
    const bool pending = !batch->empty();
    const int64_t age = pending ? NowMs() - batch->started_at_ms() : 0;
    const bool full = batch->event_count() >= static_cast<size_t>(options_.batch_size);
    const bool due = pending && age >= options_.write_interval_ms;
    // While the writer still holds a batch it has not started, handing over another would only
    // wait; and while the queue holds more than the last read took, this thread is behind. In
    // both cases the batch keeps growing instead (up to max_batch_events), so under a backlog
    // inserts get larger and fewer (fewer parts to merge) and so do the lookups of stored rows,
    // whose cost is mostly fixed per batch (reading the ids of the project's stored rows is a
    // scan once thousands of ids are asked for), while an idle queue keeps small, prompt ones.
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
    if ((full || due) && ((!writer_busy && !behind) || at_max)) {
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
    behind = items->size() >= kMaxItemsPerRead;
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
