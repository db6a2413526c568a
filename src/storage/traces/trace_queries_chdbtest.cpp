// The public read API's trace queries (trace_queries.h) against a real in-process ClickHouse.
//
// One chDB engine per process (a gtest Environment opens it on a fresh folder and shuts it down
// after the last test); ctest runs every case in its own process, so each case builds its own
// rows under its own project ids.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include <fmt/core.h>

#include "common/ids.h"
#include "storage/traces/record_json.h"
#include "storage/traces/test_records.h"
#include "storage/traces/trace_queries.h"
#include "storage/traces/chdb_test_environment.h"
#include "storage/traces/trace_store.h"

namespace langfuse::traces {
namespace {

using testing::FullObservation;
using testing::MinimalObservation;
using testing::MinimalScore;
using testing::MinimalTrace;
using testing::TrickyText;

auto* const g_env = testing::RegisterChdbTestEnvironment("trace_queries_chdbtest");

constexpr int64_t kT0 = 1'718'000'000'000;  // 2024-06-10T06:13:20Z
constexpr int64_t kMinute = 60'000;

std::string Token() { return "batch-" + RandomHex(8); }

std::vector<std::string> Ids(const std::vector<TraceRecord>& traces) {
  std::vector<std::string> ids;
  for (const auto& t : traces) ids.push_back(t.id);
  return ids;
}

class TraceQueriesChdbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_env->ready()) GTEST_FAIL() << "the chDB environment did not start";
    project_ = "proj-" + RandomHex(6);
    other_project_ = "other-" + RandomHex(6);
  }

  TraceStore& store() { return *g_env->store(); }
  ClickHouseTransport& transport() { return g_env->transport(); }

  TraceRecord Trace(const std::string& id, int64_t timestamp_ms, const std::string& project = "") {
    TraceRecord t = MinimalTrace(project.empty() ? project_ : project, id);
    t.timestamp_ms = timestamp_ms;
    t.created_at_ms = t.updated_at_ms = t.event_ts_ms = timestamp_ms;
    return t;
  }

  void Insert(const std::vector<TraceRecord>& rows) { ASSERT_TRUE(store().InsertTraces(rows, Token()).ok()); }
  void Insert(const std::vector<ObservationRecord>& rows) {
    ASSERT_TRUE(store().InsertObservations(rows, Token()).ok());
  }
  void Insert(const std::vector<ScoreRecord>& rows) { ASSERT_TRUE(store().InsertScores(rows, Token()).ok()); }

  // Six traces t1..t6, one minute apart from kT0, with every filterable field varied:
  //   id  user  name   session  version release env         tags
  //   t1  u1    chat   s1       v1      r1      default     [a]
  //   t2  u2    chat   s1       v2      r1      production  [a, b]
  //   t3  u1    agent  s2       v1      r2      production  [b]
  //   t4  null  agent  null     null    null    staging     []
  //   t5  u1    chat   s2       v1      r1      default     [a, b, c]
  //   t6  u3    ""     s3       v3      r3      default     [c]
  void InsertFixture() {
    struct Row {
      const char* id;
      std::optional<std::string> user, session, version, release;
      const char* name;
      const char* env;
      std::vector<std::string> tags;
    };
    const std::vector<Row> rows = {
        {"t1", "u1", "s1", "v1", "r1", "chat", "default", {"a"}},
        {"t2", "u2", "s1", "v2", "r1", "chat", "production", {"a", "b"}},
        {"t3", "u1", "s2", "v1", "r2", "agent", "production", {"b"}},
        {"t4", std::nullopt, std::nullopt, std::nullopt, std::nullopt, "agent", "staging", {}},
        {"t5", "u1", "s2", "v1", "r1", "chat", "default", {"a", "b", "c"}},
        {"t6", "u3", "s3", "v3", "r3", "", "default", {"c"}},
    };
    std::vector<TraceRecord> traces;
    for (size_t i = 0; i < rows.size(); ++i) {
      TraceRecord t = Trace(rows[i].id, kT0 + static_cast<int64_t>(i) * kMinute);
      t.user_id = rows[i].user;
      t.session_id = rows[i].session;
      t.version = rows[i].version;
      t.release = rows[i].release;
      t.name = rows[i].name;
      t.environment = rows[i].env;
      t.tags = rows[i].tags;
      t.input = R"({"q":"hi"})";
      t.output = "plain";
      t.metadata = {{"k", "v"}};
      t.is_public = i % 2 == 0;
      t.bookmarked = i == 3;
      traces.push_back(std::move(t));
    }
    Insert(traces);
    // The same ids and fields in another project: never listed, counted or deleted from here.
    for (auto& t : traces) t.project_id = other_project_;
    Insert(traces);
  }

  std::vector<std::string> List(const TraceListQuery& query, uint64_t* total = nullptr) {
    auto page = ListTraces(transport(), project_, query);
    EXPECT_TRUE(page.ok()) << page.status().message();
    if (!page.ok()) return {};
    if (total != nullptr) *total = page->total_items;
    return Ids(page->traces);
  }

  std::vector<std::string> ListWhere(const TraceListFilter& filter, uint64_t* total = nullptr) {
    TraceListQuery query;
    query.filter = filter;
    return List(query, total);
  }

  std::string project_;
  std::string other_project_;
};

using Strings = std::vector<std::string>;

// ---- trace list: filters -----------------------------------------------------------------------

TEST_F(TraceQueriesChdbTest, NoFilterListsAllNewestFirst) {
  InsertFixture();
  uint64_t total = 0;
  EXPECT_EQ(List({}, &total), (Strings{"t6", "t5", "t4", "t3", "t2", "t1"}));
  EXPECT_EQ(total, 6u);
}

TEST_F(TraceQueriesChdbTest, EachSimpleFilter) {
  InsertFixture();
  uint64_t total = 0;
  EXPECT_EQ(ListWhere({.user_id = "u1"}, &total), (Strings{"t5", "t3", "t1"}));
  EXPECT_EQ(total, 3u);
  EXPECT_EQ(ListWhere({.name = "agent"}), (Strings{"t4", "t3"}));
  EXPECT_EQ(ListWhere({.session_id = "s1"}), (Strings{"t2", "t1"}));
  EXPECT_EQ(ListWhere({.version = "v1"}), (Strings{"t5", "t3", "t1"}));
  EXPECT_EQ(ListWhere({.release = "r1"}), (Strings{"t5", "t2", "t1"}));
  EXPECT_EQ(ListWhere({.user_id = "nobody"}, &total), Strings{});
  EXPECT_EQ(total, 0u);
  // An empty string matches the empty value, not "any".
  EXPECT_EQ(ListWhere({.name = ""}), (Strings{"t6"}));
}

TEST_F(TraceQueriesChdbTest, TagsMustAllBePresent) {
  InsertFixture();
  EXPECT_EQ(ListWhere({.tags = {"a"}}), (Strings{"t5", "t2", "t1"}));
  EXPECT_EQ(ListWhere({.tags = {"a", "b"}}), (Strings{"t5", "t2"}));
  EXPECT_EQ(ListWhere({.tags = {"a", "b", "c"}}), (Strings{"t5"}));
  EXPECT_EQ(ListWhere({.tags = {"a", "zzz"}}), Strings{});
}

TEST_F(TraceQueriesChdbTest, EnvironmentsAreAnyOf) {
  InsertFixture();
  EXPECT_EQ(ListWhere({.environments = {"production"}}), (Strings{"t3", "t2"}));
  EXPECT_EQ(ListWhere({.environments = {"staging", "production"}}), (Strings{"t4", "t3", "t2"}));
  EXPECT_EQ(ListWhere({.environments = {"nope"}}), Strings{});
}

TEST_F(TraceQueriesChdbTest, TimestampBoundsFromInclusiveToExclusive) {
  InsertFixture();
  EXPECT_EQ(ListWhere({.from_timestamp_ms = kT0 + 2 * kMinute}), (Strings{"t6", "t5", "t4", "t3"}));
  EXPECT_EQ(ListWhere({.to_timestamp_ms = kT0 + 2 * kMinute}), (Strings{"t2", "t1"}));
  EXPECT_EQ(ListWhere({.from_timestamp_ms = kT0 + kMinute, .to_timestamp_ms = kT0 + 3 * kMinute}),
            (Strings{"t3", "t2"}));
  EXPECT_EQ(ListWhere({.from_timestamp_ms = kT0 + kMinute + 1, .to_timestamp_ms = kT0 + 2 * kMinute}),
            Strings{});
  // Bounds outside DateTime64's range behave as open bounds.
  EXPECT_EQ(ListWhere({.from_timestamp_ms = std::numeric_limits<int64_t>::min(),
                       .to_timestamp_ms = std::numeric_limits<int64_t>::max()})
                .size(),
            6u);
}

TEST_F(TraceQueriesChdbTest, FiltersCombineWithAnd) {
  InsertFixture();
  uint64_t total = 0;
  EXPECT_EQ(ListWhere({.user_id = "u1", .name = "chat", .tags = {"a"}, .environments = {"default"}}, &total),
            (Strings{"t5", "t1"}));
  EXPECT_EQ(total, 2u);
  EXPECT_EQ(ListWhere({.user_id = "u1", .session_id = "s2", .release = "r2"}), (Strings{"t3"}));
}

TEST_F(TraceQueriesChdbTest, FilterValuesAreParametersNotSql) {
  TraceRecord t = Trace("tricky", kT0);
  t.user_id = TrickyText();
  t.name = "it's \\ \"quoted\"\t";
  t.tags = {"x'y", "back\\slash", "new\nline"};
  t.environment = "e'1";
  t.session_id = "s'\\";
  Insert({t, Trace("plain", kT0 + 1)});
  EXPECT_EQ(ListWhere({.user_id = TrickyText()}), Strings{"tricky"});
  EXPECT_EQ(ListWhere({.name = "it's \\ \"quoted\"\t"}), Strings{"tricky"});
  EXPECT_EQ(ListWhere({.tags = {"new\nline", "x'y", "back\\slash"}}), Strings{"tricky"});
  EXPECT_EQ(ListWhere({.environments = {"e'1"}}), Strings{"tricky"});
  EXPECT_EQ(ListWhere({.session_id = "s'\\"}), Strings{"tricky"});
  EXPECT_EQ(ListWhere({.name = "' OR 1=1 --"}), Strings{});
}

// ---- trace list: ordering and paging -----------------------------------------------------------

TEST_F(TraceQueriesChdbTest, OrdersByEveryAllowedColumnWithIdTieBreak) {
  InsertFixture();
  auto ordered = [&](const char* column, bool ascending) {
    TraceListQuery q;
    q.order_column = *TraceOrderColumnFromName(column);
    q.ascending = ascending;
    return List(q);
  };
  EXPECT_EQ(ordered("timestamp", true), (Strings{"t1", "t2", "t3", "t4", "t5", "t6"}));
  EXPECT_EQ(ordered("id", false), (Strings{"t6", "t5", "t4", "t3", "t2", "t1"}));
  EXPECT_EQ(ordered("name", true), (Strings{"t6", "t3", "t4", "t1", "t2", "t5"}));
  EXPECT_EQ(ordered("name", false), (Strings{"t5", "t2", "t1", "t4", "t3", "t6"}));
  // NULLs sort last in both directions (ClickHouse's default, as in Langfuse).
  EXPECT_EQ(ordered("userId", true), (Strings{"t1", "t3", "t5", "t2", "t6", "t4"}));
  EXPECT_EQ(ordered("userId", false), (Strings{"t6", "t2", "t5", "t3", "t1", "t4"}));
  EXPECT_EQ(ordered("sessionId", true), (Strings{"t1", "t2", "t3", "t5", "t6", "t4"}));
  EXPECT_EQ(ordered("release", false), (Strings{"t6", "t3", "t5", "t2", "t1", "t4"}));
  EXPECT_EQ(ordered("version", true), (Strings{"t1", "t3", "t5", "t2", "t6", "t4"}));
  EXPECT_EQ(ordered("public", false), (Strings{"t5", "t3", "t1", "t6", "t4", "t2"}));
  EXPECT_EQ(ordered("bookmarked", false), (Strings{"t4", "t6", "t5", "t3", "t2", "t1"}));
}

TEST_F(TraceQueriesChdbTest, OrderColumnNamesAreLangfusesAllowList) {
  for (const char* name :
       {"id", "timestamp", "name", "userId", "release", "version", "public", "bookmarked", "sessionId"}) {
    EXPECT_TRUE(TraceOrderColumnFromName(name).has_value()) << name;
  }
  for (const char* name : {"user_id", "latency", "totalCost", "environment", "Timestamp", "", "id;"}) {
    EXPECT_FALSE(TraceOrderColumnFromName(name).has_value()) << name;
  }
}

TEST_F(TraceQueriesChdbTest, PagesSplitTheOrderedListWithoutGapsOrRepeats) {
  InsertFixture();
  TraceListQuery q;
  q.limit = 4;
  uint64_t total = 0;
  q.page = 1;
  EXPECT_EQ(List(q, &total), (Strings{"t6", "t5", "t4", "t3"}));
  EXPECT_EQ(total, 6u);
  q.page = 2;  // the last page is partial
  EXPECT_EQ(List(q, &total), (Strings{"t2", "t1"}));
  EXPECT_EQ(total, 6u);
  q.page = 3;  // past the end: empty, the total still told
  EXPECT_EQ(List(q, &total), Strings{});
  EXPECT_EQ(total, 6u);
  q.page = std::numeric_limits<uint64_t>::max();  // offset overflow clamps, no error
  EXPECT_EQ(List(q, &total), Strings{});
  q.limit = 1;
  Strings all;
  for (q.page = 1; q.page <= 6; ++q.page) {
    auto one = List(q);
    ASSERT_EQ(one.size(), 1u);
    all.push_back(one.front());
  }
  EXPECT_EQ(all, (Strings{"t6", "t5", "t4", "t3", "t2", "t1"}));
}

TEST_F(TraceQueriesChdbTest, SameTimestampsPageStablyById) {
  std::vector<TraceRecord> rows;
  for (int i = 0; i < 7; ++i) rows.push_back(Trace(fmt::format("same-{}", i), kT0));
  Insert(rows);
  TraceListQuery q;
  q.limit = 3;
  Strings all;
  for (q.page = 1; q.page <= 3; ++q.page) {
    for (auto& id : List(q)) all.push_back(id);
  }
  EXPECT_EQ(all, (Strings{"same-6", "same-5", "same-4", "same-3", "same-2", "same-1", "same-0"}));
}

TEST_F(TraceQueriesChdbTest, WithoutIoLeavesInputOutputMetadataOut) {
  InsertFixture();
  TraceListQuery q;
  q.filter.user_id = "u2";
  auto with_io = ListTraces(transport(), project_, q);
  ASSERT_TRUE(with_io.ok()) << with_io.status().message();
  ASSERT_EQ(with_io->traces.size(), 1u);
  EXPECT_EQ(with_io->traces[0].input, R"({"q":"hi"})");
  EXPECT_EQ(with_io->traces[0].output, "plain");
  EXPECT_EQ(with_io->traces[0].metadata, (StringMap{{"k", "v"}}));
  q.include_io = false;
  auto without = ListTraces(transport(), project_, q);
  ASSERT_TRUE(without.ok()) << without.status().message();
  ASSERT_EQ(without->traces.size(), 1u);
  const TraceRecord& t = without->traces[0];
  EXPECT_FALSE(t.input.has_value());
  EXPECT_FALSE(t.output.has_value());
  EXPECT_TRUE(t.metadata.empty());
  // The core fields are all there.
  EXPECT_EQ(t.user_id, "u2");
  EXPECT_EQ(t.name, "chat");
  EXPECT_EQ(t.session_id, "s1");
  EXPECT_EQ(t.tags, (Strings{"a", "b"}));
  EXPECT_EQ(t.environment, "production");
  EXPECT_EQ(t.timestamp_ms, kT0 + kMinute);
  EXPECT_EQ(t.project_id, project_);
}

// ---- trace list: versions, deleted rows, isolation ---------------------------------------------

TEST_F(TraceQueriesChdbTest, NewestVersionIsListedAndFilteredOnce) {
  TraceRecord v1 = Trace("versioned", kT0);
  v1.name = "old";
  Insert({v1});
  TraceRecord v2 = v1;
  v2.name = "new";
  v2.event_ts_ms = v1.event_ts_ms + 1000;
  Insert({v2});
  uint64_t total = 0;
  EXPECT_EQ(List({}, &total), Strings{"versioned"});
  EXPECT_EQ(total, 1u);
  EXPECT_EQ(ListWhere({.name = "new"}), Strings{"versioned"});
  EXPECT_EQ(ListWhere({.name = "old"}, &total), Strings{});
  EXPECT_EQ(total, 0u);
  auto page = ListTraces(transport(), project_, {});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->traces.at(0).name, "new");
}

// A page's rows are read after its keys (id and day); each key shows the version FINAL keeps
// for it, and a trace whose timestamp moved to another day is listed under its new day once
// its old key carries a deleted marker.
TEST_F(TraceQueriesChdbTest, PageRowsAreTheNewestVersionOfEachKey) {
  constexpr int64_t kDay = 86'400'000;
  TraceRecord moved = Trace("moved", kT0);
  moved.name = "before";
  moved.input = "first input";
  TraceRecord twice = Trace("twice", kT0 + kMinute);
  twice.name = "day one";
  Insert({moved, twice});
  TraceRecord marker = moved;
  marker.is_deleted = 1;
  marker.event_ts_ms += 1000;
  TraceRecord moved_v2 = moved;
  moved_v2.timestamp_ms = kT0 + kDay;
  moved_v2.name = "after";
  moved_v2.input = "second input";
  moved_v2.event_ts_ms = marker.event_ts_ms;
  // Written by another client without a marker: the old key stays live, a listing shows both.
  TraceRecord twice_v2 = twice;
  twice_v2.timestamp_ms = kT0 + 2 * kDay;
  twice_v2.name = "day three";
  twice_v2.event_ts_ms += 1000;
  Insert({marker, moved_v2, twice_v2});

  uint64_t total = 0;
  auto page = ListTraces(transport(), project_, {});
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->total_items, 3u);
  ASSERT_EQ(page->traces.size(), 3u);
  EXPECT_EQ(page->traces[0].id, "twice");
  EXPECT_EQ(page->traces[0].name, "day three");
  EXPECT_EQ(page->traces[0].timestamp_ms, kT0 + 2 * kDay);
  EXPECT_EQ(page->traces[1].id, "moved");
  EXPECT_EQ(page->traces[1].name, "after");
  EXPECT_EQ(page->traces[1].input, "second input");
  EXPECT_EQ(page->traces[2].id, "twice");
  EXPECT_EQ(page->traces[2].name, "day one");
  EXPECT_EQ(page->traces[2].timestamp_ms, kT0 + kMinute);
  EXPECT_EQ(ListWhere({.name = "before"}, &total), Strings{});
  EXPECT_EQ(total, 0u);
}

TEST_F(TraceQueriesChdbTest, RowsMarkedDeletedAreNotListed) {
  TraceRecord t = Trace("marked", kT0);
  Insert({t, Trace("kept", kT0 + 1)});
  t.is_deleted = 1;
  t.event_ts_ms += 1;
  Insert({t});
  uint64_t total = 0;
  EXPECT_EQ(List({}, &total), Strings{"kept"});
  EXPECT_EQ(total, 1u);
}

TEST_F(TraceQueriesChdbTest, AnotherProjectsRowsAreInvisible) {
  InsertFixture();
  Insert({Trace("only-other", kT0, other_project_)});
  uint64_t total = 0;
  auto listed = List({}, &total);
  EXPECT_EQ(total, 6u);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), "only-other"), 0);
  auto empty = ListTraces(transport(), "proj-without-rows-" + RandomHex(4), {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->traces.empty());
  EXPECT_EQ(empty->total_items, 0u);
}

// ---- per-trace aggregates ----------------------------------------------------------------------

TEST_F(TraceQueriesChdbTest, ObservationStatsSumCostAndSpanLatency) {
  Insert({Trace("tr-a", kT0), Trace("tr-b", kT0), Trace("tr-empty", kT0)});
  ObservationRecord o1 = MinimalObservation(project_, "o1", "tr-a", kT0 + 1000);
  o1.end_time_ms = kT0 + 4500;
  o1.total_cost = 0.25;
  ObservationRecord o2 = MinimalObservation(project_, "o2", "tr-a", kT0);  // no end: counts its start
  o2.total_cost = 0.5;
  ObservationRecord o3 = MinimalObservation(project_, "o3", "tr-a", kT0 + 2000);
  o3.end_time_ms = kT0 + 3000;  // no cost
  ObservationRecord b1 = MinimalObservation(project_, "b1", "tr-b", kT0 + 10);
  b1.type = "GENERATION";
  ObservationRecord foreign = MinimalObservation(other_project_, "x1", "tr-a", kT0 - 100'000);
  foreign.total_cost = 100;
  Insert({o1, o2, o3, b1, foreign});
  // A newer version of o3 with a cost, and a deleted o4: the stats see the newest rows only.
  o3.total_cost = 0.125;
  o3.event_ts_ms += 10;
  ObservationRecord o4 = MinimalObservation(project_, "o4", "tr-a", kT0 - 60'000);
  o4.total_cost = 9;
  Insert({o3, o4});
  o4.is_deleted = 1;
  o4.event_ts_ms += 10;
  Insert({o4});

  auto stats = ObservationStatsOfTraces(transport(), project_, {"tr-a", "tr-b", "tr-empty", "missing"});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  ASSERT_EQ(stats->size(), 2u);
  const TraceObservationStats& a = stats->at("tr-a");
  EXPECT_EQ(a.observation_ids, (Strings{"o2", "o1", "o3"}));
  EXPECT_DOUBLE_EQ(a.total_cost, 0.875);
  EXPECT_DOUBLE_EQ(a.latency_seconds, 4.5);
  const TraceObservationStats& b = stats->at("tr-b");
  EXPECT_EQ(b.observation_ids, Strings{"b1"});
  EXPECT_DOUBLE_EQ(b.total_cost, 0);
  EXPECT_DOUBLE_EQ(b.latency_seconds, 0);
  auto none = ObservationStatsOfTraces(transport(), project_, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(TraceQueriesChdbTest, ScoreIdsAreTraceLevelScoresOfTheProject) {
  ScoreRecord s1 = MinimalScore(project_, "s1", kT0);
  s1.trace_id = "tr";
  ScoreRecord s2 = MinimalScore(project_, "s2", kT0);
  s2.trace_id = "tr";
  s2.data_type = "CATEGORICAL";
  s2.string_value = "good";
  ScoreRecord on_session = MinimalScore(project_, "s3", kT0);
  on_session.trace_id = "tr";
  on_session.session_id = "sess";
  ScoreRecord on_run = MinimalScore(project_, "s4", kT0);
  on_run.trace_id = "tr";
  on_run.dataset_run_id = "run";
  ScoreRecord other_trace = MinimalScore(project_, "s5", kT0);
  other_trace.trace_id = "tr2";
  ScoreRecord foreign = MinimalScore(other_project_, "s6", kT0);
  foreign.trace_id = "tr";
  Insert({s1, s2, on_session, on_run, other_trace, foreign});
  auto ids = ScoreIdsOfTraces(transport(), project_, {"tr", "tr2", "tr3"});
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  EXPECT_EQ(ids->size(), 2u);
  EXPECT_EQ(ids->at("tr"), (Strings{"s1", "s2"}));
  EXPECT_EQ(ids->at("tr2"), Strings{"s5"});
}

// ---- trace list: the `filter` parameter ---------------------------------------------------------

FilterCondition Cond(FilterType type, std::string column, std::string op) {
  FilterCondition c;
  c.type = type;
  c.column = std::move(column);
  c.op = std::move(op);
  return c;
}

TEST_F(TraceQueriesChdbTest, FilterConditionsOnTraceColumns) {
  InsertFixture();
  auto where = [&](std::vector<FilterCondition> conditions, uint64_t* total = nullptr) {
    return ListWhere({.conditions = std::move(conditions)}, total);
  };
  FilterCondition c = Cond(FilterType::kString, "userId", "=");
  c.text = "u1";
  uint64_t total = 0;
  EXPECT_EQ(where({c}, &total), (Strings{"t5", "t3", "t1"}));
  EXPECT_EQ(total, 3u);
  c = Cond(FilterType::kString, "name", "starts with");
  c.text = "ag";
  EXPECT_EQ(where({c}), (Strings{"t4", "t3"}));
  c = Cond(FilterType::kString, "Release", "does not contain");  // by UI name; NULL release stays out
  c.text = "1";
  EXPECT_EQ(where({c}), (Strings{"t6", "t3"}));
  c = Cond(FilterType::kStringOptions, "environment", "none of");
  c.values = {"default"};
  EXPECT_EQ(where({c}), (Strings{"t4", "t3", "t2"}));
  c = Cond(FilterType::kArrayOptions, "tags", "any of");
  c.values = {"c", "zzz"};
  EXPECT_EQ(where({c}), (Strings{"t6", "t5"}));
  c = Cond(FilterType::kArrayOptions, "traceTags", "none of");
  c.values = {"a"};
  EXPECT_EQ(where({c}), (Strings{"t6", "t4", "t3"}));
  c = Cond(FilterType::kArrayOptions, "tags", "all of");
  c.values = {"a", "b"};
  EXPECT_EQ(where({c}), (Strings{"t5", "t2"}));
  c = Cond(FilterType::kDatetime, "timestamp", ">");
  c.time_ms = kT0 + 3 * kMinute;
  EXPECT_EQ(where({c}), (Strings{"t6", "t5"}));
  c = Cond(FilterType::kBoolean, "bookmarked", "=");
  c.flag = true;
  EXPECT_EQ(where({c}), (Strings{"t4"}));
  c = Cond(FilterType::kStringObject, "metadata", "=");
  c.key = "k";
  c.text = "v";
  EXPECT_EQ(where({c}).size(), 6u);
  c.text = "other";
  EXPECT_EQ(where({c}), Strings{});
  c = Cond(FilterType::kNull, "sessionId", "is null");
  EXPECT_EQ(where({c}), (Strings{"t4"}));
  // Values are parameters.
  c = Cond(FilterType::kString, "userId", "=");
  c.text = "u1' OR '1'='1";
  EXPECT_EQ(where({c}), Strings{});
}

TEST_F(TraceQueriesChdbTest, FilterConditionsTakePrecedenceOverSimpleFiltersOnTheSameColumn) {
  InsertFixture();
  FilterCondition c = Cond(FilterType::kString, "userId", "=");
  c.text = "u2";
  // The simple userId=u1 gives way; name=chat (another column) still holds.
  EXPECT_EQ(ListWhere({.user_id = "u1", .name = "chat", .conditions = {c}}), (Strings{"t2"}));
  FilterCondition ts = Cond(FilterType::kDatetime, "timestamp", "<");
  ts.time_ms = kT0 + kMinute;
  EXPECT_EQ(ListWhere({.from_timestamp_ms = kT0 + 4 * kMinute, .conditions = {ts}}), (Strings{"t1"}));
}

TEST_F(TraceQueriesChdbTest, FilterConditionsOnObservationAndScoreAggregates) {
  Insert({Trace("slow", kT0), Trace("fast", kT0 + 1), Trace("bare", kT0 + 2)});
  ObservationRecord s1 = MinimalObservation(project_, "s1", "slow", kT0);
  s1.end_time_ms = kT0 + 5000;
  s1.level = "ERROR";
  s1.usage_details = {{"input", 100}, {"output", 20}, {"total", 120}};
  s1.cost_details = {{"input", 0.5}, {"total", 0.75}};
  ObservationRecord s2 = MinimalObservation(project_, "s2", "slow", kT0 + 100);
  s2.level = "WARNING";
  ObservationRecord f1 = MinimalObservation(project_, "f1", "fast", kT0 + 1);
  f1.end_time_ms = kT0 + 501;
  f1.usage_details = {{"input", 5}, {"total", 5}};
  ObservationRecord foreign = MinimalObservation(other_project_, "x", "fast", kT0);
  foreign.level = "ERROR";
  Insert({s1, s2, f1, foreign});
  ScoreRecord acc = MinimalScore(project_, "acc", kT0);
  acc.trace_id = "fast";
  acc.name = "accuracy";
  acc.value = 0.9;
  ScoreRecord tone = MinimalScore(project_, "tone", kT0);
  tone.trace_id = "slow";
  tone.name = "tone";
  tone.data_type = "CATEGORICAL";
  tone.string_value = "good";
  ScoreRecord ok = MinimalScore(project_, "ok", kT0);
  ok.trace_id = "slow";
  ok.name = "ok";
  ok.data_type = "BOOLEAN";
  ok.value = 1;
  ok.string_value = "True";
  Insert({acc, tone, ok});

  auto where = [&](FilterCondition c, uint64_t* total = nullptr) {
    return ListWhere({.conditions = {std::move(c)}}, total);
  };
  FilterCondition c = Cond(FilterType::kNumber, "latency", ">=");
  c.number = 2;
  uint64_t total = 0;
  EXPECT_EQ(where(c, &total), Strings{"slow"});
  EXPECT_EQ(total, 1u);
  c.op = "<";
  EXPECT_EQ(where(c), (Strings{"bare", "fast"})) << "a trace without observations reads as latency 0";
  c = Cond(FilterType::kStringOptions, "level", "any of");
  c.values = {"ERROR"};
  EXPECT_EQ(where(c), Strings{"slow"});
  c = Cond(FilterType::kNumber, "warningCount", "=");
  c.number = 1;
  EXPECT_EQ(where(c), Strings{"slow"});
  c = Cond(FilterType::kNumber, "inputTokens", ">");
  c.number = 10;
  EXPECT_EQ(where(c), Strings{"slow"});
  c = Cond(FilterType::kNumber, "totalTokens", "=");
  c.number = 5;
  EXPECT_EQ(where(c), Strings{"fast"});
  c = Cond(FilterType::kNumber, "totalCost", ">");
  c.number = 0.7;
  EXPECT_EQ(where(c), Strings{"slow"});
  c = Cond(FilterType::kNumberObject, "scores", ">=");  // the legacy name of scores_avg
  c.key = "accuracy";
  c.number = 0.5;
  EXPECT_EQ(where(c), Strings{"fast"});
  c = Cond(FilterType::kCategoryOptions, "score_categories", "any of");
  c.key = "tone";
  c.values = {"good"};
  EXPECT_EQ(where(c), Strings{"slow"});
  c.op = "none of";
  EXPECT_EQ(where(c), (Strings{"bare", "fast"}));
  c = Cond(FilterType::kBooleanObject, "score_booleans", "=");
  c.key = "ok";
  c.flag = true;
  EXPECT_EQ(where(c), Strings{"slow"});
  c.op = "<>";
  EXPECT_EQ(where(c), (Strings{"bare", "fast"}));
}

TEST_F(TraceQueriesChdbTest, BadFilterConditionsAreInvalidArgument) {
  TraceListQuery query;
  query.filter.conditions = {Cond(FilterType::kString, "nope", "=")};
  auto page = ListTraces(transport(), project_, query);
  ASSERT_EQ(page.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(page.status().message(), "Column nope does not match a UI / CH table mapping.");
  query.filter.conditions = {Cond(FilterType::kBoolean, "userId", "=")};
  EXPECT_EQ(ListTraces(transport(), project_, query).status().code(), StatusCode::kInvalidArgument);
}

// ---- GET /traces/{id} reads ---------------------------------------------------------------------

TEST_F(TraceQueriesChdbTest, TraceReadsForTheApiSeeNewestLiveVersionsOnly) {
  TraceRecord t = Trace("one", kT0);
  t.name = "v1";
  t.input = "in";
  Insert({t});
  t.name = "v2";
  t.event_ts_ms += 10;
  Insert({t});
  Insert({Trace("one", kT0, other_project_)});
  auto read = GetTraceForApi(transport(), project_, "one");
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->name, "v2");
  EXPECT_EQ((*read)->input, "in");
  TraceRecord gone = Trace("gone", kT0);
  Insert({gone});
  gone.is_deleted = 1;
  gone.event_ts_ms += 1;
  Insert({gone});
  read = GetTraceForApi(transport(), project_, "gone");
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->has_value());
  EXPECT_FALSE(GetTraceForApi(transport(), project_, "missing")->has_value());
  // The timestamp alone, by the same rules.
  TraceRecord later = Trace("one", kT0 + 86'400'000);
  later.event_ts_ms = t.event_ts_ms + 10;
  TraceRecord moved_marker = t;
  moved_marker.is_deleted = 1;
  moved_marker.event_ts_ms = later.event_ts_ms;
  Insert({later, moved_marker});
  auto stamp = TraceTimestampForApi(transport(), project_, "one");
  ASSERT_TRUE(stamp.ok()) << stamp.status().message();
  EXPECT_EQ(stamp->value_or(0), kT0 + 86'400'000) << "the newest version, moved to the next day";
  EXPECT_FALSE(TraceTimestampForApi(transport(), project_, "gone")->has_value());
  EXPECT_FALSE(TraceTimestampForApi(transport(), project_, "missing")->has_value());
  later.timestamp_ms = kT0;
  later.event_ts_ms += 10;
  TraceRecord back_marker = Trace("one", kT0 + 86'400'000);
  back_marker.is_deleted = 1;
  back_marker.event_ts_ms = later.event_ts_ms;
  Insert({later, back_marker});
  EXPECT_EQ(TraceTimestampForApi(transport(), project_, "one")->value_or(0), kT0);

  // Observations: the newest version; a row that moved to another sort key (a new type) left a
  // deleted marker written in the same instant, which must not hide the row.
  ObservationRecord a = MinimalObservation(project_, "a", "one", kT0 + 2000);
  ObservationRecord b = MinimalObservation(project_, "b", "one", kT0 + 1000);
  ObservationRecord early = MinimalObservation(project_, "early", "one", kT0 - 2 * 3'600'000);
  ObservationRecord foreign = MinimalObservation(other_project_, "f", "one", kT0);
  Insert({a, b, early, foreign});
  ObservationRecord marker = b;
  marker.is_deleted = 1;
  marker.event_ts_ms += 5;
  ObservationRecord moved = b;
  moved.type = "GENERATION";
  moved.name = "moved";
  moved.event_ts_ms += 5;
  Insert({marker, moved});
  ObservationRecord deleted = a;
  deleted.is_deleted = 1;
  deleted.event_ts_ms += 5;
  Insert({deleted});
  auto observations = ObservationsOfTraceForApi(transport(), project_, "one", kT0);
  ASSERT_TRUE(observations.ok()) << observations.status().message();
  ASSERT_EQ(observations->size(), 1u) << "a is deleted; `early` starts more than an hour before the trace";
  EXPECT_EQ(observations->at(0).id, "b");
  EXPECT_EQ(observations->at(0).name, "moved");
  EXPECT_EQ(observations->at(0).type, "GENERATION");

  ScoreRecord s1 = MinimalScore(project_, "s1", kT0 + 2);
  s1.trace_id = "one";
  ScoreRecord s2 = MinimalScore(project_, "s2", kT0 + 1);
  s2.trace_id = "one";
  ScoreRecord correction = MinimalScore(project_, "c", kT0);
  correction.trace_id = "one";
  correction.data_type = "CORRECTION";
  correction.long_string_value = "fixed";
  Insert({s1, s2, correction});
  auto scores = ScoresOfTraceForApi(transport(), project_, "one");
  ASSERT_TRUE(scores.ok()) << scores.status().message();
  EXPECT_EQ(scores->size(), 2u);
  EXPECT_EQ(scores->at(0).id, "s2");
}

TEST_F(TraceQueriesChdbTest, TheApisTraceReadGivesEveryObservationColumnItsViewShows) {
  Insert({Trace("full", kT0)});
  ObservationRecord o = FullObservation(project_, "o-full", "full");
  o.start_time_ms = kT0 + 1000;
  Insert({o});
  auto read = ObservationsOfTraceForApi(transport(), project_, "full", kT0);
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ(read->front(), AsPublicObservationRead(o));
  EXPECT_TRUE(read->front().tool_calls.empty()) << "a column the public view does not show is not read";
}

// The observations are sorted by trace within a type and day (migrations.cpp), so reading one
// trace touches the granule or two holding it. Sorted by the random id alone, every granule of
// the day held some of each trace's rows and all of them were read.
TEST_F(TraceQueriesChdbTest, OneTracesObservationsAreReadFromItsOwnGranules) {
  constexpr int kTraces = 40;
  constexpr int kPerTrace = 1000;  // 40,000 rows of one type and day: five 8,192-row granules
  std::vector<ObservationRecord> rows;
  rows.reserve(kTraces * kPerTrace);
  for (int t = 0; t < kTraces; ++t) {
    for (int i = 0; i < kPerTrace; ++i) {
      rows.push_back(MinimalObservation(project_, RandomHex(16), fmt::format("trace-{}", t), kT0 + i));
    }
  }
  Insert(rows);
  // input: a column only the table has (a count alone would be answered from the stats projection).
  auto count = transport().Query(
      "SELECT countIf(input IS NULL) FROM observations "
      "WHERE project_id = {p:String} AND trace_id = {t:String} SETTINGS max_rows_to_read = 16384",
      {StringParam("p", project_), StringParam("t", "trace-7")}, "TabSeparated");
  ASSERT_TRUE(count.ok()) << "more than two granules read for one trace: " << count.status().message();
  EXPECT_EQ(*count, "1000\n");
}

TEST_F(TraceQueriesChdbTest, ListPagesReadInputOutputMetadataOfThePageOnly) {
  InsertFixture();
  TraceListQuery query;
  query.limit = 2;
  query.page = 2;
  auto page = ListTraces(transport(), project_, query);
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(Ids(page->traces), (Strings{"t4", "t3"}));
  for (const TraceRecord& t : page->traces) {
    EXPECT_EQ(t.input, R"({"q":"hi"})") << t.id;
    EXPECT_EQ(t.output, "plain") << t.id;
    EXPECT_EQ(t.metadata.at("k"), "v") << t.id;
  }
}

// ---- deletion ----------------------------------------------------------------------------------

TEST_F(TraceQueriesChdbTest, DeleteRemovesTracesObservationsAndScoresOfTheProjectOnly) {
  Insert({Trace("del-1", kT0), Trace("del-2", kT0 + 1), Trace("keep", kT0 + 2),
          Trace("del-1", kT0, other_project_)});
  Insert({MinimalObservation(project_, "o-del", "del-1", kT0),
          MinimalObservation(project_, "o-keep", "keep", kT0),
          MinimalObservation(other_project_, "o-other", "del-1", kT0)});
  ScoreRecord s_del = MinimalScore(project_, "s-del", kT0);
  s_del.trace_id = "del-2";
  ScoreRecord s_keep = MinimalScore(project_, "s-keep", kT0);
  s_keep.trace_id = "keep";
  ScoreRecord s_other = MinimalScore(other_project_, "s-other", kT0);
  s_other.trace_id = "del-2";
  Insert({s_del, s_keep, s_other});

  ASSERT_TRUE(DeleteTraces(transport(), project_, {"del-1", "del-2", "never-existed"}).ok());

  uint64_t total = 0;
  EXPECT_EQ(List({}, &total), Strings{"keep"});
  EXPECT_EQ(total, 1u);
  auto traces = store().GetTraces(project_, {"del-1", "del-2"});
  ASSERT_TRUE(traces.ok());
  EXPECT_TRUE(traces->empty());
  auto observations = store().GetObservations(project_, {"o-del", "o-keep"});
  ASSERT_TRUE(observations.ok());
  ASSERT_EQ(observations->size(), 1u);
  EXPECT_EQ(observations->front().id, "o-keep");
  auto scores = store().GetScores(project_, {"s-del", "s-keep"});
  ASSERT_TRUE(scores.ok());
  ASSERT_EQ(scores->size(), 1u);
  EXPECT_EQ(scores->front().id, "s-keep");

  // The other project's rows with the same trace ids are untouched.
  auto other = store().GetTraces(other_project_, {"del-1"});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->size(), 1u);
  auto other_obs = store().GetObservations(other_project_, {"o-other"});
  ASSERT_TRUE(other_obs.ok());
  EXPECT_EQ(other_obs->size(), 1u);
  auto other_scores = store().GetScores(other_project_, {"s-other"});
  ASSERT_TRUE(other_scores.ok());
  EXPECT_EQ(other_scores->size(), 1u);

  // Deleting nothing, or again, is fine.
  EXPECT_TRUE(DeleteTraces(transport(), project_, {}).ok());
  EXPECT_TRUE(DeleteTraces(transport(), project_, {"del-1"}).ok());
}

TEST_F(TraceQueriesChdbTest, DeleteRemovesEveryVersion) {
  TraceRecord t = Trace("multi", kT0);
  Insert({t});
  t.name = "second";
  t.event_ts_ms += 5;
  Insert({t});
  ASSERT_TRUE(DeleteTraces(transport(), project_, {"multi"}).ok());
  uint64_t total = 0;
  EXPECT_EQ(List({}, &total), Strings{});
  EXPECT_EQ(total, 0u);
}

// ---- sessions ----------------------------------------------------------------------------------

TEST_F(TraceQueriesChdbTest, SessionsAreDerivedFromTraces) {
  InsertFixture();  // s1 = {t1 default, t2}, s2 = {t3 production, t5}, s3 = {t6 default}
  TraceRecord blank = Trace("blank-session", kT0 + 100 * kMinute);
  blank.session_id = "";
  Insert({blank});
  auto page = ListSessions(transport(), project_, {});
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->total_items, 3u);
  ASSERT_EQ(page->sessions.size(), 3u);
  // Newest first by their first trace.
  EXPECT_EQ(page->sessions[0].id, "s3");
  EXPECT_EQ(page->sessions[0].created_at_ms, kT0 + 5 * kMinute);
  EXPECT_EQ(page->sessions[0].environment, "default");
  EXPECT_EQ(page->sessions[1].id, "s2");
  EXPECT_EQ(page->sessions[1].created_at_ms, kT0 + 2 * kMinute);
  EXPECT_EQ(page->sessions[1].environment, "production");
  EXPECT_EQ(page->sessions[2].id, "s1");
  EXPECT_EQ(page->sessions[2].created_at_ms, kT0);
  EXPECT_EQ(page->sessions[2].environment, "default");
  EXPECT_EQ(page->sessions[2].project_id, project_);
}

TEST_F(TraceQueriesChdbTest, SessionFiltersAndPaging) {
  InsertFixture();
  auto ids = [&](const SessionListQuery& q, uint64_t* total = nullptr) {
    auto page = ListSessions(transport(), project_, q);
    EXPECT_TRUE(page.ok()) << page.status().message();
    Strings out;
    if (!page.ok()) return out;
    if (total != nullptr) *total = page->total_items;
    for (const auto& s : page->sessions) out.push_back(s.id);
    return out;
  };
  uint64_t total = 0;
  EXPECT_EQ(ids({.from_timestamp_ms = kT0 + 2 * kMinute}, &total), (Strings{"s3", "s2"}));
  EXPECT_EQ(total, 2u);
  EXPECT_EQ(ids({.to_timestamp_ms = kT0 + 2 * kMinute}), Strings{"s1"});
  EXPECT_EQ(ids({.from_timestamp_ms = kT0 + 1, .to_timestamp_ms = kT0 + 2 * kMinute}), Strings{});
  EXPECT_EQ(ids({.environments = {"default"}}), (Strings{"s3", "s1"}));
  EXPECT_EQ(ids({.environments = {"production", "staging"}}), Strings{"s2"});
  EXPECT_EQ(ids({.limit = 2, .page = 1}, &total), (Strings{"s3", "s2"}));
  EXPECT_EQ(total, 3u);
  EXPECT_EQ(ids({.limit = 2, .page = 2}), Strings{"s1"});
  EXPECT_EQ(ids({.limit = 2, .page = 3}, &total), Strings{});
  EXPECT_EQ(total, 3u);
}

TEST_F(TraceQueriesChdbTest, GetSessionReturnsItsTracesInOrderWithinTheProject) {
  InsertFixture();
  auto found = GetSession(transport(), project_, "s2");
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_TRUE(found->has_value());
  const SessionWithTraces& s = **found;
  EXPECT_EQ(s.session.id, "s2");
  EXPECT_EQ(s.session.project_id, project_);
  EXPECT_EQ(s.session.created_at_ms, kT0 + 2 * kMinute);
  EXPECT_EQ(s.session.environment, "production");
  EXPECT_EQ(Ids(s.traces), (Strings{"t3", "t5"}));
  EXPECT_EQ(s.traces[0].input, R"({"q":"hi"})");  // full rows, io included

  auto missing = GetSession(transport(), project_, "no-such-session");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto blank = GetSession(transport(), project_, "");
  ASSERT_TRUE(blank.ok());
  EXPECT_FALSE(blank->has_value());
  // A session that exists only in another project is not found.
  Insert({[&] {
    TraceRecord t = Trace("foreign", kT0, other_project_);
    t.session_id = "only-other";
    return t;
  }()});
  auto foreign = GetSession(transport(), project_, "only-other");
  ASSERT_TRUE(foreign.ok());
  EXPECT_FALSE(foreign->has_value());
}

TEST_F(TraceQueriesChdbTest, DeletingASessionsTracesRemovesTheSession) {
  InsertFixture();
  ASSERT_TRUE(DeleteTraces(transport(), project_, {"t6"}).ok());
  auto page = ListSessions(transport(), project_, {});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total_items, 2u);
  auto gone = GetSession(transport(), project_, "s3");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

}  // namespace
}  // namespace langfuse::traces
