// Daily metrics and the v1 metrics query API against a real (in-process) ClickHouse engine.
//
// One engine per process (a gtest Environment), as in trace_store_chdbtest.cpp. Every case writes
// the same fixture into a project of its own, so each passes alone and together with the others.
//
// The fixture (UTC):
//   traces  t1 2024-03-10 10:00 "chat"  u1 s1 production tags [a,b] metadata team=alpha
//           t2 2024-03-10 11:30 "chat"  u2 s1 production tags [b]   metadata team=beta
//           t3 2024-03-11 09:00 "embed" u1 -  staging    tags []
//           t1 also has an older version named "old"; t4 (2024-03-10 12:00 "chat") is deleted.
//   observations (latency ms, usage input/output/total, total_cost)
//           o1 t1 GENERATION llm      gpt-4           2000  10/20/30   0.03  ttft 500
//           o2 t1 SPAN       retrieve -               1000  -          -
//           o3 t2 GENERATION llm      gpt-4           4000  5/5/10     0.01  ttft 1000
//           o4 t3 GENERATION embedder text-embedding  500   100/-/100  0.001 WARNING staging
//           o5 (no such trace) EVENT orphan, 2024-03-10 15:00, no end time
//   scores  s1 t1 quality NUMERIC 0.8; s2 t2/o3 quality NUMERIC 0.4; s3 t1 correct BOOLEAN 1;
//           s4 t3 tone CATEGORICAL friendly; s5 t1 tone CATEGORICAL rude
//   plus one trace, observation and score in another project that no query may see.

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <fmt/core.h>

#include "common/ids.h"
#include "common/time.h"
#include "storage/traces/chdb_test_environment.h"
#include "storage/traces/metrics_queries.h"
#include "storage/traces/trace_store.h"

namespace langfuse::traces {
namespace {

auto* const g_env = testing::RegisterChdbTestEnvironment("metrics_chdbtest");

int64_t Ms(std::string_view iso) {
  const auto ms = ParseIso8601Ms(iso);
  EXPECT_TRUE(ms.has_value()) << iso;
  return ms.value_or(0);
}

TraceRecord Trace(const std::string& project, const std::string& id, std::string_view ts, std::string name) {
  TraceRecord t;
  t.project_id = project;
  t.id = id;
  t.timestamp_ms = Ms(ts);
  t.name = std::move(name);
  t.event_ts_ms = t.timestamp_ms + 10;
  t.created_at_ms = t.updated_at_ms = t.timestamp_ms;
  return t;
}

ObservationRecord Observation(const std::string& project, const std::string& id, const std::string& trace,
                              std::string type, std::string name, std::string_view start,
                              std::optional<int64_t> duration_ms) {
  ObservationRecord o;
  o.project_id = project;
  o.id = id;
  o.trace_id = trace;
  o.type = std::move(type);
  o.name = std::move(name);
  o.start_time_ms = Ms(start);
  if (duration_ms) o.end_time_ms = o.start_time_ms + *duration_ms;
  o.event_ts_ms = o.start_time_ms + 10;
  o.environment = "production";
  return o;
}

ScoreRecord Score(const std::string& project, const std::string& id, const std::string& trace,
                  std::string name, std::string data_type, double value, std::string_view ts) {
  ScoreRecord s;
  s.project_id = project;
  s.id = id;
  s.trace_id = trace;
  s.name = std::move(name);
  s.data_type = std::move(data_type);
  s.value = value;
  s.timestamp_ms = Ms(ts);
  s.event_ts_ms = s.timestamp_ms + 10;
  return s;
}

void InsertFixture(TraceStore& store, const std::string& p) {
  std::vector<TraceRecord> traces;
  TraceRecord old = Trace(p, "t1", "2024-03-10T10:00:00Z", "old");
  old.event_ts_ms -= 5;
  traces.push_back(old);
  TraceRecord t1 = Trace(p, "t1", "2024-03-10T10:00:00Z", "chat");
  t1.user_id = "u1";
  t1.session_id = "s1";
  t1.environment = "production";
  t1.tags = {"a", "b"};
  t1.release = "r1";
  t1.metadata = {{"team", "alpha"}};
  TraceRecord t2 = Trace(p, "t2", "2024-03-10T11:30:00Z", "chat");
  t2.user_id = "u2";
  t2.session_id = "s1";
  t2.environment = "production";
  t2.tags = {"b"};
  t2.metadata = {{"team", "beta"}};
  TraceRecord t3 = Trace(p, "t3", "2024-03-11T09:00:00Z", "embed");
  t3.user_id = "u1";
  t3.environment = "staging";
  TraceRecord t4 = Trace(p, "t4", "2024-03-10T12:00:00Z", "chat");
  t4.is_deleted = 1;
  traces.insert(traces.end(), {t1, t2, t3, t4});
  traces.push_back(Trace(p + "-other", "t1", "2024-03-10T10:00:00Z", "chat"));
  ASSERT_TRUE(store.InsertTraces(traces, "").ok());

  ObservationRecord o1 = Observation(p, "o1", "t1", "GENERATION", "llm", "2024-03-10T10:00:00Z", 2000);
  o1.provided_model_name = "gpt-4";
  o1.usage_details = {{"input", 10}, {"output", 20}, {"total", 30}};
  o1.cost_details = {{"input", 0.01}, {"output", 0.02}, {"total", 0.03}};
  o1.total_cost = 0.03;
  o1.completion_start_time_ms = o1.start_time_ms + 500;
  ObservationRecord o2 = Observation(p, "o2", "t1", "SPAN", "retrieve", "2024-03-10T10:00:00Z", 1000);
  ObservationRecord o3 = Observation(p, "o3", "t2", "GENERATION", "llm", "2024-03-10T11:30:00Z", 4000);
  o3.provided_model_name = "gpt-4";
  o3.usage_details = {{"input", 5}, {"output", 5}, {"total", 10}};
  o3.total_cost = 0.01;
  o3.completion_start_time_ms = o3.start_time_ms + 1000;
  ObservationRecord o4 = Observation(p, "o4", "t3", "GENERATION", "embedder", "2024-03-11T09:00:00Z", 500);
  o4.provided_model_name = "text-embedding";
  o4.usage_details = {{"input", 100}, {"total", 100}};
  o4.total_cost = 0.001;
  o4.level = "WARNING";
  o4.environment = "staging";
  ObservationRecord o5 = Observation(p, "o5", "no-such-trace", "EVENT", "orphan", "2024-03-10T15:00:00Z", {});
  ObservationRecord other =
      Observation(p + "-other", "o1", "t1", "GENERATION", "llm", "2024-03-10T10:00:00Z", 9);
  other.total_cost = 5;
  ASSERT_TRUE(store.InsertObservations({o1, o2, o3, o4, o5, other}, "").ok());

  ScoreRecord s2 = Score(p, "s2", "t2", "quality", "NUMERIC", 0.4, "2024-03-10T11:35:00Z");
  s2.observation_id = "o3";
  ScoreRecord s4 = Score(p, "s4", "t3", "tone", "CATEGORICAL", 0, "2024-03-11T09:01:00Z");
  s4.string_value = "friendly";
  ScoreRecord s5 = Score(p, "s5", "t1", "tone", "CATEGORICAL", 1, "2024-03-10T10:07:00Z");
  s5.string_value = "rude";
  ScoreRecord s3 = Score(p, "s3", "t1", "correct", "BOOLEAN", 1, "2024-03-10T10:06:00Z");
  s3.string_value = "True";
  ASSERT_TRUE(store
                  .InsertScores(
                      {Score(p, "s1", "t1", "quality", "NUMERIC", 0.8, "2024-03-10T10:05:00Z"), s2, s3, s4,
                       s5, Score(p + "-other", "s1", "t1", "quality", "NUMERIC", 9, "2024-03-10T10:05:00Z")},
                      "")
                  .ok());
}

//! One result row: column -> its value as minified JSON text.
using Row = std::map<std::string, std::string>;

class MetricsQueriesChdbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (g_env->store() == nullptr) GTEST_FAIL() << "the chDB environment did not start";
    project_ = "proj-metrics-" + RandomHex(6);
    InsertFixture(*g_env->store(), project_);
  }

  //! Runs a query object; `body` is the JSON members after the view and the window.
  StatusOr<std::vector<Row>> Run(std::string_view view, std::string_view body,
                                 std::string_view from = "2024-03-10T00:00:00Z",
                                 std::string_view to = "2024-03-12T00:00:00Z") {
    const std::string json =
        fmt::format(R"({{"view":"{}","fromTimestamp":"{}","toTimestamp":"{}",{}}})", view, from, to, body);
    ASSIGN_OR_RETURN(MetricsQuery q, ParseMetricsQuery(json));
    ASSIGN_OR_RETURN(std::string text, RunMetricsQuery(g_env->transport(), q, project_));
    simdjson::dom::parser parser;
    simdjson::dom::array rows;
    if (parser.parse(simdjson::padded_string(text)).get(rows) != simdjson::SUCCESS) {
      return Status::Internal("not a JSON array: " + text);
    }
    std::vector<Row> out;
    for (simdjson::dom::element r : rows) {
      Row row;
      for (auto field : r.get_object()) row[std::string(field.key)] = simdjson::minify(field.value);
      out.push_back(std::move(row));
    }
    return out;
  }

  //! Rows of a query that must succeed.
  std::vector<Row> Rows(std::string_view view, std::string_view body,
                        std::string_view from = "2024-03-10T00:00:00Z",
                        std::string_view to = "2024-03-12T00:00:00Z") {
    auto rows = Run(view, body, from, to);
    EXPECT_TRUE(rows.ok()) << rows.status().message() << "\nquery: " << body;
    return rows.ok() ? *rows : std::vector<Row>{};
  }

  //! The single value of a one-row, one-metric query.
  std::string One(std::string_view view, std::string_view metric_json, std::string_view key,
                  std::string_view filters = "[]") {
    const auto rows = Rows(view, fmt::format(R"("metrics":[{}],"filters":{})", metric_json, filters));
    if (rows.size() != 1) return fmt::format("<{} rows>", rows.size());
    const auto it = rows[0].find(std::string(key));
    return it == rows[0].end() ? "<missing " + std::string(key) + ">" : it->second;
  }

  //! An error message of a query that must be rejected with kInvalidArgument.
  std::string Rejected(std::string_view json) {
    auto q = ParseMetricsQuery(json);
    Status s = q.status();
    if (q.ok()) {
      auto out = RunMetricsQuery(g_env->transport(), *q, project_);
      s = out.status();
    }
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << json << " -> " << s.message();
    return s.message();
  }

  std::string project_;
};

double Num(const std::string& json) {
  return std::strtod((json.front() == '"' ? json.substr(1) : json).c_str(), nullptr);
}

// --- the per-row plan ----------------------------------------------------------------------------

// When every joined table gives at most one row per entity (or, read only by measures, is
// aggregated per entity first) and no dimension is exploded, a query reads each joined row as its
// entity instead of grouping rows by id. Every measure must give exactly what the grouped plan
// gives (values, types, NULLs), under every aggregation and grouping, including by a joined
// table's column.
TEST_F(MetricsQueriesChdbTest, EveryRowMeasureGivesWhatTheGroupedPlanGives) {
  struct Case {
    std::string view, alias;
    std::vector<std::string> measures;
    std::string dimension;  // a dimension of the base table
    std::string joined;     // a dimension of a table joined one row per entity (if the view has one)
  };
  const std::vector<Case> cases = {
      {"traces",
       "traces",
       {"count", "uniqueUserIds", "uniqueSessionIds", "observationsCount", "scoresCount", "latency",
        "totalTokens", "totalCost"},
       "name",
       "name"},
      {"observations",
       "observations",
       {"count", "latency", "streamingLatency", "inputTokens", "outputTokens", "totalTokens",
        "outputTokensPerSecond", "tokensPerSecond", "inputCost", "outputCost", "totalCost",
        "timeToFirstToken", "toolDefinitions", "toolCalls", "countScores"},
       "providedModelName",
       "userId"},
  };
  const std::vector<std::string> shapes = {"", R"("dimensions":[{{"field":"{0}"}}],)",
                                           R"("dimensions":[{{"field":"{1}"}}],)",
                                           R"("timeDimension":{{"granularity":"day"}},)"};
  auto run = [&](const MetricsQuery& q, MetricsPlan plan, std::string& sql) -> std::string {
    auto compiled = CompileMetricsQuery(q, project_, plan);
    if (!compiled.ok()) return "compile error: " + compiled.status().message();
    sql = compiled->sql;
    auto out = g_env->transport().Query(compiled->sql, compiled->params);
    if (!out.ok()) return "query error: " + out.status().message();
    // Rows as a sorted list: groups with equal metrics may come in either order.
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < out->size()) {
      const size_t end = std::min(out->find('\n', start), out->size());
      lines.push_back(out->substr(start, end - start));
      start = end + 1;
    }
    std::sort(lines.begin(), lines.end());
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    return all;
  };
  int compared = 0;
  for (const Case& c : cases) {
    for (const std::string& measure : c.measures) {
      for (const std::string& shape : shapes) {
        for (const char* aggregation : {"sum", "avg", "count", "max", "min", "p50", "uniq"}) {
          const std::string json = fmt::format(
              R"({{"view":"{}","fromTimestamp":"2024-03-10T00:00:00Z","toTimestamp":"2024-03-12T00:00:00Z",)"
              R"({}"metrics":[{{"measure":"{}","aggregation":"{}"}}],"filters":[]}})",
              c.view, fmt::format(fmt::runtime(shape), c.dimension, c.joined), measure, aggregation);
          auto q = ParseMetricsQuery(json);
          ASSERT_TRUE(q.ok()) << q.status().message() << " " << json;
          std::string row_sql, grouped_sql;
          const std::string per_row = run(*q, MetricsPlan::kAuto, row_sql);
          const std::string grouped = run(*q, MetricsPlan::kPerEntity, grouped_sql);
          const std::string entity_group = fmt::format("GROUP BY {0}.id", c.alias);
          ASSERT_EQ(row_sql.find(entity_group), std::string::npos) << "not read per row: " << json;
          ASSERT_NE(grouped_sql.find(entity_group), std::string::npos) << json;
          EXPECT_FALSE(per_row.empty()) << json;
          EXPECT_EQ(per_row, grouped) << json;
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, (8 + 15) * 4 * 7);
}

// How each query reads its entities: per row where every joined table gives one row per entity,
// after aggregating a table read only by measures per join key, and grouped per entity where an
// exploded dimension or two tables with several rows each can repeat an entity, and for scores
// (stores written before renamed scores were tombstoned may hold a row per name).
TEST_F(MetricsQueriesChdbTest, EachQueryReadsItsEntitiesPerRowOnlyWhereTheyAreOneRowEach) {
  const auto compile = [&](std::string_view view, std::string_view body) {
    auto q = ParseMetricsQuery(fmt::format(
        R"({{"view":"{}","fromTimestamp":"2024-03-10T00:00:00Z","toTimestamp":"2024-03-12T00:00:00Z",{},)"
        R"("filters":[]}})",
        view, body));
    EXPECT_TRUE(q.ok()) << body;
    auto c = CompileMetricsQuery(*q, project_);
    EXPECT_TRUE(c.ok()) << body;
    return c.ok() ? c->sql : std::string();
  };
  const auto has = [](const std::string& sql, std::string_view part) {
    return sql.find(part) != std::string::npos;
  };
  const std::string count = R"("metrics":[{"measure":"count","aggregation":"count"}])";
  EXPECT_FALSE(has(compile("observations", count), "GROUP BY observations.id"));
  EXPECT_FALSE(has(compile("observations", R"("dimensions":[{"field":"userId"}],)" + count),
                   "GROUP BY observations.id"));
  const std::string scores_of_observations =
      compile("observations", R"("metrics":[{"measure":"countScores","aggregation":"sum"}])");
  EXPECT_FALSE(has(scores_of_observations, "GROUP BY observations.id"));
  EXPECT_TRUE(has(scores_of_observations, "murmurHash3_128(scores.observation_id)) AS join_key"))
      << scores_of_observations;
  EXPECT_TRUE(has(compile("observations", R"("dimensions":[{"field":"toolNames"}],)" + count),
                  "GROUP BY observations.id"));
  const std::string latency = compile("traces", R"("metrics":[{"measure":"latency","aggregation":"p95"}])");
  EXPECT_FALSE(has(latency, "GROUP BY traces.id"));
  EXPECT_TRUE(has(latency, "murmurHash3_128(observations.trace_id)) AS join_key")) << latency;
  EXPECT_TRUE(has(compile("traces", R"("metrics":[{"measure":"observationsCount","aggregation":"sum"},)"
                                    R"({"measure":"scoresCount","aggregation":"sum"}])"),
                  "GROUP BY traces.id"));
  EXPECT_TRUE(has(compile("scores-numeric", R"("metrics":[{"measure":"value","aggregation":"avg"}])"),
                  "GROUP BY scores_numeric.id"));
}

// --- traces view --------------------------------------------------------------------------------

TEST_F(MetricsQueriesChdbTest, TracesCountSkipsDeletedOldVersionsAndOtherProjects) {
  EXPECT_EQ(One("traces", R"({"measure":"count","aggregation":"count"})", "count_count"), "\"3\"");
  const auto rows = Rows(
      "traces", R"("dimensions":[{"field":"name"}],"metrics":[{"measure":"count","aggregation":"count"}])");
  ASSERT_EQ(rows.size(), 2u);
  // Default order: the first metric, descending.
  EXPECT_EQ(rows[0].at("name"), "\"chat\"");
  EXPECT_EQ(rows[0].at("count_count"), "\"2\"");
  EXPECT_EQ(rows[1].at("name"), "\"embed\"");
  EXPECT_EQ(rows[1].at("count_count"), "\"1\"");
}

TEST_F(MetricsQueriesChdbTest, TracesMeasuresOverObservationsAndScores) {
  EXPECT_EQ(One("traces", R"({"measure":"observationsCount","aggregation":"sum"})", "sum_observationsCount"),
            "\"4\"");
  EXPECT_EQ(One("traces", R"({"measure":"scoresCount","aggregation":"sum"})", "sum_scoresCount"), "\"5\"");
  EXPECT_EQ(One("traces", R"({"measure":"totalTokens","aggregation":"sum"})", "sum_totalTokens"), "\"140\"");
  EXPECT_DOUBLE_EQ(Num(One("traces", R"({"measure":"totalCost","aggregation":"sum"})", "sum_totalCost")),
                   0.041);
  // Trace latency = first observation start to last observation end: 2000, 4000, 500.
  EXPECT_EQ(One("traces", R"({"measure":"latency","aggregation":"max"})", "max_latency"), "\"4000\"");
  EXPECT_EQ(One("traces", R"({"measure":"latency","aggregation":"min"})", "min_latency"), "\"500\"");
  EXPECT_EQ(One("traces", R"({"measure":"latency","aggregation":"sum"})", "sum_latency"), "\"6500\"");
  EXPECT_NEAR(Num(One("traces", R"({"measure":"latency","aggregation":"avg"})", "avg_latency")), 6500.0 / 3,
              1e-9);
  EXPECT_DOUBLE_EQ(Num(One("traces", R"({"measure":"latency","aggregation":"p50"})", "p50_latency")), 2000);
  EXPECT_DOUBLE_EQ(Num(One("traces", R"({"measure":"latency","aggregation":"p95"})", "p95_latency")), 3800);
  EXPECT_EQ(One("traces", R"({"measure":"uniqueUserIds","aggregation":"sum"})", "sum_uniqueUserIds"),
            "\"3\"");

  const auto rows = Rows(
      "traces",
      R"("dimensions":[{"field":"name"}],"metrics":[{"measure":"totalCost","aggregation":"sum"},{"measure":"latency","aggregation":"p90"}],"orderBy":[{"field":"name","direction":"asc"}])");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("name"), "\"chat\"");
  EXPECT_DOUBLE_EQ(Num(rows[0].at("sum_totalCost")), 0.04);
  EXPECT_DOUBLE_EQ(Num(rows[0].at("p90_latency")), 3800);  // 2000 and 4000
  EXPECT_EQ(rows[1].at("name"), "\"embed\"");
  EXPECT_DOUBLE_EQ(Num(rows[1].at("sum_totalCost")), 0.001);
}

TEST_F(MetricsQueriesChdbTest, TracesDimensionsAndFilters) {
  const auto count = R"({"measure":"count","aggregation":"count"})";
  EXPECT_EQ(One("traces", count, "count_count",
                R"([{"column":"userId","operator":"=","value":"u1","type":"string"}])"),
            "\"2\"");
  EXPECT_EQ(One("traces", count, "count_count",
                R"([{"column":"tags","operator":"all of","value":["a","b"],"type":"arrayOptions"}])"),
            "\"1\"");
  EXPECT_EQ(One("traces", count, "count_count",
                R"([{"column":"tags","operator":"any of","value":["b"],"type":"arrayOptions"}])"),
            "\"2\"");
  EXPECT_EQ(One("traces", count, "count_count",
                R"([{"column":"tags","operator":"none of","value":["a"],"type":"arrayOptions"}])"),
            "\"2\"");
  EXPECT_EQ(
      One("traces", count, "count_count",
          R"([{"column":"environment","operator":"none of","value":["staging"],"type":"stringOptions"}])"),
      "\"2\"");
  EXPECT_EQ(One("traces", count, "count_count",
                R"([{"column":"name","operator":"starts with","value":"em","type":"string"}])"),
            "\"1\"");
  EXPECT_EQ(One("traces", count, "count_count",
                R"([{"column":"name","operator":"does not contain","value":"ha","type":"string"}])"),
            "\"1\"");
  EXPECT_EQ(
      One("traces", count, "count_count",
          R"([{"column":"metadata","key":"team","operator":"=","value":"alpha","type":"stringObject"}])"),
      "\"1\"");
  EXPECT_EQ(
      One("traces", count, "count_count",
          R"([{"column":"timestamp","operator":">","value":"2024-03-10T11:00:00Z","type":"datetime"}])"),
      "\"2\"");
  EXPECT_EQ(One("traces", count, "count_count",
                R"([{"column":"sessionId","operator":"is null","value":"","type":"null"}])"),
            "\"1\"");
  // "<x>Name" falls back to the view's name (Langfuse's LFE-4838 workaround).
  EXPECT_EQ(One("traces", count, "count_count",
                R"([{"column":"traceName","operator":"=","value":"chat","type":"string"}])"),
            "\"2\"");
  // A value that looks like SQL is only a value.
  EXPECT_EQ(
      Rows(
          "traces",
          R"("metrics":[{"measure":"count","aggregation":"count"}],"filters":[{"column":"name","operator":"=","value":"x' OR 1=1 --","type":"string"}])")
          .size(),
      1u);
  EXPECT_EQ(One("traces", count, "count_count",
                R"([{"column":"name","operator":"=","value":"x' OR 1=1 --","type":"string"}])"),
            "\"0\"");

  const auto rows = Rows(
      "traces",
      R"("dimensions":[{"field":"userId"},{"field":"environment"}],"metrics":[{"measure":"count","aggregation":"count"}],"orderBy":[{"field":"userId","direction":"desc"}])");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("userId"), "\"u2\"");
  EXPECT_EQ(rows[0].at("environment"), "\"production\"");
  const auto tags = Rows(
      "traces",
      R"("dimensions":[{"field":"tags"}],"metrics":[{"measure":"count","aggregation":"count"}],"orderBy":[{"field":"count_count","direction":"asc"}],"config":{"row_limit":2})");
  ASSERT_EQ(tags.size(), 2u);  // [] , [a,b] and [b] once each; the limit keeps two
}

TEST_F(MetricsQueriesChdbTest, TimeDimensionBucketsAndFillsGaps) {
  auto days =
      Rows("traces",
           R"("metrics":[{"measure":"count","aggregation":"count"}],"timeDimension":{"granularity":"day"})");
  ASSERT_EQ(days.size(), 2u);
  EXPECT_EQ(days[0].at("time_dimension"), "\"2024-03-10\"");
  EXPECT_EQ(days[0].at("count_count"), "\"2\"");
  EXPECT_EQ(days[1].at("time_dimension"), "\"2024-03-11\"");
  EXPECT_EQ(days[1].at("count_count"), "\"1\"");

  // 09:00..13:00: four hourly buckets, the empty ones filled with zero; TO is exclusive.
  auto hours =
      Rows("traces",
           R"("metrics":[{"measure":"count","aggregation":"count"}],"timeDimension":{"granularity":"hour"})",
           "2024-03-10T09:00:00Z", "2024-03-10T13:00:00Z");
  ASSERT_EQ(hours.size(), 4u);
  EXPECT_EQ(hours[0].at("time_dimension"), "\"2024-03-10T09:00:00Z\"");
  EXPECT_EQ(hours[0].at("count_count"), "\"0\"");
  EXPECT_EQ(hours[1].at("time_dimension"), "\"2024-03-10T10:00:00Z\"");
  EXPECT_EQ(hours[1].at("count_count"), "\"1\"");
  EXPECT_EQ(hours[2].at("count_count"), "\"1\"");
  EXPECT_EQ(hours[3].at("time_dimension"), "\"2024-03-10T12:00:00Z\"");
  EXPECT_EQ(hours[3].at("count_count"), "\"0\"");

  // auto: a 4-hour window is bucketed by hour.
  EXPECT_EQ(
      Rows("traces",
           R"("metrics":[{"measure":"count","aggregation":"count"}],"timeDimension":{"granularity":"auto"})",
           "2024-03-10T09:00:00Z", "2024-03-10T13:00:00Z")
          .size(),
      4u);
  auto weeks =
      Rows("observations",
           R"("metrics":[{"measure":"count","aggregation":"count"}],"timeDimension":{"granularity":"week"})");
  ASSERT_EQ(weeks.size(), 2u);  // Monday 2024-03-04 (Sunday the 10th) and Monday 2024-03-11
  EXPECT_EQ(weeks[0].at("time_dimension"), "\"2024-03-04\"");
  EXPECT_EQ(weeks[0].at("count_count"), "\"4\"");
  EXPECT_EQ(weeks[1].at("count_count"), "\"1\"");
  auto months = Rows(
      "observations",
      R"("metrics":[{"measure":"count","aggregation":"count"}],"timeDimension":{"granularity":"month"})");
  ASSERT_EQ(months.size(), 1u);
  EXPECT_EQ(months[0].at("time_dimension"), "\"2024-03-01\"");
  // An explicit order turns gap filling off.
  EXPECT_EQ(
      Rows(
          "traces",
          R"("metrics":[{"measure":"count","aggregation":"count"}],"timeDimension":{"granularity":"hour"},"orderBy":[{"field":"time_dimension","direction":"desc"}])",
          "2024-03-10T09:00:00Z", "2024-03-10T13:00:00Z")
          .size(),
      2u);
}

// --- observations view ----------------------------------------------------------------------------

TEST_F(MetricsQueriesChdbTest, ObservationsMeasures) {
  const auto obs = [&](std::string_view measure, std::string_view agg) {
    return One("observations", fmt::format(R"({{"measure":"{}","aggregation":"{}"}})", measure, agg),
               fmt::format("{}_{}", agg, measure));
  };
  EXPECT_EQ(obs("count", "count"), "\"5\"");
  // Latencies 2000, 1000, 4000, 500 and one without end time (NULL, ignored).
  EXPECT_EQ(obs("latency", "count"), "\"4\"");
  EXPECT_DOUBLE_EQ(Num(obs("latency", "avg")), 1875);
  EXPECT_EQ(obs("latency", "max"), "\"4000\"");
  EXPECT_EQ(obs("latency", "min"), "\"500\"");
  EXPECT_DOUBLE_EQ(Num(obs("latency", "p50")), 1500);
  EXPECT_DOUBLE_EQ(Num(obs("latency", "p75")), 2500);
  EXPECT_DOUBLE_EQ(Num(obs("latency", "p95")), 3700);
  EXPECT_DOUBLE_EQ(Num(obs("latency", "p99")), 3940);
  EXPECT_EQ(obs("inputTokens", "sum"), "\"115\"");
  EXPECT_EQ(obs("outputTokens", "sum"), "\"25\"");
  EXPECT_EQ(obs("totalTokens", "sum"), "\"140\"");
  EXPECT_DOUBLE_EQ(Num(obs("totalCost", "sum")), 0.041);
  EXPECT_DOUBLE_EQ(Num(obs("inputCost", "sum")), 0.01);
  EXPECT_DOUBLE_EQ(Num(obs("outputCost", "sum")), 0.02);
  EXPECT_DOUBLE_EQ(Num(obs("timeToFirstToken", "avg")), 750);
  EXPECT_EQ(obs("timeToFirstToken", "count"), "\"2\"");
  EXPECT_EQ(obs("streamingLatency", "sum"), "\"4500\"");  // 1500 + 3000
  EXPECT_EQ(obs("countScores", "sum"), "\"1\"");
  EXPECT_EQ(obs("latency", "uniq"), "\"4\"");

  const auto hist = Rows(
      "observations", R"("metrics":[{"measure":"latency","aggregation":"histogram"}],"config":{"bins":2})");
  ASSERT_EQ(hist.size(), 1u);
  simdjson::dom::parser parser;
  simdjson::dom::array bins;
  ASSERT_EQ(parser.parse(simdjson::padded_string(hist[0].at("histogram_latency"))).get(bins),
            simdjson::SUCCESS);
  double height = 0;
  for (simdjson::dom::element bin : bins) {
    simdjson::dom::array triple = bin.get_array();
    ASSERT_EQ(triple.size(), 3u);
    height += double(triple.at(2));
  }
  EXPECT_DOUBLE_EQ(height, 4);
}

TEST_F(MetricsQueriesChdbTest, ObservationsDimensionsAndFilters) {
  const auto count = R"({"measure":"count","aggregation":"count"})";
  auto by_type =
      Rows("observations",
           R"("dimensions":[{"field":"type"}],"metrics":[{"measure":"count","aggregation":"count"}])");
  ASSERT_EQ(by_type.size(), 3u);
  EXPECT_EQ(by_type[0].at("type"), "\"GENERATION\"");
  EXPECT_EQ(by_type[0].at("count_count"), "\"3\"");

  auto by_model = Rows(
      "observations",
      R"("dimensions":[{"field":"providedModelName"},{"field":"traceName"}],"metrics":[{"measure":"totalCost","aggregation":"sum"},{"measure":"count","aggregation":"count"}],"filters":[{"column":"type","operator":"=","value":"GENERATION","type":"string"}])");
  ASSERT_EQ(by_model.size(), 2u);
  EXPECT_EQ(by_model[0].at("providedModelName"), "\"gpt-4\"");
  EXPECT_EQ(by_model[0].at("traceName"), "\"chat\"");
  EXPECT_DOUBLE_EQ(Num(by_model[0].at("sum_totalCost")), 0.04);
  EXPECT_EQ(by_model[0].at("count_count"), "\"2\"");
  EXPECT_EQ(by_model[1].at("providedModelName"), "\"text-embedding\"");
  EXPECT_DOUBLE_EQ(Num(by_model[1].at("sum_totalCost")), 0.001);

  // A trace column joins the traces: the orphan drops out.
  EXPECT_EQ(One("observations", count, "count_count",
                R"([{"column":"traceName","operator":"=","value":"chat","type":"string"}])"),
            "\"3\"");
  EXPECT_EQ(One("observations", count, "count_count",
                R"([{"column":"userId","operator":"any of","value":["u1"],"type":"stringOptions"}])"),
            "\"3\"");
  EXPECT_EQ(One("observations", count, "count_count",
                R"([{"column":"level","operator":"=","value":"WARNING","type":"string"}])"),
            "\"1\"");
  EXPECT_EQ(
      One("observations", count, "count_count",
          R"([{"column":"start_time","operator":">=","value":"2024-03-10T11:00:00Z","type":"datetime"}])"),
      "\"3\"");
  EXPECT_EQ(One("observations", count, "count_count",
                R"([{"column":"providedModelName","operator":"is not null","value":"","type":"null"}])"),
            "\"3\"");
  EXPECT_EQ(One("observations", count, "count_count",
                R"([{"column":"tags","operator":"any of","value":["a"],"type":"arrayOptions"}])"),
            "\"2\"");
  // The window bounds the observations by start time.
  EXPECT_EQ(Rows("observations", R"("metrics":[{"measure":"count","aggregation":"count"}])",
                 "2024-03-11T00:00:00Z", "2024-03-12T00:00:00Z")[0]
                .at("count_count"),
            "\"1\"");
}

// --- score views ----------------------------------------------------------------------------------

TEST_F(MetricsQueriesChdbTest, ScoreViews) {
  // Numeric scores include boolean ones, as Langfuse's scores-numeric segment does.
  EXPECT_EQ(One("scores-numeric", R"({"measure":"count","aggregation":"count"})", "count_count"), "\"3\"");
  EXPECT_DOUBLE_EQ(Num(One("scores-numeric", R"({"measure":"value","aggregation":"avg"})", "avg_value",
                           R"([{"column":"name","operator":"=","value":"quality","type":"string"}])")),
                   0.6);
  EXPECT_DOUBLE_EQ(Num(One("scores-numeric", R"({"measure":"value","aggregation":"max"})", "max_value",
                           R"([{"column":"value","operator":"<","value":0.5,"type":"number"}])")),
                   0.4);
  auto by_name = Rows(
      "scores-numeric",
      R"("dimensions":[{"field":"name"},{"field":"traceName"}],"metrics":[{"measure":"count","aggregation":"count"}],"orderBy":[{"field":"name","direction":"desc"}])");
  ASSERT_EQ(by_name.size(), 2u);
  EXPECT_EQ(by_name[0].at("name"), "\"quality\"");
  EXPECT_EQ(by_name[0].at("traceName"), "\"chat\"");
  EXPECT_EQ(by_name[0].at("count_count"), "\"2\"");
  EXPECT_EQ(by_name[1].at("name"), "\"correct\"");

  auto categorical = Rows(
      "scores-categorical",
      R"("dimensions":[{"field":"stringValue"}],"metrics":[{"measure":"count","aggregation":"count"}],"orderBy":[{"field":"stringValue","direction":"asc"}])");
  ASSERT_EQ(categorical.size(), 2u);
  EXPECT_EQ(categorical[0].at("stringValue"), "\"friendly\"");
  EXPECT_EQ(categorical[0].at("count_count"), "\"1\"");
  EXPECT_EQ(categorical[1].at("stringValue"), "\"rude\"");
  EXPECT_EQ(One("scores-categorical", R"({"measure":"count","aggregation":"count"})", "count_count",
                R"([{"column":"scoreName","operator":"=","value":"tone","type":"string"}])"),
            "\"2\"");

  EXPECT_EQ(One("scores-boolean", R"({"measure":"count","aggregation":"count"})", "count_count",
                R"([{"column":"booleanValue","operator":"=","value":true,"type":"boolean"}])"),
            "\"1\"");
  EXPECT_DOUBLE_EQ(Num(One("scores-boolean", R"({"measure":"value","aggregation":"sum"})", "sum_value")), 1);
}

// --- rejection ------------------------------------------------------------------------------------

TEST_F(MetricsQueriesChdbTest, RejectsBadQueries) {
  const auto q = [](std::string_view view, std::string_view body) {
    return fmt::format(
        R"({{"view":"{}","fromTimestamp":"2024-03-10T00:00:00Z","toTimestamp":"2024-03-12T00:00:00Z",{}}})",
        view, body);
  };
  const std::string count = R"("metrics":[{"measure":"count","aggregation":"count"}])";
  EXPECT_EQ(Rejected("{not json"), "Invalid JSON in query parameter");
  EXPECT_NE(Rejected("[1,2]").find("JSON object"), std::string::npos);
  EXPECT_NE(Rejected(q("sessions", count)).find("view 'sessions' is not supported"), std::string::npos);
  EXPECT_NE(
      Rejected(q("traces", R"("metrics":[{"measure":"bogus","aggregation":"sum"}])")).find("measure 'bogus'"),
      std::string::npos);
  EXPECT_NE(
      Rejected(q("traces", R"("metrics":[{"measure":"count","aggregation":"median"}])")).find("'median'"),
      std::string::npos);
  EXPECT_NE(Rejected(q("traces", R"("dimensions":[{"field":"name; DROP TABLE traces"}],)" + count))
                .find("dimension 'name; DROP TABLE traces' is not part of view 'traces'"),
            std::string::npos);
  EXPECT_NE(
      Rejected(q("traces", R"("dimensions":[{"field":"name"},{"field":"name"}],)" + count)).find("twice"),
      std::string::npos);
  EXPECT_NE(
      Rejected(
          q("traces",
            count + R"(,"filters":[{"column":"1=1) OR (1","operator":"=","value":"x","type":"string"}])"))
          .find("filter column '1=1) OR (1'"),
      std::string::npos);
  EXPECT_NE(
      Rejected(q("traces",
                 count + R"(,"filters":[{"column":"name","operator":"LIKE","value":"x","type":"string"}])"))
          .find("operator 'LIKE' is not valid"),
      std::string::npos);
  EXPECT_NE(Rejected(q("traces",
                       count + R"(,"filters":[{"column":"name","operator":">","value":1,"type":"number"}])"))
                .find("filter type 'number' is not supported for 'name'"),
            std::string::npos);
  EXPECT_NE(
      Rejected(
          q("traces",
            count +
                R"(,"filters":[{"column":"tags","operator":"any of","value":["a"],"type":"stringOptions"}])"))
          .find("expected 'arrayOptions'"),
      std::string::npos);
  EXPECT_NE(
      Rejected(q("traces",
                 count + R"(,"filters":[{"column":"metadata","operator":"=","value":"x","type":"string"}])"))
          .find("stringObject"),
      std::string::npos);
  EXPECT_NE(Rejected(q("traces",
                       count + R"(,"filters":[{"column":"name","operator":"=","value":5,"type":"string"}])"))
                .find("value must be a string"),
            std::string::npos);
  EXPECT_NE(
      Rejected(
          q("traces",
            count +
                R"(,"filters":[{"column":"name","operator":"any of","value":[],"type":"stringOptions"}])"))
          .find("must not be empty"),
      std::string::npos);
  EXPECT_NE(
      Rejected(
          q("traces",
            count +
                R"(,"filters":[{"column":"x","operator":"=","value":1,"type":"numberObject","key":"k"}])"))
          .find("type 'numberObject' is not supported"),
      std::string::npos);
  EXPECT_NE(Rejected(q("traces", count + R"(,"timeDimension":{"granularity":"second"})")).find("'second'"),
            std::string::npos);
  EXPECT_NE(
      Rejected(
          q("traces", count + R"(,"orderBy":[{"field":"count_count; DROP TABLE traces","direction":"asc"}])"))
          .find("orderBy field"),
      std::string::npos);
  EXPECT_NE(Rejected(q("traces", count + R"(,"orderBy":[{"field":"sum_count","direction":"asc"}])"))
                .find("orderBy field"),
            std::string::npos);
  EXPECT_NE(Rejected(q("traces", count + R"(,"orderBy":[{"field":"count_count","direction":"up"}])"))
                .find("direction"),
            std::string::npos);
  EXPECT_NE(Rejected(q("traces", count + R"(,"config":{"bins":0})")).find("config.bins"), std::string::npos);
  EXPECT_NE(Rejected(q("traces", count + R"(,"config":{"row_limit":1001})")).find("config.row_limit"),
            std::string::npos);
  EXPECT_NE(Rejected(q("traces", R"("dimensions":[])")).find("metrics is required"), std::string::npos);
  EXPECT_NE(
      Rejected(
          R"({"view":"traces","metrics":[],"fromTimestamp":"2024-03-12T00:00:00Z","toTimestamp":"2024-03-10T00:00:00Z"})")
          .find("fromTimestamp must be before toTimestamp"),
      std::string::npos);
  EXPECT_NE(
      Rejected(
          R"({"view":"traces","metrics":[],"fromTimestamp":"2024-03-10 00:00:00","toTimestamp":"2024-03-12T00:00:00Z"})")
          .find("fromTimestamp must be an ISO 8601"),
      std::string::npos);
  // Nothing above touched the data.
  EXPECT_EQ(One("traces", R"({"measure":"count","aggregation":"count"})", "count_count"), "\"3\"");
}

TEST_F(MetricsQueriesChdbTest, EmptyMetricsCountsEntities) {
  auto rows = Rows("observations", R"("dimensions":[{"field":"environment"}],"metrics":[])");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("environment"), "\"production\"");
  EXPECT_EQ(rows[0].at("count"), "\"4\"");
  EXPECT_EQ(rows[1].at("count"), "\"1\"");
}

// --- daily metrics --------------------------------------------------------------------------------

TEST_F(MetricsQueriesChdbTest, DailyMetricsWithoutFilters) {
  DailyMetricsFilter f;
  f.project_id = project_;
  auto page = QueryDailyMetrics(g_env->transport(), f);
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->total_items, 2);
  ASSERT_EQ(page->days.size(), 2u);
  const DailyMetricsDay& d11 = page->days[0];
  EXPECT_EQ(d11.date, "2024-03-11");
  EXPECT_EQ(d11.count_traces, 1);
  EXPECT_EQ(d11.count_observations, 1);
  EXPECT_DOUBLE_EQ(d11.total_cost, 0.001);
  ASSERT_EQ(d11.usage.size(), 1u);
  EXPECT_EQ(d11.usage[0].model, "text-embedding");
  EXPECT_EQ(d11.usage[0].input_usage, 100);
  EXPECT_EQ(d11.usage[0].output_usage, 0);
  EXPECT_EQ(d11.usage[0].total_usage, 100);
  const DailyMetricsDay& d10 = page->days[1];
  EXPECT_EQ(d10.date, "2024-03-10");
  EXPECT_EQ(d10.count_traces, 2);
  EXPECT_EQ(d10.count_observations, 4);  // o1, o2, o3 and the orphan o5
  EXPECT_DOUBLE_EQ(d10.total_cost, 0.04);
  ASSERT_EQ(d10.usage.size(), 2u);
  EXPECT_EQ(d10.usage[0].model, std::nullopt);
  EXPECT_EQ(d10.usage[0].count_observations, 2);
  EXPECT_EQ(d10.usage[0].count_traces, 2);
  EXPECT_EQ(d10.usage[1].model, "gpt-4");
  EXPECT_EQ(d10.usage[1].input_usage, 15);
  EXPECT_EQ(d10.usage[1].output_usage, 25);
  EXPECT_EQ(d10.usage[1].total_usage, 40);
  EXPECT_EQ(d10.usage[1].count_observations, 2);
  EXPECT_EQ(d10.usage[1].count_traces, 2);
  EXPECT_DOUBLE_EQ(d10.usage[1].total_cost, 0.04);

  f.limit = 1;
  f.page = 2;
  page = QueryDailyMetrics(g_env->transport(), f);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->days.size(), 1u);
  EXPECT_EQ(page->days[0].date, "2024-03-10");
  EXPECT_EQ(page->total_items, 2);
}

TEST_F(MetricsQueriesChdbTest, DailyMetricsFilters) {
  auto run = [&](auto set) {
    DailyMetricsFilter f;
    f.project_id = project_;
    set(f);
    auto page = QueryDailyMetrics(g_env->transport(), f);
    EXPECT_TRUE(page.ok()) << page.status().message();
    return page.ok() ? *page : DailyMetricsPage{};
  };
  auto chat = run([](DailyMetricsFilter& f) { f.trace_name = "chat"; });
  ASSERT_EQ(chat.days.size(), 1u);
  EXPECT_EQ(chat.total_items, 1);
  EXPECT_EQ(chat.days[0].count_traces, 2);
  EXPECT_EQ(chat.days[0].count_observations, 3);  // the orphan has no matching trace

  auto ab = run([](DailyMetricsFilter& f) { f.tags = std::vector<std::string>{"a", "b"}; });
  ASSERT_EQ(ab.days.size(), 1u);
  EXPECT_EQ(ab.days[0].count_traces, 1);
  EXPECT_EQ(ab.days[0].count_observations, 2);

  auto staging = run([](DailyMetricsFilter& f) { f.environments = std::vector<std::string>{"staging"}; });
  ASSERT_EQ(staging.days.size(), 1u);
  EXPECT_EQ(staging.days[0].date, "2024-03-11");
  EXPECT_EQ(staging.days[0].count_observations, 1);

  auto u1 = run([](DailyMetricsFilter& f) { f.user_id = "u1"; });
  ASSERT_EQ(u1.days.size(), 2u);
  EXPECT_EQ(u1.days[1].count_traces, 1);
  EXPECT_EQ(u1.days[1].count_observations, 2);

  auto from = run([](DailyMetricsFilter& f) { f.from_ms = Ms("2024-03-11T00:00:00Z"); });
  ASSERT_EQ(from.days.size(), 1u);
  EXPECT_EQ(from.days[0].date, "2024-03-11");
  EXPECT_EQ(from.days[0].count_observations, 1);

  auto window = run([](DailyMetricsFilter& f) {
    f.from_ms = Ms("2024-03-10T00:00:00Z");
    f.to_ms = Ms("2024-03-10T11:00:00Z");
  });
  ASSERT_EQ(window.days.size(), 1u);
  EXPECT_EQ(window.days[0].count_traces, 1);
  EXPECT_EQ(window.days[0].count_observations, 2);

  auto injected = run([](DailyMetricsFilter& f) { f.trace_name = "chat' OR '1'='1"; });
  EXPECT_TRUE(injected.days.empty());
}

}  // namespace
}  // namespace langfuse::traces
