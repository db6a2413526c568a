#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "queue/event_queue.h"
#include "storage/traces/trace_store.h"

namespace langfuse::worker {

namespace internal {
class Batch;
}

struct IngestionWorkerOptions {
  int batch_size = 1000;          //!< flush once this many events are buffered
  //! ... and while the writer is still busy with the previous batch, or the queue holds more than
  //! a read takes, keep reading up to this many (a backlog's fixed per-batch costs, above all the
  //! read of stored rows, are then paid once per this many events).
  size_t max_batch_events = 25'000;
  size_t max_batch_bytes = 64u << 20;  //!< ... or this many bytes of queued events
  int write_interval_ms = 500;    //!< ... or once the oldest buffered event waited this long
  int linger_ms = 20;             //!< ... or once the queue stayed empty this long
  int max_attempts = 3;           //!< insert attempts before the events are dead-lettered
  int retry_backoff_ms = 500;     //!< first retry delay, doubled per attempt
  size_t cache_entries = 30'000;  //!< merged rows kept per table to merge later events without a read
  //! ... and at most this many bytes of them per table (inputs and outputs can be large); about a
  //! second of rows at 20,000 events/s, minutes at ordinary rates.
  size_t cache_bytes = 24u << 20;
};

//! The worker role for batch ingestion: reads the queue, groups events by entity, merges them
//! with the stored row (Langfuse's rules, see ingest/merge.h), and writes one batched INSERT per
//! table. Queue entries are acknowledged only after their rows are inserted; an insert that fails
//! `max_attempts` times sends the events to the dead-letter store instead. Two threads, so that
//! merging a batch overlaps inserting the one before: lf-worker reads and merges, lf-writer
//! inserts and acknowledges (one batch handed over at a time). Start and Stop are called from
//! the owner's thread.
class IngestionWorker {
 public:
  IngestionWorker(queue::EventQueue& queue, traces::TraceStore& store, IngestionWorkerOptions options);
  ~IngestionWorker();
  IngestionWorker(const IngestionWorker&) = delete;
  IngestionWorker& operator=(const IngestionWorker&) = delete;

  void Start();
  //! Finishes the buffered events (insert and ack), then stops the thread.
  void Stop();

 private:
  struct Write;
  void Run();
  void WriteLoop();
  //! Sends every event of the batch to the dead-letter store; false when that failed.
  bool DeadLetterBatch(internal::Batch& batch, const std::string& reason);
  void Acknowledge(const internal::Batch& batch);

  queue::EventQueue& queue_;
  traces::TraceStore& store_;
  IngestionWorkerOptions options_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // lf-worker
  struct Caches;
  std::unique_ptr<Caches> caches_;  // only touched by lf-worker
  std::atomic<bool> reset_caches_{false};  // set by lf-writer when merged rows were never stored

  std::thread writer_;  // lf-writer
  std::mutex write_mu_;
  std::condition_variable write_cv_;
  std::unique_ptr<Write> pending_write_;  // under write_mu_: the batch handed to the writer
  std::atomic<bool> writer_stopping_{false};
};

}  // namespace langfuse::worker
