#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace langfuse {

//! A monotonically increasing count. Lock-free.
class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

//! A count of observations in fixed buckets (seconds), with their sum, as Prometheus wants.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  void Render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

//! Every metric the process exports at GET /metrics, in Prometheus text format. Counters and
//! histograms are created once (start-up or first use) and then updated lock-free; gauges are
//! callbacks evaluated at scrape time. Thread-safe.
class MetricsRegistry {
 public:
  //! The counter `name{labels}` (labels in Prometheus syntax without braces, e.g. `type="x"`).
  Counter& GetCounter(const std::string& name, const std::string& help, const std::string& labels = "");
  Histogram& GetHistogram(const std::string& name, const std::string& help, const std::string& labels = "");
  //! A value computed at scrape time.
  void AddGauge(const std::string& name, const std::string& help, std::function<double()> read);
  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::function<double()> gauge;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // GUARDED_BY(mu_)
};

//! The process-wide registry.
MetricsRegistry& Metrics();

}  // namespace langfuse
