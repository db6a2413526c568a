#include "storage/traces/record_json.h"

#include <gtest/gtest.h>

#include <cmath>

#include "storage/traces/test_records.h"

namespace langfuse::traces {
namespace {

using testing::FullObservation;
using testing::FullScore;
using testing::FullTrace;
using testing::MinimalObservation;
using testing::MinimalScore;
using testing::MinimalTrace;
using testing::TrickyText;

TEST(RecordJsonTest, TraceRoundTripsEveryColumn) {
  const std::vector<TraceRecord> rows = {FullTrace("p1", "t1"), MinimalTrace("p1", "t2")};
  const std::string json = TracesToJsonEachRow(rows);
  auto parsed = ParseTracesJsonEachRow(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(*parsed, rows);
}

TEST(RecordJsonTest, ObservationRoundTripsEveryColumn) {
  const std::vector<ObservationRecord> rows = {FullObservation("p1", "o1", "t1"),
                                               MinimalObservation("p1", "o2", "t1", 1'700'000'000'000)};
  auto parsed = ParseObservationsJsonEachRow(ObservationsToJsonEachRow(rows));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(*parsed, rows);
}

TEST(RecordJsonTest, ThePublicObservationReadLeavesOutOnlyTheColumnsNoViewShows) {
  const ObservationRecord full = FullObservation("p1", "o1", "t1");
  ObservationRecord read = AsPublicObservationRead(full);
  EXPECT_TRUE(read.provided_usage_details.empty());
  EXPECT_TRUE(read.tool_definitions.empty());
  EXPECT_EQ(PublicObservationSelectColumns().find("`tool_calls`"), std::string_view::npos);
  read.provided_usage_details = full.provided_usage_details;
  read.provided_cost_details = full.provided_cost_details;
  read.usage_pricing_tier_id = full.usage_pricing_tier_id;
  read.usage_pricing_tier_name = full.usage_pricing_tier_name;
  read.tool_definitions = full.tool_definitions;
  read.tool_calls = full.tool_calls;
  read.tool_call_names = full.tool_call_names;
  EXPECT_EQ(read, full) << "every other column is read";
}

TEST(RecordJsonTest, ScoreRoundTripsEveryColumn) {
  const std::vector<ScoreRecord> rows = {FullScore("p1", "s1", "t1"),
                                         MinimalScore("p1", "s2", 1'700'000'000'000)};
  auto parsed = ParseScoresJsonEachRow(ScoresToJsonEachRow(rows));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(*parsed, rows);
}

TEST(RecordJsonTest, WritesLangfuseInsertShape) {
  TraceRecord t = MinimalTrace("p", "id");
  t.timestamp_ms = 1'700'000'000'123;
  t.tags = {"x"};
  t.metadata = {{"k", "v"}};
  std::string out;
  AppendTraceJson(out, t);
  EXPECT_EQ(
      out, R"({"id":"id","timestamp":1700000000123,"name":"","user_id":null,"metadata":{"k":"v"},)"
           R"("release":null,"version":null,"project_id":"p","environment":"default","public":false,)"
           R"("bookmarked":false,"tags":["x"],"input":null,"output":null,"session_id":null,)"
           R"("created_at":1700000000000,"updated_at":1700000000000,"event_ts":1700000000000,"is_deleted":0})"
           "\n");
}

TEST(RecordJsonTest, EscapesStringsIntoOneLine) {
  TraceRecord t = MinimalTrace("p", "id");
  t.name = TrickyText();
  const std::string json = TracesToJsonEachRow({t});
  // JSONEachRow is one object per line: a raw newline inside a value would split the row.
  EXPECT_EQ(json.find('\n'), json.size() - 1);
  EXPECT_EQ(json.find('\0'), std::string::npos);
  EXPECT_NE(json.find(R"(\"hi\")"), std::string::npos);
  EXPECT_NE(json.find(R"(\u0000)"), std::string::npos);
}

TEST(RecordJsonTest, InvalidUtf8IsReplacedNotPassedOn) {
  TraceRecord t = MinimalTrace("p", "id");
  t.name = std::string("bad \xff\xfe byte");
  auto parsed = ParseTracesJsonEachRow(TracesToJsonEachRow({t}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ((*parsed)[0].name, "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
}

TEST(RecordJsonTest, ClampsTimesToDateTime64Range) {
  TraceRecord t = MinimalTrace("p", "id");
  t.timestamp_ms = -9'000'000'000'000'000;
  t.created_at_ms = 9'000'000'000'000'000;
  t.event_ts_ms = -1;  // inside the range: untouched
  auto parsed = ParseTracesJsonEachRow(TracesToJsonEachRow({t}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ((*parsed)[0].timestamp_ms, kMinDateTime64Ms);
  EXPECT_EQ((*parsed)[0].created_at_ms, kMaxDateTime64Ms);
  EXPECT_EQ((*parsed)[0].event_ts_ms, -1);
}

TEST(RecordJsonTest, DropsCostsDecimal64CannotHold) {
  ObservationRecord o = MinimalObservation("p", "o", "t", 1);
  o.cost_details = {{"ok", 999'999.5}, {"huge", 1e6}, {"nan", std::nan("")}, {"neg", -0.25}};
  o.provided_cost_details = {{"inf", INFINITY}};
  o.total_cost = 5e9;
  auto parsed = ParseObservationsJsonEachRow(ObservationsToJsonEachRow({o}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const ObservationRecord& r = (*parsed)[0];
  EXPECT_EQ(r.cost_details, (std::map<std::string, double>{{"ok", 999'999.5}, {"neg", -0.25}}));
  EXPECT_TRUE(r.provided_cost_details.empty());
  EXPECT_FALSE(r.total_cost.has_value());
}

TEST(RecordJsonTest, ReadsClickHouseOutputForms) {
  // What a server sends with its defaults (quoted 64-bit integers) and DateTime64 as text; keys in
  // any order; keys the codec does not know; NaN as null.
  const std::string text =
      R"({"usage_details":{"input":"18446744073709551615"},"id":"o1","start_time":"2024-06-10 06:13:20.123",)"
      R"("end_time":null,"completion_start_time":"1969-12-31 23:59:59.999","total_cost":"0.000001234567",)"
      R"("cost_details":{"a":"1.5","b":2},"prompt_version":"3","new_column":{"x":[1,2]},"is_deleted":"0",)"
      R"("created_at":"1718000000123","updated_at":1718000000124,"event_ts":"2024-06-10T06:13:20.125Z"})"
      "\n";
  auto parsed = ParseObservationsJsonEachRow(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 1u);
  const ObservationRecord& o = (*parsed)[0];
  EXPECT_EQ(o.id, "o1");
  EXPECT_EQ(o.usage_details.at("input"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(o.start_time_ms, 1'718'000'000'123);
  EXPECT_FALSE(o.end_time_ms.has_value());
  EXPECT_EQ(o.completion_start_time_ms, -1);
  EXPECT_DOUBLE_EQ(*o.total_cost, 0.000001234567);
  EXPECT_DOUBLE_EQ(o.cost_details.at("a"), 1.5);
  EXPECT_DOUBLE_EQ(o.cost_details.at("b"), 2.0);
  EXPECT_EQ(o.prompt_version, 3);
  EXPECT_EQ(o.created_at_ms, 1'718'000'000'123);
  EXPECT_EQ(o.updated_at_ms, 1'718'000'000'124);
  EXPECT_EQ(o.event_ts_ms, 1'718'000'000'125);
  EXPECT_EQ(o.level, "DEFAULT");  // missing key: the record's default
}

TEST(RecordJsonTest, ReadsNullFloatAsNaN) {
  auto parsed = ParseScoresJsonEachRow(R"({"id":"s","value":null,"public":1})");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_TRUE(std::isnan((*parsed)[0].value));
}

TEST(RecordJsonTest, EmptyAndBlankInputsHaveNoRows) {
  for (const std::string_view text : {"", "\n", "  \n\n", "\r\n"}) {
    auto parsed = ParseTracesJsonEachRow(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    EXPECT_TRUE(parsed->empty());
  }
}

TEST(RecordJsonTest, ParsesLastLineWithoutNewlineAndCrlf) {
  auto parsed = ParseTracesJsonEachRow("{\"id\":\"a\"}\r\n{\"id\":\"b\"}");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[1].id, "b");
}

TEST(RecordJsonTest, ErrorsNameLineAndColumn) {
  auto bad_json = ParseTracesJsonEachRow("{\"id\":\"a\"}\n{\"id\":");
  ASSERT_FALSE(bad_json.ok());
  EXPECT_EQ(bad_json.status().code(), StatusCode::kInternal);
  EXPECT_NE(bad_json.status().message().find("line 2"), std::string::npos) << bad_json.status().message();

  auto bad_type = ParseTracesJsonEachRow(R"({"id":"a","tags":"not an array"})");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("`tags`"), std::string::npos) << bad_type.status().message();

  auto bad_time = ParseTracesJsonEachRow(R"({"timestamp":"yesterday"})");
  ASSERT_FALSE(bad_time.ok());
  EXPECT_NE(bad_time.status().message().find("`timestamp`"), std::string::npos);

  auto out_of_range = ParseObservationsJsonEachRow(R"({"prompt_version":70000})");
  EXPECT_FALSE(out_of_range.ok());
  auto negative_usage = ParseObservationsJsonEachRow(R"({"usage_details":{"a":-1}})");
  EXPECT_FALSE(negative_usage.ok());
  auto not_object = ParseTracesJsonEachRow("[1,2]");
  EXPECT_FALSE(not_object.ok());
}

TEST(RecordJsonTest, LargeInputRoundTrips) {
  TraceRecord t = MinimalTrace("p", "big");
  t.input = std::string(8 << 20, 'a') + TrickyText();
  auto parsed = ParseTracesJsonEachRow(TracesToJsonEachRow({t, MinimalTrace("p", "after")}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].input, t.input);
  EXPECT_EQ((*parsed)[1].id, "after");
}

TEST(RecordJsonTest, SelectListsNameEveryColumnInTableOrder) {
  EXPECT_EQ(TraceSelectColumns().substr(0, 27), "`id`, `timestamp`, `name`, ");
  EXPECT_NE(ObservationSelectColumns().find(
                "`usage_pricing_tier_id`, `usage_pricing_tier_name`, `tool_definitions`"),
            std::string_view::npos);
  EXPECT_EQ(ScoreSelectColumns().substr(ScoreSelectColumns().size() - 23), "`ingestion_sdk_version`");
}

}  // namespace
}  // namespace langfuse::traces
