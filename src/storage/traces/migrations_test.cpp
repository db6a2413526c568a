#include "storage/traces/migrations.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>

namespace langfuse::traces {
namespace {

// Records DDL and keeps langfuse_ch_migrations rows in memory; answers the state query the way
// ClickHouse would (newest record per version). Fails the statement containing `fail_on`.
class FakeTransport : public ClickHouseTransport {
 public:
  StatusOr<std::string> Query(std::string_view sql, const std::vector<QueryParam>&,
                              std::string_view) override {
    if (sql.starts_with("SELECT toUInt32(version)")) {
      std::map<uint64_t, std::pair<uint64_t, uint64_t>> newest;  // version -> (sequence, dirty)
      for (const auto& [version, dirty, sequence] : records) {
        auto& slot = newest[version];
        if (sequence >= slot.first) slot = {sequence, dirty};
      }
      std::string out;
      for (const auto& [version, v] : newest)
        out += fmt::format("{{\"v\":{},\"d\":{}}}\n", version, v.second);
      return out;
    }
    if (!fail_on.empty() && sql.find(fail_on) != std::string_view::npos) return Status::Internal(fail_with);
    statements.emplace_back(sql);
    return std::string();
  }

  Status Insert(std::string_view table, std::string_view format, std::string_view rows, std::string_view) override {
    EXPECT_EQ(table, kMigrationsTable);
    EXPECT_EQ(format, "JSONEachRow");
    simdjson::dom::parser parser;
    simdjson::dom::element row;
    EXPECT_EQ(parser.parse(simdjson::padded_string(rows)).get(row), simdjson::SUCCESS);
    records.push_back({uint64_t(row["version"]), uint64_t(row["dirty"]), uint64_t(row["sequence"])});
    return Status::Ok();
  }

  Status Ping() override { return Status::Ok(); }

  struct Row {
    uint64_t version, dirty, sequence;
  };
  std::vector<Row> records;
  std::vector<std::string> statements;
  std::string fail_on;
  std::string fail_with = "boom";
};

TEST(MigrationsTest, VersionsAscendAndAreUnique) {
  uint64_t last = 0;
  for (const ClickHouseMigration& m : ClickHouseMigrations()) {
    EXPECT_GT(m.version, last) << m.name;
    last = m.version;
    EXPECT_FALSE(m.statements.empty());
  }
}

TEST(MigrationsTest, RendersUnclusteredDdl) {
  const std::string sql = RenderMigrationStatement(ClickHouseMigrations()[0].statements[0], {});
  EXPECT_EQ(sql.find('@'), std::string::npos) << sql;
  EXPECT_NE(sql.find("CREATE TABLE IF NOT EXISTS traces\n"), std::string::npos) << sql;
  EXPECT_NE(sql.find("ENGINE = ReplacingMergeTree(event_ts, is_deleted)"), std::string::npos);
  EXPECT_NE(sql.find("SETTINGS index_granularity_bytes = 1048576, non_replicated_deduplication_window = 10000"),
            std::string::npos)
      << sql;
}

TEST(MigrationsTest, RendersClusteredDdl) {
  const SchemaTarget cluster{"default"};
  for (const ClickHouseMigration& m : ClickHouseMigrations()) {
    for (const MigrationStatement& s : m.statements) {
      const std::string sql = RenderMigrationStatement(s, cluster);
      EXPECT_EQ(sql.find('@'), std::string::npos) << sql;
      if (s.unclustered_only) continue;
      EXPECT_NE(sql.find(" ON CLUSTER `default`"), std::string::npos) << sql;
      if (sql.starts_with("CREATE TABLE IF NOT EXISTS traces") ||
          sql.starts_with("CREATE TABLE IF NOT EXISTS observations") ||
          sql.starts_with("CREATE TABLE IF NOT EXISTS scores")) {
        EXPECT_NE(sql.find("ENGINE = ReplicatedReplacingMergeTree(event_ts, is_deleted)"), std::string::npos);
        // Only the traces end their granules at 1 MiB.
        EXPECT_EQ(sql.find("SETTINGS index_granularity_bytes = 1048576") != std::string::npos,
                  sql.starts_with("CREATE TABLE IF NOT EXISTS traces"))
            << sql;
      }
      EXPECT_EQ(sql.find("non_replicated_deduplication_window"), std::string::npos);
    }
  }
}

TEST(MigrationsTest, AppliesOnceAndRecordsDirtyThenClean) {
  FakeTransport transport;
  int applied = -1;
  ASSERT_TRUE(ApplyClickHouseMigrations(transport, {}, &applied).ok());
  EXPECT_EQ(applied, static_cast<int>(ClickHouseMigrations().size()));
  ASSERT_EQ(transport.records.size(), 2 * ClickHouseMigrations().size());
  EXPECT_EQ(transport.records[0].dirty, 1u);
  EXPECT_EQ(transport.records[1].dirty, 0u);
  EXPECT_LT(transport.records[0].sequence, transport.records[1].sequence);
  EXPECT_NE(transport.statements[0].find("CREATE TABLE IF NOT EXISTS langfuse_ch_migrations"),
            std::string::npos);

  transport.statements.clear();
  ASSERT_TRUE(ApplyClickHouseMigrations(transport, {}, &applied).ok());
  EXPECT_EQ(applied, 0);
  EXPECT_EQ(transport.statements.size(), 1u);  // only the migrations table's CREATE IF NOT EXISTS
}

TEST(MigrationsTest, FailureLeavesDirtyAndRetryResumes) {
  FakeTransport transport;
  transport.fail_on = "CREATE TABLE IF NOT EXISTS observations";
  int applied = -1;
  const Status failed = ApplyClickHouseMigrations(transport, {}, &applied);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("migration 2 (observations) statement 1: boom"), std::string::npos)
      << failed.message();
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(transport.records.back().version, 2u);
  EXPECT_EQ(transport.records.back().dirty, 1u);

  transport.fail_on.clear();
  ASSERT_TRUE(ApplyClickHouseMigrations(transport, {}, &applied).ok());
  EXPECT_EQ(applied, static_cast<int>(ClickHouseMigrations().size()) - 1);
}

TEST(MigrationsTest, ClusterSkipsUnclusteredOnlyStatementsAndChecksName) {
  FakeTransport transport;
  int applied = 0;
  EXPECT_EQ(ApplyClickHouseMigrations(transport, {"bad name"}, &applied).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(ApplyClickHouseMigrations(transport, {"c1"}, &applied).ok());
  for (const std::string& sql : transport.statements) {
    EXPECT_EQ(sql.find("non_replicated_deduplication_window"), std::string::npos) << sql;
    EXPECT_EQ(sql.find("fsync_after_insert"), std::string::npos) << sql;  // the operator's choice there
    EXPECT_EQ(sql.find("merge_selector_base"), std::string::npos) << sql;
    EXPECT_NE(sql.find("ON CLUSTER `c1`"), std::string::npos) << sql;
  }
}

// Migration 8 only tunes merges: a server that does not know merge_selector_base (an older
// ClickHouse) still gets the schema, while any other failure of that statement stops the
// migration as usual.
TEST(MigrationsTest, AnUnknownTuningSettingIsSkippedAndOtherFailuresAreNot) {
  FakeTransport old_server;
  old_server.fail_on = "merge_selector_base";
  old_server.fail_with =
      "Code: 115. DB::Exception: Unknown setting 'merge_selector_base': for storage MergeTree. (UNKNOWN_SETTING)";
  int applied = 0;
  ASSERT_TRUE(ApplyClickHouseMigrations(old_server, {}, &applied).ok());
  EXPECT_EQ(applied, static_cast<int>(ClickHouseMigrations().size()));
  for (const std::string& sql : old_server.statements) EXPECT_EQ(sql.find("merge_selector_base"), std::string::npos);

  FakeTransport failing;
  failing.fail_on = "merge_selector_base";
  failing.fail_with = "Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)";
  const Status status = ApplyClickHouseMigrations(failing, {}, &applied);
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("migration 8"), std::string::npos) << status.message();

  // A schema statement with an unknown setting is not skipped.
  FakeTransport schema;
  schema.fail_on = "fsync_after_insert";
  schema.fail_with = old_server.fail_with;
  EXPECT_FALSE(ApplyClickHouseMigrations(schema, {}, &applied).ok());
}

// Without replicas, an acknowledged event must survive a crash of the machine: each tracing
// table flushes its inserted parts before the INSERT returns (tracing migration 7).
TEST(MigrationsTest, TablesWithoutReplicasFlushTheirInserts) {
  FakeTransport transport;
  ASSERT_TRUE(ApplyClickHouseMigrations(transport, {}, nullptr).ok());
  for (const char* table : {"traces", "observations", "scores"}) {
    const std::string expected =
        fmt::format("ALTER TABLE {} MODIFY SETTING fsync_after_insert = 1, fsync_part_directory = 1", table);
    EXPECT_NE(std::find(transport.statements.begin(), transport.statements.end(), expected),
              transport.statements.end())
        << expected;
  }
}

}  // namespace
}  // namespace langfuse::traces
