// GET /metrics: Prometheus text for operators (ingestion rates, queue depth and lag, inserts,
// the ClickHouse engine's memory).
#include <atomic>
#include <charconv>
#include <mutex>

#include "api/public/handlers.h"
#include "common/metrics.h"
#include "common/time.h"

namespace langfuse::api {

namespace {

// One read of the queue's statistics per scrape, shared by the three queue gauges.
struct QueueSnapshot {
  std::mutex mu;
  StatusOr<queue::QueueStats> stats = Status::Unavailable("not read yet");  // GUARDED_BY(mu)

  template <typename Read>
  double Get(Read read) {
    std::lock_guard lock(mu);
    return stats.ok() ? read(*stats) : -1.0;
  }
};

// The engine's own count of the memory it holds (system.metrics MemoryTracking): in the embedded
// mode chDB's share of this process's memory, otherwise the ClickHouse server's; -1 when unread.
double ReadClickHouseTrackedBytes(traces::ClickHouseTransport& transport) {
  auto out = transport.Query("SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'", {}, "TSV");
  if (!out.ok()) return -1.0;
  int64_t bytes = 0;
  const char* end = out->data() + out->size();
  if (std::from_chars(out->data(), end, bytes).ec != std::errc()) return -1.0;
  return static_cast<double>(bytes);
}

}  // namespace

void RegisterPrometheusRoutes(http::Router& router, ApiContext& context) {
  // Queue gauges are read from the queue at scrape time, so they are right whatever process
  // consumes it. The snapshot lives as long as the registry's gauges (the process).
  static QueueSnapshot* snapshot = new QueueSnapshot();
  Metrics().AddGauge("langfuse_queue_pending_events", "Events accepted and not yet written", [] {
    return snapshot->Get([](const queue::QueueStats& s) { return static_cast<double>(s.pending_events); });
  });
  Metrics().AddGauge("langfuse_queue_oldest_event_age_seconds", "Age of the oldest unwritten event (ingestion lag)",
                     [] {
                       return snapshot->Get([](const queue::QueueStats& s) {
                         if (!s.oldest_enqueued_at_ms) return 0.0;
                         return static_cast<double>(NowMs() - *s.oldest_enqueued_at_ms) / 1000.0;
                       });
                     });
  Metrics().AddGauge("langfuse_queue_dead_letters", "Entries in the dead-letter store", [] {
    return snapshot->Get([](const queue::QueueStats& s) { return static_cast<double>(s.dead_letters); });
  });
  static std::atomic<double>* clickhouse_bytes = new std::atomic<double>(-1.0);
  Metrics().AddGauge("langfuse_clickhouse_memory_tracked_bytes",
                     "Memory the ClickHouse engine tracks (in-process chDB in the embedded mode)",
                     [] { return clickhouse_bytes->load(); });
  // The ids of the stored rows the embedded server keeps (TraceStore::TrackKnownIds): about
  // 5 bytes per row stored, so it grows with the store.
  static std::atomic<double>* known_ids_bytes = new std::atomic<double>(0.0);
  Metrics().AddGauge("langfuse_ingestion_known_ids_bytes",
                     "Memory of the stored rows' ids kept to skip reading new ids (embedded mode)",
                     [] { return known_ids_bytes->load(); });
  // Whether the start-up read of those ids has finished (KnownIds::Ready): until then every
  // ingested id is looked up in the store, and the read itself competes with queries.
  static std::atomic<double>* known_ids_ready = new std::atomic<double>(0.0);
  Metrics().AddGauge("langfuse_ingestion_known_ids_ready",
                     "1 once the embedded server has read its stored rows' ids after start-up, else 0",
                     [] { return known_ids_ready->load(); });
  router.Add("GET", "/metrics", [&context](http::Request&) {
    {
      auto stats = context.queue.Stats();
      std::lock_guard lock(snapshot->mu);
      snapshot->stats = std::move(stats);
    }
    clickhouse_bytes->store(ReadClickHouseTrackedBytes(context.traces.transport()));
    const traces::KnownIds* known = context.traces.known_ids();
    known_ids_bytes->store(known != nullptr ? static_cast<double>(known->memory_bytes()) : 0.0);
    known_ids_ready->store(known != nullptr && known->Ready() ? 1.0 : 0.0);
    http::Response r;
    r.status = 200;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = Metrics().RenderPrometheus();
    return r;
  });
}

}  // namespace langfuse::api
