#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/status.h"
#include "ingest/event.h"
#include "ingest/merge.h"

namespace langfuse::ingest {

//! A per-thread simdjson parser for request bodies. simdjson keeps buffers sized for the largest
//! document it parsed; with dozens of handler threads a few 4 MB bodies would pin hundreds of MB,
//! so the parser is dropped after a large document and the next request starts small.
class RequestParser {
 public:
  RequestParser();
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;
  simdjson::dom::parser& get() { return *parser_; }

 private:
  simdjson::dom::parser* parser_;
};

//! The outcome of validating one POST /api/public/ingestion body.
struct BatchValidation {
  std::vector<std::string> successes;  //!< envelope ids answered 201
  std::vector<std::pair<std::string, EventError>> errors;
  std::vector<std::string> accepted;   //!< compact JSON of the events to enqueue
  std::vector<std::string> accepted_types;  //!< event type of each success (for metrics)
  std::vector<std::string> rejected_types;  //!< event type of each error, "invalid" when unknown
};

//! Validates an ingestion envelope `{batch: [...], metadata?}`. A malformed envelope (invalid
//! JSON, too deep, `batch` missing or not an array) is an InvalidArgument status whose message
//! says what is wrong; otherwise every event is judged on its own. sdk-log events appear in no
//! list; events without a body id are listed as successes and not enqueued.
StatusOr<BatchValidation> ValidateBatch(simdjson::dom::parser& parser, std::string_view body, const EventScope& scope);

//! The queue payload for one request's accepted events.
std::string EncodeQueuePayload(const std::string& project_id, const IngestionSource& source, int64_t received_at_ms,
                               const std::vector<std::string>& events);

//! A decoded queue payload: its events parsed, ready to merge.
struct DecodedPayload {
  std::string project_id;
  IngestionSource source;
  int64_t received_at_ms = 0;
  std::vector<ParsedEvent> events;
  size_t skipped = 0;                   //!< events that no longer validate (logged by the worker)
};

StatusOr<DecodedPayload> DecodeQueuePayload(simdjson::dom::parser& parser, std::string_view payload);

}  // namespace langfuse::ingest
