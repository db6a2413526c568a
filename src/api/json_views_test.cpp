#include "api/json_views.h"

#include <gtest/gtest.h>

#include "storage/traces/record_json.h"
#include "storage/traces/test_records.h"

namespace langfuse::api {
namespace {

TEST(JsonViews, StoredTextIsParsedWhenJson) {
  EXPECT_EQ(ParseStoredJson(std::string(R"({"a":[1,2]})")), Json::parse(R"({"a":[1,2]})"));
  EXPECT_EQ(ParseStoredJson(std::string("plain words")), Json("plain words"));
  EXPECT_EQ(ParseStoredJson(std::string("123")), Json(123)) << "as Langfuse: JSON-looking text is parsed";
  EXPECT_TRUE(ParseStoredJson(std::nullopt).is_null());
}

TEST(JsonViews, ObservationViewHasLegacyUsageAndLatency) {
  traces::ObservationRecord o;
  o.id = "o";
  o.trace_id = "t";
  o.type = "GENERATION";
  o.start_time_ms = 1000;
  o.end_time_ms = 3500;
  o.completion_start_time_ms = 1500;
  o.usage_details = {{"input", 10}, {"input_cached_tokens", 2}, {"output", 5}, {"total", 17}};
  o.cost_details = {{"input", 0.5}, {"total", 0.75}};
  o.total_cost = 0.75;
  o.metadata = {{"k", R"({"x":1})"}};
  const Json j = ObservationView(o);
  EXPECT_EQ(j["startTime"], "1970-01-01T00:00:01.000Z");
  EXPECT_DOUBLE_EQ(j["latency"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(j["timeToFirstToken"].get<double>(), 0.5);
  EXPECT_EQ(j["usage"]["input"], 12);
  EXPECT_EQ(j["usage"]["output"], 5);
  EXPECT_EQ(j["usage"]["total"], 17);
  EXPECT_EQ(j["promptTokens"], 12);
  EXPECT_DOUBLE_EQ(j["calculatedTotalCost"].get<double>(), 0.75);
  EXPECT_EQ(j["metadata"]["k"]["x"], 1);
  EXPECT_TRUE(j["endTime"].is_string());
  EXPECT_TRUE(j["model"].is_null());
}

// The API reads observations without the columns its view does not show; the view must not
// need them.
TEST(JsonViews, ObservationViewShowsNothingThePublicReadLeavesOut) {
  const traces::ObservationRecord full = traces::testing::FullObservation("p", "o", "t");
  const traces::ObservationRecord read = traces::AsPublicObservationRead(full);
  EXPECT_NE(read, full) << "some columns are left out";
  EXPECT_EQ(ObservationView(read), ObservationView(full));
}

TEST(JsonViews, ScoreViewByDataType) {
  traces::ScoreRecord s;
  s.id = "s";
  s.name = "q";
  s.data_type = "BOOLEAN";
  s.value = 1;
  s.string_value = "True";
  Json j = ScoreView(s);
  EXPECT_EQ(j["stringValue"], "True");
  s.data_type = "NUMERIC";
  j = ScoreView(s);
  EXPECT_FALSE(j.contains("stringValue"));
}

}  // namespace
}  // namespace langfuse::api
