#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace langfuse::meta {

// Rows of the transactional store. Table and column names follow Langfuse's Postgres schema
// (organizations, projects, api_keys, users, organization_memberships). Timestamps are
// milliseconds since the Unix epoch, UTC; a created_at_ms/updated_at_ms of 0 given to an upsert
// means "now". An empty id given to UpsertUser or UpsertMembership means "generate one".

struct Organization {
  std::string id;
  std::string name;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct Project {
  std::string id;
  std::string org_id;
  std::string name;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::optional<int64_t> deleted_at_ms;
};

struct ApiKey {
  std::string id;
  std::string public_key;              //!< pk-lf-...
  std::string hashed_secret_key;       //!< slow hash (argon2id here; bcrypt for keys imported from Langfuse)
  std::string fast_hashed_secret_key;  //!< hex(sha256(sk ‖ hex(sha256(SALT))))
  std::string display_secret_key;      //!< sk-lf-...abcd
  std::optional<std::string> note;
  std::string scope = "PROJECT";  //!< PROJECT or ORGANIZATION
  std::optional<std::string> project_id;
  std::optional<std::string> organization_id;
  int64_t created_at_ms = 0;
  std::optional<int64_t> last_used_at_ms;
  std::optional<int64_t> expires_at_ms;
};

struct User {
  std::string id;
  std::string email;  //!< lower-cased
  std::optional<std::string> name;
  std::optional<std::string> password;  //!< argon2id encoded hash
  bool admin = false;
  int64_t created_at_ms = 0;
};

struct OrganizationMembership {
  std::string id;
  std::string org_id;
  std::string user_id;
  std::string role;  //!< OWNER | ADMIN | MEMBER | VIEWER | NONE
};

//! A project's score config (Langfuse's `score_configs`): the shape scores that name it must have.
struct ScoreConfig {
  std::string id;
  std::string project_id;
  std::string name;
  std::string data_type;  //!< NUMERIC | CATEGORICAL | BOOLEAN | TEXT
  bool is_archived = false;
  std::optional<double> min_value;
  std::optional<double> max_value;
  //! JSON text `[{"label": ..., "value": ...}]`, kept verbatim as Langfuse's JSON column; the
  //! store does not interpret it (the API validates it).
  std::optional<std::string> categories;
  std::optional<std::string> description;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

//! The transactional store: organisations, projects, users, memberships, API keys and score
//! configs.
//! Implementations (SQLite embedded, Postgres at scale) share one conformance suite
//! (meta_store_conformance.h). Call Migrate once before anything else.
//! Errors: kConflict for a unique-key clash, kInvalidArgument for a row that references a
//! missing parent (foreign key) or breaks a check, kUnavailable when the database is busy or
//! unreachable, kInternal otherwise.
//! Thread-safety: every method may be called from any thread concurrently.
class MetaStore {
 public:
  virtual ~MetaStore() = default;

  //! Applies the numbered migrations not yet recorded; `applied` gets how many ran.
  virtual Status Migrate(int* applied) = 0;
  //! A cheap round trip, for health checks.
  virtual Status Ping() = 0;

  virtual Status UpsertOrganization(const Organization& org) = 0;
  virtual StatusOr<std::optional<Organization>> GetOrganization(const std::string& id) = 0;
  virtual StatusOr<int64_t> CountOrganizations() = 0;

  virtual Status UpsertProject(const Project& project) = 0;
  virtual StatusOr<std::optional<Project>> GetProject(const std::string& id) = 0;
  //! The organisation's projects that are not soft-deleted, oldest first.
  virtual StatusOr<std::vector<Project>> ListProjects(const std::string& org_id) = 0;

  //! Inserts the key, or replaces the row with the same public_key (every column, id included).
  //! An empty fast_hashed_secret_key is stored as NULL (Langfuse's legacy keys have none).
  virtual Status UpsertApiKey(const ApiKey& key) = 0;
  virtual StatusOr<std::optional<ApiKey>> FindApiKeyByFastHash(const std::string& fast_hash) = 0;
  virtual StatusOr<std::optional<ApiKey>> FindApiKeyByPublicKey(const std::string& public_key) = 0;
  //! The project's keys, oldest first.
  virtual StatusOr<std::vector<ApiKey>> ListApiKeys(const std::string& project_id) = 0;
  //! kNotFound when no key has this id.
  virtual Status DeleteApiKey(const std::string& id) = 0;
  //! Sets last_used_at; a missing key is not an error (it may have been deleted meanwhile).
  virtual Status TouchApiKey(const std::string& id, int64_t last_used_at_ms) = 0;
  //! Backfills fast_hashed_secret_key of the key with this public key, as Langfuse does after
  //! verifying a legacy (slow-hash only) key. kNotFound when no key has this public key.
  //! The default reads and re-upserts the row; implementations override it with one UPDATE.
  virtual Status SetApiKeyFastHash(const std::string& public_key, const std::string& fast_hash) {
    auto found = FindApiKeyByPublicKey(public_key);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return Status::NotFound("api key not found: " + public_key);
    ApiKey key = std::move(**found);
    key.fast_hashed_secret_key = fast_hash;
    return UpsertApiKey(key);
  }

  //! Inserts or updates (name, password, admin) by email, lower-cased (ASCII) by the store; an
  //! existing user keeps its id.
  virtual Status UpsertUser(const User& user) = 0;
  virtual StatusOr<std::optional<User>> FindUserByEmail(const std::string& email) = 0;

  //! Inserts or updates the role of (org_id, user_id); an existing membership keeps its id.
  virtual Status UpsertMembership(const OrganizationMembership& membership) = 0;
  //! Oldest first.
  virtual StatusOr<std::vector<OrganizationMembership>> ListMemberships(const std::string& org_id) = 0;

  // Score configs. The defaults answer kInternal so that stores (and test doubles) written before
  // score configs existed keep compiling; every real implementation overrides all five.

  //! Inserts a new config; kConflict when the id exists, kInvalidArgument for a missing project
  //! or a data_type outside the four known ones.
  virtual Status CreateScoreConfig(const ScoreConfig& config) {
    (void)config;
    return Status::Internal("this metadata store does not support score configs");
  }
  //! The config `id` of the project; nullopt when absent or of another project.
  virtual StatusOr<std::optional<ScoreConfig>> GetScoreConfig(const std::string& project_id,
                                                              const std::string& id) {
    (void)project_id;
    (void)id;
    return Status::Internal("this metadata store does not support score configs");
  }
  //! One page of the project's configs, newest first (created_at descending, then id), as
  //! Langfuse lists them.
  virtual StatusOr<std::vector<ScoreConfig>> ListScoreConfigs(const std::string& project_id, int64_t limit,
                                                              int64_t offset) {
    (void)project_id;
    (void)limit;
    (void)offset;
    return Status::Internal("this metadata store does not support score configs");
  }
  virtual StatusOr<int64_t> CountScoreConfigs(const std::string& project_id) {
    (void)project_id;
    return Status::Internal("this metadata store does not support score configs");
  }
  //! Replaces name, data_type, is_archived, min/max, categories and description of the config
  //! (project_id, id) and sets updated_at (0 = now); kNotFound when the project has no such config.
  virtual Status UpdateScoreConfig(const ScoreConfig& config) {
    (void)config;
    return Status::Internal("this metadata store does not support score configs");
  }
};

//! Opens (creating if needed) the SQLite store at `path` in WAL mode (the folder must exist).
//! Does not migrate: call Migrate.
StatusOr<std::unique_ptr<MetaStore>> OpenSqliteMetaStore(const std::string& path);

//! Connects to PostgreSQL at `url`, Langfuse's DATABASE_URL: postgresql://user:pass@host:port/db
//! or postgres://..., with `?schema=` (the search_path; Migrate creates it if missing; default
//! public), `?connection_limit=` (pool size, default 4) and `?pool_timeout=` (seconds a call waits
//! for a pooled connection, default 10, 0 = no limit) handled by the store, other libpq parameters
//! (sslmode, application_name, ...) passed to libpq, and unknown ones ignored with a warning.
//! kInvalidArgument for a malformed URL, kUnavailable when the server cannot be reached or refuses
//! the login. Does not migrate: call Migrate.
StatusOr<std::unique_ptr<MetaStore>> OpenPostgresMetaStore(const std::string& url);

}  // namespace langfuse::meta
