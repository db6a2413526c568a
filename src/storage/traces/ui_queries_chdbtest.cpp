// The web UI's reads (ui_queries.h) against a real in-process ClickHouse.
//
// Each case builds its own rows under its own project id (ctest runs every case in its own
// process, sharing nothing).

#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <regex>

#include <fmt/core.h>
#include <simdjson.h>

#include "common/ids.h"
#include "storage/traces/chdb_test_environment.h"
#ifdef LANGFUSE_CLICKHOUSE_HTTP_FIXTURE
#include "storage/traces/http_transport_test_process.h"
#endif
#include "storage/traces/metrics_queries.h"
#include "storage/traces/record_json.h"
#include "storage/traces/test_records.h"
#include "storage/traces/trace_queries.h"
#include "storage/traces/trace_store.h"
#include "storage/traces/ui_queries.h"

namespace langfuse::traces {
namespace {

using testing::MinimalObservation;
using testing::MinimalScore;
using testing::MinimalTrace;
using testing::TrickyText;

#ifdef LANGFUSE_CLICKHOUSE_HTTP_FIXTURE
// The same cases over the HTTP transport, against the chDB-backed loopback server
// (tests/fixtures/clickhouse_http_fixture) started as a child process: the SQL must work on both.
class HttpEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* tmp = std::getenv("LANGFUSE_TEST_TMP");
    dir_ = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
           ("ui_queries_http_chdbtest-" + std::to_string(getpid()) + "-" + RandomHex(4));
    const std::string password = "pw-" + RandomHex(8);
    ASSERT_TRUE(process_.Start({LANGFUSE_CLICKHOUSE_HTTP_FIXTURE, "--path", dir_.string(), "--port", "0",
                                "--user", "langfuse", "--password", password},
                               /*capture_stdout=*/true));
    const auto line = process_.ReadLine(std::chrono::seconds(120));
    const std::string prefix = "clickhouse_http_fixture: listening on ";
    ASSERT_TRUE(line && line->starts_with(prefix)) << "the test fixture did not start";
    HttpTransportOptions o;
    o.url = line->substr(prefix.size());
    o.user = "langfuse";
    o.password = password;
    auto transport = OpenHttpTransport(o);
    ASSERT_TRUE(transport.ok()) << transport.status().message();
    store_ = std::make_unique<TraceStore>(std::move(transport).value());
    int applied = 0;
    ASSERT_TRUE(store_->Migrate(&applied).ok());
    ready_ = true;
  }
  void TearDown() override {
    store_.reset();
    process_.Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ready() const { return ready_; }
  TraceStore* store() { return store_.get(); }
  ClickHouseTransport& transport() { return store_->transport(); }

 private:
  std::filesystem::path dir_;
  testing::ChildProcess process_;
  std::unique_ptr<TraceStore> store_;
  bool ready_ = false;
};
auto* const g_env = static_cast<HttpEnvironment*>(::testing::AddGlobalTestEnvironment(new HttpEnvironment));
#else
auto* const g_env = testing::RegisterChdbTestEnvironment("ui_queries_chdbtest");
#endif

constexpr int64_t kT0 = 1'718'000'000'000;  // 2024-06-10T06:13:20Z
constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 3'600'000;

std::string Token() { return "batch-" + RandomHex(8); }

std::vector<std::string> Ids(const UiTraceListPage& page) {
  std::vector<std::string> ids;
  for (const auto& r : page.rows) ids.push_back(r.trace.id);
  return ids;
}

class UiQueriesChdbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_env->ready()) GTEST_FAIL() << "the chDB environment did not start";
    project_ = "proj-" + RandomHex(6);
  }
  TraceStore& store() { return *g_env->store(); }
  ClickHouseTransport& transport() { return g_env->transport(); }

  void Insert(const std::vector<TraceRecord>& rows) { ASSERT_TRUE(store().InsertTraces(rows, Token()).ok()); }
  void Insert(const std::vector<ObservationRecord>& rows) {
    ASSERT_TRUE(store().InsertObservations(rows, Token()).ok());
  }
  void Insert(const std::vector<ScoreRecord>& rows) { ASSERT_TRUE(store().InsertScores(rows, Token()).ok()); }

  TraceRecord Trace(const std::string& id, int64_t ts, const std::string& name) {
    TraceRecord t = MinimalTrace(project_, id);
    t.timestamp_ms = t.created_at_ms = t.updated_at_ms = t.event_ts_ms = ts;
    t.name = name;
    return t;
  }
  ObservationRecord Obs(const std::string& id, const std::string& trace_id, int64_t start,
                        int64_t duration_ms, const std::string& level, double cost, uint64_t in, uint64_t out,
                        const std::string& model = "") {
    ObservationRecord o = MinimalObservation(project_, id, trace_id, start);
    o.end_time_ms = start + duration_ms;
    o.level = level;
    o.type = "GENERATION";
    o.name = "gen";
    o.total_cost = cost;
    o.cost_details = {{"total", cost}};
    o.usage_details = {{"input", in}, {"output", out}, {"total", in + out}};
    if (!model.empty()) o.provided_model_name = model;
    o.input = "observation input " + id;
    o.metadata = {{"k", "v"}};
    return o;
  }

  // t1..t5, one minute apart:
  //   id  name    user  session  env         metadata       input          observations (latency, cost,
  //   tokens) t1  chat    u1    s1       default     {team: red}    "Hello World"  o1a 2s ERROR 0.5 (10+5),
  //   o1b 1s 0.25 (1+1) t2  Chat    u2    s1       production  {team: blue}                  o2 5s WARNING
  //   0.1 (100+100) t3  agent   u1    s2       default                    {"q":"needle"} (none) t4  agent
  //   null  null     staging                                   o4 1s DEBUG 2.0 (1+0) t5  search  u3    s2
  //   default     {team: red}                   o5 0.5s DEFAULT 0 (0+0)
  void InsertFixture() {
    std::vector<TraceRecord> traces = {
        Trace("t1", kT0, "chat"), Trace("t2", kT0 + kMinute, "Chat"), Trace("t3", kT0 + 2 * kMinute, "agent"),
        Trace("t4", kT0 + 3 * kMinute, "agent"), Trace("t5", kT0 + 4 * kMinute, "search")};
    traces[0].user_id = "u1";
    traces[0].session_id = "s1";
    traces[0].metadata = {{"team", "red"}};
    traces[0].input = "Hello World";
    traces[0].tags = {"a"};
    traces[1].user_id = "u2";
    traces[1].session_id = "s1";
    traces[1].environment = "production";
    traces[1].metadata = {{"team", "blue"}};
    traces[1].tags = {"a", "b"};
    traces[2].user_id = "u1";
    traces[2].session_id = "s2";
    traces[2].output = R"({"q":"needle"})";
    traces[3].environment = "staging";
    traces[4].user_id = "u3";
    traces[4].session_id = "s2";
    traces[4].metadata = {{"team", "red"}};
    Insert(traces);
    Insert(std::vector<ObservationRecord>{
        Obs("o1a", "t1", kT0, 2000, "ERROR", 0.5, 10, 5, "gpt-4o"),
        Obs("o1b", "t1", kT0 + 500, 1000, "DEFAULT", 0.25, 1, 1, "gpt-4o"),
        Obs("o2", "t2", kT0 + kMinute, 5000, "WARNING", 0.1, 100, 100, "claude"),
        Obs("o4", "t4", kT0 + 3 * kMinute, 1000, "DEBUG", 2.0, 1, 0),
        Obs("o5", "t5", kT0 + 4 * kMinute, 500, "DEFAULT", 0, 0, 0),
    });
    ScoreRecord s1 = MinimalScore(project_, "sc1", kT0 + 10);
    s1.trace_id = "t1";
    s1.name = "quality";
    s1.value = 0.8;
    ScoreRecord s2 = MinimalScore(project_, "sc2", kT0 + 20);
    s2.trace_id = "t1";
    s2.name = "label";
    s2.data_type = "CATEGORICAL";
    s2.string_value = "good";
    ScoreRecord s3 = MinimalScore(project_, "sc3", kT0 + kMinute);
    s3.trace_id = "t2";
    s3.name = "quality";
    s3.value = 0.4;
    Insert(std::vector<ScoreRecord>{s1, s2, s3});
  }

  UiTraceListPage List(UiTraceListQuery q) {
    auto page = ListUiTraces(transport(), project_, q);
    EXPECT_TRUE(page.ok()) << page.status().message();
    return page.ok() ? *page : UiTraceListPage{};
  }
  UiTraceListPage ListWith(std::vector<FilterCondition> conditions) {
    UiTraceListQuery q;
    q.filter.conditions = std::move(conditions);
    return List(q);
  }

  std::string project_;
};

TEST_F(UiQueriesChdbTest, DefaultOrderIsNewestFirstWithAggregatesAndScores) {
  InsertFixture();
  const UiTraceListPage page = List({});
  EXPECT_EQ(page.total_items, 5u);
  ASSERT_EQ(Ids(page), (std::vector<std::string>{"t5", "t4", "t3", "t2", "t1"}));
  const UiTraceRow& t1 = page.rows[4];
  EXPECT_EQ(t1.aggregates.level, "ERROR");
  EXPECT_EQ(t1.aggregates.observation_count, 2u);
  EXPECT_DOUBLE_EQ(t1.aggregates.total_cost, 0.75);
  EXPECT_EQ(t1.aggregates.input_tokens, 11u);
  EXPECT_EQ(t1.aggregates.output_tokens, 6u);
  EXPECT_EQ(t1.aggregates.total_tokens, 17u);
  EXPECT_DOUBLE_EQ(t1.aggregates.latency_seconds, 2.0);
  ASSERT_EQ(t1.scores.size(), 2u);
  EXPECT_EQ(t1.scores[0].name, "quality");
  EXPECT_DOUBLE_EQ(t1.scores[0].value, 0.8);
  EXPECT_EQ(t1.scores[1].data_type, "CATEGORICAL");
  EXPECT_EQ(t1.scores[1].string_value, "good");
  EXPECT_FALSE(t1.trace.input.has_value());  // the list reads no input/output
  EXPECT_EQ(page.rows[3].aggregates.level, "WARNING");
  EXPECT_EQ(page.rows[2].aggregates.observation_count, 0u);  // t3: none
  EXPECT_EQ(page.rows[2].aggregates.level, "DEFAULT");
  EXPECT_EQ(page.rows[1].aggregates.level, "DEBUG");
  EXPECT_EQ(page.rows[0].trace.user_id, "u3");
}

TEST_F(UiQueriesChdbTest, EveryOrdering) {
  InsertFixture();
  auto ordered = [&](UiTraceOrder order, bool asc) {
    UiTraceListQuery q;
    q.order = order;
    q.ascending = asc;
    return Ids(List(q));
  };
  EXPECT_EQ(ordered(UiTraceOrder::kTimestamp, true),
            (std::vector<std::string>{"t1", "t2", "t3", "t4", "t5"}));
  // Byte order: "Chat" < "agent" < "chat" < "search"; ties (agent) by id in the same direction.
  EXPECT_EQ(ordered(UiTraceOrder::kName, true), (std::vector<std::string>{"t2", "t3", "t4", "t1", "t5"}));
  EXPECT_EQ(ordered(UiTraceOrder::kName, false), (std::vector<std::string>{"t5", "t1", "t4", "t3", "t2"}));
  EXPECT_EQ(ordered(UiTraceOrder::kLatency, false), (std::vector<std::string>{"t2", "t1", "t4", "t5", "t3"}));
  EXPECT_EQ(ordered(UiTraceOrder::kTotalCost, false),
            (std::vector<std::string>{"t4", "t1", "t2", "t5", "t3"}));
  EXPECT_EQ(ordered(UiTraceOrder::kTotalCost, true),
            (std::vector<std::string>{"t3", "t5", "t2", "t1", "t4"}));
  EXPECT_EQ(ordered(UiTraceOrder::kTotalTokens, false),
            (std::vector<std::string>{"t2", "t1", "t4", "t5", "t3"}));
  EXPECT_EQ(UiTraceOrderFromName("totalCost"), UiTraceOrder::kTotalCost);
  EXPECT_FALSE(UiTraceOrderFromName("input").has_value());
}

TEST_F(UiQueriesChdbTest, SearchIsCaseInsensitiveAndContentOnlyWhenAsked) {
  InsertFixture();
  UiTraceListQuery q;
  q.filter.search = "CHAT";
  EXPECT_EQ(Ids(List(q)), (std::vector<std::string>{"t2", "t1"}));
  q.filter.search = "T3";  // the id
  EXPECT_EQ(Ids(List(q)), (std::vector<std::string>{"t3"}));
  q.filter.search = "hello world";
  EXPECT_TRUE(Ids(List(q)).empty());
  q.filter.search_content = true;
  EXPECT_EQ(Ids(List(q)), (std::vector<std::string>{"t1"}));
  q.filter.search = "NEEDLE";  // in output
  EXPECT_EQ(Ids(List(q)), (std::vector<std::string>{"t3"}));
  // User text is a parameter, never SQL.
  q.filter.search = TrickyText();
  EXPECT_TRUE(Ids(List(q)).empty());
  q.filter.search = "' OR 1=1 --";
  EXPECT_TRUE(Ids(List(q)).empty());
}

TEST_F(UiQueriesChdbTest, FiltersTimeRangeMetadataAndAggregates) {
  InsertFixture();
  UiTraceListQuery q;
  q.filter.from_ms = kT0 + kMinute;
  q.filter.to_ms = kT0 + 3 * kMinute;  // end excluded
  EXPECT_EQ(Ids(List(q)), (std::vector<std::string>{"t3", "t2"}));

  FilterCondition metadata;
  metadata.type = FilterType::kStringObject;
  metadata.column = "metadata";
  metadata.key = "team";
  metadata.op = "=";
  metadata.text = "red";
  EXPECT_EQ(Ids(ListWith({metadata})), (std::vector<std::string>{"t5", "t1"}));

  FilterCondition level;
  level.type = FilterType::kStringOptions;
  level.column = "level";
  level.op = "any of";
  level.values = {"ERROR", "WARNING"};
  EXPECT_EQ(Ids(ListWith({level})), (std::vector<std::string>{"t2", "t1"}));

  FilterCondition env;
  env.type = FilterType::kStringOptions;
  env.column = "environment";
  env.op = "none of";
  env.values = {"default"};
  EXPECT_EQ(Ids(ListWith({env})), (std::vector<std::string>{"t4", "t2"}));

  FilterCondition user;
  user.type = FilterType::kString;
  user.column = "userId";
  user.op = "=";
  user.text = "u1";
  FilterCondition cost;
  cost.type = FilterType::kNumber;
  cost.column = "totalCost";
  cost.op = ">";
  cost.number = 0.5;
  EXPECT_EQ(Ids(ListWith({user, cost})), (std::vector<std::string>{"t1"}));

  FilterCondition tags;
  tags.type = FilterType::kArrayOptions;
  tags.column = "tags";
  tags.op = "all of";
  tags.values = {"a", "b"};
  EXPECT_EQ(Ids(ListWith({tags})), (std::vector<std::string>{"t2"}));

  FilterCondition score;
  score.type = FilterType::kNumberObject;
  score.column = "scores_avg";
  score.key = "quality";
  score.op = ">=";
  score.number = 0.5;
  EXPECT_EQ(Ids(ListWith({score})), (std::vector<std::string>{"t1"}));

  FilterCondition unknown;
  unknown.column = "nope";
  auto bad = ListUiTraces(transport(), project_, UiTraceListQuery{{.conditions = {unknown}}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(UiQueriesChdbTest, PagingEdges) {
  InsertFixture();
  UiTraceListQuery q;
  q.paging = {1, 2};
  auto page = List(q);
  EXPECT_EQ(Ids(page), (std::vector<std::string>{"t5", "t4"}));
  EXPECT_EQ(page.total_items, 5u);
  q.paging = {3, 2};
  EXPECT_EQ(Ids(List(q)), (std::vector<std::string>{"t1"}));
  q.paging = {4, 2};
  page = List(q);
  EXPECT_TRUE(page.rows.empty());
  EXPECT_EQ(page.total_items, 5u);
  q.paging = {std::numeric_limits<uint64_t>::max(), 100};
  EXPECT_TRUE(List(q).rows.empty());
  q.order = UiTraceOrder::kLatency;
  q.paging = {2, 3};
  EXPECT_EQ(Ids(List(q)), (std::vector<std::string>{"t5", "t3"}));
}

TEST_F(UiQueriesChdbTest, NewestVersionOnlyAndOtherProjectsInvisible) {
  InsertFixture();
  TraceRecord renamed = Trace("t3", kT0 + 2 * kMinute, "renamed");
  renamed.event_ts_ms += 1000;
  Insert({renamed});
  TraceRecord foreign = Trace("x1", kT0, "chat");
  foreign.project_id = "other-" + RandomHex(4);
  Insert({foreign});
  UiTraceListQuery q;
  q.filter.search = "renamed";
  EXPECT_EQ(Ids(List(q)), (std::vector<std::string>{"t3"}));
  q.filter.search = "agent";
  EXPECT_EQ(Ids(List(q)), (std::vector<std::string>{"t4"}));
  EXPECT_EQ(List({}).total_items, 5u);
}

TEST_F(UiQueriesChdbTest, FilterOptions) {
  InsertFixture();
  auto options = UiTraceFilterOptionsOf(transport(), project_, std::nullopt, std::nullopt);
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->names, (std::vector<std::string>{"Chat", "agent", "chat", "search"}));
  EXPECT_EQ(options->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(options->environments, (std::vector<std::string>{"default", "production", "staging"}));
  EXPECT_EQ(options->users, (std::vector<std::string>{"u1", "u2", "u3"}));
  options = UiTraceFilterOptionsOf(transport(), project_, kT0 + 3 * kMinute, std::nullopt);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->names, (std::vector<std::string>{"agent", "search"}));
}

TEST_F(UiQueriesChdbTest, TraceDetailHasLightObservationsAndOneObservationInFull) {
  InsertFixture();
  auto detail = GetUiTrace(transport(), project_, "t1");
  ASSERT_TRUE(detail.ok()) << detail.status().message();
  ASSERT_TRUE(detail->has_value());
  EXPECT_EQ((*detail)->trace.input, "Hello World");
  EXPECT_EQ((*detail)->trace.metadata.at("team"), "red");
  ASSERT_EQ((*detail)->observations.size(), 2u);
  const ObservationRecord& o = (*detail)->observations[0];
  EXPECT_EQ(o.id, "o1a");
  EXPECT_EQ(o.provided_model_name, "gpt-4o");
  EXPECT_EQ(o.usage_details.at("total"), 15u);
  EXPECT_FALSE(o.input.has_value());
  EXPECT_TRUE(o.metadata.empty());
  ASSERT_EQ((*detail)->scores.size(), 2u);

  auto full = GetUiObservation(transport(), project_, "t1", "o1a");
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(full->has_value());
  EXPECT_EQ((*full)->input, "observation input o1a");
  EXPECT_EQ((*full)->metadata.at("k"), "v");
  ObservationRecord every_column = testing::FullObservation(project_, "o-full", "t1");
  Insert({every_column});
  auto shown = GetUiObservation(transport(), project_, "t1", "o-full");
  ASSERT_TRUE(shown.ok() && shown->has_value());
  EXPECT_EQ(**shown, AsPublicObservationRead(every_column)) << "read with the public view's columns";
  auto wrong_trace = GetUiObservation(transport(), project_, "t2", "o1a");
  ASSERT_TRUE(wrong_trace.ok());
  EXPECT_FALSE(wrong_trace->has_value());
  auto missing = GetUiTrace(transport(), project_, "nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto foreign = GetUiTrace(transport(), "other-project", "t1");
  ASSERT_TRUE(foreign.ok());
  EXPECT_FALSE(foreign->has_value());
}

TEST_F(UiQueriesChdbTest, TraceWithTenThousandObservationsReturnsThemAll) {
  Insert({Trace("big", kT0, "big")});
  std::vector<ObservationRecord> rows;
  for (int i = 0; i < 10'000; ++i) {
    ObservationRecord o = Obs(fmt::format("o{:05}", i), "big", kT0 + i, 10, "DEFAULT", 0.001, 1, 1);
    o.input = std::string(200, 'x');
    rows.push_back(std::move(o));
  }
  Insert(rows);
  auto detail = GetUiTrace(transport(), project_, "big");
  ASSERT_TRUE(detail.ok()) << detail.status().message();
  ASSERT_TRUE(detail->has_value());
  ASSERT_EQ((*detail)->observations.size(), 10'000u);
  EXPECT_EQ((*detail)->observations.front().id, "o00000");
  EXPECT_EQ((*detail)->observations.back().id, "o09999");
  const auto page = List({});
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].aggregates.observation_count, 10'000u);
  EXPECT_NEAR(page.rows[0].aggregates.total_cost, 10.0, 1e-6);
}

TEST_F(UiQueriesChdbTest, SessionsAndUsers) {
  InsertFixture();
  auto sessions = ListUiSessions(transport(), project_, {}, {});
  ASSERT_TRUE(sessions.ok()) << sessions.status().message();
  EXPECT_EQ(sessions->total_items, 2u);
  ASSERT_EQ(sessions->rows.size(), 2u);
  const UiSessionRow& s2 = sessions->rows[0];  // first trace at kT0 + 2 min
  EXPECT_EQ(s2.id, "s2");
  EXPECT_EQ(s2.created_at_ms, kT0 + 2 * kMinute);
  EXPECT_EQ(s2.last_trace_at_ms, kT0 + 4 * kMinute);
  EXPECT_EQ(s2.trace_count, 2u);
  EXPECT_EQ(s2.user_ids, (std::vector<std::string>{"u1", "u3"}));
  const UiSessionRow& s1 = sessions->rows[1];
  EXPECT_EQ(s1.id, "s1");
  EXPECT_NEAR(s1.total_cost, 0.85, 1e-9);
  EXPECT_EQ(s1.total_tokens, 217u);
  UiListFilter search;
  search.search = "S1";
  sessions = ListUiSessions(transport(), project_, search, {});
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->rows.size(), 1u);
  sessions = ListUiSessions(transport(), project_, {}, {2, 1});
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->rows.size(), 1u);
  EXPECT_EQ(sessions->rows[0].id, "s1");

  auto session = GetUiSession(transport(), project_, "s1");
  ASSERT_TRUE(session.ok());
  ASSERT_EQ(session->size(), 2u);
  EXPECT_EQ((*session)[0].trace.id, "t1");
  EXPECT_EQ((*session)[0].trace.input, "Hello World");
  EXPECT_DOUBLE_EQ((*session)[0].total_cost, 0.75);
  EXPECT_DOUBLE_EQ((*session)[1].latency_seconds, 5.0);
  auto none = GetUiSession(transport(), project_, "nope");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  auto users = ListUiUsers(transport(), project_, {}, {});
  ASSERT_TRUE(users.ok()) << users.status().message();
  EXPECT_EQ(users->total_items, 3u);
  ASSERT_EQ(users->rows.size(), 3u);
  EXPECT_EQ(users->rows[0].user_id, "u3");
  const UiUserRow& u1 = users->rows[1];
  EXPECT_EQ(u1.user_id, "u1");
  EXPECT_EQ(u1.trace_count, 2u);
  EXPECT_EQ(u1.observation_count, 2u);
  EXPECT_EQ(u1.total_tokens, 17u);
  EXPECT_DOUBLE_EQ(u1.total_cost, 0.75);
  EXPECT_EQ(u1.first_trace_ms, kT0);
  EXPECT_EQ(u1.last_trace_ms, kT0 + 2 * kMinute);
  UiListFilter window;
  window.from_ms = kT0 + kMinute;
  users = ListUiUsers(transport(), project_, window, {});
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(users->total_items, 3u);
  EXPECT_EQ(users->rows[2].trace_count, 1u);  // u1: only t3 in the window

  auto names = TraceNamesOf(transport(), project_, {"t1", "t4", "missing"});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::map<std::string, std::string>{{"t1", "chat"}, {"t4", "agent"}}));
}

std::vector<std::string> SessionIds(const StatusOr<UiSessionPage>& page) {
  EXPECT_TRUE(page.ok()) << page.status().message();
  std::vector<std::string> ids;
  if (page.ok()) {
    for (const auto& r : page->rows) ids.push_back(r.id);
  }
  return ids;
}

std::vector<std::string> UserIds(const StatusOr<UiUserPage>& page) {
  EXPECT_TRUE(page.ok()) << page.status().message();
  std::vector<std::string> ids;
  if (page.ok()) {
    for (const auto& r : page->rows) ids.push_back(r.user_id);
  }
  return ids;
}

// Sessions and users ordered by every column the pages sort by, both directions, with the
// time window and search applied before the order and the page cut after it.
TEST_F(UiQueriesChdbTest, SessionAndUserOrderings) {
  InsertFixture();
  // A third session, s3: one trace at kT0 + 5 min (user u2), no observations; s1 then has the
  // oldest first trace, s3 the newest, s2 the most recent activity but one.
  TraceRecord t6 = Trace("t6", kT0 + 5 * kMinute, "late");
  t6.user_id = "u2";
  t6.session_id = "s3";
  Insert({t6});
  using S = UiSessionOrder;
  auto sessions = [&](S column, bool ascending, UiListFilter filter = {}, UiPaging paging = {}) {
    return SessionIds(ListUiSessions(transport(), project_, filter, paging, {column, ascending}));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(sessions(S::kCreatedAt, false), (V{"s3", "s2", "s1"}));
  EXPECT_EQ(sessions(S::kCreatedAt, true), (V{"s1", "s2", "s3"}));
  EXPECT_EQ(sessions(S::kLastTraceAt, false), (V{"s3", "s2", "s1"}));
  EXPECT_EQ(sessions(S::kLastTraceAt, true), (V{"s1", "s2", "s3"}));
  // Two traces each in s1 and s2: ties by id ascending in both directions.
  EXPECT_EQ(sessions(S::kTraceCount, false), (V{"s1", "s2", "s3"}));
  EXPECT_EQ(sessions(S::kTraceCount, true), (V{"s3", "s1", "s2"}));
  // Cost: s1 0.85, s2 0 (o5 costs nothing), s3 none at all; tokens: s1 217, s2 0, s3 0.
  EXPECT_EQ(sessions(S::kTotalCost, false), (V{"s1", "s2", "s3"}));
  EXPECT_EQ(sessions(S::kTotalCost, true), (V{"s2", "s3", "s1"}));
  EXPECT_EQ(sessions(S::kTotalTokens, false), (V{"s1", "s2", "s3"}));
  EXPECT_EQ(sessions(S::kTotalTokens, true), (V{"s2", "s3", "s1"}));
  EXPECT_EQ(sessions(S::kId, false), (V{"s3", "s2", "s1"}));
  EXPECT_EQ(sessions(S::kId, true), (V{"s1", "s2", "s3"}));
  // The page is cut after ordering by a total, and the rows keep their own totals.
  auto second = ListUiSessions(transport(), project_, {}, {2, 1}, {S::kTotalCost, false});
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->total_items, 3u);
  ASSERT_EQ(second->rows.size(), 1u);
  EXPECT_EQ(second->rows[0].id, "s2");
  EXPECT_EQ(second->rows[0].trace_count, 2u);
  auto first = ListUiSessions(transport(), project_, {}, {1, 1}, {S::kTotalCost, false});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->rows.size(), 1u);
  EXPECT_NEAR(first->rows[0].total_cost, 0.85, 1e-9);
  EXPECT_EQ(first->rows[0].total_tokens, 217u);
  // The window applies to the totals too: from kT0 + 1 min, s1 keeps only t2 (0.1, 200 tokens).
  UiListFilter window;
  window.from_ms = kT0 + kMinute;
  auto windowed = ListUiSessions(transport(), project_, window, {}, {S::kTotalTokens, false});
  ASSERT_TRUE(windowed.ok());
  ASSERT_EQ(windowed->rows.size(), 3u);
  EXPECT_EQ(windowed->rows[0].id, "s1");
  EXPECT_EQ(windowed->rows[0].total_tokens, 200u);
  EXPECT_EQ(windowed->rows[0].trace_count, 1u);
  window.to_ms = kT0 + 3 * kMinute;  // t2 and t3 only
  EXPECT_EQ(sessions(S::kCreatedAt, false, window), (V{"s2", "s1"}));
  UiListFilter search;
  search.search = "S";
  EXPECT_EQ(sessions(S::kTotalCost, true, search), (V{"s2", "s3", "s1"}));
  search.search = "3";
  EXPECT_EQ(sessions(S::kTotalCost, true, search), (V{"s3"}));
  // Search text is a parameter, never SQL.
  search.search = TrickyText();
  EXPECT_EQ(sessions(S::kTotalCost, false, search), V{});

  using U = UiUserOrder;
  auto users = [&](U column, bool ascending, UiListFilter filter = {}) {
    return UserIds(ListUiUsers(transport(), project_, filter, {}, {column, ascending}));
  };
  // u1: t1 (kT0), t3 (+2 min); 2 observations, 17 tokens, 0.75. u2: t2 (+1), t6 (+5); 1, 200,
  // 0.1. u3: t5 (+4); 1, 0, 0.
  EXPECT_EQ(users(U::kLastTrace, false), (V{"u2", "u3", "u1"}));
  EXPECT_EQ(users(U::kLastTrace, true), (V{"u1", "u3", "u2"}));
  EXPECT_EQ(users(U::kFirstTrace, false), (V{"u3", "u2", "u1"}));
  EXPECT_EQ(users(U::kFirstTrace, true), (V{"u1", "u2", "u3"}));
  EXPECT_EQ(users(U::kTraceCount, false), (V{"u1", "u2", "u3"}));
  EXPECT_EQ(users(U::kTraceCount, true), (V{"u3", "u1", "u2"}));
  EXPECT_EQ(users(U::kObservationCount, false), (V{"u1", "u2", "u3"}));
  EXPECT_EQ(users(U::kObservationCount, true), (V{"u2", "u3", "u1"}));
  EXPECT_EQ(users(U::kTotalTokens, false), (V{"u2", "u1", "u3"}));
  EXPECT_EQ(users(U::kTotalTokens, true), (V{"u3", "u1", "u2"}));
  EXPECT_EQ(users(U::kTotalCost, false), (V{"u1", "u2", "u3"}));
  EXPECT_EQ(users(U::kTotalCost, true), (V{"u3", "u2", "u1"}));
  EXPECT_EQ(users(U::kUserId, false), (V{"u3", "u2", "u1"}));
  EXPECT_EQ(users(U::kUserId, true), (V{"u1", "u2", "u3"}));
  UiListFilter u_search;
  u_search.search = "U2";
  EXPECT_EQ(users(U::kTotalCost, false, u_search), (V{"u2"}));
  UiListFilter u_window;
  u_window.to_ms = kT0 + 2 * kMinute;  // t1, t2: u1 0.75, u2 0.1
  EXPECT_EQ(users(U::kTotalCost, true, u_window), (V{"u2", "u1"}));

  EXPECT_EQ(UiSessionOrderFromName("totalCost"), S::kTotalCost);
  EXPECT_EQ(UiSessionOrderFromName("userId"), std::nullopt);
  EXPECT_EQ(UiUserOrderFromName("observationCount"), U::kObservationCount);
  EXPECT_EQ(UiUserOrderFromName("createdAt"), std::nullopt);
}

// The dashboard's totals against the metrics query API's own answer.
uint64_t MetricsCount(ClickHouseTransport& transport, const std::string& project, const std::string& view,
                      int64_t from, int64_t to) {
  MetricsQuery q;
  q.view = view;
  q.metrics = {{"count", "count"}};
  q.from_ms = from;
  q.to_ms = to;
  auto out = RunMetricsQuery(transport, q, project);
  EXPECT_TRUE(out.ok());
  simdjson::dom::parser parser;
  std::string_view count;
  if (parser.parse(*out).at(0)["count_count"].get_string().get(count) != simdjson::SUCCESS) return 0;
  return std::stoull(std::string(count));
}

TEST_F(UiQueriesChdbTest, DashboardHourAndDayBucketsMatchMetricsApi) {
  InsertFixture();
  Insert({Trace("late", kT0 + 3 * kHour, "late")});
  const int64_t from = kT0 - kHour;
  const int64_t to = kT0 + 5 * kHour;
  auto d = QueryUiDashboard(transport(), project_, from, to);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->granularity, "hour");
  EXPECT_EQ(d->total_traces, 6u);
  EXPECT_EQ(d->total_traces, MetricsCount(transport(), project_, "traces", from, to));
  EXPECT_EQ(d->total_observations, 5u);
  EXPECT_EQ(d->total_observations, MetricsCount(transport(), project_, "observations", from, to));
  EXPECT_NEAR(d->total_cost, 2.85, 1e-9);
  // Hour buckets from 05:00 to 11:00, zeros included.
  ASSERT_EQ(d->traces_over_time.size(), 7u);
  EXPECT_EQ(d->traces_over_time[0].time, "2024-06-10T05:00:00.000Z");
  EXPECT_EQ(d->traces_over_time[1].count, 5u);
  EXPECT_EQ(d->traces_over_time[2].count, 0u);
  EXPECT_EQ(d->traces_over_time[4].count, 1u);
  uint64_t observations = 0;
  for (const auto& b : d->observations_over_time) observations += b.count;
  EXPECT_EQ(observations, 5u);
  // Both series have every bucket, in order.
  ASSERT_EQ(d->observations_over_time.size(), d->traces_over_time.size());
  for (size_t i = 0; i < d->traces_over_time.size(); ++i) {
    EXPECT_EQ(d->observations_over_time[i].time, d->traces_over_time[i].time);
  }
  EXPECT_EQ(d->observations_over_time[2].count, 0u);
  double gpt = 0;
  for (const auto& c : d->cost_by_model) {
    if (c.model == "gpt-4o") gpt += c.cost;
  }
  EXPECT_NEAR(gpt, 0.75, 1e-9);
  ASSERT_EQ(d->latency_by_name.size(), 1u);
  EXPECT_EQ(d->latency_by_name[0].name, "gen");
  EXPECT_EQ(d->latency_by_name[0].count, 5u);
  EXPECT_DOUBLE_EQ(d->latency_by_name[0].p50, 1.0);
  ASSERT_EQ(d->scores.size(), 2u);
  EXPECT_EQ(d->scores[0].name, "label");
  EXPECT_FALSE(d->scores[0].avg.has_value());
  EXPECT_EQ(d->scores[1].name, "quality");
  EXPECT_NEAR(*d->scores[1].avg, 0.6, 1e-9);
  EXPECT_EQ(d->scores[1].count, 2u);

  const int64_t week_from = kT0 - 3 * 24 * kHour;
  auto week = QueryUiDashboard(transport(), project_, week_from, kT0 + 24 * kHour);
  ASSERT_TRUE(week.ok());
  EXPECT_EQ(week->granularity, "day");
  ASSERT_EQ(week->traces_over_time.size(), 5u);
  EXPECT_EQ(week->traces_over_time[3].time, "2024-06-10T00:00:00.000Z");
  EXPECT_EQ(week->traces_over_time[3].count, 6u);

  EXPECT_EQ(QueryUiDashboard(transport(), project_, to, from).status().code(), StatusCode::kInvalidArgument);
}

// Records every statement, then runs it on the real store (from several threads: the list reads
// run side by side).
class RecordingTransport : public ClickHouseTransport {
 public:
  explicit RecordingTransport(ClickHouseTransport& inner) : inner_(inner) {}
  StatusOr<std::string> Query(std::string_view sql, const std::vector<QueryParam>& params,
                              std::string_view format) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queries.push_back({std::string(sql), params});
    }
    return inner_.Query(sql, params, format);
  }
  Status Insert(std::string_view table, std::string_view format, std::string_view rows,
                std::string_view dedup_token) override {
    return inner_.Insert(table, format, rows, dedup_token);
  }
  Status Ping() override { return inner_.Ping(); }
  std::vector<std::pair<std::string, std::vector<QueryParam>>> queries;  //!< read once the calls returned

 private:
  ClickHouseTransport& inner_;
  std::mutex mutex_;
};

// Tracing migrations 6 to 8 on a real store: the slim projection replaces the wide one, the three
// tables merge vertically (column by column), which holds their merges' memory down, flush every
// inserted part before the INSERT returns, and merge at a base of 10.
TEST_F(UiQueriesChdbTest, TablesMergeVerticallyFlushInsertsAndKeepOnlyTheSlimProjection) {
  for (const char* table : {"traces", "observations", "scores"}) {
    auto ddl = transport().Query(fmt::format("SHOW CREATE TABLE {}", table), {}, "TabSeparatedRaw");
    ASSERT_TRUE(ddl.ok()) << ddl.status().message();
    EXPECT_NE(ddl->find("vertical_merge_algorithm_min_rows_to_activate = 1"), std::string::npos) << *ddl;
    EXPECT_NE(ddl->find("vertical_merge_algorithm_min_columns_to_activate = 1"), std::string::npos) << *ddl;
    EXPECT_NE(ddl->find("fsync_after_insert = 1"), std::string::npos) << *ddl;
    EXPECT_NE(ddl->find("fsync_part_directory = 1"), std::string::npos) << *ddl;
    EXPECT_NE(ddl->find("merge_selector_base = 10"), std::string::npos) << *ddl;
    EXPECT_EQ(ddl->find("observations_by_trace"), std::string::npos) << *ddl;
    EXPECT_EQ(ddl->find("PROJECTION observations_trace_stats") != std::string::npos,
              std::string_view(table) == "observations")
        << *ddl;
  }
}

// The traces end a granule at 1 MiB of row data (tracing migration 1), so a list page's read of a
// trace by id decompresses about a thousand rows of ~1 KB, not 8192. 2,000 traces of ~2 KB written
// in one INSERT make one part of ~4 MiB: one granule at ClickHouse's default of 10 MiB, four or
// more here.
TEST_F(UiQueriesChdbTest, TracesEndGranulesAtOneMebibyte) {
  auto ddl = transport().Query("SHOW CREATE TABLE traces", {}, "TabSeparatedRaw");
  ASSERT_TRUE(ddl.ok()) << ddl.status().message();
  EXPECT_NE(ddl->find("index_granularity_bytes = 1048576,"), std::string::npos) << *ddl;
  // A month no other test writes to, so that its partition holds only this part.
  constexpr int64_t kMarch2031 = 1'930'867'200'000;  // 2031-03-10T00:00:00Z
  std::vector<TraceRecord> traces;
  for (int t = 0; t < 2000; ++t) {
    TraceRecord trace = Trace(fmt::format("granule-{:04}", t), kMarch2031 + t * 1000, "chat");
    trace.input = std::string(1000, 'i') + std::to_string(t);
    trace.output = std::string(1000, 'o') + std::to_string(t);
    traces.push_back(std::move(trace));
  }
  Insert(traces);
  auto parts = transport().Query(
      "SELECT sum(rows) AS rows, sum(marks) AS marks FROM system.parts WHERE database = currentDatabase() "
      "AND table = 'traces' AND active AND partition = '203103'",
      {}, "TabSeparatedRaw");
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  int64_t rows = 0;
  int64_t marks = 0;
  ASSERT_EQ(std::sscanf(parts->c_str(), "%" SCNd64 "\t%" SCNd64, &rows, &marks), 2) << *parts;
  EXPECT_EQ(rows, 2000);
  EXPECT_GE(marks, 5) << "granules (plus the final mark) of ~4 MiB of traces";  // 2 at 10 MiB per granule
}

// The per-trace aggregates of observations (a list page's, the public list's stats) must be able
// to go through the projection ordered by trace (tracing migration 6): the table is sorted by
// trace only within each day, so over a list's weeks the projection reads less, and a column
// added to the aggregates that the projection lacks would silently rule it out. A single trace's
// tree reads the table itself (its light columns are more than the projection keeps), from the
// granules holding that trace only.
TEST_F(UiQueriesChdbTest, ObservationAggregatesByTraceCanUseTheTraceOrderedProjection) {
  // Several granules: 3,000 traces of 8 observations each, over one day.
  std::vector<TraceRecord> traces;
  std::vector<ObservationRecord> observations;
  for (int t = 0; t < 3000; ++t) {
    const std::string trace_id = fmt::format("trace-{:04}", t);
    traces.push_back(Trace(trace_id, kT0 + t * 1000, "chat"));
    for (int o = 0; o < 8; ++o) {
      observations.push_back(Obs(fmt::format("{}-{:08x}", RandomHex(4), t * 8 + o), trace_id, kT0 + t * 1000 + o, 10,
                                 "DEFAULT", 0.001, 1, 1));
    }
  }
  Insert(traces);
  Insert(observations);

  RecordingTransport recorder(transport());
  ASSERT_TRUE(ListUiTraces(recorder, project_, {}).ok());
  ASSERT_TRUE(ObservationStatsOfTraces(recorder, project_, {"trace-0001", "trace-2999"}, kT0).ok());
  const size_t aggregate_queries = recorder.queries.size();
  ASSERT_TRUE(GetUiTrace(recorder, project_, "trace-0042").ok());
  int checked = 0;
  for (size_t i = 0; i < recorder.queries.size(); ++i) {
    const auto& [sql, params] = recorder.queries[i];
    if (sql.find("FROM observations WHERE") == std::string::npos || sql.find("trace_id") == std::string::npos) {
      continue;
    }
    if (i < aggregate_queries) {
      ++checked;
      // Fails unless the query can read the projection (ClickHouse picks what reads least).
      const std::string forced =
          sql + (sql.find(" SETTINGS ") == std::string::npos ? " SETTINGS " : ", ") +
          "preferred_optimize_projection_name = 'observations_trace_stats', force_optimize_projection = 1";
      auto read = transport().Query(forced, params, "TabSeparatedRaw");
      EXPECT_TRUE(read.ok()) << forced << "\n" << read.status().message();
    } else {
      // The tree reads only the granules holding the trace: the first of the plan's counts is
      // what the chosen read takes, "Granules: read/all" lines follow per index.
      auto plan = transport().Query("EXPLAIN indexes = 1 " + sql, params, "TabSeparatedRaw");
      ASSERT_TRUE(plan.ok()) << plan.status().message();
      std::smatch chosen, all;
      ASSERT_TRUE(std::regex_search(*plan, chosen, std::regex(R"(Parts: \d+ \| Granules: (\d+))"))) << *plan;
      ASSERT_TRUE(std::regex_search(*plan, all, std::regex(R"(Granules: \d+/(\d+))"))) << *plan;
      EXPECT_LT(std::stoi(chosen[1]), std::stoi(all[1])) << sql << "\n" << *plan;
    }
  }
  EXPECT_EQ(checked, 2);
}

}  // namespace
}  // namespace langfuse::traces
