#pragma once

#include <simdjson.h>

#include <string>

#include "ingest/event.h"

namespace langfuse::ingest::testing {

//! Parses one event envelope from JSON text; `error` set when it is rejected.
inline ParsedEvent Parse(const std::string& json, std::optional<EventError>& error, EventScope scope = {}) {
  static thread_local simdjson::dom::parser parser;
  simdjson::dom::element e = parser.parse(json);
  return ParseEvent(e, scope, error);
}

inline ParsedEvent ParseOk(const std::string& json) {
  std::optional<EventError> error;
  ParsedEvent event = Parse(json, error);
  if (error) throw std::runtime_error("unexpected rejection: " + error->error);
  return event;
}

}  // namespace langfuse::ingest::testing
