// GET /metrics: Prometheus text for operators (ingestion rates, queue depth and lag, inserts).
#include "api/public/handlers.h"
#include "common/metrics.h"
#include "common/time.h"

namespace langfuse::api {

void RegisterPrometheusRoutes(http::Router& router, ApiContext& context) {
  // Queue gauges are read from the queue at scrape time, so they are right whatever process
  // consumes it.
  Metrics().AddGauge("langfuse_queue_pending_events", "Events accepted and not yet written", [&context] {
    auto stats = context.queue.Stats();
    return stats.ok() ? static_cast<double>(stats->pending_events) : -1.0;
  });
  Metrics().AddGauge("langfuse_queue_oldest_event_age_seconds", "Age of the oldest unwritten event (ingestion lag)",
                     [&context] {
                       auto stats = context.queue.Stats();
                       if (!stats.ok()) return -1.0;
                       if (!stats->oldest_enqueued_at_ms) return 0.0;
                       return static_cast<double>(NowMs() - *stats->oldest_enqueued_at_ms) / 1000.0;
                     });
  Metrics().AddGauge("langfuse_queue_dead_letters", "Entries in the dead-letter store", [&context] {
    auto stats = context.queue.Stats();
    return stats.ok() ? static_cast<double>(stats->dead_letters) : -1.0;
  });
  router.Add("GET", "/metrics", [](http::Request&) {
    http::Response r;
    r.status = 200;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = Metrics().RenderPrometheus();
    return r;
  });
}

}  // namespace langfuse::api
