#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/status.h"
#include "ingest/event.h"
#include "ingest/merge.h"

namespace langfuse::ingest {

//! A simdjson parser for one request body, taken from a process-wide pool and given back when
//! this goes out of scope. simdjson keeps buffers sized for the largest document it parsed (about
//! ten times its size): one parser per handler thread pinned ~1 MB each for 100 KB bodies across
//! dozens of threads, so the pool keeps only a few idle parsers (as many as are parsed at once),
//! and a parser that grew past 1 MB for a large body is freed instead of kept.
class RequestParser {
 public:
  RequestParser();
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;
  simdjson::dom::parser& get() { return *parser_; }

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
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

//! Largest queue payload a reader decompresses (far above any accepted request's events).
inline constexpr size_t kMaxQueuePayloadJsonBytes = 512u << 20;

//! The queue payload for one request's accepted events: a JSON object (project, API key, SDK,
//! received-at time, the events as sent) in one zstd frame. The queue fsyncs every byte it keeps
//! and checkpoints it again, so the frame cuts the queue's disk writes (and a Redis queue's
//! memory) about five-fold for ~3 % of a core at 20 MB/s of events.
std::string EncodeQueuePayload(const std::string& project_id, const IngestionSource& source, int64_t received_at_ms,
                               const std::vector<std::string>& events);

//! The JSON text of a queue payload: the frame decompressed, or the payload itself when it is
//! plain JSON (entries queued by versions that wrote it uncompressed). `spare_capacity` as in
//! ZstdDecompress.
StatusOr<std::string> QueuePayloadJson(std::string_view payload, size_t spare_capacity = 0);

//! A decoded queue payload: its events parsed, ready to merge.
struct DecodedPayload {
  std::string project_id;
  IngestionSource source;
  int64_t received_at_ms = 0;
  std::vector<ParsedEvent> events;
  size_t skipped = 0;                   //!< events that no longer validate (logged by the worker)
  size_t json_bytes = 0;                //!< size of the payload's JSON text (what it takes in memory)
};

StatusOr<DecodedPayload> DecodeQueuePayload(simdjson::dom::parser& parser, std::string_view payload);
//! The same, decompressing into `text`, which a caller decoding many payloads keeps between calls
//! (its capacity is reused instead of a buffer of the payload's size being mapped each time).
StatusOr<DecodedPayload> DecodeQueuePayload(simdjson::dom::parser& parser, std::string_view payload,
                                            std::string& text);

}  // namespace langfuse::ingest
