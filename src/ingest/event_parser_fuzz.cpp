// libFuzzer target: a POST /api/public/ingestion body through ValidateBatch (envelope and every
// event), the queue payload round trip of the accepted events, and the merge of those events into
// rows, as the worker does. Checks that the per-event answers add up, that an accepted event still
// validates after it is queued, and that the merged rows keep their invariants.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ingest/batch.h"
#include "ingest/event.h"
#include "ingest/merge.h"

#define LF_FUZZ_CHECK(cond)                                                             \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace langfuse::ingest {
namespace {

constexpr int64_t kNowMs = 1750000000000;

void CheckShape(const BatchValidation& v) {
  LF_FUZZ_CHECK(v.successes.size() == v.accepted_types.size());
  LF_FUZZ_CHECK(v.errors.size() == v.rejected_types.size());
  LF_FUZZ_CHECK(v.accepted.size() <= v.successes.size());
  for (const auto& [id, error] : v.errors) {
    LF_FUZZ_CHECK(!id.empty());
    LF_FUZZ_CHECK(error.status == 400 || error.status == 401);
    LF_FUZZ_CHECK(!error.error.empty());
  }
  for (const auto& type : v.accepted_types) LF_FUZZ_CHECK(IsKnownEventType(type));
}

template <typename Row>
void CheckCommon(const Row& row, const std::string& id) {
  LF_FUZZ_CHECK(row.id == id);
  LF_FUZZ_CHECK(row.project_id == "p");
  LF_FUZZ_CHECK(row.is_deleted == 0);
  LF_FUZZ_CHECK(row.updated_at_ms == kNowMs);
}

// Merges the decoded events per entity, the way the worker does for one batch.
void MergeAll(const DecodedPayload& payload) {
  std::map<std::string, TraceState> traces;
  std::map<std::string, ObservationState> observations;
  std::map<std::string, ScoreState> scores;
  for (const ParsedEvent& event : payload.events) {
    LF_FUZZ_CHECK(event.body_id.has_value());
    const std::string& id = *event.body_id;
    switch (event.kind) {
      case EntityKind::kTrace: {
        auto it = traces.find(id);
        if (it == traces.end()) it = traces.emplace(id, NewTraceState("p", id, event, kNowMs)).first;
        std::optional<traces::TraceRecord> tombstone;
        ApplyTraceEvent(it->second, event, tombstone);
        LF_FUZZ_CHECK(!tombstone);  // nothing is stored yet, so nothing moves
        break;
      }
      case EntityKind::kObservation: {
        auto it = observations.find(id);
        if (it == observations.end())
          it = observations.emplace(id, NewObservationState("p", id, event, kNowMs)).first;
        std::optional<traces::ObservationRecord> tombstone;
        ApplyObservationEvent(it->second, event, tombstone);
        LF_FUZZ_CHECK(!tombstone);
        break;
      }
      case EntityKind::kScore: {
        auto it = scores.find(id);
        if (it == scores.end()) it = scores.emplace(id, NewScoreState("p", id, event, kNowMs)).first;
        std::optional<traces::ScoreRecord> tombstone;
        ApplyScoreEvent(it->second, event, payload.source, tombstone);
        break;
      }
    }
  }
  for (auto& [id, state] : traces) {
    FinishTrace(state, kNowMs);
    CheckCommon(state.row, id);
    for (size_t i = 1; i < state.row.tags.size(); ++i)
      LF_FUZZ_CHECK(state.row.tags[i - 1] < state.row.tags[i]);
  }
  for (auto& [id, state] : observations) {
    FinishObservation(state, kNowMs);
    CheckCommon(state.row, id);
    LF_FUZZ_CHECK(!state.row.type.empty());
    LF_FUZZ_CHECK(!state.row.trace_id.empty());
    if (state.row.end_time_ms) LF_FUZZ_CHECK(*state.row.end_time_ms >= state.row.start_time_ms);
    if (!state.row.usage_details.empty()) LF_FUZZ_CHECK(state.row.usage_details.count("total") == 1);
    LF_FUZZ_CHECK(state.row.total_cost.has_value() == (state.row.cost_details.count("total") == 1));
  }
  for (auto& [id, state] : scores) {
    FinishScore(state, kNowMs);
    CheckCommon(state.row, id);
    LF_FUZZ_CHECK(!state.row.name.empty());
    LF_FUZZ_CHECK(!state.row.data_type.empty());
  }
}

}  // namespace
}  // namespace langfuse::ingest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace langfuse::ingest;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  simdjson::dom::parser parser;

  auto all = ValidateBatch(parser, body, EventScope{});
  if (!all.ok()) {
    LF_FUZZ_CHECK(all.status().code() == langfuse::StatusCode::kInvalidArgument);
    LF_FUZZ_CHECK(!all.status().message().empty());
    return 0;
  }
  CheckShape(*all);

  // A scores-only key (Bearer pk) accepts a subset of what a full key accepts.
  auto scores_only = ValidateBatch(parser, body, EventScope{.scores_only = true});
  LF_FUZZ_CHECK(scores_only.ok());
  CheckShape(*scores_only);
  LF_FUZZ_CHECK(scores_only->successes.size() <= all->successes.size());
  LF_FUZZ_CHECK(scores_only->successes.size() + scores_only->errors.size() ==
                all->successes.size() + all->errors.size());
  for (const auto& type : scores_only->accepted_types) LF_FUZZ_CHECK(type == "score-create");

  // What the handler enqueues, the worker decodes: every accepted event must still validate.
  const IngestionSource source{"key", "fuzz-sdk", "1.0"};
  const std::string payload = EncodeQueuePayload("p", source, kNowMs, all->accepted);
  auto decoded = DecodeQueuePayload(parser, payload);
  LF_FUZZ_CHECK(decoded.ok());
  LF_FUZZ_CHECK(decoded->skipped == 0);
  LF_FUZZ_CHECK(decoded->events.size() == all->accepted.size());
  LF_FUZZ_CHECK(decoded->project_id == "p");
  LF_FUZZ_CHECK(decoded->received_at_ms == kNowMs);
  MergeAll(*decoded);
  return 0;
}
