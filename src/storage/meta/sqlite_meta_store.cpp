#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

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

// v2 import progress
constexpr std::string_view kImportProgressSelect =
    "SELECT table_name, source, cursor_created_at, cursor_id, rows_done, rows_total, finished, owner, "
    "heartbeat_at, updated_at FROM import_v2_progress";

ImportProgress ReadImportProgress(const SqliteStatement& s) {
  ImportProgress p;
  p.table = s.Text(0);
  p.source = s.Text(1);
  p.cursor_created_at = s.Text(2);
  p.cursor_id = s.Text(3);
  p.rows_done = s.Int(4);
  p.rows_total = s.Int(5);
  p.finished = s.Int(6) != 0;
  p.owner = s.Text(7);
  p.heartbeat_at_ms = s.Int(8);
  p.updated_at_ms = s.Int(9);
  return p;
}

// Prompts, datasets, models

// labels and tags (TEXT[] in Langfuse) are JSON arrays of strings here.
std::string StringArrayJson(const std::vector<std::string>& values) { return nlohmann::json(values).dump(); }

std::vector<std::string> ParseStringArrayJson(const std::string& text) {
  std::vector<std::string> out;
  const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return out;
  for (const auto& value : parsed) {
    if (value.is_string()) out.push_back(value.get<std::string>());
  }
  return out;
}

// Decimal prices are TEXT; trailing fractional zeros are trimmed so that "0.0000020" reads back as
// Postgres's trim_scale gives it ("0.000002").
std::string TrimDecimal(std::string text) {
  if (text.find('.') == std::string::npos || text.find_first_of("eE") != std::string::npos) return text;
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  if (text.empty() || text == "-") return "0";
  return text;
}
std::optional<std::string> TrimDecimal(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return TrimDecimal(*text);
}

constexpr std::string_view kPromptColumns =
    "id, project_id, name, version, prompt, type, config, labels, tags, commit_message, created_by, "
    "created_at, "
    "updated_at";

Prompt ReadPrompt(const SqliteStatement& s) {
  Prompt p;
  p.id = s.Text(0);
  p.project_id = s.Text(1);
  p.name = s.Text(2);
  p.version = static_cast<int32_t>(s.Int(3));
  p.prompt = s.Text(4);
  p.type = s.Text(5);
  p.config = s.Text(6);
  p.labels = ParseStringArrayJson(s.Text(7));
  p.tags = ParseStringArrayJson(s.Text(8));
  p.commit_message = s.OptionalText(9);
  p.created_by = s.Text(10);
  p.created_at_ms = s.Int(11);
  p.updated_at_ms = s.Int(12);
  return p;
}

constexpr std::string_view kDatasetColumns =
    "id, project_id, name, description, metadata, remote_experiment_url, remote_experiment_payload, "
    "created_at, "
    "updated_at";

Dataset ReadDataset(const SqliteStatement& s) {
  Dataset d;
  d.id = s.Text(0);
  d.project_id = s.Text(1);
  d.name = s.Text(2);
  d.description = s.OptionalText(3);
  d.metadata = s.OptionalText(4);
  d.remote_experiment_url = s.OptionalText(5);
  d.remote_experiment_payload = s.OptionalText(6);
  d.created_at_ms = s.Int(7);
  d.updated_at_ms = s.Int(8);
  return d;
}

constexpr std::string_view kDatasetItemColumns =
    "id, project_id, dataset_id, COALESCE(status, 'ACTIVE'), input, expected_output, metadata, "
    "source_trace_id, "
    "source_observation_id, created_at, updated_at";

DatasetItem ReadDatasetItem(const SqliteStatement& s) {
  DatasetItem i;
  i.id = s.Text(0);
  i.project_id = s.Text(1);
  i.dataset_id = s.Text(2);
  i.status = s.Text(3);
  i.input = s.OptionalText(4);
  i.expected_output = s.OptionalText(5);
  i.metadata = s.OptionalText(6);
  i.source_trace_id = s.OptionalText(7);
  i.source_observation_id = s.OptionalText(8);
  i.created_at_ms = s.Int(9);
  i.updated_at_ms = s.Int(10);
  return i;
}

constexpr std::string_view kDatasetRunColumns =
    "id, project_id, dataset_id, name, description, metadata, created_at, updated_at";

DatasetRun ReadDatasetRun(const SqliteStatement& s) {
  DatasetRun r;
  r.id = s.Text(0);
  r.project_id = s.Text(1);
  r.dataset_id = s.Text(2);
  r.name = s.Text(3);
  r.description = s.OptionalText(4);
  r.metadata = s.OptionalText(5);
  r.created_at_ms = s.Int(6);
  r.updated_at_ms = s.Int(7);
  return r;
}

constexpr std::string_view kDatasetRunItemColumns =
    "id, project_id, dataset_run_id, dataset_item_id, trace_id, observation_id, created_at, updated_at";

DatasetRunItem ReadDatasetRunItem(const SqliteStatement& s) {
  DatasetRunItem r;
  r.id = s.Text(0);
  r.project_id = s.Text(1);
  r.dataset_run_id = s.Text(2);
  r.dataset_item_id = s.Text(3);
  r.trace_id = s.Text(4);
  r.observation_id = s.OptionalText(5);
  r.created_at_ms = s.Int(6);
  r.updated_at_ms = s.Int(7);
  return r;
}

constexpr std::string_view kModelColumns =
    "id, project_id, model_name, match_pattern, start_date, unit, input_price, output_price, total_price, "
    "tokenizer_id, tokenizer_config, created_at, updated_at";

Model ReadModel(const SqliteStatement& s) {
  Model m;
  m.id = s.Text(0);
  m.project_id = s.OptionalText(1);
  m.model_name = s.Text(2);
  m.match_pattern = s.Text(3);
  m.start_date_ms = s.OptionalInt(4);
  m.unit = s.OptionalText(5);
  m.input_price = s.OptionalText(6);
  m.output_price = s.OptionalText(7);
  m.total_price = s.OptionalText(8);
  m.tokenizer_id = s.OptionalText(9);
  m.tokenizer_config = s.OptionalText(10);
  m.created_at_ms = s.Int(11);
  m.updated_at_ms = s.Int(12);
  return m;
}

constexpr std::string_view kPriceColumns =
    "id, model_id, project_id, usage_type, price, created_at, updated_at";

Price ReadPrice(const SqliteStatement& s) {
  Price p;
  p.id = s.Text(0);
  p.model_id = s.Text(1);
  p.project_id = s.OptionalText(2);
  p.usage_type = s.Text(3);
  p.price = s.Text(4);
  p.created_at_ms = s.Int(5);
  p.updated_at_ms = s.Int(6);
  return p;
}

bool IsCountableTable(std::string_view table) {
  return std::find(std::begin(kCountableTables), std::end(kCountableTables), table) !=
         std::end(kCountableTables);
}
// End of prompts, datasets, models

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

  // Web UI accounts
  StatusOr<std::optional<User>> GetUser(const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("SELECT id, email, name, password, admin, created_at FROM users WHERE id = ?1"));
    s->Bind(1, id);
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

  Status CreateUser(const User& user) override {
    const std::string email = AsciiLower(user.email);
    if (email.empty()) return Status::InvalidArgument("user email is empty");
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(auto s, db_->Prepare("INSERT INTO users (id, email, name, password, admin, created_at, "
                                          "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    s->Bind(1, user.id.empty() ? NewUuidV4() : user.id)
        .Bind(2, email)
        .BindOptional(3, user.name)
        .BindOptional(4, user.password)
        .Bind(5, int64_t{user.admin ? 1 : 0})
        .Bind(6, OrNow(user.created_at_ms, now))
        .Bind(7, now);
    return s->Run();
  }

  StatusOr<std::vector<OrganizationMembership>> ListMembershipsForUser(const std::string& user_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s,
        db_->Prepare("SELECT id, org_id, user_id, role FROM organization_memberships WHERE user_id = ?1 "
                     "ORDER BY created_at, id"));
    s->Bind(1, user_id);
    std::vector<OrganizationMembership> out;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s->Step());
      if (!row) break;
      out.push_back({s->Text(0), s->Text(1), s->Text(2), s->Text(3)});
    }
    return out;
  }

  Status DeleteMembership(const std::string& org_id, const std::string& user_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("DELETE FROM organization_memberships WHERE org_id = ?1 AND user_id = ?2"));
    s->Bind(1, org_id).Bind(2, user_id);
    RETURN_IF_ERROR(s->Run());
    if (db_->Changes() == 0) return Status::NotFound("membership not found");
    return Status::Ok();
  }

  StatusOr<std::optional<ApiKey>> GetApiKey(const std::string& id) override { return FindApiKeyWhere("id", id); }
  // End of web UI accounts

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

  // v2 import progress
  StatusOr<std::vector<ImportProgress>> ListImportProgress() override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare(std::string(kImportProgressSelect) + " ORDER BY table_name"));
    std::vector<ImportProgress> out;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s->Step());
      if (!row) break;
      out.push_back(ReadImportProgress(*s));
    }
    return out;
  }

  Status SaveImportProgress(const ImportProgress& p) override {
    if (p.table.empty()) return Status::InvalidArgument("import progress table name is empty");
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("INSERT INTO import_v2_progress (table_name, source, cursor_created_at, cursor_id, "
                                  "rows_done, rows_total, finished, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                                  "ON CONFLICT (table_name) DO UPDATE SET source = excluded.source, "
                                  "cursor_created_at = excluded.cursor_created_at, cursor_id = excluded.cursor_id, "
                                  "rows_done = excluded.rows_done, rows_total = excluded.rows_total, "
                                  "finished = excluded.finished, updated_at = excluded.updated_at"));
    s->Bind(1, p.table)
        .Bind(2, p.source)
        .Bind(3, p.cursor_created_at)
        .Bind(4, p.cursor_id)
        .Bind(5, p.rows_done)
        .Bind(6, p.rows_total)
        .Bind(7, int64_t{p.finished ? 1 : 0})
        .Bind(8, OrNow(p.updated_at_ms, NowMs()));
    return s->Run();
  }

  StatusOr<ImportProgress> AcquireImportLease(const std::string& owner, const std::string& replaceable_owner,
                                              int64_t now_ms, int64_t stale_after_ms) override {
    if (owner.empty()) return Status::InvalidArgument("import lease owner is empty");
    std::lock_guard lock(mu_);
    {
      ASSIGN_OR_RETURN(
          auto s, db_->Prepare("INSERT INTO import_v2_progress (table_name, owner, heartbeat_at, updated_at) "
                               "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (table_name) DO UPDATE SET owner = excluded.owner, "
                               "heartbeat_at = excluded.heartbeat_at, updated_at = excluded.updated_at "
                               "WHERE import_v2_progress.owner IN ('', ?2, ?4) OR import_v2_progress.heartbeat_at < ?5"));
      s->Bind(1, kImportLeaseRow)
          .Bind(2, owner)
          .Bind(3, now_ms)
          .Bind(4, replaceable_owner.empty() ? owner : replaceable_owner)
          .Bind(5, now_ms - stale_after_ms);
      RETURN_IF_ERROR(s->Run());
    }
    ASSIGN_OR_RETURN(auto s, db_->Prepare(std::string(kImportProgressSelect) + " WHERE table_name = ?1"));
    s->Bind(1, kImportLeaseRow);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return Status::Internal("import lease row missing after upsert");
    return ReadImportProgress(*s);
  }

  Status ReleaseImportLease(const std::string& owner) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare("UPDATE import_v2_progress SET owner = '', heartbeat_at = 0 "
                                          "WHERE table_name = ?1 AND owner = ?2"));
    s->Bind(1, kImportLeaseRow).Bind(2, owner);
    return s->Run();
  }

  // Prompts, datasets, models

  Status UpsertProjectMembership(const ProjectMembership& m) override {
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare("INSERT INTO project_memberships (org_membership_id, project_id, user_id, role, "
                             "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                             "ON CONFLICT (project_id, user_id) DO UPDATE SET "
                             "org_membership_id = excluded.org_membership_id, role = excluded.role, "
                             "created_at = excluded.created_at, updated_at = excluded.updated_at"));
    s->Bind(1, m.org_membership_id)
        .Bind(2, m.project_id)
        .Bind(3, m.user_id)
        .Bind(4, m.role)
        .Bind(5, OrNow(m.created_at_ms, now))
        .Bind(6, OrNow(m.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::vector<ProjectMembership>> ListProjectMemberships(const std::string& project_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT org_membership_id, project_id, user_id, role, created_at, "
                                          "updated_at FROM project_memberships WHERE project_id = ?1 "
                                          "ORDER BY created_at, user_id"));
    s->Bind(1, project_id);
    std::vector<ProjectMembership> out;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s->Step());
      if (!row) break;
      out.push_back({s->Text(0), s->Text(1), s->Text(2), s->Text(3), s->Int(4), s->Int(5)});
    }
    return out;
  }

  Status UpsertPrompt(const Prompt& p) override {
    if (p.id.empty() || p.project_id.empty())
      return Status::InvalidArgument("prompt id or project id is empty");
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s,
        db_->Prepare(fmt::format(
            "INSERT INTO prompts ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
            "ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id, name = excluded.name, "
            "version = excluded.version, prompt = excluded.prompt, type = excluded.type, "
            "config = excluded.config, labels = excluded.labels, tags = excluded.tags, "
            "commit_message = excluded.commit_message, created_by = excluded.created_by, "
            "created_at = excluded.created_at, updated_at = excluded.updated_at",
            kPromptColumns)));
    s->Bind(1, p.id)
        .Bind(2, p.project_id)
        .Bind(3, p.name)
        .Bind(4, int64_t{p.version})
        .Bind(5, p.prompt)
        .Bind(6, p.type)
        .Bind(7, p.config.empty() ? std::string_view("{}") : std::string_view(p.config))
        .Bind(8, StringArrayJson(p.labels))
        .Bind(9, StringArrayJson(p.tags))
        .BindOptional(10, p.commit_message)
        .Bind(11, p.created_by)
        .Bind(12, OrNow(p.created_at_ms, now))
        .Bind(13, OrNow(p.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::optional<Prompt>> GetPrompt(const std::string& project_id, const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare(
                    fmt::format("SELECT {} FROM prompts WHERE id = ?1 AND project_id = ?2", kPromptColumns)));
    s->Bind(1, id).Bind(2, project_id);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<Prompt>();
    return std::optional<Prompt>(ReadPrompt(*s));
  }

  StatusOr<std::vector<Prompt>> ListPrompts(const std::string& project_id, const std::string& name) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format("SELECT {} FROM prompts WHERE project_id = ?1 "
                                                      "AND (?2 = '' OR name = ?2) ORDER BY name, version",
                                                      kPromptColumns)));
    s->Bind(1, project_id).Bind(2, name);
    return ReadAll(*s, ReadPrompt);
  }

  Status UpsertDataset(const Dataset& d) override {
    if (d.id.empty() || d.project_id.empty())
      return Status::InvalidArgument("dataset id or project id is empty");
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format(
                                 "INSERT INTO datasets ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                                 "ON CONFLICT (id, project_id) DO UPDATE SET name = excluded.name, "
                                 "description = excluded.description, metadata = excluded.metadata, "
                                 "remote_experiment_url = excluded.remote_experiment_url, "
                                 "remote_experiment_payload = excluded.remote_experiment_payload, "
                                 "created_at = excluded.created_at, updated_at = excluded.updated_at",
                                 kDatasetColumns)));
    s->Bind(1, d.id)
        .Bind(2, d.project_id)
        .Bind(3, d.name)
        .BindOptional(4, d.description)
        .BindOptional(5, d.metadata)
        .BindOptional(6, d.remote_experiment_url)
        .BindOptional(7, d.remote_experiment_payload)
        .Bind(8, OrNow(d.created_at_ms, now))
        .Bind(9, OrNow(d.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::optional<Dataset>> GetDataset(const std::string& project_id, const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare(fmt::format("SELECT {} FROM datasets WHERE id = ?1 AND project_id = ?2",
                                              kDatasetColumns)));
    s->Bind(1, id).Bind(2, project_id);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<Dataset>();
    return std::optional<Dataset>(ReadDataset(*s));
  }

  StatusOr<std::vector<Dataset>> ListDatasets(const std::string& project_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format(
                                 "SELECT {} FROM datasets WHERE project_id = ?1 ORDER BY created_at, id",
                                 kDatasetColumns)));
    s->Bind(1, project_id);
    return ReadAll(*s, ReadDataset);
  }

  Status UpsertDatasetItem(const DatasetItem& i) override {
    if (i.id.empty() || i.project_id.empty()) {
      return Status::InvalidArgument("dataset item id or project id is empty");
    }
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare("INSERT INTO dataset_items (id, project_id, dataset_id, status, input, "
                             "expected_output, metadata, source_trace_id, source_observation_id, created_at, "
                             "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                             "ON CONFLICT (id, project_id) DO UPDATE SET dataset_id = excluded.dataset_id, "
                             "status = excluded.status, input = excluded.input, "
                             "expected_output = excluded.expected_output, metadata = excluded.metadata, "
                             "source_trace_id = excluded.source_trace_id, "
                             "source_observation_id = excluded.source_observation_id, "
                             "created_at = excluded.created_at, updated_at = excluded.updated_at"));
    s->Bind(1, i.id)
        .Bind(2, i.project_id)
        .Bind(3, i.dataset_id)
        .Bind(4, i.status.empty() ? std::string_view("ACTIVE") : std::string_view(i.status))
        .BindOptional(5, i.input)
        .BindOptional(6, i.expected_output)
        .BindOptional(7, i.metadata)
        .BindOptional(8, i.source_trace_id)
        .BindOptional(9, i.source_observation_id)
        .Bind(10, OrNow(i.created_at_ms, now))
        .Bind(11, OrNow(i.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::optional<DatasetItem>> GetDatasetItem(const std::string& project_id,
                                                      const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare(fmt::format("SELECT {} FROM dataset_items WHERE id = ?1 AND project_id = ?2",
                                         kDatasetItemColumns)));
    s->Bind(1, id).Bind(2, project_id);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<DatasetItem>();
    return std::optional<DatasetItem>(ReadDatasetItem(*s));
  }

  StatusOr<std::vector<DatasetItem>> ListDatasetItems(const std::string& project_id,
                                                      const std::string& dataset_id, int64_t limit,
                                                      int64_t offset) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format(
                                 "SELECT {} FROM dataset_items WHERE project_id = ?1 AND dataset_id = ?2 "
                                 "ORDER BY created_at DESC, id ASC LIMIT ?3 OFFSET ?4",
                                 kDatasetItemColumns)));
    s->Bind(1, project_id)
        .Bind(2, dataset_id)
        .Bind(3, std::max<int64_t>(limit, 0))
        .Bind(4, std::max<int64_t>(offset, 0));
    return ReadAll(*s, ReadDatasetItem);
  }

  Status UpsertDatasetRun(const DatasetRun& r) override {
    if (r.id.empty() || r.project_id.empty()) {
      return Status::InvalidArgument("dataset run id or project id is empty");
    }
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare(fmt::format(
                    "INSERT INTO dataset_runs ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                    "ON CONFLICT (id, project_id) DO UPDATE SET dataset_id = excluded.dataset_id, "
                    "name = excluded.name, description = excluded.description, metadata = excluded.metadata, "
                    "created_at = excluded.created_at, updated_at = excluded.updated_at",
                    kDatasetRunColumns)));
    s->Bind(1, r.id)
        .Bind(2, r.project_id)
        .Bind(3, r.dataset_id)
        .Bind(4, r.name)
        .BindOptional(5, r.description)
        .BindOptional(6, r.metadata)
        .Bind(7, OrNow(r.created_at_ms, now))
        .Bind(8, OrNow(r.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::optional<DatasetRun>> GetDatasetRun(const std::string& project_id,
                                                    const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare(fmt::format("SELECT {} FROM dataset_runs WHERE id = ?1 AND project_id = ?2",
                                              kDatasetRunColumns)));
    s->Bind(1, id).Bind(2, project_id);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<DatasetRun>();
    return std::optional<DatasetRun>(ReadDatasetRun(*s));
  }

  StatusOr<std::vector<DatasetRun>> ListDatasetRuns(const std::string& project_id,
                                                    const std::string& dataset_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format("SELECT {} FROM dataset_runs WHERE project_id = ?1 AND "
                                                      "dataset_id = ?2 ORDER BY created_at, id",
                                                      kDatasetRunColumns)));
    s->Bind(1, project_id).Bind(2, dataset_id);
    return ReadAll(*s, ReadDatasetRun);
  }

  Status UpsertDatasetRunItem(const DatasetRunItem& r) override {
    if (r.id.empty() || r.project_id.empty()) {
      return Status::InvalidArgument("dataset run item id or project id is empty");
    }
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare(fmt::format(
                    "INSERT INTO dataset_run_items ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                    "ON CONFLICT (id, project_id) DO UPDATE SET dataset_run_id = excluded.dataset_run_id, "
                    "dataset_item_id = excluded.dataset_item_id, trace_id = excluded.trace_id, "
                    "observation_id = excluded.observation_id, created_at = excluded.created_at, "
                    "updated_at = excluded.updated_at",
                    kDatasetRunItemColumns)));
    s->Bind(1, r.id)
        .Bind(2, r.project_id)
        .Bind(3, r.dataset_run_id)
        .Bind(4, r.dataset_item_id)
        .Bind(5, r.trace_id)
        .BindOptional(6, r.observation_id)
        .Bind(7, OrNow(r.created_at_ms, now))
        .Bind(8, OrNow(r.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::optional<DatasetRunItem>> GetDatasetRunItem(const std::string& project_id,
                                                            const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare(fmt::format("SELECT {} FROM dataset_run_items WHERE id = ?1 AND project_id = ?2",
                                         kDatasetRunItemColumns)));
    s->Bind(1, id).Bind(2, project_id);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<DatasetRunItem>();
    return std::optional<DatasetRunItem>(ReadDatasetRunItem(*s));
  }

  StatusOr<std::vector<DatasetRunItem>> ListDatasetRunItems(const std::string& project_id,
                                                            const std::string& dataset_run_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare(fmt::format("SELECT {} FROM dataset_run_items WHERE project_id = ?1 "
                                              "AND dataset_run_id = ?2 ORDER BY created_at, id",
                                              kDatasetRunItemColumns)));
    s->Bind(1, project_id).Bind(2, dataset_run_id);
    return ReadAll(*s, ReadDatasetRunItem);
  }

  Status UpsertModel(const Model& m) override {
    if (m.id.empty()) return Status::InvalidArgument("model id is empty");
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(
        auto s,
        db_->Prepare(fmt::format(
            "INSERT INTO models ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
            "ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id, "
            "model_name = excluded.model_name, match_pattern = excluded.match_pattern, "
            "start_date = excluded.start_date, unit = excluded.unit, input_price = excluded.input_price, "
            "output_price = excluded.output_price, total_price = excluded.total_price, "
            "tokenizer_id = excluded.tokenizer_id, tokenizer_config = excluded.tokenizer_config, "
            "created_at = excluded.created_at, updated_at = excluded.updated_at",
            kModelColumns)));
    s->Bind(1, m.id)
        .BindOptional(2, m.project_id)
        .Bind(3, m.model_name)
        .Bind(4, m.match_pattern)
        .BindOptional(5, m.start_date_ms)
        .BindOptional(6, m.unit)
        .BindOptional(7, TrimDecimal(m.input_price))
        .BindOptional(8, TrimDecimal(m.output_price))
        .BindOptional(9, TrimDecimal(m.total_price))
        .BindOptional(10, m.tokenizer_id)
        .BindOptional(11, m.tokenizer_config)
        .Bind(12, OrNow(m.created_at_ms, now))
        .Bind(13, OrNow(m.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::optional<Model>> GetModel(const std::string& id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format("SELECT {} FROM models WHERE id = ?1", kModelColumns)));
    s->Bind(1, id);
    ASSIGN_OR_RETURN(const bool found, s->Step());
    if (!found) return std::optional<Model>();
    return std::optional<Model>(ReadModel(*s));
  }

  StatusOr<std::vector<Model>> ListModels(const std::string& project_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare(fmt::format("SELECT {} FROM models WHERE project_id = ?1 OR project_id "
                                              "IS NULL ORDER BY model_name, id",
                                              kModelColumns)));
    s->Bind(1, project_id);
    return ReadAll(*s, ReadModel);
  }

  Status UpsertPrice(const Price& p) override {
    if (p.id.empty() || p.model_id.empty()) return Status::InvalidArgument("price id or model id is empty");
    std::lock_guard lock(mu_);
    const int64_t now = NowMs();
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format(
                                 "INSERT INTO prices ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                                 "ON CONFLICT (id) DO UPDATE SET model_id = excluded.model_id, "
                                 "project_id = excluded.project_id, usage_type = excluded.usage_type, "
                                 "price = excluded.price, created_at = excluded.created_at, "
                                 "updated_at = excluded.updated_at",
                                 kPriceColumns)));
    s->Bind(1, p.id)
        .Bind(2, p.model_id)
        .BindOptional(3, p.project_id)
        .Bind(4, p.usage_type)
        .Bind(5, TrimDecimal(p.price))
        .Bind(6, OrNow(p.created_at_ms, now))
        .Bind(7, OrNow(p.updated_at_ms, now));
    return s->Run();
  }

  StatusOr<std::vector<Price>> ListPrices(const std::string& model_id) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare(fmt::format("SELECT {} FROM prices WHERE model_id = ?1 ORDER BY usage_type",
                                              kPriceColumns)));
    s->Bind(1, model_id);
    return ReadAll(*s, ReadPrice);
  }

  StatusOr<int64_t> CountRows(std::string_view table) override {
    if (!IsCountableTable(table))
      return Status::InvalidArgument(fmt::format("not a countable table: {}", table));
    std::lock_guard lock(mu_);
    // `table` is one of kCountableTables, never arbitrary caller text.
    ASSIGN_OR_RETURN(auto s, db_->Prepare(fmt::format("SELECT COUNT(*) FROM {}", table)));
    ASSIGN_OR_RETURN(const bool has_row, s->Step());
    return has_row ? s->Int(0) : int64_t{0};
  }
  // End of prompts, datasets, models

 private:
  // Prompts, datasets, models: every row of a prepared, bound statement, read by `read`.
  template <typename Read>
  static auto ReadAll(SqliteStatement& s, Read read) -> StatusOr<std::vector<decltype(read(s))>> {
    std::vector<decltype(read(s))> out;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, s.Step());
      if (!row) break;
      out.push_back(read(s));
    }
    return out;
  }

  // `column` is one of three literals chosen above, never caller input.
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
