#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/status.h"

namespace langfuse::ingest {

//! A field of an event body: absent (keep what is stored), explicit null (clear it), or a value.
//! Langfuse's merge distinguishes all three.
template <typename T>
struct Field {
  enum class State : uint8_t { kAbsent, kNull, kValue };
  State state = State::kAbsent;
  T value{};

  bool absent() const { return state == State::kAbsent; }
  bool is_null() const { return state == State::kNull; }
  bool has_value() const { return state == State::kValue; }
  void SetNull() { state = State::kNull; }
  void Set(T v) {
    state = State::kValue;
    value = std::move(v);
  }
};

//! Which table an event's entity lives in.
enum class EntityKind : uint8_t { kTrace, kObservation, kScore };

//! Top-level metadata keys mapped to stored text (strings verbatim, anything else as JSON).
using MetadataMap = std::map<std::string, std::string>;

struct TracePatch {
  Field<int64_t> timestamp_ms;
  Field<std::string> name;
  Field<std::string> user_id;
  Field<MetadataMap> metadata;
  Field<std::string> release;
  Field<std::string> version;
  Field<std::string> environment;  //!< already normalised
  Field<bool> is_public;
  Field<std::vector<std::string>> tags;
  Field<std::string> input;   //!< stored text: strings verbatim, other JSON serialised
  Field<std::string> output;
  Field<std::string> session_id;
};

struct ObservationPatch {
  std::string type;           //!< SPAN, GENERATION, ... (from the event type or the legacy body)
  bool type_is_explicit = false;  //!< a *-create event (or a legacy body with type) fixes the type
  Field<std::string> trace_id;
  Field<std::string> environment;
  Field<std::string> name;
  Field<int64_t> start_time_ms;
  Field<int64_t> end_time_ms;
  Field<int64_t> completion_start_time_ms;
  Field<MetadataMap> metadata;
  Field<std::string> input;
  Field<std::string> output;
  Field<std::string> level;
  Field<std::string> status_message;
  Field<std::string> parent_observation_id;
  Field<std::string> version;
  Field<std::string> model;
  Field<std::string> model_parameters;  //!< JSON text
  Field<std::map<std::string, uint64_t>> usage_details;  //!< normalised provided usage
  Field<std::map<std::string, double>> cost_details;     //!< provided costs
  Field<std::string> prompt_name;
  Field<uint16_t> prompt_version;
};

struct ScorePatch {
  Field<int64_t> timestamp_ms;
  std::string name;
  double value = 0;
  std::optional<std::string> string_value;
  std::string data_type;  //!< NUMERIC, CATEGORICAL, BOOLEAN, CORRECTION, TEXT
  std::string long_string_value;  //!< CORRECTION: the corrected output
  Field<std::string> trace_id;
  Field<std::string> session_id;
  Field<std::string> dataset_run_id;
  Field<std::string> observation_id;
  Field<std::string> environment;
  Field<std::string> comment;
  Field<MetadataMap> metadata;
  std::string source = "API";
  Field<std::string> execution_trace_id;
  Field<std::string> queue_id;
  Field<std::string> config_id;
};

//! One validated ingestion event, ready to merge.
struct ParsedEvent {
  std::string event_id;     //!< the envelope id
  std::string type;         //!< e.g. "span-update"
  int64_t timestamp_ms = 0; //!< the envelope timestamp
  EntityKind kind = EntityKind::kTrace;
  bool is_update = false;   //!< *-update events merge after creates with the same timestamp
  bool is_sdk_log = false;  //!< accepted, listed nowhere, never stored
  std::optional<std::string> body_id;  //!< the entity id; events without one are accepted and dropped
  TracePatch trace;
  ObservationPatch observation;
  ScorePatch score;
};

//! Where the event came from; decides what it may do.
struct EventScope {
  bool scores_only = false;  //!< authenticated with `Bearer pk`: only score-create is allowed
  //! Validate only: input, output and metadata are checked but left empty in the result, which
  //! spares copying the largest parts of an event that is only being accepted.
  bool check_only = false;
};

//! A per-event rejection, in the shape the 207 response lists.
struct EventError {
  int status = 400;
  std::string message;  //!< "Invalid request data" / "Authentication error"
  std::string error;    //!< what exactly is wrong
};

//! Parses and validates one event envelope. `error` is set when the event is rejected (the return
//! value is then meaningless). Unknown fields are ignored, as Langfuse's schemas strip them.
ParsedEvent ParseEvent(simdjson::dom::element event, const EventScope& scope, std::optional<EventError>& error);
//! ParseEvent into `out`, which must be default-constructed: spares moving the large result
//! where events are parsed into their final place.
void ParseEventInto(simdjson::dom::element event, const EventScope& scope, ParsedEvent& out,
                    std::optional<EventError>& error);

//! Whether `type` names an ingestion event type (so it is safe as a metric label).
bool IsKnownEventType(std::string_view type);

//! The value as Langfuse stores input/output: a string verbatim, anything else as compact JSON.
std::string StoredJsonText(simdjson::dom::element value);

//! Langfuse's environment normalisation: lower-case, strip a leading `langfuse`, `langfuse-` or
//! `langfuse_`, at most 40 characters of [a-z0-9-_], otherwise "default".
std::string NormalizeEnvironment(std::string_view raw);

}  // namespace langfuse::ingest
