#include <gtest/gtest.h>

#include "ingest/event.h"
#include "ingest/test_util.h"

namespace langfuse::ingest {
namespace {

using testing::Parse;
using testing::ParseOk;

TEST(ParseEvent, TraceCreateWithEveryField) {
  auto e = ParseOk(R"({"id":"ev1","timestamp":"2024-01-01T00:00:00.000Z","type":"trace-create","body":{
    "id":"t1","timestamp":"2024-01-01T00:00:01Z","name":"chat","userId":"u1","sessionId":"s1","release":"r","version":"v",
    "environment":"Langfuse-Prod","public":true,"tags":["b","a"],"metadata":{"k":"v","n":{"x":1}},
    "input":{"q":"hi"},"output":"plain text","unknownField":42}})");
  EXPECT_EQ(e.event_id, "ev1");
  EXPECT_EQ(e.kind, EntityKind::kTrace);
  EXPECT_EQ(*e.body_id, "t1");
  EXPECT_EQ(e.trace.timestamp_ms.value, 1704067201000);
  EXPECT_EQ(e.trace.name.value, "chat");
  EXPECT_EQ(e.trace.environment.value, "prod");
  EXPECT_TRUE(e.trace.is_public.value);
  EXPECT_EQ(e.trace.metadata.value.at("k"), "v");
  EXPECT_EQ(e.trace.metadata.value.at("n"), R"({"x":1})");
  EXPECT_EQ(e.trace.input.value, R"({"q":"hi"})");
  EXPECT_EQ(e.trace.output.value, "plain text");
}

TEST(ParseEvent, IntoAnEventInPlaceIsTheSameAsReturningIt) {
  simdjson::dom::parser parser;
  const std::string ok = R"({"id":"ev","timestamp":"2024-01-01T00:00:00Z","type":"generation-create","body":{
    "id":"g","traceId":"t","input":[{"role":"user","content":"hi"}],"metadata":{"a":[1,2]},"modelParameters":{"t":1}}})";
  std::optional<EventError> error;
  ParsedEvent into;
  ParseEventInto(parser.parse(ok), EventScope{}, into, error);
  ASSERT_FALSE(error);
  const ParsedEvent returned = ParseOk(ok);
  EXPECT_EQ(into.event_id, returned.event_id);
  EXPECT_EQ(*into.body_id, "g");
  EXPECT_EQ(into.observation.input.value, R"([{"role":"user","content":"hi"}])");
  EXPECT_EQ(into.observation.input.value, returned.observation.input.value);
  EXPECT_EQ(into.observation.metadata.value, returned.observation.metadata.value);
  EXPECT_EQ(into.observation.model_parameters.value, R"({"t":1})");

  ParsedEvent rejected;
  ParseEventInto(parser.parse(std::string(R"({"id":"bad","timestamp":"2024-01-01T00:00:00Z","type":"nope","body":{}})")),
                 EventScope{}, rejected, error);
  ASSERT_TRUE(error);
  EXPECT_EQ(rejected.event_id, "bad");
  EXPECT_NE(error->error.find("unknown event type 'nope'"), std::string::npos);
}

TEST(ParseEvent, StoredJsonTextOfLargeAndSmallValues) {
  simdjson::dom::parser parser;
  // A value large enough that the serialiser's kept buffer is dropped, then a small one.
  const std::string big = "[\"" + std::string(3 << 20, 'x') + "\"]";
  EXPECT_EQ(StoredJsonText(parser.parse(big)), big);
  EXPECT_EQ(StoredJsonText(parser.parse(std::string(R"({"a" : [1, 2.5, "\u00e9", null, true]})"))),
            "{\"a\":[1,2.5,\"\u00e9\",null,true]}");
  EXPECT_EQ(StoredJsonText(parser.parse(std::string(R"("plain")"))), "plain");
}

TEST(ParseEvent, ExplicitNullIsDistinctFromAbsent) {
  auto e = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"trace-create","body":{"id":"t","userId":null}})");
  EXPECT_TRUE(e.trace.user_id.is_null());
  EXPECT_TRUE(e.trace.name.absent());
}

TEST(ParseEvent, RejectsNaiveTimestampsUnknownTypesAndWrongTypes) {
  std::optional<EventError> error;
  Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00","type":"trace-create","body":{"id":"t"}})", error);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, 400);
  EXPECT_EQ(error->message, "Invalid request data");

  error.reset();
  auto e = Parse(R"({"id":"e2","timestamp":"2024-01-01T00:00:00Z","type":"bogus-create","body":{"id":"t"}})", error);
  ASSERT_TRUE(error);
  EXPECT_EQ(e.event_id, "e2");

  error.reset();
  Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"trace-create","body":{"id":"t","name":5}})", error);
  ASSERT_TRUE(error);
  EXPECT_NE(error->error.find("name"), std::string::npos);

  error.reset();
  Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"span-create","body":{"id":"s","level":"error"}})", error);
  ASSERT_TRUE(error) << "enums are upper-case";

  error.reset();
  e = Parse(R"({"timestamp":"2024-01-01T00:00:00Z","type":"trace-create","body":{"id":"t"}})", error);
  ASSERT_TRUE(error);
  EXPECT_EQ(e.event_id, "unknown");

  error.reset();
  Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"span-create","body":{"name":"no id"}})", error);
  ASSERT_TRUE(error) << "observation bodies need an id";

  error.reset();
  Parse(std::string(R"({"id":")") + std::string(801, 'x') + R"(","timestamp":"2024-01-01T00:00:00Z","type":"trace-create","body":{}})",
        error);
  ASSERT_TRUE(error) << "ids are at most 800 characters";
}

TEST(ParseEvent, SdkLogAndTraceWithoutBodyIdAreAccepted) {
  auto log = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"sdk-log","body":{"log":"x"}})");
  EXPECT_TRUE(log.is_sdk_log);
  auto trace = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"trace-create","body":{"name":"x"}})");
  EXPECT_FALSE(trace.body_id.has_value());
}

TEST(ParseEvent, ScoresOnlyScopeRejectsOtherEvents) {
  std::optional<EventError> error;
  Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"trace-create","body":{"id":"t"}})", error, {true});
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, 401);
  EXPECT_EQ(error->message, "Authentication error");
  EXPECT_EQ(error->error, "Access Scope Denied");
  error.reset();
  Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"score-create","body":{"id":"s","name":"q","value":1}})",
        error, {true});
  EXPECT_FALSE(error);
}

TEST(ParseEvent, ObservationTypesAndLegacyObservations) {
  auto tool = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"tool-create","body":{"id":"o","traceId":"t"}})");
  EXPECT_EQ(tool.observation.type, "TOOL");
  EXPECT_TRUE(tool.observation.type_is_explicit);
  auto update = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"generation-update","body":{"id":"o"}})");
  EXPECT_TRUE(update.is_update);
  EXPECT_FALSE(update.observation.type_is_explicit);
  auto legacy = ParseOk(
      R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"observation-create","body":{"id":"o","type":"EVENT"}})");
  EXPECT_EQ(legacy.observation.type, "EVENT");
  std::optional<EventError> error;
  Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"observation-create","body":{"id":"o","type":"TOOL"}})",
        error);
  EXPECT_TRUE(error);
}

TEST(ParseEvent, ScoresByDataType) {
  auto numeric = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"score-create","body":{"id":"s","name":"q","value":0.5}})");
  EXPECT_EQ(numeric.score.data_type, "NUMERIC");
  EXPECT_EQ(numeric.score.value, 0.5);
  auto categorical = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"score-create","body":{"id":"s","name":"q","value":"good"}})");
  EXPECT_EQ(categorical.score.data_type, "CATEGORICAL");
  EXPECT_EQ(*categorical.score.string_value, "good");
  auto boolean = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"score-create","body":{"id":"s","name":"q","value":1,"dataType":"BOOLEAN"}})");
  EXPECT_EQ(*boolean.score.string_value, "True");
  std::optional<EventError> error;
  Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"score-create","body":{"id":"s","name":"q","value":2,"dataType":"BOOLEAN"}})", error);
  EXPECT_TRUE(error);
  error.reset();
  Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"score-create","body":{"id":"s","value":2}})", error);
  EXPECT_TRUE(error) << "name is required";
}

TEST(ParseEvent, CorrectionScoresAndCheckedCategoryValues) {
  auto correction = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"score-create","body":{"id":"s","traceId":"t","name":"x","value":"fixed","dataType":"CORRECTION"}})");
  EXPECT_EQ(correction.score.data_type, "CORRECTION");
  EXPECT_EQ(correction.score.name, "output");
  EXPECT_EQ(correction.score.long_string_value, "fixed");
  EXPECT_FALSE(correction.score.string_value);
  // The category value the web role sets after its config check counts only next to a configId.
  auto checked = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"score-create","body":{"id":"s","name":"q","value":"good","dataType":"CATEGORICAL","configId":"c","_configCategoryValue":2}})");
  EXPECT_EQ(checked.score.value, 2);
  auto unchecked = ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"score-create","body":{"id":"s","name":"q","value":"good","dataType":"CATEGORICAL","_configCategoryValue":2}})");
  EXPECT_EQ(unchecked.score.value, 0);
}

TEST(NormalizeEnvironment, FollowsLangfuse) {
  EXPECT_EQ(NormalizeEnvironment("Production"), "production");
  EXPECT_EQ(NormalizeEnvironment("langfuse-staging"), "staging");
  EXPECT_EQ(NormalizeEnvironment("langfuse_x"), "x");
  EXPECT_EQ(NormalizeEnvironment("has space"), "default");
  EXPECT_EQ(NormalizeEnvironment(""), "default");
  EXPECT_EQ(NormalizeEnvironment(std::string(50, 'a')), std::string(40, 'a'));
}

}  // namespace
}  // namespace langfuse::ingest
