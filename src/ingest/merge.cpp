#include "ingest/merge.h"

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/ids.h"
#include "ingest/usage.h"

namespace langfuse::ingest {

struct PendingMetadata {
  std::map<std::string, nlohmann::json> objects;
};

namespace {

// The Assign* helpers move the value out of the event's field (see ApplyTraceEvent).
template <typename T>
void Assign(Field<T>& field, T& target) {
  if (field.has_value()) target = std::move(field.value);
}

template <typename T>
void Assign(Field<T>& field, std::optional<T>& target) {
  if (field.has_value()) {
    target = std::move(field.value);
  } else if (field.is_null()) {
    target.reset();
  }
}

// input/output: only a non-empty value replaces what is stored.
void AssignNonEmpty(Field<std::string>& field, std::optional<std::string>& target) {
  if (field.has_value() && !field.value.empty() && field.value != "{}") target = std::move(field.value);
}

void AssignTags(const Field<std::vector<std::string>>& field, std::vector<std::string>& target) {
  if (!field.has_value()) return;
  std::set<std::string> all(target.begin(), target.end());
  all.insert(field.value.begin(), field.value.end());
  target.assign(all.begin(), all.end());
}

void DeepMerge(nlohmann::json& base, const nlohmann::json& update) {
  for (auto it = update.begin(); it != update.end(); ++it) {
    auto existing = base.find(it.key());
    if (existing != base.end() && existing->is_object() && it->is_object()) {
      DeepMerge(*existing, *it);
    } else {
      base[it.key()] = *it;
    }
  }
}

bool LooksLikeObject(const std::string& text) { return !text.empty() && text.front() == '{'; }

// Merges `update` into the row's metadata. Object values being deep-merged stay parsed in the
// state's PendingMetadata until FlushMetadata writes them back as text.
template <typename State>
void AssignMetadata(Field<MetadataMap>& field, State& state) {
  auto& target = state.row.metadata;
  if (field.is_null()) {
    target.clear();
    state.pending_metadata.reset();
    return;
  }
  if (!field.has_value()) return;
  if (target.empty() && !state.pending_metadata) {
    // Nothing to merge with (a new row's first metadata): every key is taken as it is.
    target = std::move(field.value);
    return;
  }
  for (auto& [key, value] : field.value) {
    auto* pending = state.pending_metadata.get();
    auto parsed = pending ? pending->objects.find(key) : std::map<std::string, nlohmann::json>::iterator{};
    const bool is_pending = pending && parsed != pending->objects.end();
    if (LooksLikeObject(value)) {
      auto existing = target.find(key);
      if (is_pending || (existing != target.end() && LooksLikeObject(existing->second))) {
        auto update = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
        if (update.is_object()) {
          if (is_pending) {
            DeepMerge(parsed->second, update);
            continue;
          }
          auto base = nlohmann::json::parse(existing->second, nullptr, /*allow_exceptions=*/false);
          if (base.is_object()) {
            DeepMerge(base, update);
            if (!state.pending_metadata) state.pending_metadata = std::make_shared<PendingMetadata>();
            state.pending_metadata->objects.insert_or_assign(key, std::move(base));
            continue;
          }
        }
      }
    }
    if (is_pending) pending->objects.erase(parsed);
    target[key] = std::move(value);
  }
}

template <typename State>
void FlushMetadata(State& state) {
  if (!state.pending_metadata) return;
  for (auto& [key, object] : state.pending_metadata->objects) state.row.metadata[key] = object.dump();
  state.pending_metadata.reset();
}

// Called before a change of the row's sort key: a stored row leaves a deleted copy under its
// current key (once per batch of events).
template <typename State, typename Record>
void MarkMoved(State& state, std::optional<Record>& tombstone) {
  if (!state.stored || tombstone) return;
  FlushMetadata(state);
  tombstone = state.row;
  tombstone->is_deleted = 1;
}

}  // namespace

void MergeMetadata(MetadataMap& base, const MetadataMap& update) {
  for (const auto& [key, value] : update) {
    auto it = base.find(key);
    if (it != base.end() && !it->second.empty() && it->second.front() == '{' && !value.empty() && value.front() == '{') {
      auto old_json = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
      auto new_json = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
      if (old_json.is_object() && new_json.is_object()) {
        DeepMerge(old_json, new_json);
        it->second = old_json.dump();
        continue;
      }
    }
    base[key] = value;
  }
}

TraceState NewTraceState(const std::string& project_id, const std::string& id, const ParsedEvent& first, int64_t now_ms) {
  TraceState state;
  state.stored = false;
  auto& row = state.row;
  row.id = id;
  row.project_id = project_id;
  state.time_is_explicit = first.trace.timestamp_ms.has_value();
  row.timestamp_ms = state.time_is_explicit ? first.trace.timestamp_ms.value : first.timestamp_ms;
  if (first.trace.environment.has_value()) row.environment = first.trace.environment.value;
  row.created_at_ms = now_ms;
  return state;
}

ObservationState NewObservationState(const std::string& project_id, const std::string& id, const ParsedEvent& first,
                                     int64_t now_ms) {
  ObservationState state;
  state.stored = false;
  auto& row = state.row;
  const auto& o = first.observation;
  row.id = id;
  row.project_id = project_id;
  row.type = o.type;
  state.type_is_explicit = o.type_is_explicit;
  state.time_is_explicit = o.start_time_ms.has_value();
  row.start_time_ms = state.time_is_explicit ? o.start_time_ms.value : first.timestamp_ms;
  state.trace_id_is_explicit = o.trace_id.has_value();
  // An observation without a trace gets a random one, as Langfuse does; a later event naming
  // its trace replaces it.
  row.trace_id = state.trace_id_is_explicit ? o.trace_id.value : NewUuidV4();
  if (o.environment.has_value()) row.environment = o.environment.value;
  row.created_at_ms = now_ms;
  return state;
}

ScoreState NewScoreState(const std::string& project_id, const std::string& id, const ParsedEvent& first, int64_t now_ms) {
  ScoreState state;
  state.stored = false;
  auto& row = state.row;
  row.id = id;
  row.project_id = project_id;
  row.timestamp_ms = first.score.timestamp_ms.has_value() ? first.score.timestamp_ms.value : first.timestamp_ms;
  if (first.score.environment.has_value()) row.environment = first.score.environment.value;
  row.created_at_ms = now_ms;
  return state;
}

void ApplyTraceEvent(TraceState& state, ParsedEvent&& event, std::optional<traces::TraceRecord>& tombstone) {
  auto& t = event.trace;
  auto& row = state.row;
  if (!state.time_is_explicit && t.timestamp_ms.has_value()) {
    if (t.timestamp_ms.value != row.timestamp_ms) MarkMoved(state, tombstone);
    row.timestamp_ms = t.timestamp_ms.value;
    state.time_is_explicit = true;
  }
  Assign(t.name, row.name);
  if (t.name.is_null()) row.name.clear();
  Assign(t.user_id, row.user_id);
  AssignMetadata(t.metadata, state);
  Assign(t.release, row.release);
  Assign(t.version, row.version);
  Assign(t.is_public, row.is_public);
  AssignTags(t.tags, row.tags);
  AssignNonEmpty(t.input, row.input);
  AssignNonEmpty(t.output, row.output);
  Assign(t.session_id, row.session_id);
}

void ApplyObservationEvent(ObservationState& state, ParsedEvent&& event,
                           std::optional<traces::ObservationRecord>& tombstone) {
  auto& o = event.observation;
  auto& row = state.row;
  if (!state.type_is_explicit && o.type_is_explicit) {
    if (o.type != row.type) MarkMoved(state, tombstone);
    row.type = std::move(o.type);
    state.type_is_explicit = true;
  }
  if (!state.time_is_explicit && o.start_time_ms.has_value()) {
    if (o.start_time_ms.value != row.start_time_ms) MarkMoved(state, tombstone);
    row.start_time_ms = o.start_time_ms.value;
    state.time_is_explicit = true;
  }
  if (!state.trace_id_is_explicit && o.trace_id.has_value()) {
    // The trace id is part of the observations' sort key (migrations.cpp).
    if (o.trace_id.value != row.trace_id) MarkMoved(state, tombstone);
    row.trace_id = std::move(o.trace_id.value);
    state.trace_id_is_explicit = true;
  }
  Assign(o.name, row.name);
  if (o.name.is_null()) row.name.clear();
  Assign(o.end_time_ms, row.end_time_ms);
  Assign(o.completion_start_time_ms, row.completion_start_time_ms);
  AssignMetadata(o.metadata, state);
  AssignNonEmpty(o.input, row.input);
  AssignNonEmpty(o.output, row.output);
  if (o.level.has_value()) row.level = std::move(o.level.value);
  if (o.level.is_null()) row.level = "DEFAULT";
  Assign(o.status_message, row.status_message);
  Assign(o.parent_observation_id, row.parent_observation_id);
  Assign(o.version, row.version);
  Assign(o.model, row.provided_model_name);
  Assign(o.model_parameters, row.model_parameters);
  if (o.usage_details.has_value()) row.provided_usage_details = std::move(o.usage_details.value);
  if (o.usage_details.is_null()) row.provided_usage_details.clear();
  if (o.cost_details.has_value()) row.provided_cost_details = std::move(o.cost_details.value);
  if (o.prompt_name.has_value() && o.prompt_version.has_value()) {
    row.prompt_name = std::move(o.prompt_name.value);
    row.prompt_version = o.prompt_version.value;
  } else if (o.prompt_name.is_null()) {
    row.prompt_name.reset();
    row.prompt_version.reset();
  }
}

void ApplyScoreEvent(ScoreState& state, ParsedEvent&& event, const IngestionSource& source,
                     std::optional<traces::ScoreRecord>& tombstone) {
  auto& s = event.score;
  auto& row = state.row;
  // The name is part of the scores' sort key (the timestamp, the other part, is the first
  // event's): a stored score that is renamed leaves a deleted copy under its old name.
  if (s.name != row.name) MarkMoved(state, tombstone);
  row.name = std::move(s.name);
  row.value = s.value;
  row.string_value = std::move(s.string_value);
  row.long_string_value = std::move(s.long_string_value);
  row.data_type = std::move(s.data_type);
  row.source = std::move(s.source);
  // trace_id is fixed by the first event that names one.
  if (!row.trace_id) Assign(s.trace_id, row.trace_id);
  Assign(s.session_id, row.session_id);
  Assign(s.dataset_run_id, row.dataset_run_id);
  Assign(s.observation_id, row.observation_id);
  Assign(s.comment, row.comment);
  AssignMetadata(s.metadata, state);
  Assign(s.execution_trace_id, row.execution_trace_id);
  Assign(s.queue_id, row.queue_id);
  Assign(s.config_id, row.config_id);
  row.ingestion_api_key = source.api_key_id;
  row.ingestion_sdk_name = source.sdk_name.empty() ? "unknown" : source.sdk_name;
  row.ingestion_sdk_version = source.sdk_version.empty() ? "unknown" : source.sdk_version;
}

void ApplyTraceEvent(TraceState& state, const ParsedEvent& event, std::optional<traces::TraceRecord>& tombstone) {
  ApplyTraceEvent(state, ParsedEvent(event), tombstone);
}

void ApplyObservationEvent(ObservationState& state, const ParsedEvent& event,
                           std::optional<traces::ObservationRecord>& tombstone) {
  ApplyObservationEvent(state, ParsedEvent(event), tombstone);
}

void ApplyScoreEvent(ScoreState& state, const ParsedEvent& event, const IngestionSource& source,
                     std::optional<traces::ScoreRecord>& tombstone) {
  ApplyScoreEvent(state, ParsedEvent(event), source, tombstone);
}

void FinishTrace(TraceState& state, int64_t now_ms) {
  FlushMetadata(state);
  auto& row = state.row;
  row.updated_at_ms = now_ms;
  row.event_ts_ms = now_ms;
  row.is_deleted = 0;
}

void FinishObservation(ObservationState& state, int64_t now_ms) {
  FlushMetadata(state);
  auto& row = state.row;
  if (row.end_time_ms && *row.end_time_ms < row.start_time_ms) row.end_time_ms = row.start_time_ms;
  // Until model prices exist, usage and cost are what the SDK reported, with a derived total.
  row.usage_details = row.provided_usage_details;
  AddTotalIfMissing(row.usage_details);
  row.cost_details = row.provided_cost_details;
  AddTotalIfMissing(row.cost_details);
  if (auto it = row.cost_details.find("total"); it != row.cost_details.end()) {
    row.total_cost = it->second;
  } else {
    row.total_cost.reset();
  }
  row.updated_at_ms = now_ms;
  row.event_ts_ms = now_ms;
  row.is_deleted = 0;
}

void FinishScore(ScoreState& state, int64_t now_ms) {
  FlushMetadata(state);
  auto& row = state.row;
  row.updated_at_ms = now_ms;
  row.event_ts_ms = now_ms;
  row.is_deleted = 0;
}

}  // namespace langfuse::ingest
