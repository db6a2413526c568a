#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <simdjson.h>

#include "ingest/event.h"

namespace langfuse::ingest {

//! Reads `usage`, `usageDetails` and `costDetails` of a generation-like body into the provided
//! usage and cost maps, as Langfuse normalises them: the legacy `usage` object (and its OpenAI
//! promptTokens form) gives input/output/total and *Cost values; `usageDetails` in OpenAI's chat
//! or Responses shape is flattened (details subtracted from input/output, kept as input_<k> /
//! output_<k>); any other usageDetails map keeps its non-negative integers; costDetails keeps
//! non-negative numbers. Returns false with `error` set for a wrongly typed field.
bool ReadUsage(simdjson::dom::object body, Field<std::map<std::string, uint64_t>>& usage,
               Field<std::map<std::string, double>>& cost, std::string& error);

//! Adds `total` as the sum of all other values when the map has none (usage and cost alike).
template <typename T>
void AddTotalIfMissing(std::map<std::string, T>& values) {
  if (values.empty() || values.count("total") != 0) return;
  T sum{};
  for (const auto& [key, value] : values) sum += value;
  values["total"] = sum;
}

}  // namespace langfuse::ingest
