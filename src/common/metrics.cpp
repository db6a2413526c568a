#include "common/metrics.h"

#include <cmath>

#include "common/json_text.h"

namespace langfuse {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

void Histogram::Render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le = "+Inf";
    if (i < bounds_.size()) {
      le.clear();
      AppendJsonNumber(le, bounds_[i]);
    }
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  std::string sum;
  AppendJsonNumber(sum, sum_.load(std::memory_order_relaxed));
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + sum + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_.load(std::memory_order_relaxed)) + "\n";
}

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help, const std::string& labels) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.help = help;
  f.type = "counter";
  auto& slot = f.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help, const std::string& labels) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.help = help;
  f.type = "histogram";
  auto& slot = f.histograms[labels];
  if (!slot) {
    slot = std::make_unique<Histogram>(
        std::vector<double>{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  }
  return *slot;
}

void MetricsRegistry::AddGauge(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.help = help;
  f.type = "gauge";
  f.gauge = std::move(read);
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, c] : f.counters) {
      out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(c->value()) + "\n";
    }
    for (const auto& [labels, h] : f.histograms) h->Render(out, name, labels);
    if (f.gauge) {
      std::string v;
      const double value = f.gauge();
      if (std::isnan(value)) {
        v = "NaN";
      } else {
        AppendJsonNumber(v, value);
      }
      out += name + " " + v + "\n";
    }
  }
  return out;
}

MetricsRegistry& Metrics() {
  static MetricsRegistry* registry = new MetricsRegistry();  // never destroyed: used until exit
  return *registry;
}

}  // namespace langfuse
