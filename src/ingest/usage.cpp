#include "ingest/usage.h"

#include <algorithm>
#include <cmath>

namespace langfuse::ingest {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// A non-negative integer from a number or a numeric string; nullopt otherwise.
std::optional<uint64_t> AsCount(element e) {
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS) {
    if (d < 0 || !std::isfinite(d) || d != std::floor(d) || d > 9.0e15) return std::nullopt;
    return static_cast<uint64_t>(d);
  }
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS && !s.empty() && s.size() < 16) {
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
  }
  return std::nullopt;
}

bool HasKey(object o, std::string_view key) {
  element e;
  return o.at_key(key).get(e) == simdjson::SUCCESS;
}

// OpenAI's chat (prompt_tokens...) or Responses (input_tokens...) usage shape.
bool ReadOpenAiShape(object o, std::string_view in_key, std::string_view out_key, std::string_view in_details,
                     std::string_view out_details, std::map<std::string, uint64_t>& out) {
  element e;
  int64_t input = 0, output = 0;
  bool any = false;
  if (o.at_key(in_key).get(e) == simdjson::SUCCESS) {
    if (auto c = AsCount(e)) input = static_cast<int64_t>(*c), any = true;
  }
  if (o.at_key(out_key).get(e) == simdjson::SUCCESS) {
    if (auto c = AsCount(e)) output = static_cast<int64_t>(*c), any = true;
  }
  if (o.at_key("total_tokens").get(e) == simdjson::SUCCESS) {
    if (auto c = AsCount(e)) out["total"] = *c, any = true;
  }
  auto details = [&](std::string_view key, std::string_view prefix, int64_t& base) {
    object d;
    if (o.at_key(key).get(e) != simdjson::SUCCESS || e.get_object().get(d) != simdjson::SUCCESS) return;
    for (auto [k, value] : d) {
      auto c = AsCount(value);
      if (!c) continue;
      out[std::string(prefix) + std::string(k)] = *c;
      // Clamped at every step (the result is clamped at 0 anyway): a thousand details near the
      // 9e15 cap would otherwise overflow int64.
      base = std::max<int64_t>(base - static_cast<int64_t>(*c), 0);
    }
  };
  details(in_details, "input_", input);
  details(out_details, "output_", output);
  if (HasKey(o, in_key)) out["input"] = static_cast<uint64_t>(std::max<int64_t>(input, 0));
  if (HasKey(o, out_key)) out["output"] = static_cast<uint64_t>(std::max<int64_t>(output, 0));
  return any;
}

}  // namespace

bool ReadUsage(object body, Field<std::map<std::string, uint64_t>>& usage, Field<std::map<std::string, double>>& cost,
               std::string& error) {
  std::map<std::string, uint64_t> provided_usage;
  std::map<std::string, double> provided_cost;
  bool usage_total_given = false;
  bool usage_null = false;
  element e;

  if (body.at_key("usage").get(e) == simdjson::SUCCESS) {
    object u;
    if (e.is_null()) {
      usage_null = true;
    } else if (e.get_object().get(u) != simdjson::SUCCESS) {
      error = "Expected object";
      return false;
    } else {
      static constexpr std::pair<std::string_view, std::string_view> kCounts[] = {
          {"input", "input"},        {"output", "output"},          {"total", "total"},
          {"promptTokens", "input"}, {"completionTokens", "output"}, {"totalTokens", "total"}};
      for (const auto& [key, target] : kCounts) {
        element v;
        if (u.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) continue;
        double d;
        if (v.get_double().get(d) != simdjson::SUCCESS) {
          error = std::string(key) + ": Expected number";
          return false;
        }
        if (d >= 0 && d == std::floor(d) && d < 9.0e15) {
          provided_usage[std::string(target)] = static_cast<uint64_t>(d);
          if (target == "total") usage_total_given = true;
        }
      }
      static constexpr std::pair<std::string_view, std::string_view> kCosts[] = {
          {"inputCost", "input"}, {"outputCost", "output"}, {"totalCost", "total"}};
      for (const auto& [key, target] : kCosts) {
        element v;
        if (u.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) continue;
        double d;
        if (v.get_double().get(d) != simdjson::SUCCESS) {
          error = std::string(key) + ": Expected number";
          return false;
        }
        if (d >= 0 && std::isfinite(d)) provided_cost[std::string(target)] = d;
      }
      element unit;
      std::string_view unit_text;
      if (u.at_key("unit").get(unit) == simdjson::SUCCESS && !unit.is_null()) {
        static constexpr std::string_view kUnits[] = {"CHARACTERS", "TOKENS", "MILLISECONDS", "SECONDS", "IMAGES",
                                                      "REQUESTS"};
        bool known = false;
        if (unit.get_string().get(unit_text) == simdjson::SUCCESS) {
          for (auto k : kUnits) known = known || k == unit_text;
        }
        if (!known) {
          error = "unit: Invalid enum value";
          return false;
        }
      }
    }
  }

  bool details_given = false;
  if (body.at_key("usageDetails").get(e) == simdjson::SUCCESS && !e.is_null()) {
    object d;
    if (e.get_object().get(d) != simdjson::SUCCESS) {
      error = "usageDetails: Expected object";
      return false;
    }
    std::map<std::string, uint64_t> details;
    if (HasKey(d, "prompt_tokens") || HasKey(d, "completion_tokens")) {
      ReadOpenAiShape(d, "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details",
                      details);
    } else if (HasKey(d, "input_tokens") || HasKey(d, "output_tokens")) {
      ReadOpenAiShape(d, "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details", details);
    } else {
      for (auto [k, value] : d) {
        if (auto c = AsCount(value)) details[std::string(k)] = *c;
      }
    }
    details_given = !details.empty();
    for (auto& [k, value] : details) provided_usage[k] = value;
  }
  if (!usage_total_given && !details_given && provided_usage.count("total") == 0 &&
      (provided_usage.count("input") || provided_usage.count("output"))) {
    provided_usage["total"] = provided_usage["input"] + provided_usage["output"];
  }

  if (body.at_key("costDetails").get(e) == simdjson::SUCCESS && !e.is_null()) {
    object d;
    if (e.get_object().get(d) != simdjson::SUCCESS) {
      error = "costDetails: Expected object";
      return false;
    }
    for (auto [k, value] : d) {
      double c;
      if (value.get_double().get(c) == simdjson::SUCCESS && c >= 0 && std::isfinite(c)) provided_cost[std::string(k)] = c;
    }
  }

  if (!provided_usage.empty()) {
    usage.Set(std::move(provided_usage));
  } else if (usage_null) {
    usage.SetNull();
  }
  if (!provided_cost.empty()) cost.Set(std::move(provided_cost));
  return true;
}

}  // namespace langfuse::ingest
