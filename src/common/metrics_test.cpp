#include "common/metrics.h"

#include <gtest/gtest.h>

namespace langfuse {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistograms) {
  MetricsRegistry r;
  r.GetCounter("events_total", "Events", "type=\"trace-create\"").Add(3);
  r.GetCounter("events_total", "Events", "type=\"span-create\"").Add();
  r.AddGauge("queue_depth", "Depth", [] { return 7.0; });
  r.GetHistogram("latency_seconds", "Latency").Observe(0.003);
  const std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE events_total counter"), std::string::npos);
  EXPECT_NE(text.find("events_total{type=\"trace-create\"} 3"), std::string::npos);
  EXPECT_NE(text.find("queue_depth 7"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.005\"} 1"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.001\"} 0"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count 1"), std::string::npos);
}

}  // namespace
}  // namespace langfuse
