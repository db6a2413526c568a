#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/ids.h"
#include "storage/meta/meta_migrations.h"
#include "storage/meta/meta_store.h"
#include "storage/meta/meta_store_conformance.h"

namespace langfuse::meta {
namespace {

std::vector<std::string>& CreatedPaths() {
  static std::vector<std::string> paths;
  return paths;
}

// Deletes this process's database files once all its tests ran (each ctest entry is its own
// process, so concurrent tests never lose their files).
class TempDbCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const std::string& path : CreatedPaths()) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
  }
};
::testing::Environment* const kTempDbCleanup = ::testing::AddGlobalTestEnvironment(new TempDbCleanup);

// A fresh database path per call, under $LANGFUSE_TEST_TMP (set by ctest) or /tmp.
std::string FreshDbPath() {
  const char* root = std::getenv("LANGFUSE_TEST_TMP");
  std::filesystem::path dir = (root != nullptr && *root != '\0') ? root : "/tmp";
  dir /= "meta-store";
  std::filesystem::create_directories(dir);
  std::string path = (dir / ("meta-" + NewUuidV4() + ".db")).string();
  CreatedPaths().push_back(path);
  return path;
}

StatusOr<std::unique_ptr<MetaStore>> OpenFreshSqlite() { return OpenSqliteMetaStore(FreshDbPath()); }

INSTANTIATE_TEST_SUITE_P(Sqlite, MetaStoreConformanceTest,
                         ::testing::Values(MetaStoreConformanceParam{"sqlite", OpenFreshSqlite}),
                         MetaStoreConformanceName);

// Reads one text value through a separate raw connection, to see what is really in the file.
std::string RawQuery(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text != nullptr) out = reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

std::unique_ptr<MetaStore> OpenMigrated(const std::string& path) {
  auto store = OpenSqliteMetaStore(path);
  EXPECT_TRUE(store.ok()) << store.status().message();
  if (!store.ok()) return nullptr;
  int applied = 0;
  EXPECT_TRUE((*store)->Migrate(&applied).ok());
  return std::move(store).value();
}

TEST(SqliteMetaStore, UsesWalJournal) {
  const std::string path = FreshDbPath();
  auto store = OpenMigrated(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawQuery(path, "PRAGMA journal_mode"), "wal");
}

TEST(SqliteMetaStore, ReopenKeepsDataAndSecondMigrateAppliesNothing) {
  const std::string path = FreshDbPath();
  {
    auto store = OpenSqliteMetaStore(path);
    ASSERT_TRUE(store.ok());
    int applied = 0;
    ASSERT_TRUE((*store)->Migrate(&applied).ok());
    EXPECT_EQ(applied, static_cast<int>(SqliteMetaMigrations().size()));
    ASSERT_TRUE((*store)->Migrate(&applied).ok());
    EXPECT_EQ(applied, 0);
    ASSERT_TRUE((*store)->UpsertOrganization({"org-1", "Kept"}).ok());
  }
  auto store = OpenSqliteMetaStore(path);
  ASSERT_TRUE(store.ok());
  int applied = -1;
  ASSERT_TRUE((*store)->Migrate(&applied).ok());
  EXPECT_EQ(applied, 0);
  auto org = (*store)->GetOrganization("org-1");
  ASSERT_TRUE(org.ok() && org->has_value());
  EXPECT_EQ((*org)->name, "Kept");
}

TEST(SqliteMetaStore, RecordsAppliedMigrations) {
  const std::string path = FreshDbPath();
  auto store = OpenMigrated(path);
  ASSERT_NE(store, nullptr);
  const auto migrations = SqliteMetaMigrations();
  EXPECT_EQ(RawQuery(path, "SELECT COUNT(*) FROM langfuse_schema_migrations"),
            std::to_string(migrations.size()));
  EXPECT_EQ(RawQuery(path, "SELECT name FROM langfuse_schema_migrations WHERE version = 1"),
            "initial_schema");
  EXPECT_NE(RawQuery(path, "SELECT applied_at FROM langfuse_schema_migrations WHERE version = 1"), "");
}

TEST(SqliteMetaStore, MigrationListIsWellFormed) {
  int32_t expected = 1;
  std::set<std::string_view> names;
  for (const MetaMigration& m : SqliteMetaMigrations()) {
    EXPECT_EQ(m.version, expected++) << "versions start at 1 and have no gaps";
    EXPECT_FALSE(m.name.empty());
    EXPECT_TRUE(names.insert(m.name).second) << "duplicate migration name " << m.name;
    EXPECT_FALSE(m.sql.empty());
  }
}

TEST(SqliteMetaStore, LangfuseTableAndColumnNames) {
  const std::string path = FreshDbPath();
  auto store = OpenMigrated(path);
  ASSERT_NE(store, nullptr);
  // A Langfuse Postgres row must map column by column.
  EXPECT_EQ(RawQuery(path,
                     "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('api_keys') "
                     "ORDER BY cid)"),
            "id,created_at,note,public_key,hashed_secret_key,fast_hashed_secret_key,display_secret_key,"
            "last_used_at,expires_at,is_in_app_agent_key,project_id,organization_id,scope,created_by_user_id,"
            "created_by_api_key_id");
  EXPECT_EQ(RawQuery(path,
                     "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('projects') "
                     "ORDER BY cid)"),
            "id,org_id,name,retention_days,has_traces,metadata,deleted_at,created_at,updated_at");
  EXPECT_EQ(
      RawQuery(
          path,
          "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info('users') ORDER BY cid)"),
      "id,name,email,email_verified,password,image,admin,created_at,updated_at");
  EXPECT_EQ(RawQuery(path,
                     "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                     "('organizations', 'organization_memberships', 'project_memberships')"),
            "3");
}

TEST(SqliteMetaStore, RefusesSchemaNewerThanBinary) {
  const std::string path = FreshDbPath();
  {
    auto store = OpenMigrated(path);
    ASSERT_NE(store, nullptr);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO langfuse_schema_migrations VALUES (9999, 'from_the_future', 0)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = OpenSqliteMetaStore(path);
  ASSERT_TRUE(store.ok());
  int applied = -1;
  const Status status = (*store)->Migrate(&applied);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("9999"), std::string::npos) << status.message();
}

TEST(SqliteMetaStore, OpenInMissingFolderFails) {
  auto store = OpenSqliteMetaStore("/nonexistent-folder-for-langfuse-test/meta.db");
  EXPECT_FALSE(store.ok());
}

TEST(SqliteMetaStore, ValuesAreBoundNotSpliced) {
  auto store = OpenMigrated(FreshDbPath());
  ASSERT_NE(store, nullptr);
  const std::string hostile = "x'); DROP TABLE organizations; --";
  ASSERT_TRUE(store->UpsertOrganization({hostile, hostile}).ok());
  auto org = store->GetOrganization(hostile);
  ASSERT_TRUE(org.ok() && org->has_value());
  EXPECT_EQ((*org)->name, hostile);
  EXPECT_EQ(*store->CountOrganizations(), 1);
}

}  // namespace
}  // namespace langfuse::meta
