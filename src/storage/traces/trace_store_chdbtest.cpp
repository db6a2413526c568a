// TraceStore and the chDB transport against a real (in-process) ClickHouse engine: the shared
// conformance suite (trace_store_conformance.cpp) plus what only chDB has.
//
// chDB allows one engine per process on one data path, so the whole binary shares one transport,
// opened by a gtest Environment on a fresh folder and shut down after the last test. ctest runs
// every case in its own process, so each case must also pass alone: cases use their own project
// ids and never depend on another case's rows.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "storage/traces/chdb_test_environment.h"
#include "storage/traces/migrations.h"
#include "storage/traces/record_json.h"
#include "storage/traces/test_records.h"
#include "storage/traces/trace_store.h"
#include "storage/traces/trace_store_conformance.h"

namespace langfuse::traces {
namespace {

using testing::MinimalObservation;
using testing::MinimalScore;
using testing::MinimalTrace;
using testing::TraceStoreConformanceName;
using testing::TraceStoreConformanceParam;
using testing::TraceStoreConformanceTest;

auto* const g_env = testing::RegisterChdbTestEnvironment("traces_chdbtest");

INSTANTIATE_TEST_SUITE_P(Chdb, TraceStoreConformanceTest,
                         ::testing::Values(TraceStoreConformanceParam{
                             "chdb", [] { return g_env->ready() ? g_env->store() : nullptr; },
                             [] { return g_env->first_applied(); }}),
                         TraceStoreConformanceName);

class TraceStoreChdbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_env->ready()) GTEST_FAIL() << "the chDB environment did not start";
    project_ = "proj-" + RandomHex(6);
  }

  TraceStore& store() { return *g_env->store(); }

  std::string project_;
};

std::string Token() { return "batch-" + RandomHex(8); }

TEST_F(TraceStoreChdbTest, MoreTransportsShareTheEngineButNotAnotherPath) {
  {
    auto second = OpenChdbTransport(g_env->dir().string(), 1);
    ASSERT_TRUE(second.ok()) << second.status().message();
    TraceStore other(std::move(second).value());
    ASSERT_TRUE(other.InsertTraces({MinimalTrace(project_, "via-second")}, Token()).ok());
    EXPECT_EQ(store().GetTraces(project_, {"via-second"})->size(), 1u);
  }  // closing the second transport leaves the first one working
  EXPECT_TRUE(store().Ping().ok());

  const auto elsewhere = std::filesystem::path(g_env->dir().string() + "-elsewhere");
  auto refused = OpenChdbTransport(elsewhere.string());
  std::filesystem::remove_all(elsewhere);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("only one chDB data path"), std::string::npos)
      << refused.status().message();
}

TEST_F(TraceStoreChdbTest, KnownIdHashIsClickHousesXxHash64OfProjectSeparatorAndId) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"", ""}, {"p", "id-1"}, {"project with spaces", "b\u00e4r\t'\"\\"}, {project_, std::string(300, 'x')}};
  for (const auto& [project, id] : pairs) {
    auto out = g_env->transport().Query("SELECT toString(xxHash64(concat({p:String}, '\\x1f', {id:String}))) AS h",
                                        {StringParam("p", project), StringParam("id", id)}, "TSV");
    ASSERT_TRUE(out.ok()) << out.status().message();
    EXPECT_EQ(*out, std::to_string(KnownIdHash(project, id)) + "\n") << project << " / " << id;
  }
}

// optimize_on_insert = 0 (a session setting): an INSERT keeps rows that share a sort key, and
// FINAL still shows one.
TEST_F(TraceStoreChdbTest, AnInsertKeepsRowsSharingAKeyAndFinalCollapsesThem) {
  TraceRecord older = MinimalTrace(project_, "same-key");
  older.name = "older";
  TraceRecord newer = older;
  newer.name = "newer";
  newer.event_ts_ms = older.event_ts_ms + 1;
  ASSERT_TRUE(store().InsertTraces({older, newer}, Token()).ok());
  const std::vector<QueryParam> params = {StringParam("p", project_)};
  auto raw = g_env->transport().Query("SELECT count() FROM traces WHERE project_id = {p:String}", params, "TSV");
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  EXPECT_EQ(*raw, "2\n");
  auto final_rows = g_env->transport().Query(
      "SELECT name FROM traces FINAL WHERE project_id = {p:String}", params, "TSV");
  ASSERT_TRUE(final_rows.ok()) << final_rows.status().message();
  EXPECT_EQ(*final_rows, "newer\n");
  EXPECT_EQ(store().GetTraces(project_, {"same-key"})->front().name, "newer");
}

// `langfuse migrate --sort-observations-by-trace` on a table made with Langfuse's sort key (as an
// earlier version of this server, or Langfuse, created it): the same rows, projection and
// settings afterwards, sorted by trace; a second run changes nothing.
TEST_F(TraceStoreChdbTest, SortObservationsByTraceRewritesALangfuseOrderedTable) {
  ClickHouseTransport& ch = g_env->transport();
  const std::string db = "legacy_" + RandomHex(6);
  auto created = ch.Query("CREATE DATABASE " + db);
  ASSERT_TRUE(created.ok()) << created.status().message();
  const auto in_db = [&](std::string sql, std::string_view from, std::string_view to) {
    const size_t at = sql.find(from);
    if (at != std::string::npos) sql.replace(at, from.size(), to);
    return sql;
  };
  std::string create = in_db(RenderMigrationStatement(ClickHouseMigrations()[1].statements[0], {}),
                             "CREATE TABLE IF NOT EXISTS observations",
                             "CREATE TABLE " + db + ".observations");
  // Langfuse's order.
  create = in_db(create, "PRIMARY KEY (project_id, toDate(start_time), `type`, trace_id)",
                 "PRIMARY KEY (project_id, `type`, toDate(start_time))");
  create = in_db(create, "ORDER BY (project_id, toDate(start_time), `type`, trace_id, id)",
                 "ORDER BY (project_id, `type`, toDate(start_time), id)");
  ASSERT_TRUE(ch.Query(create).ok()) << create;
  // The later migrations' changes to the table (projection, settings).
  for (const ClickHouseMigration& m : ClickHouseMigrations()) {
    for (const MigrationStatement& statement : m.statements) {
      const std::string sql = RenderMigrationStatement(statement, {});
      if (m.version < 4 || sql.rfind("ALTER TABLE observations", 0) != 0) continue;
      const std::string alter = in_db(sql, "ALTER TABLE observations", "ALTER TABLE " + db + ".observations");
      ASSERT_TRUE(ch.Query(alter).ok()) << alter;
    }
  }
  const auto sort_key = [&] {
    auto out = ch.Query(
        "SELECT sorting_key FROM system.tables WHERE database = {db:String} AND name = 'observations'",
        {StringParam("db", db)}, "TSVRaw");
    return out.ok() ? *out : out.status().message();
  };
  ASSERT_EQ(sort_key(), "project_id, type, toDate(start_time), id\n");

  std::vector<ObservationRecord> rows;
  for (int i = 0; i < 300; ++i) {
    rows.push_back(
        MinimalObservation(project_, RandomHex(16), "trace-" + std::to_string(i % 7), 1'718'000'000'000 + i));
  }
  ObservationRecord older = rows.front();
  older.name = "an older version, replaced";
  older.event_ts_ms -= 1;
  // Two parts.
  ASSERT_TRUE(ch.Insert(db + ".observations", kRowBinaryFormat, ObservationsToRowBinary(rows), "").ok());
  ASSERT_TRUE(ch.Insert(db + ".observations", kRowBinaryFormat, ObservationsToRowBinary({older}), "").ok());
  // What every read sees: the newest version of each row (the rewrite merges the copy, which
  // drops replaced versions as background merges do).
  const auto dump = [&] {
    auto out = ch.Query("SELECT * FROM " + db + ".observations FINAL ORDER BY id", {}, "TSV");
    return out.ok() ? *out : out.status().message();
  };
  const std::string before = dump();
  ASSERT_EQ(std::count(before.begin(), before.end(), '\n'), 300);

  auto sorted = SortObservationsByTrace(ch, db);
  ASSERT_TRUE(sorted.ok()) << sorted.status().message();
  EXPECT_TRUE(*sorted);
  EXPECT_EQ(sort_key(), "project_id, toDate(start_time), type, trace_id, id\n");
  EXPECT_EQ(dump(), before) << "every row is copied as it was";
  auto stored = ch.Query("SELECT count() FROM " + db + ".observations", {}, "TSVRaw");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, "300\n") << "the copy is merged: the replaced version is gone (301 rows before)";
  auto ddl = ch.Query("SHOW CREATE TABLE " + db + ".observations", {}, "TSVRaw");
  ASSERT_TRUE(ddl.ok());
  EXPECT_NE(ddl->find("PROJECTION observations_trace_stats"), std::string::npos) << *ddl;
  EXPECT_NE(ddl->find("PRIMARY KEY (project_id, toDate(start_time), type, trace_id)"), std::string::npos)
      << *ddl;
  EXPECT_NE(ddl->find("fsync_after_insert = 1"), std::string::npos) << *ddl;
  auto tables = ch.Query("SELECT groupArray(name) FROM system.tables WHERE database = {db:String}",
                         {StringParam("db", db)}, "TSVRaw");
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, "['observations']\n") << "the old table is dropped";

  auto again = SortObservationsByTrace(ch, db);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_FALSE(*again);
  EXPECT_EQ(dump(), before);
  EXPECT_FALSE(SortObservationsByTrace(ch, "no such database").ok());
  EXPECT_FALSE(SortObservationsByTrace(ch, "db_" + RandomHex(4)).ok()) << "no table there";
  ASSERT_TRUE(ch.Query("DROP DATABASE " + db + " SYNC").ok());
}

// Counts the statements a store runs, over a second transport to the engine.
class CountingTransport final : public ClickHouseTransport {
 public:
  explicit CountingTransport(std::unique_ptr<ClickHouseTransport> inner) : inner_(std::move(inner)) {}
  std::atomic<int> queries{0};
  StatusOr<std::string> Query(std::string_view sql, const std::vector<QueryParam>& params,
                              std::string_view format) override {
    ++queries;
    return inner_->Query(sql, params, format);
  }
  Status Insert(std::string_view table, std::string_view format, std::string_view rows,
                std::string_view dedup_token) override {
    return inner_->Insert(table, format, rows, dedup_token);
  }
  Status Ping() override { return inner_->Ping(); }

 private:
  std::unique_ptr<ClickHouseTransport> inner_;
};

TEST_F(TraceStoreChdbTest, KnownIdsSkipTheStoreForNewIdsAndStillFindStoredOnes) {
  auto second = OpenChdbTransport(g_env->dir().string(), 2);
  ASSERT_TRUE(second.ok()) << second.status().message();
  auto counting = std::make_unique<CountingTransport>(std::move(second).value());
  CountingTransport& transport = *counting;
  TraceStore tracked(std::move(counting));

  // Rows stored before the ids are tracked, in two months' partitions (read back by the load).
  const int64_t nov = 1'700'000'000'000;  // 2023-11
  const int64_t dec = 1'702'000'000'000;  // 2023-12
  ASSERT_TRUE(tracked.InsertTraces({MinimalTrace(project_, "t-before")}, Token()).ok());
  ASSERT_TRUE(tracked
                  .InsertObservations({MinimalObservation(project_, "o-nov", "t-before", nov),
                                       MinimalObservation(project_, "o-dec", "t-before", dec)},
                                      Token())
                  .ok());
  ASSERT_TRUE(tracked.InsertScores({MinimalScore(project_, "s-before", nov)}, Token()).ok());

  tracked.TrackKnownIds();
  for (int i = 0; i < 500 && !tracked.known_ids()->Ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(tracked.known_ids()->Ready());
  // ... and after: recorded by the insert.
  ASSERT_TRUE(tracked.InsertObservations({MinimalObservation(project_, "o-after", "t-before", dec)}, Token()).ok());

  std::vector<std::string> fresh;
  for (int i = 0; i < 40; ++i) fresh.push_back("new-" + std::to_string(i));
  const int before = transport.queries.load();
  EXPECT_TRUE(tracked.GetObservations(project_, fresh)->empty());
  EXPECT_TRUE(tracked.GetTraces(project_, fresh)->empty());
  EXPECT_TRUE(tracked.GetScores(project_, fresh)->empty());
  EXPECT_TRUE(tracked.GetObservations("another-" + project_, {"o-nov"})->empty());
  EXPECT_EQ(transport.queries.load(), before) << "ids certainly not stored were looked up in the store";

  std::vector<std::string> mixed = fresh;
  mixed.insert(mixed.end(), {"o-nov", "o-dec", "o-after"});
  auto observations = tracked.GetObservations(project_, mixed);
  ASSERT_TRUE(observations.ok()) << observations.status().message();
  EXPECT_EQ(observations->size(), 3u);
  fresh.push_back("t-before");
  EXPECT_EQ(tracked.GetTraces(project_, fresh)->size(), 1u);
  fresh.back() = "s-before";
  EXPECT_EQ(tracked.GetScores(project_, fresh)->size(), 1u);
  EXPECT_GT(transport.queries.load(), before);
}

}  // namespace
}  // namespace langfuse::traces
