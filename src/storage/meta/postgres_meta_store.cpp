#include <fmt/core.h>

#include <algorithm>
#include <set>
#include <utility>

#include "common/ids.h"
#include "common/log.h"
#include "common/time.h"
#include "storage/meta/detail/pg_conn.h"
#include "storage/meta/meta_migrations.h"
#include "storage/meta/meta_store.h"

namespace langfuse::meta {
namespace {

using detail::PgConn;
using detail::PgParam;
using detail::PgPool;
using detail::PgResult;
using detail::PgTransaction;
using detail::PgUrl;

// Migrations may rewrite large tables one day: their statements get longer than the usual
// statement timeout. The advisory lock wait is bounded by it too.
constexpr int64_t kMigrationStatementTimeoutMs = 10 * 60 * 1000;

int64_t OrNow(int64_t ms, int64_t now) { return ms != 0 ? ms : now; }

// ASCII only, as the SQLite store: e-mail addresses are compared in this form.
std::string AsciiLower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  });
  return out;
}

// Timestamps are TIMESTAMP(3) without time zone holding UTC, as in Langfuse's schema; the
// interface speaks milliseconds since the epoch. Both conversions are independent of the
// session's TimeZone and exact to the millisecond.
std::string Ts(int param) {
  return fmt::format("(TIMESTAMP '1970-01-01' + ${}::bigint * INTERVAL '1 millisecond')", param);
}
std::string Ms(std::string_view column) {
  return fmt::format("(EXTRACT(EPOCH FROM {}) * 1000)::bigint", column);
}

// Ties in "oldest first" lists are broken by id in byte order, as SQLite compares text.
constexpr std::string_view kIdOrder = "id COLLATE \"C\"";

const std::string& ApiKeySelect() {
  static const std::string sql = fmt::format(
      "SELECT id, public_key, hashed_secret_key, fast_hashed_secret_key, display_secret_key, note, scope, "
      "project_id, organization_id, {}, {}, {} FROM api_keys ",
      Ms("created_at"), Ms("last_used_at"), Ms("expires_at"));
  return sql;
}

ApiKey ReadApiKey(const PgResult& r, int row) {
  ApiKey key;
  key.id = r.Text(row, 0);
  key.public_key = r.Text(row, 1);
  key.hashed_secret_key = r.Text(row, 2);
  key.fast_hashed_secret_key = r.Text(row, 3);
  key.display_secret_key = r.Text(row, 4);
  key.note = r.OptionalText(row, 5);
  key.scope = r.Text(row, 6);
  key.project_id = r.OptionalText(row, 7);
  key.organization_id = r.OptionalText(row, 8);
  key.created_at_ms = r.Int(row, 9);
  key.last_used_at_ms = r.OptionalInt(row, 10);
  key.expires_at_ms = r.OptionalInt(row, 11);
  return key;
}

const std::string& ProjectSelect() {
  static const std::string sql = fmt::format("SELECT id, org_id, name, {}, {}, {} FROM projects ",
                                             Ms("created_at"), Ms("updated_at"), Ms("deleted_at"));
  return sql;
}

Project ReadProject(const PgResult& r, int row) {
  Project p;
  p.id = r.Text(row, 0);
  p.org_id = r.Text(row, 1);
  p.name = r.Text(row, 2);
  p.created_at_ms = r.Int(row, 3);
  p.updated_at_ms = r.Int(row, 4);
  p.deleted_at_ms = r.OptionalInt(row, 5);
  return p;
}

const std::string& ScoreConfigSelect() {
  static const std::string sql = fmt::format(
      "SELECT id, project_id, name, data_type, is_archived, min_value, max_value, categories, description, "
      "{}, {} FROM score_configs ",
      Ms("created_at"), Ms("updated_at"));
  return sql;
}

ScoreConfig ReadScoreConfig(const PgResult& r, int row) {
  ScoreConfig c;
  c.id = r.Text(row, 0);
  c.project_id = r.Text(row, 1);
  c.name = r.Text(row, 2);
  c.data_type = r.Text(row, 3);
  c.is_archived = r.Bool(row, 4);
  c.min_value = r.OptionalDouble(row, 5);
  c.max_value = r.OptionalDouble(row, 6);
  c.categories = r.OptionalText(row, 7);
  c.description = r.OptionalText(row, 8);
  c.created_at_ms = r.Int(row, 9);
  c.updated_at_ms = r.Int(row, 10);
  return c;
}

//! MetaStore on PostgreSQL through a small pool of libpq connections. Every method borrows one
//! connection for its duration and runs one statement (Migrate runs transactions), so calls from
//! many threads proceed in parallel up to the pool's size. A call that finds the server gone
//! answers kUnavailable; the pool replaces the lost connections on later calls.
class PostgresMetaStore final : public MetaStore {
 public:
  explicit PostgresMetaStore(PgUrl url) : pool_(std::move(url)) {}

  Status Migrate(int* applied) override {
    if (applied != nullptr) *applied = 0;
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    const auto migrations = PostgresMetaMigrations();
    const int32_t newest_known = migrations.empty() ? 0 : migrations.back().version;
    {
      PgTransaction tx(*conn);
      RETURN_IF_ERROR(tx.Begin());
      RETURN_IF_ERROR(LockMigrations(*conn));
      // CREATE SCHEMA IF NOT EXISTS would demand the CREATE privilege on the database even when
      // the schema exists, so look first.
      ASSIGN_OR_RETURN(const PgResult schema,
                       conn->Query("SELECT 1 FROM pg_namespace WHERE nspname = $1", {pool_.url().schema}));
      if (schema.Rows() == 0) {
        // An identifier cannot be a parameter: the schema name is quoted into the DDL.
        RETURN_IF_ERROR(conn->Exec("CREATE SCHEMA " + conn->QuoteIdentifier(pool_.url().schema)));
      }
      RETURN_IF_ERROR(conn->Exec(
          "CREATE TABLE IF NOT EXISTS langfuse_schema_migrations (version INTEGER NOT NULL PRIMARY KEY, "
          "name TEXT NOT NULL, applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP)"));
      ASSIGN_OR_RETURN(const PgResult newest,
                       conn->Query("SELECT COALESCE(MAX(version), 0) FROM langfuse_schema_migrations"));
      const int64_t newest_applied = newest.Int(0, 0);
      if (newest_applied > newest_known) {
        // An older binary must not write into a schema it does not know.
        return Status::Internal(
            fmt::format("the metadata database (schema {}) is at schema version {}, newer than this binary "
                        "knows ({}); run a newer langfuse",
                        pool_.url().schema, newest_applied, newest_known));
      }
      RETURN_IF_ERROR(tx.Commit());
    }
    for (const MetaMigration& m : migrations) {
      // One transaction per migration (Postgres's DDL is transactional): a failed step leaves the
      // database at the previous version. The advisory lock, held until commit, makes a second
      // process wait and then find the step recorded.
      PgTransaction tx(*conn);
      RETURN_IF_ERROR(tx.Begin());
      RETURN_IF_ERROR(LockMigrations(*conn));
      ASSIGN_OR_RETURN(
          const PgResult done,
          conn->Query("SELECT 1 FROM langfuse_schema_migrations WHERE version = $1", {m.version}));
      if (done.Rows() > 0) continue;
      Status status = conn->Exec(m.sql);
      if (!status.ok()) {
        return Status(status.code(),
                      fmt::format("migration {} ({}): {}", m.version, m.name, status.message()));
      }
      RETURN_IF_ERROR(
          conn->Query(fmt::format("INSERT INTO langfuse_schema_migrations (version, name, applied_at) "
                                  "VALUES ($1, $2, {})",
                                  Ts(3)),
                      {m.version, m.name, NowMs()})
              .status());
      RETURN_IF_ERROR(tx.Commit());
      if (applied != nullptr) ++*applied;
      LOG_INFO("metadata database (schema {}): applied migration {} ({})", pool_.url().schema, m.version,
               m.name);
    }
    return Status::Ok();
  }

  Status Ping() override {
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    return conn->Query("SELECT 1").status();
  }

  Status UpsertOrganization(const Organization& org) override {
    if (org.id.empty()) return Status::InvalidArgument("organization id is empty");
    static const std::string sql = fmt::format(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, $2, {}, {}) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
        Ts(3), Ts(4));
    const int64_t now = NowMs();
    return Run(sql, {org.id, org.name, OrNow(org.created_at_ms, now), OrNow(org.updated_at_ms, now)});
  }

  StatusOr<std::optional<Organization>> GetOrganization(const std::string& id) override {
    static const std::string sql = fmt::format("SELECT id, name, {}, {} FROM organizations WHERE id = $1",
                                               Ms("created_at"), Ms("updated_at"));
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id}));
    if (r.Rows() == 0) return std::optional<Organization>();
    return std::optional<Organization>(Organization{r.Text(0, 0), r.Text(0, 1), r.Int(0, 2), r.Int(0, 3)});
  }

  StatusOr<int64_t> CountOrganizations() override {
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query("SELECT COUNT(*) FROM organizations"));
    return r.Int(0, 0);
  }

  Status UpsertProject(const Project& project) override {
    if (project.id.empty()) return Status::InvalidArgument("project id is empty");
    static const std::string sql = fmt::format(
        "INSERT INTO projects (id, org_id, name, deleted_at, created_at, updated_at) "
        "VALUES ($1, $2, $3, {}, {}, {}) "
        "ON CONFLICT (id) DO UPDATE SET org_id = excluded.org_id, name = excluded.name, "
        "deleted_at = excluded.deleted_at, updated_at = excluded.updated_at",
        Ts(4), Ts(5), Ts(6));
    const int64_t now = NowMs();
    return Run(sql, {project.id, project.org_id, project.name, project.deleted_at_ms,
                     OrNow(project.created_at_ms, now), OrNow(project.updated_at_ms, now)});
  }

  StatusOr<std::optional<Project>> GetProject(const std::string& id) override {
    static const std::string sql = ProjectSelect() + "WHERE id = $1";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id}));
    if (r.Rows() == 0) return std::optional<Project>();
    return std::optional<Project>(ReadProject(r, 0));
  }

  StatusOr<std::vector<Project>> ListProjects(const std::string& org_id) override {
    static const std::string sql = fmt::format(
        "{}WHERE org_id = $1 AND deleted_at IS NULL ORDER BY created_at, {}", ProjectSelect(), kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {org_id}));
    std::vector<Project> out;
    out.reserve(static_cast<size_t>(r.Rows()));
    for (int row = 0; row < r.Rows(); ++row) out.push_back(ReadProject(r, row));
    return out;
  }

  Status UpsertApiKey(const ApiKey& key) override {
    if (key.id.empty() || key.public_key.empty()) {
      return Status::InvalidArgument("api key id or public key is empty");
    }
    static const std::string sql = fmt::format(
        "INSERT INTO api_keys (id, public_key, hashed_secret_key, fast_hashed_secret_key, "
        "display_secret_key, "
        "note, scope, project_id, organization_id, created_at, last_used_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {}, {}, {}) "
        "ON CONFLICT (public_key) DO UPDATE SET id = excluded.id, "
        "hashed_secret_key = excluded.hashed_secret_key, "
        "fast_hashed_secret_key = excluded.fast_hashed_secret_key, "
        "display_secret_key = excluded.display_secret_key, note = excluded.note, "
        "scope = excluded.scope, project_id = excluded.project_id, "
        "organization_id = excluded.organization_id, created_at = excluded.created_at, "
        "last_used_at = excluded.last_used_at, expires_at = excluded.expires_at",
        Ts(10), Ts(11), Ts(12));
    return Run(sql, {key.id, key.public_key, key.hashed_secret_key,
                     PgParam::TextOrNull(key.fast_hashed_secret_key), key.display_secret_key, key.note,
                     key.scope.empty() ? std::string_view("PROJECT") : std::string_view(key.scope),
                     key.project_id, key.organization_id, OrNow(key.created_at_ms, NowMs()),
                     key.last_used_at_ms, key.expires_at_ms});
  }

  StatusOr<std::optional<ApiKey>> FindApiKeyByFastHash(const std::string& fast_hash) override {
    // Legacy keys store NULL; an empty hash must never match anything.
    if (fast_hash.empty()) return std::optional<ApiKey>();
    static const std::string sql = ApiKeySelect() + "WHERE fast_hashed_secret_key = $1";
    return FindApiKey(sql, fast_hash);
  }

  StatusOr<std::optional<ApiKey>> FindApiKeyByPublicKey(const std::string& public_key) override {
    static const std::string sql = ApiKeySelect() + "WHERE public_key = $1";
    return FindApiKey(sql, public_key);
  }

  StatusOr<std::vector<ApiKey>> ListApiKeys(const std::string& project_id) override {
    static const std::string sql =
        fmt::format("{}WHERE project_id = $1 ORDER BY created_at, {}", ApiKeySelect(), kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {project_id}));
    std::vector<ApiKey> out;
    out.reserve(static_cast<size_t>(r.Rows()));
    for (int row = 0; row < r.Rows(); ++row) out.push_back(ReadApiKey(r, row));
    return out;
  }

  Status DeleteApiKey(const std::string& id) override {
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query("DELETE FROM api_keys WHERE id = $1", {id}));
    if (r.AffectedRows() == 0) return Status::NotFound("api key not found: " + id);
    return Status::Ok();
  }

  Status TouchApiKey(const std::string& id, int64_t last_used_at_ms) override {
    static const std::string sql = fmt::format("UPDATE api_keys SET last_used_at = {} WHERE id = $1", Ts(2));
    return Run(sql, {id, last_used_at_ms});
  }

  Status SetApiKeyFastHash(const std::string& public_key, const std::string& fast_hash) override {
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r,
                     conn->Query("UPDATE api_keys SET fast_hashed_secret_key = $2 WHERE public_key = $1",
                                 {public_key, PgParam::TextOrNull(fast_hash)}));
    if (r.AffectedRows() == 0) return Status::NotFound("api key not found: " + public_key);
    return Status::Ok();
  }

  Status UpsertUser(const User& user) override {
    const std::string email = AsciiLower(user.email);
    if (email.empty()) return Status::InvalidArgument("user email is empty");
    static const std::string sql = fmt::format(
        "INSERT INTO users (id, email, name, password, admin, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, {}, {}) "
        "ON CONFLICT (email) DO UPDATE SET name = excluded.name, password = excluded.password, "
        "admin = excluded.admin, updated_at = excluded.updated_at",
        Ts(6), Ts(7));
    const int64_t now = NowMs();
    return Run(sql, {user.id.empty() ? NewUuidV4() : user.id, email, user.name, user.password, user.admin,
                     OrNow(user.created_at_ms, now), now});
  }

  StatusOr<std::optional<User>> FindUserByEmail(const std::string& email) override {
    static const std::string sql = fmt::format(
        "SELECT id, email, name, password, admin, {} FROM users WHERE email = $1", Ms("created_at"));
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {AsciiLower(email)}));
    if (r.Rows() == 0) return std::optional<User>();
    User user;
    user.id = r.Text(0, 0);
    user.email = r.Text(0, 1);
    user.name = r.OptionalText(0, 2);
    user.password = r.OptionalText(0, 3);
    user.admin = r.Bool(0, 4);
    user.created_at_ms = r.Int(0, 5);
    return std::optional<User>(std::move(user));
  }

  Status UpsertMembership(const OrganizationMembership& m) override {
    static const std::string sql = fmt::format(
        "INSERT INTO organization_memberships (id, org_id, user_id, role, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, {0}, {0}) "
        "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at",
        Ts(5));
    return Run(sql, {m.id.empty() ? NewUuidV4() : m.id, m.org_id, m.user_id, m.role, NowMs()});
  }

  StatusOr<std::vector<OrganizationMembership>> ListMemberships(const std::string& org_id) override {
    static const std::string sql = fmt::format(
        "SELECT id, org_id, user_id, role FROM organization_memberships WHERE org_id = $1 ORDER BY "
        "created_at, {}",
        kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {org_id}));
    std::vector<OrganizationMembership> out;
    out.reserve(static_cast<size_t>(r.Rows()));
    for (int row = 0; row < r.Rows(); ++row) {
      out.push_back({r.Text(row, 0), r.Text(row, 1), r.Text(row, 2), r.Text(row, 3)});
    }
    return out;
  }

  Status CreateScoreConfig(const ScoreConfig& c) override {
    if (c.id.empty() || c.project_id.empty()) {
      return Status::InvalidArgument("score config id or project id is empty");
    }
    static const std::string sql = fmt::format(
        "INSERT INTO score_configs (id, project_id, name, data_type, is_archived, min_value, max_value, "
        "categories, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {}, "
        "{})",
        Ts(10), Ts(11));
    const int64_t now = NowMs();
    return Run(sql, {c.id, c.project_id, c.name, c.data_type, c.is_archived, c.min_value, c.max_value,
                     c.categories, c.description, OrNow(c.created_at_ms, now), OrNow(c.updated_at_ms, now)});
  }

  StatusOr<std::optional<ScoreConfig>> GetScoreConfig(const std::string& project_id,
                                                      const std::string& id) override {
    static const std::string sql = ScoreConfigSelect() + "WHERE id = $1 AND project_id = $2";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id, project_id}));
    if (r.Rows() == 0) return std::optional<ScoreConfig>();
    return std::optional<ScoreConfig>(ReadScoreConfig(r, 0));
  }

  StatusOr<std::vector<ScoreConfig>> ListScoreConfigs(const std::string& project_id, int64_t limit,
                                                      int64_t offset) override {
    static const std::string sql =
        fmt::format("{}WHERE project_id = $1 ORDER BY created_at DESC, {} ASC LIMIT $2 OFFSET $3",
                    ScoreConfigSelect(), kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {project_id, std::max<int64_t>(limit, 0),
                                                         std::max<int64_t>(offset, 0)}));
    std::vector<ScoreConfig> out;
    out.reserve(static_cast<size_t>(r.Rows()));
    for (int row = 0; row < r.Rows(); ++row) out.push_back(ReadScoreConfig(r, row));
    return out;
  }

  StatusOr<int64_t> CountScoreConfigs(const std::string& project_id) override {
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r,
                     conn->Query("SELECT COUNT(*) FROM score_configs WHERE project_id = $1", {project_id}));
    return r.Int(0, 0);
  }

  Status UpdateScoreConfig(const ScoreConfig& c) override {
    static const std::string sql = fmt::format(
        "UPDATE score_configs SET name = $3, data_type = $4, is_archived = $5, min_value = $6, max_value = "
        "$7, "
        "categories = $8, description = $9, updated_at = {} WHERE id = $1 AND project_id = $2",
        Ts(10));
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(
        const PgResult r,
        conn->Query(sql, {c.id, c.project_id, c.name, c.data_type, c.is_archived, c.min_value, c.max_value,
                          c.categories, c.description, OrNow(c.updated_at_ms, NowMs())}));
    if (r.AffectedRows() == 0) return Status::NotFound("score config not found: " + c.id);
    return Status::Ok();
  }

 private:
  // One statement whose rows, if any, are not needed.
  Status Run(const std::string& sql, std::initializer_list<PgParam> params) {
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    return conn->Query(sql, params).status();
  }

  StatusOr<std::optional<ApiKey>> FindApiKey(const std::string& sql, const std::string& value) {
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {value}));
    if (r.Rows() == 0) return std::optional<ApiKey>();
    return std::optional<ApiKey>(ReadApiKey(r, 0));
  }

  // Serialises migrations of this schema across processes until the transaction ends; other
  // schemas in the same database migrate independently.
  Status LockMigrations(PgConn& conn) {
    // The longer timeout (local to the transaction) already bounds the wait for the lock.
    RETURN_IF_ERROR(conn.Query("SELECT set_config('statement_timeout', $1, true)",
                               {std::to_string(kMigrationStatementTimeoutMs)})
                        .status());
    return conn
        .Query("SELECT pg_advisory_xact_lock(hashtext('langfuse_schema_migrations'), hashtext($1))",
               {pool_.url().schema})
        .status();
  }

  PgPool pool_;
};

}  // namespace

StatusOr<std::unique_ptr<MetaStore>> OpenPostgresMetaStore(const std::string& url) {
  ASSIGN_OR_RETURN(PgUrl parsed, detail::ParsePostgresUrl(url));
  if (!parsed.ignored_params.empty()) {
    std::string names;
    for (const std::string& name : parsed.ignored_params) names += (names.empty() ? "" : ", ") + name;
    LOG_WARN("database URL parameters not used by this server: {}", names);
  }
  auto store = std::make_unique<PostgresMetaStore>(std::move(parsed));
  // A wrong host, password or database name shows here, at start-up, not at the first request.
  RETURN_IF_ERROR(store->Ping());
  return std::unique_ptr<MetaStore>(std::move(store));
}

}  // namespace langfuse::meta
