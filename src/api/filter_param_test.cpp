#include "api/filter_param.h"

#include <gtest/gtest.h>

namespace langfuse::api {
namespace {

using traces::FilterType;

// Parses `text`; returns the issues (empty when it parsed).
Json Issues(std::string_view text) {
  Json issues = Json::array();
  auto parsed = ParseFilterParam(text, issues);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  return issues;
}

TEST(ParseFilterParam, ReadsEveryFilterType) {
  Json issues = Json::array();
  auto parsed = ParseFilterParam(
      R"([{"type":"datetime","column":"timestamp","operator":">=","value":"2024-01-01T00:00:00+02:00"},
          {"type":"datetime","column":"timestamp","operator":"<","value":"2024-01-02"},
          {"type":"string","column":"userId","operator":"starts with","value":"u"},
          {"type":"number","column":"latency","operator":">","value":2.5},
          {"type":"stringOptions","column":"environment","operator":"none of","value":["a","b"]},
          {"type":"categoryOptions","column":"score_categories","key":"tone","operator":"any of","value":["good"]},
          {"type":"arrayOptions","column":"tags","operator":"all of","value":[]},
          {"type":"stringObject","column":"metadata","key":"k","operator":"=","value":"v"},
          {"type":"numberObject","column":"scores_avg","key":"acc","operator":"<=","value":1},
          {"type":"booleanObject","column":"score_booleans","key":"ok","operator":"<>","value":true},
          {"type":"boolean","column":"bookmarked","operator":"=","value":false},
          {"type":"null","column":"sessionId","operator":"is null","value":""},
          {"type":"positionInTrace","column":"x","operator":"=","key":"root"}])",
      issues);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_TRUE(issues.empty()) << issues.dump();
  ASSERT_EQ(parsed->size(), 12u) << "positionInTrace is accepted and dropped";
  EXPECT_EQ((*parsed)[0].type, FilterType::kDatetime);
  EXPECT_EQ((*parsed)[0].time_ms, 1704060000000);  // 2023-12-31T22:00:00Z
  EXPECT_EQ((*parsed)[1].time_ms, 1704153600000);  // a date alone is UTC midnight
  EXPECT_EQ((*parsed)[2].op, "starts with");
  EXPECT_EQ((*parsed)[3].number, 2.5);
  EXPECT_EQ((*parsed)[4].values, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*parsed)[5].key, "tone");
  EXPECT_EQ((*parsed)[8].type, FilterType::kNumberObject);
  EXPECT_TRUE((*parsed)[9].flag);
  EXPECT_FALSE((*parsed)[10].flag);
  EXPECT_EQ((*parsed)[11].type, FilterType::kNull);
}

TEST(ParseFilterParam, EmptyTextIsNoFilterAndBadJsonIsInvalidRequest) {
  Json issues = Json::array();
  auto empty = ParseFilterParam("", issues);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto bad = ParseFilterParam("[{", issues);
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "Invalid JSON in filter parameter");
  EXPECT_TRUE(issues.empty());
}

// The issues are zod 4's, key order included (compared as text).
TEST(ParseFilterParam, ShapeProblemsAreZodIssues) {
  EXPECT_EQ(
      Issues("{}").dump(),
      R"([{"expected":"array","code":"invalid_type","path":["filter"],"message":"Invalid input: expected array, received object"}])");
  EXPECT_EQ(
      Issues("[1]").dump(),
      R"([{"code":"invalid_type","expected":"object","path":["filter",0],"message":"Invalid input: expected object, received number"}])");
  EXPECT_EQ(
      Issues(R"([{"type":"x"}])").dump(),
      R"([{"code":"invalid_union","errors":[],"note":"No matching discriminator","discriminator":"type","path":["filter",0,"type"],"message":"Invalid input"}])");
  EXPECT_EQ(
      Issues(R"([{"type":"string","column":1,"operator":"x","value":2}])").dump(),
      R"([{"expected":"string","code":"invalid_type","path":["filter",0,"column"],"message":"Invalid input: expected string, received number"},)"
      R"({"code":"invalid_value","values":["=","contains","does not contain","starts with","ends with"],"path":["filter",0,"operator"],"message":"Invalid option: expected one of \"=\"|\"contains\"|\"does not contain\"|\"starts with\"|\"ends with\""},)"
      R"({"expected":"string","code":"invalid_type","path":["filter",0,"value"],"message":"Invalid input: expected string, received number"}])");
  EXPECT_EQ(
      Issues(R"([{"type":"datetime","column":"a","operator":">","value":"garbage"}])").dump(),
      R"([{"expected":"date","code":"invalid_type","received":"Invalid Date","path":["filter",0,"value"],"message":"Invalid input: expected date, received Date"}])");
  EXPECT_EQ(Issues(R"([{"type":"stringOptions","column":"a","operator":"any of","value":[]}])").dump(),
            R"([{"code":"custom","path":["filter",0,"value"],"message":"Invalid input"}])");
  EXPECT_EQ(
      Issues(R"([{"type":"arrayOptions","column":"a","operator":"any of","value":[]}])").dump(),
      R"j([{"code":"custom","path":["filter",0],"message":"Value array must not be empty unless operator is 'all of' or 'none of' (which represent waiting for selection)"}])j");
  EXPECT_EQ(
      Issues(R"([{"type":"null","column":"a","operator":"is null"}])").dump(),
      R"([{"code":"invalid_value","values":[""],"path":["filter",0,"value"],"message":"Invalid input: expected \"\""}])");
  EXPECT_EQ(
      Issues(R"([{"type":"stringOptions","column":"a","operator":"any of","value":[1]}])").dump(),
      R"([{"expected":"string","code":"invalid_type","path":["filter",0,"value",0],"message":"Invalid input: expected string, received number"}])");
  EXPECT_EQ(
      Issues(R"([{"type":"number","column":"a","operator":"=","value":"1"}])").dump(),
      R"([{"expected":"number","code":"invalid_type","path":["filter",0,"value"],"message":"Invalid input: expected number, received string"}])");
  EXPECT_EQ(
      Issues(R"([{"type":"positionInTrace","column":"a","operator":"=","key":"nthFromEnd"}])").dump(),
      R"([{"code":"custom","message":"Position must be >= 1 for nth selection","path":["filter",0,"value"]}])");
  // Issues of several elements, in order.
  EXPECT_EQ(Issues(R"([{"type":"string","column":"a","operator":"=","value":"x"},{"type":"y"},[]])").size(),
            2u);
}

TEST(ParseFilterParam, DatetimeCoercionFollowsJavaScriptDate) {
  Json issues = Json::array();
  auto parsed = ParseFilterParam(
      R"([{"type":"datetime","column":"t","operator":">","value":1700000000000},
          {"type":"datetime","column":"t","operator":">","value":null},
          {"type":"datetime","column":"t","operator":">","value":"2024-01-01T10:00:00"}])",
      issues);
  ASSERT_TRUE(parsed.ok());
  ASSERT_TRUE(issues.empty()) << issues.dump();
  EXPECT_EQ((*parsed)[0].time_ms, 1700000000000);
  EXPECT_EQ((*parsed)[1].time_ms, 0);
  EXPECT_EQ((*parsed)[2].time_ms, 1704103200000);
  EXPECT_FALSE(Issues(R"([{"type":"datetime","column":"t","operator":">","value":[]}])").empty());
  EXPECT_FALSE(Issues(R"([{"type":"datetime","column":"t","operator":">"}])").empty());
}

}  // namespace
}  // namespace langfuse::api
