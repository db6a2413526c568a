#include <fmt/core.h>

#include <algorithm>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

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

// v2 import progress
constexpr std::string_view kImportProgressSelect =
    "SELECT table_name, source, cursor_created_at, cursor_id, rows_done, rows_total, finished, owner, "
    "heartbeat_at, updated_at FROM import_v2_progress";

ImportProgress ReadImportProgress(const PgResult& r, int row) {
  ImportProgress p;
  p.table = r.Text(row, 0);
  p.source = r.Text(row, 1);
  p.cursor_created_at = r.Text(row, 2);
  p.cursor_id = r.Text(row, 3);
  p.rows_done = r.Int(row, 4);
  p.rows_total = r.Int(row, 5);
  p.finished = r.Bool(row, 6);
  p.owner = r.Text(row, 7);
  p.heartbeat_at_ms = r.Int(row, 8);
  p.updated_at_ms = r.Int(row, 9);
  return p;
}

// Prompts, datasets, models

// labels and tags are TEXT[]: written from a JSON array parameter, read back as JSON.
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

std::string TextArray(int param) {
  return fmt::format("ARRAY(SELECT jsonb_array_elements_text(${}::jsonb))::TEXT[]", param);
}

// Decimals read as text without the trailing zeros DECIMAL(65,30) pads them with.
std::string DecimalText(std::string_view column) { return fmt::format("trim_scale({})::text", column); }

const std::string& PromptSelect() {
  static const std::string sql = fmt::format(
      "SELECT id, project_id, name, version, prompt::text, type, config::text, "
      "COALESCE(array_to_json(labels)::text, '[]'), COALESCE(array_to_json(tags)::text, '[]'), "
      "commit_message, "
      "created_by, {}, {} FROM prompts ",
      Ms("created_at"), Ms("updated_at"));
  return sql;
}

Prompt ReadPrompt(const PgResult& r, int row) {
  Prompt p;
  p.id = r.Text(row, 0);
  p.project_id = r.Text(row, 1);
  p.name = r.Text(row, 2);
  p.version = static_cast<int32_t>(r.Int(row, 3));
  p.prompt = r.Text(row, 4);
  p.type = r.Text(row, 5);
  p.config = r.Text(row, 6);
  p.labels = ParseStringArrayJson(r.Text(row, 7));
  p.tags = ParseStringArrayJson(r.Text(row, 8));
  p.commit_message = r.OptionalText(row, 9);
  p.created_by = r.Text(row, 10);
  p.created_at_ms = r.Int(row, 11);
  p.updated_at_ms = r.Int(row, 12);
  return p;
}

const std::string& DatasetSelect() {
  static const std::string sql = fmt::format(
      "SELECT id, project_id, name, description, metadata::text, remote_experiment_url, "
      "remote_experiment_payload::text, {}, {} FROM datasets ",
      Ms("created_at"), Ms("updated_at"));
  return sql;
}

Dataset ReadDataset(const PgResult& r, int row) {
  Dataset d;
  d.id = r.Text(row, 0);
  d.project_id = r.Text(row, 1);
  d.name = r.Text(row, 2);
  d.description = r.OptionalText(row, 3);
  d.metadata = r.OptionalText(row, 4);
  d.remote_experiment_url = r.OptionalText(row, 5);
  d.remote_experiment_payload = r.OptionalText(row, 6);
  d.created_at_ms = r.Int(row, 7);
  d.updated_at_ms = r.Int(row, 8);
  return d;
}

const std::string& DatasetItemSelect() {
  static const std::string sql = fmt::format(
      "SELECT id, project_id, dataset_id, COALESCE(status, 'ACTIVE')::text, input::text, "
      "expected_output::text, "
      "metadata::text, source_trace_id, source_observation_id, {}, {} FROM dataset_items ",
      Ms("created_at"), Ms("updated_at"));
  return sql;
}

DatasetItem ReadDatasetItem(const PgResult& r, int row) {
  DatasetItem i;
  i.id = r.Text(row, 0);
  i.project_id = r.Text(row, 1);
  i.dataset_id = r.Text(row, 2);
  i.status = r.Text(row, 3);
  i.input = r.OptionalText(row, 4);
  i.expected_output = r.OptionalText(row, 5);
  i.metadata = r.OptionalText(row, 6);
  i.source_trace_id = r.OptionalText(row, 7);
  i.source_observation_id = r.OptionalText(row, 8);
  i.created_at_ms = r.Int(row, 9);
  i.updated_at_ms = r.Int(row, 10);
  return i;
}

const std::string& DatasetRunSelect() {
  static const std::string sql = fmt::format(
      "SELECT id, project_id, dataset_id, name, description, metadata::text, {}, {} FROM dataset_runs ",
      Ms("created_at"), Ms("updated_at"));
  return sql;
}

DatasetRun ReadDatasetRun(const PgResult& r, int row) {
  DatasetRun d;
  d.id = r.Text(row, 0);
  d.project_id = r.Text(row, 1);
  d.dataset_id = r.Text(row, 2);
  d.name = r.Text(row, 3);
  d.description = r.OptionalText(row, 4);
  d.metadata = r.OptionalText(row, 5);
  d.created_at_ms = r.Int(row, 6);
  d.updated_at_ms = r.Int(row, 7);
  return d;
}

const std::string& DatasetRunItemSelect() {
  static const std::string sql = fmt::format(
      "SELECT id, project_id, dataset_run_id, dataset_item_id, trace_id, observation_id, {}, {} "
      "FROM dataset_run_items ",
      Ms("created_at"), Ms("updated_at"));
  return sql;
}

DatasetRunItem ReadDatasetRunItem(const PgResult& r, int row) {
  DatasetRunItem d;
  d.id = r.Text(row, 0);
  d.project_id = r.Text(row, 1);
  d.dataset_run_id = r.Text(row, 2);
  d.dataset_item_id = r.Text(row, 3);
  d.trace_id = r.Text(row, 4);
  d.observation_id = r.OptionalText(row, 5);
  d.created_at_ms = r.Int(row, 6);
  d.updated_at_ms = r.Int(row, 7);
  return d;
}

const std::string& ModelSelect() {
  static const std::string sql = fmt::format(
      "SELECT id, project_id, model_name, match_pattern, {}, unit, {}, {}, {}, tokenizer_id, "
      "tokenizer_config::text, {}, {} FROM models ",
      Ms("start_date"), DecimalText("input_price"), DecimalText("output_price"), DecimalText("total_price"),
      Ms("created_at"), Ms("updated_at"));
  return sql;
}

Model ReadModel(const PgResult& r, int row) {
  Model m;
  m.id = r.Text(row, 0);
  m.project_id = r.OptionalText(row, 1);
  m.model_name = r.Text(row, 2);
  m.match_pattern = r.Text(row, 3);
  m.start_date_ms = r.OptionalInt(row, 4);
  m.unit = r.OptionalText(row, 5);
  m.input_price = r.OptionalText(row, 6);
  m.output_price = r.OptionalText(row, 7);
  m.total_price = r.OptionalText(row, 8);
  m.tokenizer_id = r.OptionalText(row, 9);
  m.tokenizer_config = r.OptionalText(row, 10);
  m.created_at_ms = r.Int(row, 11);
  m.updated_at_ms = r.Int(row, 12);
  return m;
}

const std::string& PriceSelect() {
  static const std::string sql =
      fmt::format("SELECT id, model_id, project_id, usage_type, {}, {}, {} FROM prices ",
                  DecimalText("price"), Ms("created_at"), Ms("updated_at"));
  return sql;
}

Price ReadPrice(const PgResult& r, int row) {
  Price p;
  p.id = r.Text(row, 0);
  p.model_id = r.Text(row, 1);
  p.project_id = r.OptionalText(row, 2);
  p.usage_type = r.Text(row, 3);
  p.price = r.Text(row, 4);
  p.created_at_ms = r.Int(row, 5);
  p.updated_at_ms = r.Int(row, 6);
  return p;
}

template <typename Read>
auto ReadRows(const PgResult& r, Read read) -> std::vector<decltype(read(r, 0))> {
  std::vector<decltype(read(r, 0))> out;
  out.reserve(static_cast<size_t>(r.Rows()));
  for (int row = 0; row < r.Rows(); ++row) out.push_back(read(r, row));
  return out;
}
// End of prompts, datasets, models

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

  // Web UI accounts
  StatusOr<std::optional<User>> GetUser(const std::string& id) override {
    static const std::string sql = fmt::format(
        "SELECT id, email, name, password, admin, {} FROM users WHERE id = $1", Ms("created_at"));
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id}));
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

  Status CreateUser(const User& user) override {
    const std::string email = AsciiLower(user.email);
    if (email.empty()) return Status::InvalidArgument("user email is empty");
    static const std::string sql = fmt::format(
        "INSERT INTO users (id, email, name, password, admin, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, {}, {})",
        Ts(6), Ts(7));
    const int64_t now = NowMs();
    return Run(sql, {user.id.empty() ? NewUuidV4() : user.id, email, user.name, user.password, user.admin,
                     OrNow(user.created_at_ms, now), now});
  }

  StatusOr<std::vector<OrganizationMembership>> ListMembershipsForUser(const std::string& user_id) override {
    static const std::string sql = fmt::format(
        "SELECT id, org_id, user_id, role FROM organization_memberships WHERE user_id = $1 ORDER BY "
        "created_at, {}",
        kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {user_id}));
    std::vector<OrganizationMembership> out;
    out.reserve(static_cast<size_t>(r.Rows()));
    for (int row = 0; row < r.Rows(); ++row) {
      out.push_back({r.Text(row, 0), r.Text(row, 1), r.Text(row, 2), r.Text(row, 3)});
    }
    return out;
  }

  Status DeleteMembership(const std::string& org_id, const std::string& user_id) override {
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r,
                     conn->Query("DELETE FROM organization_memberships WHERE org_id = $1 AND user_id = $2",
                                 {org_id, user_id}));
    if (r.AffectedRows() == 0) return Status::NotFound("membership not found");
    return Status::Ok();
  }

  StatusOr<std::optional<ApiKey>> GetApiKey(const std::string& id) override {
    static const std::string sql = ApiKeySelect() + "WHERE id = $1";
    return FindApiKey(sql, id);
  }
  // End of web UI accounts

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

  // v2 import progress
  StatusOr<std::vector<ImportProgress>> ListImportProgress() override {
    static const std::string sql = std::string(kImportProgressSelect) + " ORDER BY table_name COLLATE \"C\"";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql));
    std::vector<ImportProgress> out;
    for (int row = 0; row < r.Rows(); ++row) out.push_back(ReadImportProgress(r, row));
    return out;
  }

  Status SaveImportProgress(const ImportProgress& p) override {
    if (p.table.empty()) return Status::InvalidArgument("import progress table name is empty");
    return Run(
        "INSERT INTO import_v2_progress (table_name, source, cursor_created_at, cursor_id, rows_done, rows_total, "
        "finished, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (table_name) DO UPDATE SET "
        "source = excluded.source, cursor_created_at = excluded.cursor_created_at, cursor_id = excluded.cursor_id, "
        "rows_done = excluded.rows_done, rows_total = excluded.rows_total, finished = excluded.finished, "
        "updated_at = excluded.updated_at",
        {p.table, p.source, p.cursor_created_at, p.cursor_id, p.rows_done, p.rows_total, p.finished,
         OrNow(p.updated_at_ms, NowMs())});
  }

  StatusOr<ImportProgress> AcquireImportLease(const std::string& owner, const std::string& replaceable_owner,
                                              int64_t now_ms, int64_t stale_after_ms) override {
    if (owner.empty()) return Status::InvalidArgument("import lease owner is empty");
    static const std::string sql = std::string(kImportProgressSelect) + " WHERE table_name = $1";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    // One statement: two processes racing for a free or stale lease serialise on the row, and the
    // loser's WHERE then sees the winner's fresh heartbeat.
    RETURN_IF_ERROR(
        conn->Query("INSERT INTO import_v2_progress (table_name, owner, heartbeat_at, updated_at) "
                    "VALUES ($1, $2, $3, $3) ON CONFLICT (table_name) DO UPDATE SET owner = excluded.owner, "
                    "heartbeat_at = excluded.heartbeat_at, updated_at = excluded.updated_at "
                    "WHERE import_v2_progress.owner IN ('', $2, $4) OR import_v2_progress.heartbeat_at < $5",
                    {std::string(kImportLeaseRow), owner, now_ms, replaceable_owner.empty() ? owner : replaceable_owner,
                     now_ms - stale_after_ms})
            .status());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {std::string(kImportLeaseRow)}));
    if (r.Rows() == 0) return Status::Internal("import lease row missing after upsert");
    return ReadImportProgress(r, 0);
  }

  Status ReleaseImportLease(const std::string& owner) override {
    return Run("UPDATE import_v2_progress SET owner = '', heartbeat_at = 0 WHERE table_name = $1 AND owner = $2",
               {std::string(kImportLeaseRow), owner});
  }

  // Prompts, datasets, models

  Status UpsertProjectMembership(const ProjectMembership& m) override {
    static const std::string sql = fmt::format(
        "INSERT INTO project_memberships (org_membership_id, project_id, user_id, role, created_at, "
        "updated_at) "
        "VALUES ($1, $2, $3, $4, {}, {}) ON CONFLICT (project_id, user_id) DO UPDATE SET "
        "org_membership_id = excluded.org_membership_id, role = excluded.role, created_at = "
        "excluded.created_at, "
        "updated_at = excluded.updated_at",
        Ts(5), Ts(6));
    const int64_t now = NowMs();
    return Run(sql, {m.org_membership_id, m.project_id, m.user_id, m.role, OrNow(m.created_at_ms, now),
                     OrNow(m.updated_at_ms, now)});
  }

  StatusOr<std::vector<ProjectMembership>> ListProjectMemberships(const std::string& project_id) override {
    static const std::string sql = fmt::format(
        "SELECT org_membership_id, project_id, user_id, role, {}, {} FROM project_memberships "
        "WHERE project_id = $1 ORDER BY created_at, user_id COLLATE \"C\"",
        Ms("created_at"), Ms("updated_at"));
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {project_id}));
    return ReadRows(r, [](const PgResult& res, int row) {
      return ProjectMembership{res.Text(row, 0), res.Text(row, 1), res.Text(row, 2),
                               res.Text(row, 3), res.Int(row, 4),  res.Int(row, 5)};
    });
  }

  Status UpsertPrompt(const Prompt& p) override {
    if (p.id.empty() || p.project_id.empty())
      return Status::InvalidArgument("prompt id or project id is empty");
    static const std::string sql = fmt::format(
        "INSERT INTO prompts (id, project_id, name, version, prompt, type, config, labels, tags, "
        "commit_message, "
        "created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, {}, {}, $10, $11, {}, {}) "
        "ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id, name = excluded.name, "
        "version = excluded.version, prompt = excluded.prompt, type = excluded.type, config = "
        "excluded.config, "
        "labels = excluded.labels, tags = excluded.tags, commit_message = excluded.commit_message, "
        "created_by = excluded.created_by, created_at = excluded.created_at, updated_at = "
        "excluded.updated_at",
        TextArray(8), TextArray(9), Ts(12), Ts(13));
    const int64_t now = NowMs();
    return Run(sql, {p.id, p.project_id, p.name, p.version, p.prompt, p.type,
                     p.config.empty() ? std::string_view("{}") : std::string_view(p.config),
                     StringArrayJson(p.labels), StringArrayJson(p.tags), p.commit_message, p.created_by,
                     OrNow(p.created_at_ms, now), OrNow(p.updated_at_ms, now)});
  }

  StatusOr<std::optional<Prompt>> GetPrompt(const std::string& project_id, const std::string& id) override {
    static const std::string sql = PromptSelect() + "WHERE id = $1 AND project_id = $2";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id, project_id}));
    if (r.Rows() == 0) return std::optional<Prompt>();
    return std::optional<Prompt>(ReadPrompt(r, 0));
  }

  StatusOr<std::vector<Prompt>> ListPrompts(const std::string& project_id, const std::string& name) override {
    static const std::string sql = PromptSelect() +
                                   "WHERE project_id = $1 AND ($2 = '' OR name = $2) "
                                   "ORDER BY name COLLATE \"C\", version";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {project_id, name}));
    return ReadRows(r, ReadPrompt);
  }

  Status UpsertDataset(const Dataset& d) override {
    if (d.id.empty() || d.project_id.empty())
      return Status::InvalidArgument("dataset id or project id is empty");
    static const std::string sql = fmt::format(
        "INSERT INTO datasets (id, project_id, name, description, metadata, remote_experiment_url, "
        "remote_experiment_payload, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, {}, {}) "
        "ON CONFLICT (id, project_id) DO UPDATE SET name = excluded.name, description = "
        "excluded.description, "
        "metadata = excluded.metadata, remote_experiment_url = excluded.remote_experiment_url, "
        "remote_experiment_payload = excluded.remote_experiment_payload, created_at = excluded.created_at, "
        "updated_at = excluded.updated_at",
        Ts(8), Ts(9));
    const int64_t now = NowMs();
    return Run(sql, {d.id, d.project_id, d.name, d.description, d.metadata, d.remote_experiment_url,
                     d.remote_experiment_payload, OrNow(d.created_at_ms, now), OrNow(d.updated_at_ms, now)});
  }

  StatusOr<std::optional<Dataset>> GetDataset(const std::string& project_id, const std::string& id) override {
    static const std::string sql = DatasetSelect() + "WHERE id = $1 AND project_id = $2";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id, project_id}));
    if (r.Rows() == 0) return std::optional<Dataset>();
    return std::optional<Dataset>(ReadDataset(r, 0));
  }

  StatusOr<std::vector<Dataset>> ListDatasets(const std::string& project_id) override {
    static const std::string sql =
        fmt::format("{}WHERE project_id = $1 ORDER BY created_at, {}", DatasetSelect(), kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {project_id}));
    return ReadRows(r, ReadDataset);
  }

  Status UpsertDatasetItem(const DatasetItem& i) override {
    if (i.id.empty() || i.project_id.empty()) {
      return Status::InvalidArgument("dataset item id or project id is empty");
    }
    static const std::string sql = fmt::format(
        "INSERT INTO dataset_items (id, project_id, dataset_id, status, input, expected_output, metadata, "
        "source_trace_id, source_observation_id, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {}, {}) "
        "ON CONFLICT (id, project_id) DO UPDATE SET dataset_id = excluded.dataset_id, status = "
        "excluded.status, "
        "input = excluded.input, expected_output = excluded.expected_output, metadata = excluded.metadata, "
        "source_trace_id = excluded.source_trace_id, source_observation_id = excluded.source_observation_id, "
        "created_at = excluded.created_at, updated_at = excluded.updated_at",
        Ts(10), Ts(11));
    const int64_t now = NowMs();
    return Run(sql, {i.id, i.project_id, i.dataset_id,
                     i.status.empty() ? std::string_view("ACTIVE") : std::string_view(i.status), i.input,
                     i.expected_output, i.metadata, i.source_trace_id, i.source_observation_id,
                     OrNow(i.created_at_ms, now), OrNow(i.updated_at_ms, now)});
  }

  StatusOr<std::optional<DatasetItem>> GetDatasetItem(const std::string& project_id,
                                                      const std::string& id) override {
    static const std::string sql = DatasetItemSelect() + "WHERE id = $1 AND project_id = $2";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id, project_id}));
    if (r.Rows() == 0) return std::optional<DatasetItem>();
    return std::optional<DatasetItem>(ReadDatasetItem(r, 0));
  }

  StatusOr<std::vector<DatasetItem>> ListDatasetItems(const std::string& project_id,
                                                      const std::string& dataset_id, int64_t limit,
                                                      int64_t offset) override {
    static const std::string sql = fmt::format(
        "{}WHERE project_id = $1 AND dataset_id = $2 ORDER BY created_at DESC, {} ASC LIMIT $3 OFFSET $4",
        DatasetItemSelect(), kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {project_id, dataset_id, std::max<int64_t>(limit, 0),
                                                         std::max<int64_t>(offset, 0)}));
    return ReadRows(r, ReadDatasetItem);
  }

  Status UpsertDatasetRun(const DatasetRun& d) override {
    if (d.id.empty() || d.project_id.empty()) {
      return Status::InvalidArgument("dataset run id or project id is empty");
    }
    static const std::string sql = fmt::format(
        "INSERT INTO dataset_runs (id, project_id, dataset_id, name, description, metadata, created_at, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, $6, {}, {}) "
        "ON CONFLICT (id, project_id) DO UPDATE SET dataset_id = excluded.dataset_id, name = excluded.name, "
        "description = excluded.description, metadata = excluded.metadata, created_at = excluded.created_at, "
        "updated_at = excluded.updated_at",
        Ts(7), Ts(8));
    const int64_t now = NowMs();
    return Run(sql, {d.id, d.project_id, d.dataset_id, d.name, d.description, d.metadata,
                     OrNow(d.created_at_ms, now), OrNow(d.updated_at_ms, now)});
  }

  StatusOr<std::optional<DatasetRun>> GetDatasetRun(const std::string& project_id,
                                                    const std::string& id) override {
    static const std::string sql = DatasetRunSelect() + "WHERE id = $1 AND project_id = $2";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id, project_id}));
    if (r.Rows() == 0) return std::optional<DatasetRun>();
    return std::optional<DatasetRun>(ReadDatasetRun(r, 0));
  }

  StatusOr<std::vector<DatasetRun>> ListDatasetRuns(const std::string& project_id,
                                                    const std::string& dataset_id) override {
    static const std::string sql = fmt::format(
        "{}WHERE project_id = $1 AND dataset_id = $2 ORDER BY created_at, {}", DatasetRunSelect(), kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {project_id, dataset_id}));
    return ReadRows(r, ReadDatasetRun);
  }

  Status UpsertDatasetRunItem(const DatasetRunItem& d) override {
    if (d.id.empty() || d.project_id.empty()) {
      return Status::InvalidArgument("dataset run item id or project id is empty");
    }
    static const std::string sql = fmt::format(
        "INSERT INTO dataset_run_items (id, project_id, dataset_run_id, dataset_item_id, trace_id, "
        "observation_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, {}, {}) "
        "ON CONFLICT (id, project_id) DO UPDATE SET dataset_run_id = excluded.dataset_run_id, "
        "dataset_item_id = excluded.dataset_item_id, trace_id = excluded.trace_id, "
        "observation_id = excluded.observation_id, created_at = excluded.created_at, "
        "updated_at = excluded.updated_at",
        Ts(7), Ts(8));
    const int64_t now = NowMs();
    return Run(sql, {d.id, d.project_id, d.dataset_run_id, d.dataset_item_id, d.trace_id, d.observation_id,
                     OrNow(d.created_at_ms, now), OrNow(d.updated_at_ms, now)});
  }

  StatusOr<std::optional<DatasetRunItem>> GetDatasetRunItem(const std::string& project_id,
                                                            const std::string& id) override {
    static const std::string sql = DatasetRunItemSelect() + "WHERE id = $1 AND project_id = $2";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id, project_id}));
    if (r.Rows() == 0) return std::optional<DatasetRunItem>();
    return std::optional<DatasetRunItem>(ReadDatasetRunItem(r, 0));
  }

  StatusOr<std::vector<DatasetRunItem>> ListDatasetRunItems(const std::string& project_id,
                                                            const std::string& dataset_run_id) override {
    static const std::string sql = fmt::format(
        "{}WHERE project_id = $1 AND dataset_run_id = $2 ORDER BY "
        "created_at, {}",
        DatasetRunItemSelect(), kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {project_id, dataset_run_id}));
    return ReadRows(r, ReadDatasetRunItem);
  }

  Status UpsertModel(const Model& m) override {
    if (m.id.empty()) return Status::InvalidArgument("model id is empty");
    static const std::string sql = fmt::format(
        "INSERT INTO models (id, project_id, model_name, match_pattern, start_date, unit, input_price, "
        "output_price, total_price, tokenizer_id, tokenizer_config, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, {}, $6, $7, $8, $9, $10, $11, {}, {}) "
        "ON CONFLICT (id) DO UPDATE SET project_id = excluded.project_id, model_name = excluded.model_name, "
        "match_pattern = excluded.match_pattern, start_date = excluded.start_date, unit = excluded.unit, "
        "input_price = excluded.input_price, output_price = excluded.output_price, "
        "total_price = excluded.total_price, tokenizer_id = excluded.tokenizer_id, "
        "tokenizer_config = excluded.tokenizer_config, created_at = excluded.created_at, "
        "updated_at = excluded.updated_at",
        Ts(5), Ts(12), Ts(13));
    const int64_t now = NowMs();
    return Run(sql, {m.id, m.project_id, m.model_name, m.match_pattern, m.start_date_ms, m.unit,
                     m.input_price, m.output_price, m.total_price, m.tokenizer_id, m.tokenizer_config,
                     OrNow(m.created_at_ms, now), OrNow(m.updated_at_ms, now)});
  }

  StatusOr<std::optional<Model>> GetModel(const std::string& id) override {
    static const std::string sql = ModelSelect() + "WHERE id = $1";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {id}));
    if (r.Rows() == 0) return std::optional<Model>();
    return std::optional<Model>(ReadModel(r, 0));
  }

  StatusOr<std::vector<Model>> ListModels(const std::string& project_id) override {
    static const std::string sql =
        fmt::format("{}WHERE project_id = $1 OR project_id IS NULL ORDER BY model_name COLLATE \"C\", {}",
                    ModelSelect(), kIdOrder);
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {project_id}));
    return ReadRows(r, ReadModel);
  }

  Status UpsertPrice(const Price& p) override {
    if (p.id.empty() || p.model_id.empty()) return Status::InvalidArgument("price id or model id is empty");
    static const std::string sql = fmt::format(
        "INSERT INTO prices (id, model_id, project_id, usage_type, price, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, {}, {}) "
        "ON CONFLICT (id) DO UPDATE SET model_id = excluded.model_id, project_id = excluded.project_id, "
        "usage_type = excluded.usage_type, price = excluded.price, created_at = excluded.created_at, "
        "updated_at = excluded.updated_at",
        Ts(6), Ts(7));
    const int64_t now = NowMs();
    return Run(sql, {p.id, p.model_id, p.project_id, p.usage_type, p.price, OrNow(p.created_at_ms, now),
                     OrNow(p.updated_at_ms, now)});
  }

  StatusOr<std::vector<Price>> ListPrices(const std::string& model_id) override {
    static const std::string sql = PriceSelect() + "WHERE model_id = $1 ORDER BY usage_type COLLATE \"C\"";
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(sql, {model_id}));
    return ReadRows(r, ReadPrice);
  }

  StatusOr<int64_t> CountRows(std::string_view table) override {
    if (std::find(std::begin(kCountableTables), std::end(kCountableTables), table) ==
        std::end(kCountableTables)) {
      return Status::InvalidArgument(fmt::format("not a countable table: {}", table));
    }
    ASSIGN_OR_RETURN(auto conn, pool_.Acquire());
    // `table` is one of kCountableTables, never arbitrary caller text.
    ASSIGN_OR_RETURN(const PgResult r, conn->Query(fmt::format("SELECT COUNT(*) FROM {}", table)));
    return r.Int(0, 0);
  }
  // End of prompts, datasets, models

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
