#include "ingest/merge.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ingest/test_util.h"

namespace langfuse::ingest {
namespace {

using testing::ParseOk;

std::string Ev(const std::string& type, const std::string& ts, const std::string& body) {
  return R"({"id":"e-)" + ts + R"(","timestamp":")" + ts + R"(","type":")" + type + R"(","body":)" + body + "}";
}

TraceState MergeTraces(const std::vector<std::string>& events) {
  std::optional<TraceState> state;
  for (const auto& json : events) {
    auto e = ParseOk(json);
    if (!state) state = NewTraceState("p", *e.body_id, e, 1000);
    std::optional<traces::TraceRecord> tombstone;
    ApplyTraceEvent(*state, e, tombstone);
  }
  FinishTrace(*state, 2000);
  return *state;
}

TEST(Merge, LaterValuesWinAndExplicitNullClears) {
  auto s = MergeTraces({Ev("trace-create", "2024-01-01T00:00:00Z", R"({"id":"t","name":"a","userId":"u","release":"r"})"),
                        Ev("trace-create", "2024-01-01T00:00:01Z", R"({"id":"t","name":"b","userId":null})")});
  EXPECT_EQ(s.row.name, "b");
  EXPECT_FALSE(s.row.user_id.has_value());
  EXPECT_EQ(*s.row.release, "r") << "an absent field keeps its value";
  EXPECT_EQ(s.row.event_ts_ms, 2000);
}

TEST(Merge, ManyUpdatesOfOneMetadataObjectMergeInOrder) {
  std::vector<std::string> events{
      Ev("trace-create", "2024-01-01T00:00:00Z", R"({"id":"t","metadata":{"a":{"k0":0,"n":{"deep":true}},"s":"x"}})")};
  for (int i = 1; i <= 500; ++i) {
    const std::string ts = "2024-01-01T00:" + std::string(i / 60 < 10 ? "0" : "") + std::to_string(i / 60) + ":" +
                           std::string(i % 60 < 10 ? "0" : "") + std::to_string(i % 60) + "Z";
    events.push_back(Ev("trace-create", ts,
                        R"({"id":"t","metadata":{"a":{"k)" + std::to_string(i) + R"(":)" + std::to_string(i) +
                            R"(,"n":{"last":)" + std::to_string(i) + "}}}}"));
  }
  auto s = MergeTraces(events);
  auto merged = nlohmann::json::parse(s.row.metadata.at("a"));
  EXPECT_EQ(merged.size(), 502u);  // k0..k500 and n
  EXPECT_EQ(merged["k250"], 250);
  EXPECT_EQ(merged["n"], nlohmann::json::parse(R"({"deep":true,"last":500})"));
  EXPECT_EQ(s.row.metadata.at("s"), "x");
  EXPECT_EQ(s.pending_metadata, nullptr);
}

TEST(Merge, MetadataObjectReplacedByScalarOrClearedWhileMerging) {
  auto replaced = MergeTraces(
      {Ev("trace-create", "2024-01-01T00:00:00Z", R"({"id":"t","metadata":{"a":{"x":1}}})"),
       Ev("trace-create", "2024-01-01T00:00:01Z", R"({"id":"t","metadata":{"a":{"y":2}}})"),
       Ev("trace-create", "2024-01-01T00:00:02Z", R"({"id":"t","metadata":{"a":7}})"),
       Ev("trace-create", "2024-01-01T00:00:03Z", R"({"id":"t","metadata":{"b":{"z":1}}})")});
  EXPECT_EQ(replaced.row.metadata.at("a"), "7");
  EXPECT_EQ(nlohmann::json::parse(replaced.row.metadata.at("b")), nlohmann::json::parse(R"({"z":1})"));

  auto cleared = MergeTraces({Ev("trace-create", "2024-01-01T00:00:00Z", R"({"id":"t","metadata":{"a":{"x":1}}})"),
                              Ev("trace-create", "2024-01-01T00:00:01Z", R"({"id":"t","metadata":{"a":{"y":2}}})"),
                              Ev("trace-create", "2024-01-01T00:00:02Z", R"({"id":"t","metadata":null})"),
                              Ev("trace-create", "2024-01-01T00:00:03Z", R"({"id":"t","metadata":{"c":1}})")});
  EXPECT_EQ(cleared.row.metadata.size(), 1u);
  EXPECT_EQ(cleared.row.metadata.at("c"), "1");
}

TEST(Merge, MetadataMergesDeeplyAndTagsUnion) {
  auto s = MergeTraces({Ev("trace-create", "2024-01-01T00:00:00Z", R"({"id":"t","metadata":{"a":{"x":1}},"tags":["b","a"]})"),
                        Ev("trace-create", "2024-01-01T00:00:01Z", R"({"id":"t","metadata":{"a":{"y":2},"b":3},"tags":["c","a"]})")});
  EXPECT_EQ(nlohmann::json::parse(s.row.metadata.at("a")), nlohmann::json::parse(R"({"x":1,"y":2})"));
  EXPECT_EQ(s.row.metadata.at("b"), "3");
  EXPECT_EQ(s.row.tags, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Merge, InputKeepsTheLastNonEmptyValue) {
  auto s = MergeTraces({Ev("trace-create", "2024-01-01T00:00:00Z", R"({"id":"t","input":{"q":1}})"),
                        Ev("trace-create", "2024-01-01T00:00:01Z", R"({"id":"t","input":null,"output":"done"})"),
                        Ev("trace-create", "2024-01-01T00:00:02Z", R"({"id":"t","input":{}})")});
  EXPECT_EQ(*s.row.input, R"({"q":1})");
  EXPECT_EQ(*s.row.output, "done");
}

TEST(Merge, TraceTimestampIsFixedByTheFirstExplicitValue) {
  auto s = MergeTraces({Ev("trace-create", "2024-01-01T00:00:00Z", R"({"id":"t","timestamp":"2024-01-01T00:00:00Z"})"),
                        Ev("trace-create", "2024-01-01T00:00:05Z", R"({"id":"t","timestamp":"2024-01-01T00:00:09Z"})")});
  EXPECT_EQ(s.row.timestamp_ms, 1704067200000);
}

TEST(Merge, UpdateBeforeCreateTakesTheCreatesStartTimeTypeAndTrace) {
  auto update = ParseOk(Ev("generation-update", "2024-01-01T00:00:05Z", R"({"id":"g","output":"hi","endTime":"2024-01-01T00:00:04Z"})"));
  ObservationState state = NewObservationState("p", "g", update, 1000);
  std::optional<traces::ObservationRecord> tombstone;
  ApplyObservationEvent(state, update, tombstone);
  FinishObservation(state, 1000);
  state.stored = true;  // the update alone was written

  auto create = ParseOk(Ev("span-create", "2024-01-01T00:00:00Z",
                           R"({"id":"g","traceId":"t","name":"n","startTime":"2024-01-01T00:00:01Z"})"));
  ApplyObservationEvent(state, create, tombstone);
  FinishObservation(state, 2000);
  EXPECT_EQ(state.row.start_time_ms, 1704067201000);
  EXPECT_EQ(state.row.type, "SPAN");
  EXPECT_EQ(state.row.trace_id, "t");
  EXPECT_EQ(*state.row.output, "hi");
  EXPECT_EQ(state.row.name, "n");
  ASSERT_TRUE(tombstone.has_value()) << "the row moved in the sort order, so the old one is deleted";
  EXPECT_EQ(tombstone->is_deleted, 1);
  EXPECT_EQ(tombstone->start_time_ms, 1704067205000);
}

// An observation written before any event named its trace carries a made-up trace id; the id
// is part of the table's sort key, so the event that names the trace must delete the stored row
// under the made-up one, or FINAL reads would show the observation in two traces.
TEST(Merge, NamingTheTraceOfAStoredObservationLeavesATombstoneUnderTheMadeUpTrace) {
  auto update = ParseOk(Ev("span-update", "2024-01-01T00:00:05Z", R"({"id":"o","output":"hi"})"));
  ObservationState state = NewObservationState("p", "o", update, 1000);
  std::optional<traces::ObservationRecord> tombstone;
  ApplyObservationEvent(state, update, tombstone);
  FinishObservation(state, 1000);
  const std::string made_up = state.row.trace_id;
  ASSERT_FALSE(made_up.empty());
  state.stored = true;
  state.type_is_explicit = true;  // only the trace id is left to be named
  state.time_is_explicit = true;

  auto named = ParseOk(Ev("span-update", "2024-01-01T00:00:06Z", R"({"id":"o","traceId":"t"})"));
  ApplyObservationEvent(state, named, tombstone);
  FinishObservation(state, 2000);
  EXPECT_EQ(state.row.trace_id, "t");
  ASSERT_TRUE(tombstone.has_value()) << "the row moved to another trace in the sort key";
  EXPECT_EQ(tombstone->trace_id, made_up);
  EXPECT_EQ(tombstone->is_deleted, 1);

  std::optional<traces::ObservationRecord> none;
  auto again = ParseOk(Ev("span-update", "2024-01-01T00:00:07Z", R"({"id":"o","traceId":"t"})"));
  ObservationState same = state;
  same.trace_id_is_explicit = false;
  ApplyObservationEvent(same, again, none);
  EXPECT_FALSE(none.has_value()) << "the same trace, the same sort key";
}

TEST(Merge, EndTimeBeforeStartIsClampedAndUsageTotals) {
  auto create = ParseOk(Ev("generation-create", "2024-01-01T00:00:00Z",
                           R"({"id":"g","traceId":"t","startTime":"2024-01-01T00:00:10Z","endTime":"2024-01-01T00:00:05Z",
                               "usageDetails":{"input":3,"output":4},"costDetails":{"input":0.25,"output":0.5}})"));
  ObservationState state = NewObservationState("p", "g", create, 1000);
  std::optional<traces::ObservationRecord> tombstone;
  ApplyObservationEvent(state, create, tombstone);
  FinishObservation(state, 1000);
  EXPECT_EQ(*state.row.end_time_ms, state.row.start_time_ms);
  EXPECT_EQ(state.row.usage_details.at("total"), 7u);
  EXPECT_DOUBLE_EQ(*state.row.total_cost, 0.75);
  EXPECT_FALSE(tombstone.has_value());
}

TEST(Merge, ScoresCarryTheirIngestionSource) {
  auto e = ParseOk(Ev("score-create", "2024-01-01T00:00:00Z", R"({"id":"s","name":"q","value":"good","traceId":"t"})"));
  ScoreState state = NewScoreState("p", "s", e, 1000);
  std::optional<traces::ScoreRecord> tombstone;
  ApplyScoreEvent(state, e, IngestionSource{"key1", "javascript", "3.0"}, tombstone);
  FinishScore(state, 1000);
  EXPECT_FALSE(tombstone.has_value());
  EXPECT_EQ(state.row.data_type, "CATEGORICAL");
  EXPECT_EQ(*state.row.string_value, "good");
  EXPECT_EQ(state.row.ingestion_sdk_name, "javascript");
  EXPECT_EQ(*state.row.trace_id, "t");
}

// A score's name is part of its table's sort key: renaming a stored score must delete the row
// under the old name, or FINAL reads would list the score once per name it ever had.
TEST(Merge, RenamingAStoredScoreLeavesATombstoneUnderTheOldName) {
  auto first = ParseOk(Ev("score-create", "2024-01-01T00:00:00Z", R"({"id":"s","name":"a","value":1,"traceId":"t"})"));
  auto renamed = ParseOk(Ev("score-create", "2024-01-01T00:00:01Z", R"({"id":"s","name":"b","value":2,"traceId":"t"})"));
  auto same = ParseOk(Ev("score-create", "2024-01-01T00:00:02Z", R"({"id":"s","name":"b","value":3,"traceId":"t"})"));

  ScoreState fresh = NewScoreState("p", "s", first, 1000);
  std::optional<traces::ScoreRecord> tombstone;
  ApplyScoreEvent(fresh, first, IngestionSource{}, tombstone);
  ApplyScoreEvent(fresh, renamed, IngestionSource{}, tombstone);
  EXPECT_FALSE(tombstone.has_value()) << "a row never written needs no tombstone";
  EXPECT_EQ(fresh.row.name, "b");

  ScoreState stored;
  stored.row = fresh.row;
  stored.row.name = "a";
  stored.stored = true;
  ApplyScoreEvent(stored, same, IngestionSource{}, tombstone);
  ASSERT_TRUE(tombstone.has_value());
  EXPECT_EQ(tombstone->name, "a");
  EXPECT_EQ(tombstone->is_deleted, 1);
  EXPECT_EQ(stored.row.name, "b");
  EXPECT_EQ(stored.row.value, 3);

  std::optional<traces::ScoreRecord> none;
  stored.stored = true;
  ApplyScoreEvent(stored, same, IngestionSource{}, none);
  EXPECT_FALSE(none.has_value()) << "the same name, the same sort key";
}

TEST(Merge, MovingTheEventsValuesGivesTheSameRowsAsCopyingThem) {
  const std::vector<std::string> events{
      Ev("generation-update", "2024-01-01T00:00:00Z",
         R"({"id":"g","traceId":"t","metadata":{"m":{"a":1},"s":"x"},"output":{"o":1},"usageDetails":{"input":2}})"),
      Ev("generation-create", "2024-01-01T00:00:01Z",
         R"({"id":"g","traceId":"t","name":"n","startTime":"2024-01-01T00:00:00Z","level":"ERROR",
             "metadata":{"m":{"b":2}},"input":"in","model":"m1","modelParameters":{"t":0.5},
             "promptName":"p","promptVersion":3,"costDetails":{"input":0.5}})"),
      Ev("generation-update", "2024-01-01T00:00:02Z", R"({"id":"g","metadata":{"s":"y"},"input":"","output":"{}"})")};
  const ParsedEvent first = ParseOk(events[0]);
  ObservationState copied = NewObservationState("p", "g", first, 1000);
  ObservationState moved = copied;
  std::optional<traces::ObservationRecord> copied_tombstone, moved_tombstone;
  for (const auto& json : events) {
    const ParsedEvent e = ParseOk(json);
    ApplyObservationEvent(copied, e, copied_tombstone);
    EXPECT_EQ(ParseOk(json).observation.metadata.value, e.observation.metadata.value) << "a const event is unchanged";
    ApplyObservationEvent(moved, ParseOk(json), moved_tombstone);
  }
  FinishObservation(copied, 2000);
  FinishObservation(moved, 2000);
  EXPECT_EQ(moved.row, copied.row);
  EXPECT_EQ(moved.row.metadata.at("m"), R"({"a":1,"b":2})");
  EXPECT_EQ(moved.row.metadata.at("s"), "y");
  EXPECT_EQ(*moved.row.input, "in");
  EXPECT_EQ(*moved.row.output, R"({"o":1})");

  const ParsedEvent trace = ParseOk(Ev("trace-create", "2024-01-01T00:00:00Z",
                                       R"({"id":"t","name":"n","tags":["b"],"metadata":{"k":"v"},"input":[1]})"));
  TraceState copied_trace = NewTraceState("p", "t", trace, 1000);
  TraceState moved_trace = copied_trace;
  std::optional<traces::TraceRecord> trace_tombstone;
  ApplyTraceEvent(copied_trace, trace, trace_tombstone);
  ApplyTraceEvent(moved_trace, ParsedEvent(trace), trace_tombstone);
  EXPECT_EQ(moved_trace.row, copied_trace.row);
  EXPECT_EQ(moved_trace.row.metadata.at("k"), "v");

  const ParsedEvent score =
      ParseOk(Ev("score-create", "2024-01-01T00:00:00Z", R"({"id":"s","name":"q","value":"good","comment":"c"})"));
  ScoreState copied_score = NewScoreState("p", "s", score, 1000);
  ScoreState moved_score = copied_score;
  std::optional<traces::ScoreRecord> score_tombstone;
  ApplyScoreEvent(copied_score, score, IngestionSource{}, score_tombstone);
  ApplyScoreEvent(moved_score, ParsedEvent(score), IngestionSource{}, score_tombstone);
  EXPECT_EQ(moved_score.row, copied_score.row);
  EXPECT_EQ(moved_score.row.name, "q");
}

}  // namespace
}  // namespace langfuse::ingest
