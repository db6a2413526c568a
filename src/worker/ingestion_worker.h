#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "queue/event_queue.h"
#include "storage/traces/trace_store.h"

namespace langfuse::worker {

struct IngestionWorkerOptions {
  int batch_size = 1000;          //!< flush once this many events are buffered
  int write_interval_ms = 500;    //!< ... or once the oldest buffered event waited this long
  int linger_ms = 20;             //!< ... or once the queue stayed empty this long
  int max_attempts = 3;           //!< insert attempts before the events are dead-lettered
  int retry_backoff_ms = 500;     //!< first retry delay, doubled per attempt
  size_t cache_entries = 30'000;  //!< merged rows kept per table to merge later events without a read
};

//! The worker role for batch ingestion: reads the queue, groups events by entity, merges them
//! with the stored row (Langfuse's rules, see ingest/merge.h), and writes one batched INSERT per
//! table. Queue entries are acknowledged only after their rows are inserted; an insert that fails
//! `max_attempts` times sends the events to the dead-letter store instead. One thread; Start and
//! Stop are called from the owner's thread.
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
  void Run();

  queue::EventQueue& queue_;
  traces::TraceStore& store_;
  IngestionWorkerOptions options_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  struct Caches;
  std::unique_ptr<Caches> caches_;  // only touched by the worker thread
};

}  // namespace langfuse::worker
