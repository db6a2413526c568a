#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "common/ids.h"
#include "common/time.h"
#include "storage/meta/detail/sqlite_db.h"
#include "storage/meta/meta_migrations.h"
#include "storage/meta/meta_store.h"

namespace langfuse::meta {
namespace {

using detail::SqliteDb;
using detail::SqliteStatement;
using detail::SqliteTransaction;

// How long a statement waits for another process's write lock before reporting kUnavailable.
constexpr int kBusyTimeoutMs = 5000;

int64_t OrNow(int64_t ms, int64_t now) { return ms != 0 ? ms : now; }

// ASCII only, like SQLite's lower(): e-mail addresses are compared in this form.
std::string AsciiLower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  });
  return out;
}

constexpr std::string_view kApiKeyColumns =
    "id, public_key, hashed_secret_key, fast_hashed_secret_key, display_secret_key, note, scope, project_id, "
    "organization_id, created_at, last_used_at, expires_at";

ApiKey ReadApiKey(const SqliteStatement& s) {
  ApiKey key;
  key.id = s.Text(0);
  key.public_key = s.Text(1);
  key.hashed_secret_key = s.Text(2);
  key.fast_hashed_secret_key = s.Text(3);
  key.display_secret_key = s.Text(4);
  key.note = s.OptionalText(5);
  key.scope = s.Text(6);
  key.project_id = s.OptionalText(7);
  key.organization_id = s.OptionalText(8);
  key.created_at_ms = s.Int(9);
  key.last_used_at_ms = s.OptionalInt(10);
  key.expires_at_ms = s.OptionalInt(11);
  return key;
}

// min/max are REAL columns; the statement binds no doubles, so they travel as text: written in
// the shortest form that reads back exactly (a STRICT REAL column converts it), read with 17
// significant digits.
constexpr std::string_view kScoreConfigColumns =
    "id, project_id, name, data_type, is_archived, "
    "CASE WHEN min_value IS NULL THEN NULL ELSE printf('%!.17g', min_value) END, "
    "CASE WHEN max_value IS NULL THEN NULL ELSE printf('%!.17g', max_value) END, "
    "categories, description, created_at, updated_at";

std::optional<std::string> DoubleText(const std::optional<double>& value) {
  if (!value) return std::nullopt;
  return fmt::format("{}", *value);
}

std::optional<double> ParseDoubleText(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return std::strtod(text->c_str(), nullptr);
}

ScoreConfig ReadScoreConfig(const SqliteStatement& s) {
  ScoreConfig c;
  c.id = s.Text(0);
  c.project_id = s.Text(1);
  c.name = s.Text(2);
  c.data_type = s.Text(3);
  c.is_archived = s.Int(4) != 0;
  c.min_value = ParseDoubleText(s.OptionalText(5));
  c.max_value = ParseDoubleText(s.OptionalText(6));
  c.categories = s.OptionalText(7);
  c.description = s.OptionalText(8);
  c.created_at_ms = s.Int(9);
  c.updated_at_ms = s.Int(10);
  return c;
}

Project ReadProject(const SqliteStatement& s) {
  Project p;
  p.id = s.Text(0);
  p.org_id = s.Text(1);
  p.name = s.Text(2);
  p.created_at_ms = s.Int(3);
  p.updated_at_ms = s.Int(4);
  p.deleted_at_ms = s.OptionalInt(5);
  return p;
}

//! MetaStore on one SQLite connection. Every method takes `mu_` for its whole duration, so the
//! connection and its statement cache are used by one thread at a time; a transaction never
//! interleaves with another thread's statements. Throughput is bounded by one connection, which
//! suits the embedded mode: the hot path (API key lookup) is cached by the authenticator.
class SqliteMetaStore final : public MetaStore {
 public:
  explicit SqliteMetaStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Status Migrate(int* applied) override {
    std::lock_guard lock(mu_);
    if (applied != nullptr) *applied = 0;
    RETURN_IF_ERROR(db_->Exec(
        "CREATE TABLE IF NOT EXISTS langfuse_schema_migrations ("
        "version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT"));
    const auto migrations = SqliteMetaMigrations();
    const int32_t newest_known = migrations.empty() ? 0 : migrations.back().version;
    {
      ASSIGN_OR_RETURN(auto s,
                       db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM langfuse_schema_migrations"));
      ASSIGN_OR_RETURN(const bool has_row, s->Step());
      const int64_t newest_applied = has_row ? s->Int(0) : 0;
      if (newest_applied > newest_known) {
        // An older binary must not write into a schema it does not know.
        return Status::Internal(
            fmt::format("the metadata database is at schema version {}, newer than this binary knows ({}); "
                        "run a newer langfuse",
                        newest_applied, newest_known));
      }
    }
    for (const MetaMigration& m : migrations) {
      // One transaction per migration: a failed step leaves the database at the previous version.
      // Re-checking inside the write lock makes two processes migrating at once harmless.
      SqliteTransaction tx(*db_);
      RETURN_IF_ERROR(tx.Begin());
      {
        ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT 1 FROM langfuse_schema_migrations WHERE version = ?1"));
        s->Bind(1, int64_t{m.version});
        ASSIGN_OR_RETURN(const bool done, s->Step());
        if (done) continue;
      }
      Status status = db_->Exec(m.sql);
      if (!status.ok()) {
        return Status(status.code(),
                      fmt::format("migration {} ({}): {}", m.version, m.name, status.message()));
      }
      {
        ASSIGN_OR_RETURN(auto s,
                         db_->Prepare("INSERT INTO langfuse_schema_migrations (version, name, applied_at) "
                                      "VALUES (?1, ?2, ?3)"));
        s->Bind(1, int64_t{m.version}).Bind(2, m.name).Bind(3, NowMs());
        RETURN_IF_ERROR(s->Run());
      }
      RETURN_IF_ERROR(tx.Commit());
      if (applied != nullptr) ++*applied;
    }
    return Status::Ok();
  }

  Status Ping() override {
    std::lock_guard lock(mu_);
    return db_->QueryText("SELECT 1").status();
  }

  Status UpsertOrganization(const Organization& org) override {
    if (org.id.empty()) return Status::InvalidArgument("organization id is empty");
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare(
                    "INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4) "
                    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at"));
    s->Bind(1, org.id)
        .Bind(2, org.name)
        .Bind(3, OrNow(org.created_at_ms, now))
        .Bind(4, OrNow(org.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::optional<Organization>> GetOrganization(const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare("SELECT id, name, created_at, updated_at FROM organizations WHERE id = ?1"));
    s->Bind(1, id);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<Organization>();
    Organization org;
    org.id = s->Text(0);
    org.name = s->Text(1);
    org.created_at_ms = s->Int(2);
    org.updated_at_ms = s->Int(3);
    return std::optional<Organization>(std::move(org));
  }

  StatusOr<int64_t> CountOrganizations() override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT COUNT(*) FROM organizations"));
    ASSIGN_OR_RETURN(const bool has_row, s->Step());
    return has_row ? s->Int(0) : int64_t{0};
  }

  Status UpsertProject(const Project& project) override {
    if (project.id.empty()) return Status::InvalidArgument("project id is empty");
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare("INSERT INTO projects (id, org_id, name, deleted_at, created_at, updated_at) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                             "ON CONFLICT (id) DO UPDATE SET org_id = excluded.org_id, name = excluded.name, "
                             "deleted_at = excluded.deleted_at, updated_at = excluded.updated_at"));
    s->Bind(1, project.id)
        .Bind(2, project.org_id)
        .Bind(3, project.name)
        .BindOptional(4, project.deleted_at_ms)
        .Bind(5, OrNow(project.created_at_ms, now))
        .Bind(6, OrNow(project.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::optional<Project>> GetProject(const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("SELECT id, org_id, name, created_at, updated_at, deleted_at FROM projects "
                                  "WHERE id = ?1"));
    s->Bind(1, id);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<Project>();
    return std::optional<Project>(ReadProject(*s));
  }

  StatusOr<std::vector<Project>> ListProjects(const std::string& org_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("SELECT id, org_id, name, created_at, updated_at, deleted_at FROM projects "
                                  "WHERE org_id = ?1 AND deleted_at IS NULL ORDER BY created_at, id"));
    s->Bind(1, org_id);
    std::vector<Project> out;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s->Step());
      if (!row) break;
      out.push_back(ReadProject(*s));
    }
    return out;
  }

  Status UpsertApiKey(const ApiKey& key) override {
    if (key.id.empty() || key.public_key.empty())
      return Status::InvalidArgument("api key id or public key is empty");
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare(fmt::format(
                    "INSERT INTO api_keys ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
                    "ON CONFLICT (public_key) DO UPDATE SET id = excluded.id, "
                    "hashed_secret_key = excluded.hashed_secret_key, "
                    "fast_hashed_secret_key = excluded.fast_hashed_secret_key, "
                    "display_secret_key = excluded.display_secret_key, note = excluded.note, "
                    "scope = excluded.scope, project_id = excluded.project_id, "
                    "organization_id = excluded.organization_id, created_at = excluded.created_at, "
                    "last_used_at = excluded.last_used_at, expires_at = excluded.expires_at",
                    kApiKeyColumns)));
    s->Bind(1, key.id)
        .Bind(2, key.public_key)
        .Bind(3, key.hashed_secret_key)
        .BindTextOrNull(4, key.fast_hashed_secret_key)
        .Bind(5, key.display_secret_key)
        .BindOptional(6, key.note)
        .Bind(7, key.scope.empty() ? std::string_view("PROJECT") : std::string_view(key.scope))
        .BindOptional(8, key.project_id)
        .BindOptional(9, key.organization_id)
        .Bind(10, OrNow(key.created_at_ms, NowMs()))
        .BindOptional(11, key.last_used_at_ms)
        .BindOptional(12, key.expires_at_ms);
    return s->Run();
  }

  StatusOr<std::optional<ApiKey>> FindApiKeyByFastHash(const std::string& fast_hash) override {
    // Legacy keys store NULL; an empty hash must never match anything.
    if (fast_hash.empty()) return std::optional<ApiKey>();
    return FindApiKeyWhere("fast_hashed_secret_key", fast_hash);
  }

  StatusOr<std::optional<ApiKey>> FindApiKeyByPublicKey(const std::string& public_key) override {
    return FindApiKeyWhere("public_key", public_key);
  }

  StatusOr<std::vector<ApiKey>> ListApiKeys(const std::string& project_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format(
                                 "SELECT {} FROM api_keys WHERE project_id = ?1 ORDER BY created_at, id",
                                 kApiKeyColumns)));
    s->Bind(1, project_id);
    std::vector<ApiKey> out;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s->Step());
      if (!row) break;
      out.push_back(ReadApiKey(*s));
    }
    return out;
  }

  Status DeleteApiKey(const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare("DELETE FROM api_keys WHERE id = ?1"));
    s->Bind(1, id);
    RETURN_IF_ERROR(s->Run());
    if (db_->Changes() == 0) return Status::NotFound("api key not found: " + id);
    return Status::Ok();
  }

  Status TouchApiKey(const std::string& id, int64_t last_used_at_ms) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1"));
    s->Bind(1, id).Bind(2, last_used_at_ms);
    return s->Run();
  }

  Status SetApiKeyFastHash(const std::string& public_key, const std::string& fast_hash) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("UPDATE api_keys SET fast_hashed_secret_key = ?2 WHERE public_key = ?1"));
    s->Bind(1, public_key).BindTextOrNull(2, fast_hash);
    RETURN_IF_ERROR(s->Run());
    if (db_->Changes() == 0) return Status::NotFound("api key not found: " + public_key);
    return Status::Ok();
  }

  Status UpsertUser(const User& user) override {
    const std::string email = AsciiLower(user.email);
    if (email.empty()) return Status::InvalidArgument("user email is empty");
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s,
        db_->Prepare("INSERT INTO users (id, email, name, password, admin, created_at, updated_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                     "ON CONFLICT (email) DO UPDATE SET name = excluded.name, password = excluded.password, "
                     "admin = excluded.admin, updated_at = excluded.updated_at"));
    s->Bind(1, user.id.empty() ? NewUuidV4() : user.id)
        .Bind(2, email)
        .BindOptional(3, user.name)
        .BindOptional(4, user.password)
        .Bind(5, int64_t{user.admin ? 1 : 0})
        .Bind(6, OrNow(user.created_at_ms, now))
        .Bind(7, now);
    return s->Run();
  }

  StatusOr<std::optional<User>> FindUserByEmail(const std::string& email) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s,
        db_->Prepare("SELECT id, email, name, password, admin, created_at FROM users WHERE email = ?1"));
    s->Bind(1, AsciiLower(email));
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<User>();
    User user;
    user.id = s->Text(0);
    user.email = s->Text(1);
    user.name = s->OptionalText(2);
    user.password = s->OptionalText(3);
    user.admin = s->Int(4) != 0;
    user.created_at_ms = s->Int(5);
    return std::optional<User>(std::move(user));
  }

  Status UpsertMembership(const OrganizationMembership& m) override {
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s,
        db_->Prepare(
            "INSERT INTO organization_memberships (id, org_id, user_id, role, created_at, updated_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?5) "
            "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, "
            "updated_at = excluded.updated_at"));
    s->Bind(1, m.id.empty() ? NewUuidV4() : m.id)
        .Bind(2, m.org_id)
        .Bind(3, m.user_id)
        .Bind(4, m.role)
        .Bind(5, now);
    return s->Run();
  }

  StatusOr<std::vector<OrganizationMembership>> ListMemberships(const std::string& org_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s,
        db_->Prepare("SELECT id, org_id, user_id, role FROM organization_memberships WHERE org_id = ?1 "
                     "ORDER BY created_at, id"));
    s->Bind(1, org_id);
    std::vector<OrganizationMembership> out;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s->Step());
      if (!row) break;
      out.push_back({s->Text(0), s->Text(1), s->Text(2), s->Text(3)});
    }
    return out;
  }

  Status CreateScoreConfig(const ScoreConfig& c) override {
    if (c.id.empty() || c.project_id.empty())
      return Status::InvalidArgument("score config id or project id is empty");
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("INSERT INTO score_configs (id, project_id, name, data_type, is_archived, "
                                  "min_value, max_value, categories, description, created_at, updated_at) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    s->Bind(1, c.id)
        .Bind(2, c.project_id)
        .Bind(3, c.name)
        .Bind(4, c.data_type)
        .Bind(5, int64_t{c.is_archived ? 1 : 0})
        .BindOptional(6, DoubleText(c.min_value))
        .BindOptional(7, DoubleText(c.max_value))
        .BindOptional(8, c.categories)
        .BindOptional(9, c.description)
        .Bind(10, OrNow(c.created_at_ms, now))
        .Bind(11, OrNow(c.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::optional<ScoreConfig>> GetScoreConfig(const std::string& project_id,
                                                      const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare(fmt::format("SELECT {} FROM score_configs WHERE id = ?1 AND project_id = ?2",
                                         kScoreConfigColumns)));
    s->Bind(1, id).Bind(2, project_id);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<ScoreConfig>();
    return std::optional<ScoreConfig>(ReadScoreConfig(*s));
  }

  StatusOr<std::vector<ScoreConfig>> ListScoreConfigs(const std::string& project_id, int64_t limit,
                                                      int64_t offset) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format("SELECT {} FROM score_configs WHERE project_id = ?1 "
                                                      "ORDER BY created_at DESC, id ASC LIMIT ?2 OFFSET ?3",
                                                      kScoreConfigColumns)));
    s->Bind(1, project_id).Bind(2, std::max<int64_t>(limit, 0)).Bind(3, std::max<int64_t>(offset, 0));
    std::vector<ScoreConfig> out;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s->Step());
      if (!row) break;
      out.push_back(ReadScoreConfig(*s));
    }
    return out;
  }

  StatusOr<int64_t> CountScoreConfigs(const std::string& project_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT COUNT(*) FROM score_configs WHERE project_id = ?1"));
    s->Bind(1, project_id);
    ASSIGN_OR_RETURN(const bool has_row, s->Step());
    return has_row ? s->Int(0) : int64_t{0};
  }

  Status UpdateScoreConfig(const ScoreConfig& c) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("UPDATE score_configs SET name = ?3, data_type = ?4, is_archived = ?5, "
                                  "min_value = ?6, max_value = ?7, categories = ?8, description = ?9, "
                                  "updated_at = ?10 WHERE id = ?1 AND project_id = ?2"));
    s->Bind(1, c.id)
        .Bind(2, c.project_id)
        .Bind(3, c.name)
        .Bind(4, c.data_type)
        .Bind(5, int64_t{c.is_archived ? 1 : 0})
        .BindOptional(6, DoubleText(c.min_value))
        .BindOptional(7, DoubleText(c.max_value))
        .BindOptional(8, c.categories)
        .BindOptional(9, c.description)
        .Bind(10, OrNow(c.updated_at_ms, NowMs()));
    RETURN_IF_ERROR(s->Run());
    if (db_->Changes() == 0) return Status::NotFound("score config not found: " + c.id);
    return Status::Ok();
  }

 private:
  // `column` is one of two literals chosen above, never caller input.
  StatusOr<std::optional<ApiKey>> FindApiKeyWhere(std::string_view column, const std::string& value) {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare(fmt::format("SELECT {} FROM api_keys WHERE {} = ?1", kApiKeyColumns, column)));
    s->Bind(1, value);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<ApiKey>();
    return std::optional<ApiKey>(ReadApiKey(*s));
  }

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
};

}  // namespace

StatusOr<std::unique_ptr<MetaStore>> OpenSqliteMetaStore(const std::string& path) {
  ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, kBusyTimeoutMs));
  return std::unique_ptr<MetaStore>(std::make_unique<SqliteMetaStore>(std::move(db)));
}

}  // namespace langfuse::meta
