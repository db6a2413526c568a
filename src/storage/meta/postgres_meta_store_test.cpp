#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "storage/meta/detail/pg_conn.h"
#include "storage/meta/meta_migrations.h"
#include "storage/meta/meta_store.h"
#include "storage/meta/meta_store_conformance.h"

namespace langfuse::meta {
namespace {

using detail::ParsePostgresUrl;
using detail::PgStatusCode;
using detail::PgUrl;

// ---- test server plumbing -----------------------------------------------------------------------

const char* TestUrl() {
  const char* url = std::getenv("LANGFUSE_TEST_POSTGRES_URL");
  return (url != nullptr && *url != '\0') ? url : nullptr;
}

std::string SkipReason() {
  return TestUrl() != nullptr ? std::string()
                              : "LANGFUSE_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against "
                                "(scripts/test sets it; `scripts/services start` runs one)";
}

#define SKIP_WITHOUT_SERVER()                               \
  do {                                                      \
    if (TestUrl() == nullptr) GTEST_SKIP() << SkipReason(); \
  } while (0)

// `url` with more query parameters.
std::string WithParams(const std::string& url, const std::string& params) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + params;
}

std::vector<std::string>& CreatedSchemas() {
  static std::vector<std::string> schemas;
  return schemas;
}

// A schema name no other test (or process) uses; dropped when this process's tests are done.
std::string FreshSchema() {
  std::string schema = "t_" + RandomHex(8);
  CreatedSchemas().push_back(schema);
  return schema;
}

// A plain libpq connection to the test server, independent of the code under test, to look at
// what is really stored and to play the administrator.
class Admin {
 public:
  Admin() : conn_(PQconnectdb(TestUrl())) {
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);  // "drop cascades to ..."
  }
  ~Admin() { PQfinish(conn_); }
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  //! Every row's first column; a failed statement is a test failure.
  std::vector<std::string> Column(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                               nullptr, nullptr, 0);
    std::vector<std::string> out;
    const ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
    } else {
      for (int row = 0; row < PQntuples(r); ++row) out.push_back(PQgetvalue(r, row, 0));
    }
    PQclear(r);
    return out;
  }

  //! The first row's first column, "" when there is no row.
  std::string Value(const std::string& sql, const std::vector<std::string>& params = {}) {
    auto column = Column(sql, params);
    return column.empty() ? std::string() : column.front();
  }

 private:
  PGconn* conn_;
};

// Drops this process's schemas once all its tests ran (each ctest entry is its own process).
class SchemaCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    if (TestUrl() == nullptr || CreatedSchemas().empty()) return;
    Admin admin;
    for (const std::string& schema : CreatedSchemas()) {
      std::string quoted;
      for (char c : schema) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      admin.Column("DROP SCHEMA IF EXISTS \"" + quoted + "\" CASCADE");
    }
  }
};
::testing::Environment* const kSchemaCleanup = ::testing::AddGlobalTestEnvironment(new SchemaCleanup);

StatusOr<std::unique_ptr<MetaStore>> OpenFreshPostgres() {
  return OpenPostgresMetaStore(WithParams(TestUrl(), "schema=" + FreshSchema()));
}

INSTANTIATE_TEST_SUITE_P(Postgres, MetaStoreConformanceTest,
                         ::testing::Values(MetaStoreConformanceParam{"postgres", OpenFreshPostgres,
                                                                     SkipReason}),
                         MetaStoreConformanceName);

std::unique_ptr<MetaStore> OpenMigrated(const std::string& url) {
  auto store = OpenPostgresMetaStore(url);
  EXPECT_TRUE(store.ok()) << store.status().message();
  if (!store.ok()) return nullptr;
  int applied = 0;
  const Status migrated = (*store)->Migrate(&applied);
  EXPECT_TRUE(migrated.ok()) << migrated.message();
  return std::move(store).value();
}

// A port on loopback where nothing listens (bound, read, released).
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// ---- URL parsing (no server) --------------------------------------------------------------------

std::string ParamOf(const PgUrl& url, const std::string& key) {
  for (const auto& [k, v] : url.libpq_params) {
    if (k == key) return v;
  }
  return "<absent>";
}

TEST(PostgresUrl, AcceptsLangfuseForms) {
  auto url = ParsePostgresUrl("postgresql://lf:secret@db.internal:5433/langfuse?schema=langfuse_meta");
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_EQ(url->base, "postgresql://lf:secret@db.internal:5433/langfuse");
  EXPECT_EQ(url->schema, "langfuse_meta");
  EXPECT_TRUE(url->ignored_params.empty());
  EXPECT_EQ(url->pool_size, 4);
  EXPECT_EQ(url->pool_timeout, std::chrono::seconds(10));
  // The store's bounds on connecting and on a silent peer, unless the URL says otherwise.
  EXPECT_EQ(ParamOf(*url, "connect_timeout"), "10");
  EXPECT_EQ(ParamOf(*url, "application_name"), "langfuse");
  EXPECT_EQ(ParamOf(*url, "keepalives_idle"), "30");
  EXPECT_EQ(ParamOf(*url, "schema"), "<absent>");

  url = ParsePostgresUrl("postgres://postgres@localhost/postgres");
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_EQ(url->schema, "public");  // as Prisma without ?schema=
  EXPECT_EQ(url->base, "postgres://postgres@localhost/postgres");
}

TEST(PostgresUrl, PassesLibpqParametersAndStripsTheRest) {
  auto url = ParsePostgresUrl(
      "postgresql://h/db?sslmode=require&connection_limit=7&pool_timeout=3&pgbouncer=true&socket_timeout=5"
      "&application_name=web&connect_timeout=4&&sslmode=verify-full&pgbouncer=false");
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_EQ(url->pool_size, 7);
  EXPECT_EQ(url->pool_timeout, std::chrono::seconds(3));
  EXPECT_EQ(ParamOf(*url, "sslmode"), "verify-full");  // the last occurrence wins
  EXPECT_EQ(ParamOf(*url, "application_name"), "web");
  EXPECT_EQ(ParamOf(*url, "connect_timeout"), "4");
  EXPECT_EQ(ParamOf(*url, "connection_limit"), "<absent>");
  EXPECT_EQ(ParamOf(*url, "pool_timeout"), "<absent>");
  EXPECT_EQ(url->ignored_params, (std::vector<std::string>{"pgbouncer", "socket_timeout"}));
  int sslmodes = 0;
  for (const auto& [k, v] : url->libpq_params) sslmodes += k == "sslmode";
  EXPECT_EQ(sslmodes, 1);

  url = ParsePostgresUrl("postgresql://h/db?pool_timeout=0");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->pool_timeout.count(), 0);  // Prisma's "no limit"
}

TEST(PostgresUrl, DecodesPercentEncoding) {
  auto url = ParsePostgresUrl("postgresql://h/db?schema=my%20%22schema%22&application_name=a%26b%3Dc+d");
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_EQ(url->schema, "my \"schema\"");
  EXPECT_EQ(ParamOf(*url, "application_name"), "a&b=c+d");
}

TEST(PostgresUrl, RejectsOtherSchemes) {
  for (const char* bad : {"mysql://u@h/db", "postgresql:/h/db", "h:5432/db", "file:///tmp/meta.db"}) {
    auto url = ParsePostgresUrl(bad);
    EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(url.status().message().find("postgresql://"), std::string::npos) << url.status().message();
  }
  EXPECT_EQ(ParsePostgresUrl("").status().code(), StatusCode::kInvalidArgument);
  auto opened = OpenPostgresMetaStore("mysql://root@127.0.0.1/langfuse");
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(opened.status().message().find("mysql://"), std::string::npos) << opened.status().message();
}

TEST(PostgresUrl, RejectsBadValuesWithTheirName) {
  const std::pair<const char*, const char*> cases[] = {
      {"postgresql://h/db?connection_limit=0", "connection_limit"},
      {"postgresql://h/db?connection_limit=abc", "connection_limit"},
      {"postgresql://h/db?connection_limit=5000", "connection_limit"},
      {"postgresql://h/db?pool_timeout=-1", "pool_timeout"},
      {"postgresql://h/db?pool_timeout=1.5", "pool_timeout"},
      {"postgresql://h/db?schema=", "schema"},
      {"postgresql://h/db?schema=" /* 64 bytes, one more than Postgres keeps */
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "schema"},
      {"postgresql://h/db?schema=a%00b", "schema"},
      {"postgresql://h/db?sslmode", "sslmode"},
      {"postgresql://h/db?schema=%zz", "percent"},
  };
  for (const auto& [bad, mentions] : cases) {
    auto url = ParsePostgresUrl(bad);
    EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(url.status().message().find(mentions), std::string::npos)
        << bad << ": " << url.status().message();
  }
}

TEST(PostgresUrl, ErrorsAndRedactedFormHideThePassword) {
  auto url = ParsePostgresUrl("postgresql://lf:s3cret@[::1/db");  // unterminated IPv6 host
  EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(url.status().message().find("s3cret"), std::string::npos) << url.status().message();
  EXPECT_NE(url.status().message().find("lf:***@"), std::string::npos) << url.status().message();

  url = ParsePostgresUrl("postgresql://lf:s3cret@h:5432/db?password=other&sslmode=disable&sslpassword=x");
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_EQ(url->redacted, "postgresql://lf:***@h:5432/db?password=***&sslmode=disable&sslpassword=***");
  EXPECT_EQ(ParamOf(*url, "password"), "other");  // still handed to libpq
}

TEST(PostgresUrl, SqlstateMapping) {
  EXPECT_EQ(PgStatusCode("23505"), StatusCode::kConflict);         // unique_violation
  EXPECT_EQ(PgStatusCode("23503"), StatusCode::kInvalidArgument);  // foreign_key_violation
  EXPECT_EQ(PgStatusCode("23514"), StatusCode::kInvalidArgument);  // check_violation
  EXPECT_EQ(PgStatusCode("22P02"), StatusCode::kInvalidArgument);  // invalid enum / number text
  EXPECT_EQ(PgStatusCode("08006"), StatusCode::kUnavailable);      // connection_failure
  EXPECT_EQ(PgStatusCode("57P01"), StatusCode::kUnavailable);      // admin_shutdown
  EXPECT_EQ(PgStatusCode("57014"), StatusCode::kUnavailable);      // statement timeout
  EXPECT_EQ(PgStatusCode("53300"), StatusCode::kUnavailable);      // too_many_connections
  EXPECT_EQ(PgStatusCode("40P01"), StatusCode::kUnavailable);      // deadlock
  EXPECT_EQ(PgStatusCode("42P01"), StatusCode::kInternal);         // undefined_table
  EXPECT_EQ(PgStatusCode(""), StatusCode::kInternal);
}

TEST(PostgresMetaStore, UnreachableServerFailsClearlyAndQuickly) {
  const int port = ClosedPort();
  const auto start = std::chrono::steady_clock::now();
  auto store = OpenPostgresMetaStore("postgresql://lf:s3cret@127.0.0.1:" + std::to_string(port) +
                                     "/langfuse?connect_timeout=3");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  const std::string& message = store.status().message();
  EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(port)), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
}

TEST(PostgresMetaStore, MigrationListMatchesSqlite) {
  const auto pg = PostgresMetaMigrations();
  const auto sqlite = SqliteMetaMigrations();
  ASSERT_EQ(pg.size(), sqlite.size());
  for (size_t i = 0; i < pg.size(); ++i) {
    EXPECT_EQ(pg[i].version, static_cast<int32_t>(i + 1));
    EXPECT_EQ(pg[i].version, sqlite[i].version);
    EXPECT_EQ(pg[i].name, sqlite[i].name);
    EXPECT_FALSE(pg[i].sql.empty());
  }
}

// ---- against the server -------------------------------------------------------------------------

TEST(PostgresMetaStore, MissingDatabaseFailsClearly) {
  SKIP_WITHOUT_SERVER();
  auto store = OpenPostgresMetaStore(WithParams(TestUrl(), "dbname=lf_no_such_database"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find("lf_no_such_database"), std::string::npos)
      << store.status().message();
}

TEST(PostgresMetaStore, MigrateCreatesTheSchemaAndRecordsVersions) {
  SKIP_WITHOUT_SERVER();
  const std::string schema = FreshSchema();
  Admin admin;
  EXPECT_EQ(admin.Value("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1", {schema}), "0");
  auto opened = OpenPostgresMetaStore(WithParams(TestUrl(), "schema=" + schema));
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto& store = *opened;
  int applied = -1;
  ASSERT_TRUE(store->Migrate(&applied).ok());
  EXPECT_EQ(applied, static_cast<int>(PostgresMetaMigrations().size()));
  ASSERT_TRUE(store->Migrate(&applied).ok());
  EXPECT_EQ(applied, 0);

  EXPECT_EQ(admin.Value("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1", {schema}), "1");
  EXPECT_EQ(admin.Column("SELECT name FROM \"" + schema + "\".langfuse_schema_migrations ORDER BY version"),
            [] {
              std::vector<std::string> names;
              for (const MetaMigration& m : PostgresMetaMigrations()) names.emplace_back(m.name);
              return names;
            }());
  EXPECT_NE(
      admin.Value("SELECT applied_at FROM \"" + schema + "\".langfuse_schema_migrations WHERE version = 1"),
      "");
  // Rows land in the URL's schema.
  ASSERT_TRUE(store->UpsertOrganization({"org-1", "In my schema"}).ok());
  EXPECT_EQ(admin.Value("SELECT name FROM \"" + schema + "\".organizations WHERE id = 'org-1'"),
            "In my schema");
}

TEST(PostgresMetaStore, SchemaNameNeedingQuotes) {
  SKIP_WITHOUT_SERVER();
  const std::string suffix = RandomHex(4);
  const std::string schema = "T \"q\"; " + suffix;
  CreatedSchemas().push_back(schema);
  auto store = OpenMigrated(WithParams(TestUrl(), "schema=T%20%22q%22%3B%20" + suffix));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->UpsertOrganization({"org-1", "quoted"}).ok());
  Admin admin;
  EXPECT_EQ(admin.Value("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1", {schema}), "1");
}

TEST(PostgresMetaStore, ConcurrentMigrateFromTwoStores) {
  SKIP_WITHOUT_SERVER();
  for (int round = 0; round < 3; ++round) {
    const std::string url = WithParams(TestUrl(), "schema=" + FreshSchema());
    auto a = OpenPostgresMetaStore(url);
    auto b = OpenPostgresMetaStore(url);
    ASSERT_TRUE(a.ok() && b.ok());
    std::barrier start(2);
    int applied_a = -1;
    int applied_b = -1;
    Status status_a;
    Status status_b;
    std::thread ta([&] {
      start.arrive_and_wait();
      status_a = (*a)->Migrate(&applied_a);
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      status_b = (*b)->Migrate(&applied_b);
    });
    ta.join();
    tb.join();
    ASSERT_TRUE(status_a.ok()) << status_a.message();
    ASSERT_TRUE(status_b.ok()) << status_b.message();
    EXPECT_EQ(applied_a + applied_b, static_cast<int>(PostgresMetaMigrations().size()));
    const std::string schema = url.substr(url.find("schema=") + 7);
    Admin admin;
    EXPECT_EQ(admin.Value("SELECT COUNT(*) FROM \"" + schema + "\".langfuse_schema_migrations"),
              std::to_string(PostgresMetaMigrations().size()));
  }
}

TEST(PostgresMetaStore, RefusesSchemaNewerThanBinary) {
  SKIP_WITHOUT_SERVER();
  const std::string schema = FreshSchema();
  auto store = OpenMigrated(WithParams(TestUrl(), "schema=" + schema));
  ASSERT_NE(store, nullptr);
  Admin admin;
  admin.Column("INSERT INTO \"" + schema +
               "\".langfuse_schema_migrations (version, name) VALUES (9999, 'future')");
  int applied = -1;
  const Status status = store->Migrate(&applied);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("9999"), std::string::npos) << status.message();
}

// The two dialects must describe the same tables with the same columns in the same order.
TEST(PostgresMetaStore, TablesAndColumnsMatchSqlite) {
  SKIP_WITHOUT_SERVER();
  const std::string schema = FreshSchema();
  ASSERT_NE(OpenMigrated(WithParams(TestUrl(), "schema=" + schema)), nullptr);
  std::map<std::string, std::vector<std::string>> pg_columns;
  Admin admin;
  for (const std::string& row :
       admin.Column("SELECT table_name || '.' || column_name FROM information_schema.columns "
                    "WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
                    {schema})) {
    const size_t dot = row.find('.');
    pg_columns[row.substr(0, dot)].push_back(row.substr(dot + 1));
  }

  const char* tmp = std::getenv("LANGFUSE_TEST_TMP");
  const std::filesystem::path path = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
                                     ("meta-pg-parity-" + NewUuidV4() + ".db");
  std::map<std::string, std::vector<std::string>> sqlite_columns;
  {
    auto sqlite_store = OpenSqliteMetaStore(path.string());
    ASSERT_TRUE(sqlite_store.ok());
    int applied = 0;
    ASSERT_TRUE((*sqlite_store)->Migrate(&applied).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p "
                               "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    sqlite_columns[reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))].push_back(
        reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);

  EXPECT_GE(pg_columns.size(), 16u);  // every migration's tables (16 as of prompts, datasets, models)
  EXPECT_EQ(pg_columns, sqlite_columns);
}

// Timestamps are Langfuse's TIMESTAMP(3) (UTC); what the interface calls ms since the epoch.
TEST(PostgresMetaStore, TimestampsAreLangfuseTimestamp3InUtc) {
  SKIP_WITHOUT_SERVER();
  const std::string schema = FreshSchema();
  auto store = OpenMigrated(WithParams(TestUrl(), "schema=" + schema));
  ASSERT_NE(store, nullptr);
  Organization org{"org-1", "Org", 1700000000123, 1700000000456};
  ASSERT_TRUE(store->UpsertOrganization(org).ok());
  Admin admin;
  EXPECT_EQ(admin.Value("SELECT created_at::text FROM \"" + schema + "\".organizations"),
            "2023-11-14 22:13:20.123");
  EXPECT_EQ(
      admin.Value("SELECT data_type || '(' || datetime_precision || ')' FROM information_schema.columns "
                  "WHERE table_schema = $1 AND table_name = 'api_keys' AND column_name = 'last_used_at'",
                  {schema}),
      "timestamp without time zone(3)");

  // A row written as Langfuse writes it reads back in milliseconds, whatever the session's zone.
  admin.Column("INSERT INTO \"" + schema +
               "\".organizations (id, name, created_at, updated_at) "
               "VALUES ('org-lf', 'From Langfuse', '2024-01-02 03:04:05.678', '2024-01-02 03:04:05.678')");
  for (const char* zone : {"UTC", "Asia%2FTokyo", "America%2FNew_York"}) {
    auto zoned =
        OpenPostgresMetaStore(WithParams(TestUrl(), "schema=" + schema + "&options=-c%20TimeZone%3D" + zone));
    ASSERT_TRUE(zoned.ok()) << zoned.status().message();
    auto got = (*zoned)->GetOrganization("org-lf");
    ASSERT_TRUE(got.ok() && got->has_value()) << zone;
    EXPECT_EQ((*got)->created_at_ms, 1704164645678) << zone;
    got = (*zoned)->GetOrganization("org-1");
    ASSERT_TRUE(got.ok() && got->has_value()) << zone;
    EXPECT_EQ((*got)->created_at_ms, 1700000000123) << zone;
    EXPECT_EQ((*got)->updated_at_ms, 1700000000456) << zone;
  }
}

TEST(PostgresMetaStore, UniqueViolationMapsToTheSqliteStoresCode) {
  SKIP_WITHOUT_SERVER();
  auto clash = [](MetaStore& store) {
    EXPECT_TRUE(store.UpsertOrganization({"org-1", "Org"}).ok());
    Project p;
    p.id = "proj-1";
    p.org_id = "org-1";
    p.name = "P";
    EXPECT_TRUE(store.UpsertProject(p).ok());
    ApiKey a;
    a.id = "key-a";
    a.public_key = "pk-lf-a";
    a.hashed_secret_key = "same-slow-hash";
    a.display_secret_key = "sk-lf-...a";
    a.project_id = "proj-1";
    EXPECT_TRUE(store.UpsertApiKey(a).ok());
    ApiKey b = a;
    b.id = "key-b";
    b.public_key = "pk-lf-b";
    return store.UpsertApiKey(b);
  };
  auto pg = OpenMigrated(WithParams(TestUrl(), "schema=" + FreshSchema()));
  ASSERT_NE(pg, nullptr);
  const char* tmp = std::getenv("LANGFUSE_TEST_TMP");
  const std::string path = (std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
                            ("meta-pg-unique-" + NewUuidV4() + ".db"))
                               .string();
  Status sqlite_status;
  {
    auto sqlite = OpenSqliteMetaStore(path);
    ASSERT_TRUE(sqlite.ok());
    ASSERT_TRUE((*sqlite)->Migrate(nullptr).ok());
    sqlite_status = clash(**sqlite);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  const Status pg_status = clash(*pg);
  EXPECT_EQ(sqlite_status.code(), StatusCode::kConflict) << sqlite_status.message();
  EXPECT_EQ(pg_status.code(), sqlite_status.code()) << pg_status.message();
  EXPECT_NE(pg_status.message().find("SQLSTATE 23505"), std::string::npos) << pg_status.message();
  EXPECT_NE(pg_status.message().find("api_keys_hashed_secret_key_key"), std::string::npos)
      << pg_status.message();
  EXPECT_EQ(pg_status.message().find("same-slow-hash"), std::string::npos)
      << "a key's hash leaked into an error";
}

TEST(PostgresMetaStore, ValuesAreBoundNotSpliced) {
  SKIP_WITHOUT_SERVER();
  auto store = OpenMigrated(WithParams(TestUrl(), "schema=" + FreshSchema()));
  ASSERT_NE(store, nullptr);
  const std::string hostile = "x'); DROP TABLE organizations; -- $1 \\ \" ünïcödé";
  ASSERT_TRUE(store->UpsertOrganization({hostile, hostile}).ok());
  auto org = store->GetOrganization(hostile);
  ASSERT_TRUE(org.ok() && org->has_value());
  EXPECT_EQ((*org)->name, hostile);
  EXPECT_EQ(*store->CountOrganizations(), 1);

  // What Postgres text cannot hold is refused, and nothing is written.
  const Status nul = store->UpsertOrganization({"org-nul", std::string("a\0b", 3)});
  EXPECT_EQ(nul.code(), StatusCode::kInvalidArgument) << nul.message();
  const Status bad_utf8 = store->UpsertOrganization({"org-utf8", "\xff\xfe"});
  EXPECT_EQ(bad_utf8.code(), StatusCode::kInvalidArgument) << bad_utf8.message();
  EXPECT_EQ(*store->CountOrganizations(), 1);
}

TEST(PostgresMetaStore, DoublesRoundTripExactly) {
  SKIP_WITHOUT_SERVER();
  auto store = OpenMigrated(WithParams(TestUrl(), "schema=" + FreshSchema()));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->UpsertOrganization({"org-1", "Org"}).ok());
  Project p;
  p.id = "proj-1";
  p.org_id = "org-1";
  p.name = "P";
  ASSERT_TRUE(store->UpsertProject(p).ok());
  const std::pair<double, double> cases[] = {
      {5e-324, 1.7976931348623157e308}, {-0.0, 1.0 / 3.0}, {-2.5e-300, 123456789.123456789}};
  int n = 0;
  for (const auto& [min, max] : cases) {
    ScoreConfig c;
    c.id = "cfg-" + std::to_string(n++);
    c.project_id = "proj-1";
    c.name = c.id;
    c.data_type = "NUMERIC";
    c.min_value = min;
    c.max_value = max;
    ASSERT_TRUE(store->CreateScoreConfig(c).ok()) << c.id;
    auto got = store->GetScoreConfig("proj-1", c.id);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->min_value, std::optional<double>(min));
    EXPECT_EQ(std::signbit(*(*got)->min_value), std::signbit(min));
    EXPECT_EQ((*got)->max_value, std::optional<double>(max));
  }
}

TEST(PostgresMetaStore, StatementTimeoutIsUnavailable) {
  SKIP_WITHOUT_SERVER();
  auto url = ParsePostgresUrl(TestUrl());
  ASSERT_TRUE(url.ok());
  url->statement_timeout_ms = 200;
  auto conn = detail::PgConn::Connect(*url);
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  const auto start = std::chrono::steady_clock::now();
  auto slept = (*conn)->Query("SELECT pg_sleep(5)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(slept.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(slept.status().message().find("57014"), std::string::npos) << slept.status().message();
  EXPECT_TRUE((*conn)->Query("SELECT 1").ok());  // the connection stays usable
}

TEST(PostgresMetaStore, PoolIsBoundedAndWaitsAreBounded) {
  SKIP_WITHOUT_SERVER();
  const std::string app = "lf_pool_" + RandomHex(4);
  auto store = OpenMigrated(
      WithParams(TestUrl(), "schema=" + FreshSchema() + "&connection_limit=2&application_name=" + app));
  ASSERT_NE(store, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string id = "org-" + std::to_string(t) + "-" + std::to_string(i);
        if (!store->UpsertOrganization({id, id}).ok()) ++failures;
        auto got = store->GetOrganization(id);
        if (!got.ok() || !got->has_value()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*store->CountOrganizations(), 120);
  Admin admin;
  const int backends =
      std::stoi(admin.Value("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1", {app}));
  EXPECT_GE(backends, 1);
  EXPECT_LE(backends, 2);

  // A caller that finds every connection taken waits pool_timeout, then gets kUnavailable.
  auto url = ParsePostgresUrl(WithParams(TestUrl(), "connection_limit=1&pool_timeout=1"));
  ASSERT_TRUE(url.ok());
  detail::PgPool pool(*url);
  {
    auto held = pool.Acquire();
    ASSERT_TRUE(held.ok()) << held.status().message();
    const auto start = std::chrono::steady_clock::now();
    auto second = pool.Acquire();
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(second.status().message().find("connection_limit=1"), std::string::npos)
        << second.status().message();
    EXPECT_GE(waited, std::chrono::milliseconds(900));
    EXPECT_LT(waited, std::chrono::seconds(5));
  }
  EXPECT_TRUE(pool.Acquire().ok());  // freed when the lease ended
}

// The server ends every connection of the store (as a restart or a failover does); the next call
// must succeed on a fresh connection without the caller doing anything.
TEST(PostgresMetaStore, TerminatedConnectionsAreReplaced) {
  SKIP_WITHOUT_SERVER();
  const std::string app = "lf_term_" + RandomHex(4);
  auto store = OpenMigrated(
      WithParams(TestUrl(), "schema=" + FreshSchema() + "&connection_limit=3&application_name=" + app));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->UpsertOrganization({"org-1", "Survives"}).ok());
  // Several connections in the pool: calls from three threads at once.
  {
    std::barrier start(3);
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        for (int i = 0; i < 10; ++i) EXPECT_TRUE(store->Ping().ok());
      });
    }
    for (auto& thread : threads) thread.join();
  }
  Admin admin;
  const std::string count_sql = "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1";
  const std::string before = admin.Value(count_sql, {app});
  ASSERT_NE(before, "0");
  EXPECT_EQ(admin.Value("SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = $1) t",
                        {app}),
            before);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (admin.Value(count_sql, {app}) != "0" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(admin.Value(count_sql, {app}), "0");

  // Every pooled connection is dead now; each call must still succeed.
  for (int i = 0; i < 5; ++i) {
    auto got = store->GetOrganization("org-1");
    ASSERT_TRUE(got.ok()) << "call " << i << ": " << got.status().message();
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->name, "Survives");
  }
  EXPECT_NE(admin.Value(count_sql, {app}), "0");
}

// A TCP relay between the store and the server that can cut every connection and refuse new
// ones, to play a server that goes away and comes back. A test fixture (the real server stays up
// for the other tests).
class TcpGate {
 public:
  TcpGate(std::string upstream_host, int upstream_port)
      : upstream_host_(std::move(upstream_host)), upstream_port_(upstream_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~TcpGate() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : relays_) t.join();
    close(listen_fd_);
  }
  TcpGate(const TcpGate&) = delete;
  TcpGate& operator=(const TcpGate&) = delete;

  int port() const { return port_; }
  //! Down: every relayed connection is closed, new ones are accepted and closed at once.
  //! Returns once every relayed connection is closed.
  void SetDown(bool down) {
    down_ = down;
    if (!down) return;
    ++generation_;
    while (active_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      // Read before down_: a relay started across SetDown(true) carries the old generation and
      // ends before relaying anything.
      const int generation = generation_.load();
      if (down_) {
        close(client);
        continue;
      }
      const int upstream = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(upstream_port_));
      inet_pton(AF_INET, upstream_host_.c_str(), &addr.sin_addr);
      if (connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(client);
        close(upstream);
        continue;
      }
      ++active_;
      relays_.emplace_back([this, client, upstream, generation] { Relay(client, upstream, generation); });
    }
  }

  void Relay(int client, int upstream, int generation) {
    char buffer[16384];
    while (!stop_ && generation_ == generation) {
      pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      if (poll(fds, 2, 50) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
        closed = n <= 0 || write(fds[1 - i].fd, buffer, static_cast<size_t>(n)) != n;
      }
      if (closed) break;
    }
    close(client);
    close(upstream);
    --active_;
  }

  std::string upstream_host_;
  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> down_{false};
  std::atomic<int> generation_{0};
  std::atomic<int> active_{0};  // relays not yet closed
  std::thread acceptor_;
  std::vector<std::thread> relays_;  // touched by the acceptor thread only, joined after it
};

TEST(PostgresMetaStore, ServerGoesAwayAndComesBack) {
  SKIP_WITHOUT_SERVER();
  // The test server's address, from its URL.
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(TestUrl(), &error);
  ASSERT_NE(options, nullptr) << (error != nullptr ? error : "");
  std::string host = "127.0.0.1";
  int port = 5432;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    if (std::string(o->keyword) == "host") host = o->val;
    if (std::string(o->keyword) == "port") port = std::atoi(o->val);
  }
  PQconninfoFree(options);
  if (host.empty() || host[0] == '/')
    GTEST_SKIP() << "the test server is on a unix socket; the gate relays TCP";

  TcpGate gate(host, port);
  // host/port after the URL's own override them: the store talks to the gate.
  const std::string url = WithParams(TestUrl(), "schema=" + FreshSchema() + "&host=127.0.0.1&port=" +
                                                    std::to_string(gate.port()) + "&connect_timeout=3");
  auto store = OpenMigrated(url);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->UpsertOrganization({"org-1", "Before"}).ok());

  gate.SetDown(true);
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto got = store->GetOrganization("org-1");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    ASSERT_FALSE(got.ok()) << "call " << i << " succeeded through a closed gate";
    EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().message();
    EXPECT_NE(got.status().message().find("postgres"), std::string::npos) << got.status().message();
  }
  EXPECT_EQ(store->Ping().code(), StatusCode::kUnavailable);

  gate.SetDown(false);
  auto got = store->GetOrganization("org-1");
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->name, "Before");
  ASSERT_TRUE(store->UpsertOrganization({"org-2", "After"}).ok());
  EXPECT_EQ(*store->CountOrganizations(), 2);
}

}  // namespace
}  // namespace langfuse::meta
