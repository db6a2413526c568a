// ImportTransactional against a real Langfuse v2 schema: each test loads
// tests/fixtures/langfuse_v2/transactional.sql into a private database of the test PostgreSQL
// server (LANGFUSE_TEST_POSTGRES_URL; the tests skip without one) and imports it into a SQLite
// MetaStore and, where said, a Postgres MetaStore in a private schema.

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "auth/api_keys.h"
#include "auth/authenticator.h"
#include "auth/password.h"
#include "common/ids.h"
#include "import_v2/import_v2.h"
#include "storage/meta/meta_store.h"

namespace langfuse::import_v2 {
namespace {

using nlohmann::json;

const char* TestUrl() {
  const char* url = std::getenv("LANGFUSE_TEST_POSTGRES_URL");
  return (url != nullptr && *url != '\0') ? url : nullptr;
}

#define SKIP_WITHOUT_SERVER()                                                         \
  do {                                                                                \
    if (TestUrl() == nullptr)                                                         \
      GTEST_SKIP() << "LANGFUSE_TEST_POSTGRES_URL is not set (scripts/test sets it)"; \
  } while (0)

// A connection to database `dbname` of the test server (the URL's own database when empty).
PGconn* Connect(const std::string& dbname) {
  const char* keys[] = {"dbname", dbname.empty() ? nullptr : "dbname", nullptr};
  const char* values[] = {TestUrl(), dbname.empty() ? nullptr : dbname.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return conn;
}

void Exec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(r);
  EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
      << sql.substr(0, 200) << ": " << PQresultErrorMessage(r);
  PQclear(r);
}

std::string Value(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  std::string out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  return out;
}

std::string ReadFixture() {
  std::ifstream in(std::filesystem::path(LF_V2_FIXTURE_DIR) / "transactional.sql");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Base64(std::string_view text) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const uint32_t n = (uint8_t(text[i]) << 16) | (uint8_t(text[i + 1]) << 8) | uint8_t(text[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  if (i + 1 == text.size()) {
    const uint32_t n = uint8_t(text[i]) << 16;
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == text.size()) {
    const uint32_t n = (uint8_t(text[i]) << 16) | (uint8_t(text[i + 1]) << 8);
    out += std::string{kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

template <typename T>
T Must(StatusOr<T> value) {
  EXPECT_TRUE(value.ok()) << value.status().message();
  return value.ok() ? std::move(value).value() : T{};
}

json Opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }
json Opt(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }
json Opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

// Everything the import wrote for the fixture's ids, in one comparable document.
json Dump(meta::MetaStore& store) {
  json out;
  auto org = Must(store.GetOrganization("org-v2"));
  if (org) out["org"] = {org->id, org->name, org->created_at_ms, org->updated_at_ms};
  for (const char* id : {"proj-v2-a", "proj-v2-b", "proj-v2-deleted"}) {
    auto p = Must(store.GetProject(id));
    if (p)
      out["projects"].push_back(
          {p->id, p->org_id, p->name, p->created_at_ms, p->updated_at_ms, Opt(p->deleted_at_ms)});
  }
  for (const char* email : {"owner@example.com", "admin@example.com", "member@example.com",
                            "viewer@example.com", "none@example.com"}) {
    auto u = Must(store.FindUserByEmail(email));
    if (u)
      out["users"].push_back({u->id, u->email, Opt(u->name), Opt(u->password), u->admin, u->created_at_ms});
  }
  for (const auto& m : Must(store.ListMemberships("org-v2"))) {
    out["memberships"].push_back({m.id, m.org_id, m.user_id, m.role});
  }
  for (const char* project : {"proj-v2-a", "proj-v2-b"}) {
    for (const auto& m : Must(store.ListProjectMemberships(project))) {
      out["project_memberships"].push_back(
          {m.org_membership_id, m.project_id, m.user_id, m.role, m.created_at_ms});
    }
    for (const auto& k : Must(store.ListApiKeys(project))) {
      out["api_keys"].push_back({k.id, k.public_key, k.hashed_secret_key, k.fast_hashed_secret_key,
                                 k.display_secret_key, Opt(k.note), k.scope, Opt(k.project_id),
                                 k.created_at_ms, Opt(k.last_used_at_ms), Opt(k.expires_at_ms)});
    }
    for (const auto& c : Must(store.ListScoreConfigs(project, 100, 0))) {
      out["score_configs"].push_back({c.id, c.name, c.data_type, c.is_archived, Opt(c.min_value),
                                      Opt(c.max_value), Opt(c.categories), Opt(c.description),
                                      c.created_at_ms, c.updated_at_ms});
    }
    for (const auto& p : Must(store.ListPrompts(project, ""))) {
      out["prompts"].push_back({p.id, p.name, p.version, p.prompt, p.type, p.config, p.labels, p.tags,
                                Opt(p.commit_message), p.created_by, p.created_at_ms, p.updated_at_ms});
    }
    for (const auto& d : Must(store.ListDatasets(project))) {
      out["datasets"].push_back({d.id, d.project_id, d.name, Opt(d.description), Opt(d.metadata),
                                 d.created_at_ms, d.updated_at_ms});
      for (const auto& i : Must(store.ListDatasetItems(project, d.id, 100000, 0))) {
        out["dataset_items"].push_back({i.id, i.dataset_id, i.status, Opt(i.input), Opt(i.expected_output),
                                        Opt(i.metadata), Opt(i.source_trace_id), Opt(i.source_observation_id),
                                        i.created_at_ms, i.updated_at_ms});
      }
      for (const auto& r : Must(store.ListDatasetRuns(project, d.id))) {
        out["dataset_runs"].push_back({r.id, r.dataset_id, r.name, Opt(r.description), Opt(r.metadata),
                                       r.created_at_ms, r.updated_at_ms});
        for (const auto& ri : Must(store.ListDatasetRunItems(project, r.id))) {
          out["dataset_run_items"].push_back({ri.id, ri.dataset_run_id, ri.dataset_item_id, ri.trace_id,
                                              Opt(ri.observation_id), ri.created_at_ms, ri.updated_at_ms});
        }
      }
    }
  }
  std::set<std::string> model_ids;
  for (const char* project : {"proj-v2-a", "proj-v2-b"}) {
    for (const auto& m : Must(store.ListModels(project))) {
      if (!model_ids.insert(m.id).second) continue;
      out["models"].push_back({m.id, Opt(m.project_id), m.model_name, m.match_pattern, Opt(m.start_date_ms),
                               Opt(m.unit), Opt(m.input_price), Opt(m.output_price), Opt(m.total_price),
                               Opt(m.tokenizer_id), Opt(m.tokenizer_config), m.created_at_ms,
                               m.updated_at_ms});
      for (const auto& p : Must(store.ListPrices(m.id))) {
        out["prices"].push_back({p.id, p.model_id, Opt(p.project_id), p.usage_type, p.price});
      }
    }
  }
  return out;
}

//! A private database loaded with the fixture, dropped afterwards.
class TransactionalImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_SERVER();
    admin_ = Connect("");
    dbname_ = "v2tx_" + RandomHex(6);
    Exec(admin_, "CREATE DATABASE " + dbname_);
    source_ = Connect(dbname_);
    Exec(source_, ReadFixture());
    const char* tmp = std::getenv("LANGFUSE_TEST_TMP");
    sqlite_path_ = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
                   ("v2tx-" + NewUuidV4() + ".db");
    sqlite_ = OpenStore(meta::OpenSqliteMetaStore(sqlite_path_.string()));
  }

  void TearDown() override {
    if (source_ != nullptr) PQfinish(source_);
    if (admin_ != nullptr) {
      if (!dbname_.empty()) Exec(admin_, "DROP DATABASE IF EXISTS " + dbname_ + " WITH (FORCE)");
      if (!pg_schema_.empty()) Exec(admin_, "DROP SCHEMA IF EXISTS " + pg_schema_ + " CASCADE");
      PQfinish(admin_);
    }
    sqlite_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(sqlite_path_.string() + suffix);
  }

  static std::unique_ptr<meta::MetaStore> OpenStore(StatusOr<std::unique_ptr<meta::MetaStore>> opened) {
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    if (!opened.ok()) return nullptr;
    auto store = std::move(opened).value();
    const Status migrated = store->Migrate(nullptr);
    EXPECT_TRUE(migrated.ok()) << migrated.message();
    return store;
  }

  std::unique_ptr<meta::MetaStore> OpenPostgresTarget() {
    pg_schema_ = "v2tx_" + RandomHex(6);
    const std::string url = std::string(TestUrl()) +
                            (std::string(TestUrl()).find('?') == std::string::npos ? "?" : "&") +
                            "schema=" + pg_schema_;
    return OpenStore(meta::OpenPostgresMetaStore(url));
  }

  TableCounts Import(meta::MetaStore& target, const ProgressFn& progress = {}) {
    TableCounts counts;
    const Status status = ImportTransactional(source_, target, progress, &counts);
    EXPECT_TRUE(status.ok()) << status.message();
    return counts;
  }

  PGconn* admin_ = nullptr;
  PGconn* source_ = nullptr;
  std::string dbname_;
  std::string pg_schema_;
  std::filesystem::path sqlite_path_;
  std::unique_ptr<meta::MetaStore> sqlite_;
};

void ExpectCounts(const TableCounts& counts, const std::string& table, int64_t source, int64_t imported,
                  int64_t target) {
  const auto it = counts.find(table);
  ASSERT_NE(it, counts.end()) << table;
  EXPECT_EQ(it->second.source, source) << table;
  EXPECT_EQ(it->second.imported, imported) << table;
  EXPECT_EQ(it->second.target, target) << table;
}

// (source, imported = target) per table for the fixture imported into an empty store. prices: 4
// rows plus 2 made from model-v2-custom's input/output price columns.
const std::map<std::string, int64_t> kFixtureRows = {{"organizations", 1},
                                                     {"projects", 3},
                                                     {"users", 5},
                                                     {"organization_memberships", 5},
                                                     {"project_memberships", 2},
                                                     {"api_keys", 2},
                                                     {"score_configs", 4},
                                                     {"prompts", 5},
                                                     {"datasets", 3},
                                                     {"dataset_items", 2505},
                                                     {"dataset_runs", 2},
                                                     {"dataset_run_items", 4},
                                                     {"models", 4},
                                                     {"prices", 6}};

TEST_F(TransactionalImportTest, ImportsEveryEntityIntoSqliteAndPostgres) {
  ASSERT_NE(sqlite_, nullptr);
  std::vector<std::pair<int64_t, int64_t>> item_progress;
  const TableCounts counts = Import(*sqlite_, [&](const std::string& table, int64_t done, int64_t total) {
    if (table == "dataset_items") item_progress.emplace_back(done, total);
  });
  for (const auto& [table, rows] : kFixtureRows) ExpectCounts(counts, table, rows, rows, rows);
  // dataset_items came in keyset batches.
  EXPECT_EQ(item_progress,
            (std::vector<std::pair<int64_t, int64_t>>{{1000, 2505}, {2000, 2505}, {2505, 2505}}));
  // The source connection was made read-only.
  EXPECT_EQ(Value(source_, "SHOW default_transaction_read_only"), "on");

  // Entity by entity, against the fixture's values.
  meta::MetaStore& s = *sqlite_;
  auto deleted = Must(s.GetProject("proj-v2-deleted"));
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->deleted_at_ms, int64_t{1714557600000});  // 2024-05-01 10:00:00 UTC
  EXPECT_EQ(Must(s.ListProjects("org-v2")).size(), 2u);       // the soft-deleted one is not listed

  auto owner = Must(s.FindUserByEmail("owner@example.com"));
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->id, "user-v2-owner");
  EXPECT_EQ(owner->email, "owner@example.com");  // lower-cased
  EXPECT_TRUE(owner->admin);
  EXPECT_EQ(owner->created_at_ms, int64_t{1704877200000});

  std::map<std::string, std::string> roles;
  for (const auto& m : Must(s.ListMemberships("org-v2"))) roles[m.user_id] = m.role;
  EXPECT_EQ(roles, (std::map<std::string, std::string>{{"user-v2-admin", "ADMIN"},
                                                       {"user-v2-member", "MEMBER"},
                                                       {"user-v2-none", "NONE"},
                                                       {"user-v2-owner", "OWNER"},
                                                       {"user-v2-viewer", "VIEWER"}}));
  const auto pm = Must(s.ListProjectMemberships("proj-v2-b"));
  ASSERT_EQ(pm.size(), 1u);
  EXPECT_EQ(pm[0], (meta::ProjectMembership{"om-v2-viewer", "proj-v2-b", "user-v2-viewer", "ADMIN",
                                            1706950800000, 1706950800000}));

  auto key = Must(s.FindApiKeyByPublicKey("pk-lf-v2-fixture"));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->id, "key-v2-a");
  EXPECT_EQ(key->hashed_secret_key, "$2a$11$djhq02r6dUzNuZzXbhOvS.jG5zgS8c5zNHxStEDQkV75w64z5qQEa");
  EXPECT_EQ(key->fast_hashed_secret_key, "");
  EXPECT_EQ(key->scope, "PROJECT");
  EXPECT_EQ(key->note, "production key");
  EXPECT_EQ(key->last_used_at_ms, int64_t{1717200000000});
  auto key_b = Must(s.FindApiKeyByPublicKey("pk-lf-v2-b"));
  ASSERT_TRUE(key_b.has_value());
  EXPECT_EQ(key_b->fast_hashed_secret_key,
            "6b1d9c0a3f0e4d7f9a2b5c8e1f4a7d0c3b6e9f2a5d8c1b4e7a0d3f6c9b2e5a8d");
  EXPECT_EQ(key_b->expires_at_ms, int64_t{1893456000000});

  const auto greetings = Must(s.ListPrompts("proj-v2-a", "greeting"));
  ASSERT_EQ(greetings.size(), 3u);
  EXPECT_EQ(greetings[1].labels, (std::vector<std::string>{"production"}));
  EXPECT_EQ(greetings[2].labels, (std::vector<std::string>{"latest", "staging"}));
  EXPECT_EQ(greetings[2].tags, (std::vector<std::string>{"onboarding", "experimental"}));
  EXPECT_EQ(greetings[2].config, R"({"temperature": 0.9, "max_tokens": 64})");  // JSON column: verbatim
  EXPECT_EQ(greetings[2].prompt, "\"Hi {{name}} \xe2\x80\x94 welcome back\"");
  EXPECT_EQ(greetings[0].created_by, "user-v2-owner");
  auto chat = Must(s.GetPrompt("proj-v2-a", "prompt-v2-chat-1"));
  ASSERT_TRUE(chat.has_value());
  EXPECT_EQ(chat->type, "chat");
  EXPECT_EQ(json::parse(chat->prompt)[1]["content"], "{{question}}");
  EXPECT_EQ(chat->labels, (std::vector<std::string>{"production", "latest"}));
  EXPECT_EQ(chat->commit_message, std::nullopt);

  auto qa = Must(s.GetDataset("proj-v2-a", "ds-v2-qa"));
  ASSERT_TRUE(qa.has_value());
  EXPECT_EQ(qa->description, "Golden questions");
  EXPECT_EQ(json::parse(*qa->metadata), json::parse(R"({"owner": "qa-team", "version": 2})"));
  auto archived = Must(s.GetDatasetItem("proj-v2-a", "item-v2-3"));
  ASSERT_TRUE(archived.has_value());
  EXPECT_EQ(archived->status, "ARCHIVED");
  EXPECT_EQ(archived->expected_output, std::nullopt);
  auto item2 = Must(s.GetDatasetItem("proj-v2-a", "item-v2-2"));
  ASSERT_TRUE(item2.has_value());
  EXPECT_EQ(item2->expected_output, "\"Paris\"");
  EXPECT_EQ(item2->source_observation_id, "obs-v2-0002");
  EXPECT_EQ(Must(s.ListDatasetItems("proj-v2-a", "ds-v2-bulk", 10, 0)).front().id, "bulk-02500");
  EXPECT_EQ(Must(s.ListDatasetRuns("proj-v2-a", "ds-v2-qa")).size(), 2u);
  const auto run_items = Must(s.ListDatasetRunItems("proj-v2-a", "run-v2-baseline"));
  ASSERT_EQ(run_items.size(), 2u);
  EXPECT_EQ(run_items[0],
            (meta::DatasetRunItem{"ri-v2-1", "proj-v2-a", "run-v2-baseline", "item-v2-1", "trace-v2-0101",
                                  "obs-v2-0101", 1710061260000, 1710061260000}));

  auto custom = Must(s.GetModel("model-v2-custom"));
  ASSERT_TRUE(custom.has_value());
  EXPECT_EQ(custom->input_price, "0.000001");
  EXPECT_EQ(custom->start_date_ms, int64_t{1711929600000});
  std::map<std::string, std::string> custom_prices;
  for (const auto& p : Must(s.ListPrices("model-v2-custom"))) {
    custom_prices[p.usage_type] = p.price;
    EXPECT_EQ(p.project_id, "proj-v2-a");
  }
  EXPECT_EQ(custom_prices,
            (std::map<std::string, std::string>{{"input", "0.000001"}, {"output", "0.000002"}}));
  std::map<std::string, std::string> priced;
  for (const auto& p : Must(s.ListPrices("model-v2-priced"))) priced[p.usage_type] = p.price;
  // The prices row (0.75) wins over the column (0.5); no row is made for NULL columns.
  EXPECT_EQ(priced, (std::map<std::string, std::string>{{"input", "0.75"}, {"input_cached_tokens", "0.1"}}));
  EXPECT_TRUE(Must(s.ListPrices("model-v2-free")).empty());
  auto builtin = Must(s.GetModel("model-v2-builtin-gpt4o"));
  ASSERT_TRUE(builtin.has_value());
  EXPECT_EQ(builtin->project_id, std::nullopt);
  EXPECT_EQ(Must(s.ListPrices("model-v2-builtin-gpt4o")).size(), 2u);  // its own rows only

  auto tone = Must(s.GetScoreConfig("proj-v2-a", "sc-v2-tone"));
  ASSERT_TRUE(tone.has_value());
  EXPECT_EQ(tone->data_type, "CATEGORICAL");
  EXPECT_EQ(json::parse(*tone->categories)[0]["label"], "friendly");
  auto old = Must(s.GetScoreConfig("proj-v2-b", "sc-v2-old"));
  ASSERT_TRUE(old.has_value());
  EXPECT_TRUE(old->is_archived);
  EXPECT_EQ(old->max_value, 10.5);
  EXPECT_EQ(old->min_value, std::nullopt);

  // The same import into a Postgres MetaStore holds exactly the same entities.
  auto pg = OpenPostgresTarget();
  ASSERT_NE(pg, nullptr);
  const TableCounts pg_counts = Import(*pg);
  for (const auto& [table, rows] : kFixtureRows) ExpectCounts(pg_counts, table, rows, rows, rows);
  const json sqlite_dump = Dump(*sqlite_);
  EXPECT_EQ(sqlite_dump["dataset_items"].size(), 2505u);
  EXPECT_EQ(Dump(*pg), sqlite_dump);
}

TEST_F(TransactionalImportTest, SecondRunWritesNothing) {
  ASSERT_NE(sqlite_, nullptr);
  Import(*sqlite_);
  const json before = Dump(*sqlite_);
  const TableCounts again = Import(*sqlite_);
  for (const auto& [table, rows] : kFixtureRows) ExpectCounts(again, table, rows, 0, rows);
  EXPECT_EQ(Dump(*sqlite_), before);

  auto pg = OpenPostgresTarget();
  ASSERT_NE(pg, nullptr);
  Import(*pg);
  const TableCounts pg_again = Import(*pg);
  for (const auto& [table, rows] : kFixtureRows) ExpectCounts(pg_again, table, rows, 0, rows);
}

TEST_F(TransactionalImportTest, ImportedKeyAuthenticatesAndKeepsItsBackfilledFastHash) {
  ASSERT_NE(sqlite_, nullptr);
  Import(*sqlite_);
  const std::string salt = "v2-import-test-salt";
  auth::ApiKeyAuthenticator authenticator(*sqlite_, salt, auth::AuthenticatorOptions{.cache_ttl_seconds = 0});

  auto wrong = authenticator.Authenticate("Basic " + Base64("pk-lf-v2-fixture:sk-lf-v2-fixture-secreT"));
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Must(sqlite_->FindApiKeyByPublicKey("pk-lf-v2-fixture"))->fast_hashed_secret_key, "");

  auto ctx = authenticator.Authenticate("Basic " + Base64("pk-lf-v2-fixture:sk-lf-v2-fixture-secret"));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->project_id, "proj-v2-a");
  EXPECT_EQ(ctx->api_key_id, "key-v2-a");
  // bcrypt verified, then the fast hash backfilled: the next check is one indexed lookup.
  const std::string fast = auth::FastHashSecretKey("sk-lf-v2-fixture-secret", salt);
  EXPECT_EQ(Must(sqlite_->FindApiKeyByPublicKey("pk-lf-v2-fixture"))->fast_hashed_secret_key, fast);
  EXPECT_TRUE(Must(sqlite_->FindApiKeyByFastHash(fast)).has_value());

  // Importing again does not take the backfilled hash away (v2 still has none).
  const TableCounts again = Import(*sqlite_);
  ExpectCounts(again, "api_keys", 2, 0, 2);
  EXPECT_EQ(Must(sqlite_->FindApiKeyByPublicKey("pk-lf-v2-fixture"))->fast_hashed_secret_key, fast);
  EXPECT_TRUE(authenticator.Authenticate("Basic " + Base64("pk-lf-v2-fixture:sk-lf-v2-fixture-secret")).ok());
}

TEST_F(TransactionalImportTest, ImportedUserPasswordVerifies) {
  ASSERT_NE(sqlite_, nullptr);
  Import(*sqlite_);
  auto owner = Must(sqlite_->FindUserByEmail("Owner@Example.COM"));
  ASSERT_TRUE(owner.has_value() && owner->password.has_value());
  EXPECT_TRUE(owner->password->starts_with("$2a$"));  // carried over as v2 stored it
  EXPECT_TRUE(auth::VerifyPassword("v2-fixture-password", *owner->password));
  EXPECT_FALSE(auth::VerifyPassword("v2-fixture-passworD", *owner->password));
  auto oauth_only = Must(sqlite_->FindUserByEmail("none@example.com"));
  ASSERT_TRUE(oauth_only.has_value());
  EXPECT_EQ(oauth_only->password, std::nullopt);
}

TEST_F(TransactionalImportTest, ExistingAccountWithTheSameEmailIsKept) {
  ASSERT_NE(sqlite_, nullptr);
  meta::User native;
  native.id = "native-user";
  native.email = "admin@example.com";
  native.name = "Here first";
  ASSERT_TRUE(sqlite_->UpsertUser(native).ok());
  const TableCounts counts = Import(*sqlite_);
  ExpectCounts(counts, "users", 5, 4, 5);
  auto kept = Must(sqlite_->FindUserByEmail("admin@example.com"));
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->id, "native-user");
  EXPECT_EQ(kept->name, "Here first");
  bool member = false;
  for (const auto& m : Must(sqlite_->ListMemberships("org-v2"))) {
    if (m.user_id == "native-user") member = m.role == "ADMIN";
  }
  EXPECT_TRUE(member);  // v2's membership went to the existing account
}

TEST_F(TransactionalImportTest, OlderV2WithoutLaterColumnsAndTables) {
  ASSERT_NE(sqlite_, nullptr);
  // What a database of an early v2 release lacks: columns and tables added during v2's life.
  Exec(source_,
       "ALTER TABLE projects DROP COLUMN deleted_at;"
       "ALTER TABLE prompts DROP COLUMN labels, DROP COLUMN tags, DROP COLUMN config;"
       "ALTER TABLE datasets DROP COLUMN description, DROP COLUMN metadata;"
       "ALTER TABLE dataset_items DROP COLUMN metadata, DROP COLUMN source_trace_id, "
       "  DROP COLUMN source_observation_id;"
       "ALTER TABLE dataset_runs DROP COLUMN metadata, DROP COLUMN description;"
       "ALTER TABLE api_keys DROP COLUMN fast_hashed_secret_key, DROP COLUMN expires_at;"
       "ALTER TABLE models DROP COLUMN tokenizer_config;"
       "DROP TABLE prices; DROP TABLE score_configs; DROP TABLE project_memberships;");
  const TableCounts counts = Import(*sqlite_);
  ExpectCounts(counts, "prompts", 5, 5, 5);
  ExpectCounts(counts, "dataset_items", 2505, 2505, 2505);
  ExpectCounts(counts, "score_configs", 0, 0, 0);
  ExpectCounts(counts, "project_memberships", 0, 0, 0);
  // No prices table: every project model's price columns become rows (custom: 2, priced: 1).
  ExpectCounts(counts, "prices", 3, 3, 3);

  auto greet = Must(sqlite_->GetPrompt("proj-v2-a", "prompt-v2-greet-2"));
  ASSERT_TRUE(greet.has_value());
  EXPECT_TRUE(greet->labels.empty());
  EXPECT_EQ(greet->config, "{}");
  EXPECT_EQ(Must(sqlite_->GetProject("proj-v2-deleted"))->deleted_at_ms, std::nullopt);
  EXPECT_EQ(Must(sqlite_->GetDataset("proj-v2-a", "ds-v2-qa"))->metadata, std::nullopt);
  EXPECT_EQ(Must(sqlite_->GetDatasetItem("proj-v2-a", "item-v2-1"))->source_trace_id, std::nullopt);
  auto key = Must(sqlite_->FindApiKeyByPublicKey("pk-lf-v2-b"));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->fast_hashed_secret_key, "");
  EXPECT_EQ(key->expires_at_ms, std::nullopt);
  std::map<std::string, std::string> priced;
  for (const auto& p : Must(sqlite_->ListPrices("model-v2-priced"))) priced[p.usage_type] = p.price;
  EXPECT_EQ(priced, (std::map<std::string, std::string>{{"input", "0.5"}}));

  const TableCounts again = Import(*sqlite_);
  ExpectCounts(again, "prices", 3, 0, 3);
  ExpectCounts(again, "prompts", 5, 0, 5);
}

TEST_F(TransactionalImportTest, NoOrBusyConnectionIsAnError) {
  ASSERT_NE(sqlite_, nullptr);
  EXPECT_EQ(ImportTransactional(nullptr, *sqlite_, {}, nullptr).code(), StatusCode::kInvalidArgument);
  Exec(source_, "BEGIN");
  EXPECT_EQ(ImportTransactional(source_, *sqlite_, {}, nullptr).code(), StatusCode::kInvalidArgument);
  Exec(source_, "ROLLBACK");
  EXPECT_EQ(Must(sqlite_->CountOrganizations()), 0);
}

}  // namespace
}  // namespace langfuse::import_v2
