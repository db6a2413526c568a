#include "storage/traces/filter_sql.h"

#include <gtest/gtest.h>

namespace langfuse::traces {
namespace {

FilterCondition Condition(FilterType type, std::string column, std::string op) {
  FilterCondition c;
  c.type = type;
  c.column = std::move(column);
  c.op = std::move(op);
  return c;
}

TEST(CompileFilter, ValuesTravelAsParametersNeverAsSqlText) {
  FilterCondition c = Condition(FilterType::kString, "userId", "contains");
  c.text = "x' OR 1=1 --";
  auto compiled = CompileFilter(TraceFilterColumns(), {c});
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  EXPECT_EQ(compiled->For(ColumnSource::kRow), " AND (position(user_id, {flt0:String}) > 0)");
  ASSERT_EQ(compiled->params.size(), 1u);
  EXPECT_EQ(compiled->params[0].name, "flt0");
  EXPECT_EQ(compiled->For(ColumnSource::kRow).find("OR 1=1"), std::string::npos);
  EXPECT_TRUE(compiled->Covers("user_id"));
  EXPECT_FALSE(compiled->Covers("name"));
}

TEST(CompileFilter, MatchesColumnsByIdUiNameAndAlias) {
  FilterCondition by_ui = Condition(FilterType::kDatetime, "Start Time", ">=");
  by_ui.time_ms = 0;
  auto compiled = CompileFilter(ObservationFilterColumns(), {by_ui});
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  EXPECT_EQ(compiled->For(ColumnSource::kRow), " AND (start_time >= {flt0:DateTime64(3)})");

  FilterCondition alias = Condition(FilterType::kArrayOptions, "tags", "all of");
  alias.values = {"a"};
  compiled = CompileFilter(ScoreFilterColumns(), {alias});
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  EXPECT_EQ(compiled->For(ColumnSource::kTrace), " AND (hasAll(tags, {flt0:Array(String)}))");
  EXPECT_FALSE(compiled->Uses(ColumnSource::kRow));
}

TEST(CompileFilter, UnknownColumnAndWrongTypeAreInvalidArgument) {
  auto unknown = CompileFilter(TraceFilterColumns(), {Condition(FilterType::kString, "nope", "=")});
  ASSERT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.status().message(), "Column nope does not match a UI / CH table mapping.");

  FilterCondition number_on_name = Condition(FilterType::kNumber, "name", ">");
  auto wrong = CompileFilter(TraceFilterColumns(), {number_on_name});
  ASSERT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.status().message(),
            "Invalid filter type 'number' for column 'name'. Expected filter type 'stringOptions'.");

  // Observations have no score columns: Langfuse's public route drops them.
  FilterCondition scores = Condition(FilterType::kNumberObject, "scores_avg", ">");
  scores.key = "accuracy";
  EXPECT_EQ(CompileFilter(ObservationFilterColumns(), {scores}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(CompileFilter, LegacyScoresColumnResolvesByType) {
  FilterCondition numeric = Condition(FilterType::kNumberObject, "scores", ">=");
  numeric.key = "accuracy";
  numeric.number = 0.5;
  auto compiled = CompileFilter(TraceFilterColumns(), {numeric});
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  EXPECT_EQ(compiled->For(ColumnSource::kScoreStats),
            " AND (arrayExists(x -> x.1 = {flt0k:String} AND x.2 >= {flt0:Float64}, s_avg))");
  ASSERT_EQ(compiled->params.size(), 2u);
  EXPECT_EQ(compiled->params[1].value, "0.5");

  FilterCondition boolean = Condition(FilterType::kBooleanObject, "Scores", "<>");
  boolean.key = "ok";
  boolean.flag = true;
  compiled = CompileFilter(TraceFilterColumns(), {boolean});
  ASSERT_TRUE(compiled.ok());
  EXPECT_EQ(compiled->For(ColumnSource::kScoreStats), " AND (NOT has(s_booleans, {flt0:String}))");
  EXPECT_EQ(compiled->params[0].value, "ok:true");

  auto bad = CompileFilter(TraceFilterColumns(), {Condition(FilterType::kString, "scores", "=")});
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("legacy score column"), std::string::npos);
}

TEST(CompileFilter, EveryTypeHasSql) {
  std::vector<FilterCondition> all;
  FilterCondition c = Condition(FilterType::kStringOptions, "environment", "none of");
  c.values = {"a", "b"};
  all.push_back(c);
  c = Condition(FilterType::kStringOptions, "tags", "any of");  // a list against an array column
  c.values = {"a"};
  all.push_back(c);
  c = Condition(FilterType::kNumber, "latency", "<=");
  c.number = 2.5;
  all.push_back(c);
  c = Condition(FilterType::kBoolean, "bookmarked", "<>");
  all.push_back(c);
  c = Condition(FilterType::kStringObject, "metadata", "starts with");
  c.key = "k";
  c.text = "v";
  all.push_back(c);
  c = Condition(FilterType::kCategoryOptions, "score_categories", "any of");
  c.key = "tone";
  c.values = {"good", "ok"};
  all.push_back(c);
  c = Condition(FilterType::kNull, "sessionId", "is not null");
  all.push_back(c);
  auto compiled = CompileFilter(TraceFilterColumns(), all, "p");
  ASSERT_TRUE(compiled.ok()) << compiled.status().message();
  EXPECT_EQ(compiled->For(ColumnSource::kRow),
            " AND (environment NOT IN {p0:Array(String)}) AND (hasAny(tags, {p1:Array(String)}))"
            " AND (bookmarked != {p3:Bool}) AND (startsWith(metadata[{p4k:String}], {p4:String}))"
            " AND (session_id IS NOT NULL)");
  EXPECT_EQ(compiled->For(ColumnSource::kObservationStats),
            " AND (toFloat64(o_latency_ms / 1000) <= {p2:Float64})");
  EXPECT_EQ(compiled->For(ColumnSource::kScoreStats), " AND (hasAny(s_categories, {p5:Array(String)}))");
  bool found = false;
  for (const QueryParam& p : compiled->params) {
    if (p.name == "p5") {
      found = true;
      EXPECT_EQ(p.value, "['tone:good','tone:ok']");
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace langfuse::traces
