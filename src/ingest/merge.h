#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ingest/event.h"
#include "storage/traces/records.h"

namespace langfuse::ingest {

// The merge of ingestion events into stored rows, with Langfuse's rules: a later value replaces
// an earlier one unless it is absent (explicit null does replace), metadata merges deeply, tags
// are a sorted union, input/output keep the last non-empty value, and the keys that place a row
// in ClickHouse's sort order (trace timestamp, observation start time and type) are fixed by the
// first event that states them.

//! A row being merged, with what is known about where its sort-key values came from. A value a
//! create event stated is final; a value made up because an update arrived first (envelope time,
//! the update's type) yields to the first create that states one.
//! Metadata values that are JSON objects deep-merged by this batch's events, kept parsed until the
//! row is finished so that many updates of one key cost one parse and one serialisation, not one
//! per update of the whole accumulated value.
struct PendingMetadata;

template <typename Record>
struct MergeState {
  Record row;
  bool stored = false;             //!< the row exists in ClickHouse (a changed sort key needs a tombstone)
  bool time_is_explicit = true;    //!< trace timestamp / observation start_time came from a body
  bool type_is_explicit = true;    //!< observation type came from a create event
  bool trace_id_is_explicit = true;  //!< observation trace_id came from a body (else a random id)
  //! Set while merging (see PendingMetadata); empty again once the row is finished.
  std::shared_ptr<PendingMetadata> pending_metadata;
};

using TraceState = MergeState<traces::TraceRecord>;
using ObservationState = MergeState<traces::ObservationRecord>;
using ScoreState = MergeState<traces::ScoreRecord>;

//! Ingestion attribution stored with scores.
struct IngestionSource {
  std::string api_key_id;
  std::string sdk_name = "unknown";
  std::string sdk_version = "unknown";
};

//! A fresh state for an entity seen for the first time, from its first event.
TraceState NewTraceState(const std::string& project_id, const std::string& id, const ParsedEvent& first, int64_t now_ms);
ObservationState NewObservationState(const std::string& project_id, const std::string& id, const ParsedEvent& first,
                                     int64_t now_ms);
ScoreState NewScoreState(const std::string& project_id, const std::string& id, const ParsedEvent& first, int64_t now_ms);

//! Applies one event. When the row's sort key changes, `tombstone` receives the previous row
//! marked deleted (to be written with the new one so FINAL hides the old placement). The
//! overloads taking an rvalue move the event's values (input, output, metadata, ...) into the
//! row instead of copying them, leaving the event's fields unspecified.
void ApplyTraceEvent(TraceState& state, ParsedEvent&& event, std::optional<traces::TraceRecord>& tombstone);
void ApplyTraceEvent(TraceState& state, const ParsedEvent& event, std::optional<traces::TraceRecord>& tombstone);
void ApplyObservationEvent(ObservationState& state, ParsedEvent&& event,
                           std::optional<traces::ObservationRecord>& tombstone);
void ApplyObservationEvent(ObservationState& state, const ParsedEvent& event,
                           std::optional<traces::ObservationRecord>& tombstone);
void ApplyScoreEvent(ScoreState& state, ParsedEvent&& event, const IngestionSource& source,
                     std::optional<traces::ScoreRecord>& tombstone);
void ApplyScoreEvent(ScoreState& state, const ParsedEvent& event, const IngestionSource& source,
                     std::optional<traces::ScoreRecord>& tombstone);

//! Derived columns and write times, applied once after all of a batch's events; also writes back
//! the metadata still held parsed.
void FinishTrace(TraceState& state, int64_t now_ms);
void FinishObservation(ObservationState& state, int64_t now_ms);
void FinishScore(ScoreState& state, int64_t now_ms);

//! Deep merge of two metadata maps: keys of `update` win, except that two JSON objects under
//! the same key are merged recursively.
void MergeMetadata(MetadataMap& base, const MetadataMap& update);

}  // namespace langfuse::ingest
