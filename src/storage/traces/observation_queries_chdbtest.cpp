// The observation and score list queries (GET /observations, /scores, /v2/scores) against a real
// (in-process) ClickHouse engine: every filter, paging, deduplication, deleted rows and project
// isolation.
//
// chDB allows one engine per process, so the binary shares one store, opened by a gtest
// Environment and shut down after the last test. ctest runs every case in its own process, so each
// case writes its own fixture under a project id of its own.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <fmt/core.h>

#include "common/ids.h"
#include "storage/traces/observation_queries.h"
#include "storage/traces/test_records.h"
#include "storage/traces/chdb_test_environment.h"
#include "storage/traces/trace_store.h"

namespace langfuse::traces {
namespace {

using testing::MinimalObservation;
using testing::MinimalScore;
using testing::MinimalTrace;

auto* const g_env = testing::RegisterChdbTestEnvironment("observation_queries_chdbtest");

constexpr int64_t kBase = 1'720'000'000'000;  // 2024-07-03, every fixture time is kBase + n s

int64_t At(int seconds) { return kBase + int64_t{seconds} * 1000; }

std::vector<std::string> Ids(const std::vector<ObservationRecord>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}
std::vector<std::string> Ids(const std::vector<ScoreRecord>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}
using Strings = std::vector<std::string>;

// One project with traces, observations and scores covering every filter, plus a second project
// holding rows with the same ids.
class ObservationQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (g_env->store() == nullptr) GTEST_FAIL() << "the chDB environment did not start";
    project_ = "proj-" + RandomHex(6);
    other_ = "other-" + RandomHex(6);
    WriteFixture();
  }

  TraceStore& store() { return *g_env->store(); }
  ClickHouseTransport& transport() { return store().transport(); }

  TraceRecord Trace(const std::string& project, const std::string& id, const std::string& user,
                    std::vector<std::string> tags, const std::string& env) {
    TraceRecord t = MinimalTrace(project, id);
    t.user_id = user;
    t.tags = std::move(tags);
    t.environment = env;
    t.session_id = "trace-session-" + id;
    t.timestamp_ms = At(0);
    return t;
  }

  ObservationRecord Obs(const std::string& project, const std::string& id, const std::string& trace,
                        const std::string& type, const std::string& name, int start_s) {
    ObservationRecord o = MinimalObservation(project, id, trace, At(start_s));
    o.type = type;
    o.name = name;
    o.start_time_ms = At(start_s);
    o.event_ts_ms = At(100);
    return o;
  }

  ScoreRecord Score(const std::string& project, const std::string& id, const std::string& name, int ts_s) {
    ScoreRecord s = MinimalScore(project, id, At(ts_s));
    s.name = name;
    s.timestamp_ms = At(ts_s);
    s.event_ts_ms = At(100);
    return s;
  }

  void WriteFixture() {
    std::vector<TraceRecord> traces = {
        Trace(project_, "t1", "u1", {"a", "b"}, "prod"),
        Trace(project_, "t2", "u2", {"a"}, "dev"),
        Trace(other_, "t1", "u1", {"a", "b"}, "prod"),
    };
    ASSERT_TRUE(store().InsertTraces(traces, "").ok());

    std::vector<ObservationRecord> obs;
    obs.push_back(Obs(project_, "o1", "t1", "SPAN", "root", 1));
    obs.back().environment = "prod";
    obs.back().version = "v1";
    obs.push_back(Obs(project_, "o2", "t1", "GENERATION", "llm", 2));
    obs.back().environment = "prod";
    obs.back().parent_observation_id = "o1";
    obs.back().level = "ERROR";
    obs.back().version = "v2";
    obs.push_back(Obs(project_, "o3", "t2", "EVENT", "ev", 3));
    obs.back().environment = "dev";
    obs.back().parent_observation_id = "o9";
    obs.back().level = "WARNING";
    obs.push_back(Obs(project_, "o4", "t3", "SPAN", "root", 4));  // its trace was never written
    obs.back().environment = "staging";
    obs.back().level = "DEBUG";
    obs.push_back(Obs(project_, "o5", "t1", "SPAN", "deleted", 5));
    obs.back().is_deleted = 1;
    obs.push_back(Obs(project_, "o6", "t1", "TOOL", "old-name", 6));  // renamed below
    obs.push_back(Obs(other_, "o1", "t1", "SPAN", "root", 1));
    ASSERT_TRUE(store().InsertObservations(obs, "").ok());
    ObservationRecord renamed = Obs(project_, "o6", "t1", "TOOL", "new-name", 6);
    renamed.event_ts_ms = At(200);
    ASSERT_TRUE(store().InsertObservations({renamed}, "").ok());

    std::vector<ScoreRecord> scores;
    scores.push_back(Score(project_, "s1", "quality", 1));
    scores.back().trace_id = "t1";
    scores.back().value = 0.5;
    scores.back().environment = "prod";
    scores.back().config_id = "cfg-1";
    scores.back().queue_id = "queue-1";
    scores.push_back(Score(project_, "s2", "correct", 2));
    scores.back().trace_id = "t1";
    scores.back().observation_id = "o2";
    scores.back().data_type = "BOOLEAN";
    scores.back().value = 1;
    scores.back().string_value = "True";
    scores.back().source = "EVAL";
    scores.back().environment = "prod";
    scores.push_back(Score(project_, "s3", "tone", 3));
    scores.back().trace_id = "t2";
    scores.back().observation_id = "o3";
    scores.back().data_type = "CATEGORICAL";
    scores.back().string_value = "good";
    scores.back().value = 2;
    scores.back().source = "ANNOTATION";
    scores.back().environment = "dev";
    scores.push_back(Score(project_, "s4", "session-score", 4));
    scores.back().session_id = "sess-1";
    scores.back().value = 3;
    scores.back().environment = "prod";
    scores.push_back(Score(project_, "s5", "run-score", 5));
    scores.back().dataset_run_id = "run-1";
    scores.back().value = 7;
    scores.push_back(Score(project_, "s6", "orphan", 6));  // its trace was never written
    scores.back().trace_id = "t-missing";
    scores.back().value = 1;
    scores.push_back(Score(project_, "s7", "comment", 7));
    scores.back().trace_id = "t1";
    scores.back().data_type = "TEXT";
    scores.back().string_value = "nice";
    scores.back().environment = "prod";
    scores.push_back(Score(project_, "s8", "output", 8));
    scores.back().trace_id = "t1";
    scores.back().data_type = "CORRECTION";
    scores.back().long_string_value = "fixed text";
    scores.back().environment = "prod";
    scores.push_back(Score(project_, "s9", "quality", 9));
    scores.back().trace_id = "t1";
    scores.back().is_deleted = 1;
    scores.push_back(Score(other_, "s1", "quality", 1));
    scores.back().trace_id = "t1";
    ASSERT_TRUE(store().InsertScores(scores, "").ok());
    // s1 gets a newer version: the lists must show it once, with the new value.
    ScoreRecord s1 = scores.front();
    s1.value = 0.75;
    s1.event_ts_ms = At(300);
    ASSERT_TRUE(store().InsertScores({s1}, "").ok());
  }

  Strings ListObs(const ObservationListFilter& filter, ListPaging paging = {1, 50},
                  uint64_t* total = nullptr) {
    auto page = ListObservations(transport(), project_, filter, paging);
    EXPECT_TRUE(page.ok()) << page.status().message();
    if (!page.ok()) return {};
    if (total != nullptr) *total = page->total_items;
    return Ids(page->observations);
  }

  Strings ListV2(const ScoreListFilter& filter, bool include_trace = true, uint64_t* total = nullptr) {
    return ListScoresOf(ScoreApiVersion::kV2, filter, include_trace, total);
  }

  Strings ListScoresOf(ScoreApiVersion version, const ScoreListFilter& filter, bool include_trace,
                       uint64_t* total = nullptr, ListPaging paging = {1, 50}) {
    ScoreListQuery q;
    q.version = version;
    q.filter = filter;
    q.include_trace = include_trace;
    q.paging = paging;
    auto page = ListScores(transport(), project_, q);
    EXPECT_TRUE(page.ok()) << page.status().message();
    if (!page.ok()) return {};
    if (total != nullptr) *total = page->total_items;
    return Ids(page->scores);
  }

  std::string project_;
  std::string other_;
};

// ---- paging rules -------------------------------------------------------------------------------

TEST(ListPagingTest, DefaultsAndBounds) {
  auto paging = ParseListPaging(nullptr, nullptr);
  ASSERT_TRUE(paging.ok());
  EXPECT_EQ(paging->page, 1u);
  EXPECT_EQ(paging->limit, 50u);
  const std::string empty;
  paging = ParseListPaging(&empty, &empty);
  ASSERT_TRUE(paging.ok());
  EXPECT_EQ(paging->limit, 50u);

  const std::string page3 = "3", limit100 = "100", limit1 = "1", exp = "1e1", blank = " 7 ";
  paging = ParseListPaging(&page3, &limit100);
  ASSERT_TRUE(paging.ok());
  EXPECT_EQ(paging->page, 3u);
  EXPECT_EQ(paging->limit, 100u);
  EXPECT_EQ(ParseListPaging(&exp, &limit1)->page, 10u);
  EXPECT_EQ(ParseListPaging(&blank, &blank)->limit, 7u);

  for (const std::string bad : {"0", "-1", "1.5", "abc", "101", "nan", "inf", "1x"}) {
    const std::string one = "1";
    EXPECT_EQ(ParseListPaging(&one, &bad).status().code(), StatusCode::kInvalidArgument) << "limit " << bad;
    if (bad != "101") {
      EXPECT_EQ(ParseListPaging(&bad, &one).status().code(), StatusCode::kInvalidArgument) << "page " << bad;
    }
  }
}

// ---- observations -------------------------------------------------------------------------------

TEST_F(ObservationQueriesTest, ListsNewestVersionsNewestFirstWithoutDeleted) {
  uint64_t total = 0;
  EXPECT_EQ(ListObs({}, {1, 50}, &total), (Strings{"o6", "o4", "o3", "o2", "o1"}));
  EXPECT_EQ(total, 5u);
  auto page = ListObservations(transport(), project_, {}, {1, 1});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->observations.size(), 1u);
  EXPECT_EQ(page->observations[0].name, "new-name");
  EXPECT_EQ(page->observations[0].project_id, project_);
}

TEST_F(ObservationQueriesTest, EveryObservationFilter) {
  ObservationListFilter f;
  f.name = "root";
  EXPECT_EQ(ListObs(f), (Strings{"o4", "o1"}));
  f = {};
  f.name = "old-name";  // only an older version had it
  EXPECT_EQ(ListObs(f), Strings{});
  f = {};
  f.type = "SPAN";
  EXPECT_EQ(ListObs(f), (Strings{"o4", "o1"}));
  f = {};
  f.trace_id = "t1";
  EXPECT_EQ(ListObs(f), (Strings{"o6", "o2", "o1"}));
  f = {};
  f.parent_observation_id = "o1";
  EXPECT_EQ(ListObs(f), Strings{"o2"});
  f = {};
  f.level = "WARNING";
  EXPECT_EQ(ListObs(f), Strings{"o3"});
  f = {};
  f.version = "v2";
  EXPECT_EQ(ListObs(f), Strings{"o2"});
  f = {};
  f.environments = {"prod", "staging"};
  EXPECT_EQ(ListObs(f), (Strings{"o4", "o2", "o1"}));
  f = {};
  f.user_id = "u1";  // through the trace
  EXPECT_EQ(ListObs(f), (Strings{"o6", "o2", "o1"}));
  f.user_id = "nobody";
  EXPECT_EQ(ListObs(f), Strings{});
  f = {};
  f.from_start_time_ms = At(2);  // inclusive
  f.to_start_time_ms = At(4);    // exclusive
  EXPECT_EQ(ListObs(f), (Strings{"o3", "o2"}));
  f = {};
  f.trace_id = "t1";
  f.type = "GENERATION";
  f.level = "ERROR";
  EXPECT_EQ(ListObs(f), Strings{"o2"});
  f.level = "DEFAULT";
  EXPECT_EQ(ListObs(f), Strings{});
}

TEST_F(ObservationQueriesTest, FilterValuesAreNeverSql) {
  ObservationListFilter f;
  f.name = "root' OR 1=1 --";
  EXPECT_EQ(ListObs(f), Strings{});
  f.name = "a\\b\tc\n";
  EXPECT_EQ(ListObs(f), Strings{});
  f = {};
  f.environments = {"prod', 'dev"};
  EXPECT_EQ(ListObs(f), Strings{});
}

TEST_F(ObservationQueriesTest, ObservationPaging) {
  uint64_t total = 0;
  EXPECT_EQ(ListObs({}, {1, 2}, &total), (Strings{"o6", "o4"}));
  EXPECT_EQ(total, 5u);
  EXPECT_EQ(ListObs({}, {2, 2}), (Strings{"o3", "o2"}));
  EXPECT_EQ(ListObs({}, {3, 2}), Strings{"o1"});
  EXPECT_EQ(ListObs({}, {4, 2}, &total), Strings{});
  EXPECT_EQ(total, 5u);  // an empty page still counts everything
  EXPECT_EQ(ListObs({}, {uint64_t{1} << 53, 100}), Strings{});
}

TEST_F(ObservationQueriesTest, ObservationsOfAnotherProjectAreInvisible) {
  auto page = ListObservations(transport(), "no-such-project", {}, {1, 50});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->observations.empty());
  EXPECT_EQ(page->total_items, 0u);
  ObservationListFilter f;
  f.user_id = "u1";
  page = ListObservations(transport(), other_, f, {1, 50});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Ids(page->observations), Strings{"o1"});
}

// ---- scores -------------------------------------------------------------------------------------

TEST_F(ObservationQueriesTest, ScoreScopesPerApiVersion) {
  uint64_t total = 0;
  // v1: trace-level, listable types, trace must exist.
  EXPECT_EQ(ListScoresOf(ScoreApiVersion::kV1, {}, true, &total), (Strings{"s7", "s3", "s2", "s1"}));
  EXPECT_EQ(total, 4u);
  // v2 with the trace field group: every score whose trace (if any) exists.
  EXPECT_EQ(ListV2({}, true, &total), (Strings{"s8", "s7", "s5", "s4", "s3", "s2", "s1"}));
  EXPECT_EQ(total, 7u);
  // v2 without it: every score.
  EXPECT_EQ(ListV2({}, false, &total), (Strings{"s8", "s7", "s6", "s5", "s4", "s3", "s2", "s1"}));
  EXPECT_EQ(total, 8u);
}

TEST_F(ObservationQueriesTest, ScoreListReadsNewestVersionAndTraceAttributes) {
  ScoreListQuery q;
  q.filter.score_ids = {"s1", "s4"};
  auto page = ListScores(transport(), project_, q);
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(Ids(page->scores), (Strings{"s4", "s1"}));
  EXPECT_EQ(page->scores[1].value, 0.75);
  ASSERT_EQ(page->traces.count("t1"), 1u);
  EXPECT_EQ(page->traces["t1"].user_id, std::optional<std::string>("u1"));
  EXPECT_EQ(page->traces["t1"].tags, (Strings{"a", "b"}));
  EXPECT_EQ(page->traces["t1"].environment, "prod");
  EXPECT_EQ(page->traces["t1"].session_id, std::optional<std::string>("trace-session-t1"));
  EXPECT_EQ(page->traces.size(), 1u);

  q.include_trace = false;
  page = ListScores(transport(), project_, q);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->traces.empty());
}

TEST_F(ObservationQueriesTest, EveryScoreFilter) {
  ScoreListFilter f;
  f.name = "quality";
  EXPECT_EQ(ListV2(f), Strings{"s1"});
  f = {};
  f.source = "EVAL";
  EXPECT_EQ(ListV2(f), Strings{"s2"});
  f = {};
  f.data_type = "CATEGORICAL";
  EXPECT_EQ(ListV2(f), Strings{"s3"});
  f = {};
  f.config_id = "cfg-1";
  EXPECT_EQ(ListV2(f), Strings{"s1"});
  f = {};
  f.queue_id = "queue-1";
  EXPECT_EQ(ListV2(f), Strings{"s1"});
  f = {};
  f.session_id = "sess-1";
  EXPECT_EQ(ListV2(f), Strings{"s4"});
  f = {};
  f.dataset_run_id = "run-1";
  EXPECT_EQ(ListV2(f), Strings{"s5"});
  f = {};
  f.trace_id = "t1";
  EXPECT_EQ(ListV2(f), (Strings{"s8", "s7", "s2", "s1"}));
  f = {};
  f.observation_ids = {"o2", "o3", "o-none"};
  EXPECT_EQ(ListV2(f), (Strings{"s3", "s2"}));
  f = {};
  f.score_ids = {"s2", "s5", "s9"};  // s9 is deleted
  EXPECT_EQ(ListV2(f), (Strings{"s5", "s2"}));
  f = {};
  f.environments = {"dev", "default"};
  EXPECT_EQ(ListV2(f), (Strings{"s5", "s3"}));
  f = {};
  f.from_timestamp_ms = At(3);
  f.to_timestamp_ms = At(7);
  EXPECT_EQ(ListV2(f), (Strings{"s5", "s4", "s3"}));
}

TEST_F(ObservationQueriesTest, ScoreValueOperators) {
  auto with = [](const char* op, double value) {
    ScoreListFilter f;
    f.value_operator = op;
    f.value_operand = value;
    return f;
  };
  EXPECT_EQ(ListV2(with(">", 1)), (Strings{"s5", "s4", "s3"}));
  EXPECT_EQ(ListV2(with(">=", 1)), (Strings{"s5", "s4", "s3", "s2"}));
  EXPECT_EQ(ListV2(with("<", 0.75)), (Strings{"s8", "s7"}));
  EXPECT_EQ(ListV2(with("<=", 0.75)), (Strings{"s8", "s7", "s1"}));  // the newest s1 is 0.75
  EXPECT_EQ(ListV2(with("=", 3)), Strings{"s4"});
  EXPECT_EQ(ListV2(with("!=", 0)), (Strings{"s5", "s4", "s3", "s2", "s1"}));
  // An operator without a value (or the reverse) is no condition, as in Langfuse.
  ScoreListFilter half;
  half.value_operator = ">";
  EXPECT_EQ(ListV2(half).size(), 7u);

  ScoreListQuery q;
  q.filter = with("; DROP TABLE scores", 1);
  EXPECT_EQ(ListScores(transport(), project_, q).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ObservationQueriesTest, ScoreTraceFilters) {
  ScoreListFilter f;
  f.trace_user_id = "u1";
  EXPECT_EQ(ListV2(f), (Strings{"s8", "s7", "s2", "s1"}));
  EXPECT_EQ(ListScoresOf(ScoreApiVersion::kV1, f, true), (Strings{"s7", "s2", "s1"}));
  // A trace filter also applies without the trace field group; trace-less scores never match it.
  EXPECT_EQ(ListV2(f, false), (Strings{"s8", "s7", "s2", "s1"}));
  f = {};
  f.trace_tags = {"a"};
  EXPECT_EQ(ListV2(f), (Strings{"s8", "s7", "s3", "s2", "s1"}));
  f.trace_tags = {"a", "b"};
  EXPECT_EQ(ListV2(f), (Strings{"s8", "s7", "s2", "s1"}));
  f.trace_tags = {"b", "c"};
  EXPECT_EQ(ListV2(f), Strings{});
  // With a trace filter, the environment condition applies to the trace too.
  f = {};
  f.trace_user_id = "u2";
  f.environments = {"dev"};
  EXPECT_EQ(ListV2(f), Strings{"s3"});
  f.environments = {"prod"};
  EXPECT_EQ(ListV2(f), Strings{});
}

FilterCondition Cond(FilterType type, std::string column, std::string op, std::vector<std::string> values = {}) {
  FilterCondition c;
  c.type = type;
  c.column = std::move(column);
  c.op = std::move(op);
  c.values = std::move(values);
  return c;
}

TEST_F(ObservationQueriesTest, ObservationFilterConditions) {
  auto where = [&](std::vector<FilterCondition> conditions) {
    ObservationListFilter f;
    f.conditions = std::move(conditions);
    return ListObs(f);
  };
  EXPECT_EQ(where({Cond(FilterType::kStringOptions, "name", "any of", {"root", "ev"})}), (Strings{"o4", "o3", "o1"}));
  EXPECT_EQ(where({Cond(FilterType::kStringOptions, "Level", "none of", {"DEFAULT"})}), (Strings{"o4", "o3", "o2"}));
  FilterCondition start = Cond(FilterType::kDatetime, "startTime", ">=");
  start.time_ms = At(3);
  EXPECT_EQ(where({start}), (Strings{"o6", "o4", "o3"}));
  FilterCondition version = Cond(FilterType::kString, "version", "contains");
  version.text = "v";
  EXPECT_EQ(where({version}), (Strings{"o2", "o1"}));
  // Trace columns: the trace must exist and match (o4's trace was never written).
  FilterCondition user = Cond(FilterType::kString, "userId", "=");
  user.text = "u1";
  EXPECT_EQ(where({user}), (Strings{"o6", "o2", "o1"}));
  EXPECT_EQ(where({Cond(FilterType::kArrayOptions, "traceTags", "all of", {"a", "b"})}), (Strings{"o6", "o2", "o1"}));
  EXPECT_EQ(where({Cond(FilterType::kStringOptions, "traceEnvironment", "none of", {"dev"})}),
            (Strings{"o6", "o2", "o1"}));
  // Both kinds of filters apply.
  ObservationListFilter f;
  f.trace_id = "t1";
  FilterCondition type = Cond(FilterType::kString, "type", "=");
  type.text = "GENERATION";
  f.conditions = {type};
  EXPECT_EQ(ListObs(f), Strings{"o2"});
  // Score columns are not filterable here; values stay parameters.
  f = {};
  FilterCondition scores = Cond(FilterType::kNumberObject, "scores_avg", ">");
  scores.key = "x";
  f.conditions = {scores};
  EXPECT_EQ(ListObservations(transport(), project_, f, {1, 50}).status().code(), StatusCode::kInvalidArgument);
  FilterCondition tricky = Cond(FilterType::kString, "name", "=");
  tricky.text = "root' OR 1=1 --";
  EXPECT_EQ(where({tricky}), Strings{});
}

TEST_F(ObservationQueriesTest, ScoreFilterConditions) {
  auto where = [&](std::vector<FilterCondition> conditions, ScoreListFilter f = {}) {
    f.conditions = std::move(conditions);
    return ListV2(f);
  };
  FilterCondition value = Cond(FilterType::kNumber, "value", ">");
  value.number = 1;
  EXPECT_EQ(where({value}), (Strings{"s5", "s4", "s3"}));
  EXPECT_EQ(where({Cond(FilterType::kStringOptions, "dataType", "any of", {"BOOLEAN", "TEXT"})}), (Strings{"s7", "s2"}));
  EXPECT_EQ(where({Cond(FilterType::kStringOptions, "booleanValue", "any of", {"true"})}), Strings{"s2"});
  EXPECT_EQ(where({Cond(FilterType::kStringOptions, "userId", "any of", {"u2"})}), Strings{"s3"});
  EXPECT_EQ(where({Cond(FilterType::kArrayOptions, "Trace Tags", "all of", {"a", "b"})}),
            (Strings{"s8", "s7", "s2", "s1"}));
  // A condition on a column replaces the simple filter on it; other simple filters still hold.
  FilterCondition name = Cond(FilterType::kString, "name", "=");
  name.text = "tone";
  ScoreListFilter simple;
  simple.name = "quality";
  EXPECT_EQ(where({name}, simple), Strings{"s3"});
  simple.source = "API";
  EXPECT_EQ(where({name}, simple), Strings{});
  ScoreListQuery q;
  q.filter.conditions = {Cond(FilterType::kString, "nope", "=")};
  EXPECT_EQ(ListScores(transport(), project_, q).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ObservationQueriesTest, ScorePaging) {
  uint64_t total = 0;
  EXPECT_EQ(ListScoresOf(ScoreApiVersion::kV2, {}, true, &total, {1, 3}), (Strings{"s8", "s7", "s5"}));
  EXPECT_EQ(ListScoresOf(ScoreApiVersion::kV2, {}, true, &total, {2, 3}), (Strings{"s4", "s3", "s2"}));
  EXPECT_EQ(ListScoresOf(ScoreApiVersion::kV2, {}, true, &total, {3, 3}), Strings{"s1"});
  EXPECT_EQ(ListScoresOf(ScoreApiVersion::kV2, {}, true, &total, {4, 3}), Strings{});
  EXPECT_EQ(total, 7u);
}

TEST_F(ObservationQueriesTest, GetScorePerApiVersion) {
  auto get = [&](const std::string& project, const std::string& id,
                 ScoreApiVersion v) -> std::optional<ScoreRecord> {
    auto found = GetScoreForApi(transport(), project, id, v);
    EXPECT_TRUE(found.ok()) << found.status().message();
    return found.ok() ? *found : std::nullopt;
  };
  auto s1 = get(project_, "s1", ScoreApiVersion::kV1);
  ASSERT_TRUE(s1.has_value());
  EXPECT_EQ(s1->value, 0.75);
  EXPECT_TRUE(get(project_, "s6", ScoreApiVersion::kV1).has_value());   // no join by id
  EXPECT_FALSE(get(project_, "s4", ScoreApiVersion::kV1).has_value());  // session score
  EXPECT_FALSE(get(project_, "s5", ScoreApiVersion::kV1).has_value());  // dataset-run score
  EXPECT_FALSE(get(project_, "s8", ScoreApiVersion::kV1).has_value());  // CORRECTION
  EXPECT_TRUE(get(project_, "s4", ScoreApiVersion::kV2).has_value());
  auto s8 = get(project_, "s8", ScoreApiVersion::kV2);
  ASSERT_TRUE(s8.has_value());
  EXPECT_EQ(s8->long_string_value, "fixed text");
  EXPECT_FALSE(get(project_, "s9", ScoreApiVersion::kV2).has_value());  // deleted
  EXPECT_FALSE(get("no-such-project", "s1", ScoreApiVersion::kV2).has_value());
  auto other = get(other_, "s1", ScoreApiVersion::kV2);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->project_id, other_);
}

}  // namespace
}  // namespace langfuse::traces
