#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

// v2 import progress
//! One row of import_v2_progress: how far `langfuse import-v2` got with one source table, or, for
//! the table name kImportLeaseRow, which process runs the import (owner and heartbeat).
struct ImportProgress {
  std::string table;              //!< the source table ("traces", ...) or kImportLeaseRow
  std::string source;             //!< identity of the source database the rows came from
  std::string cursor_created_at;  //!< keyset cursor: created_at of the last row copied, as the source wrote it
  std::string cursor_id;          //!< keyset cursor: id of the last row copied ("" = none yet)
  int64_t rows_done = 0;
  int64_t rows_total = 0;
  bool finished = false;
  std::string owner;  //!< lease row only: who holds it ("" = nobody)
  int64_t heartbeat_at_ms = 0;
  int64_t updated_at_ms = 0;
};
inline constexpr std::string_view kImportLeaseRow = "@lease";

// Prompts, datasets, models
// Langfuse's project_memberships, prompts, datasets, dataset_items, dataset_runs,
// dataset_run_items, models and prices. JSON columns travel as JSON text, kept verbatim.

//! A user's role in one project, overriding the organisation role (project_memberships).
struct ProjectMembership {
  std::string org_membership_id;
  std::string project_id;
  std::string user_id;
  std::string role;  //!< OWNER | ADMIN | MEMBER | VIEWER | NONE
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  bool operator==(const ProjectMembership&) const = default;
};

//! One version of a prompt; (project_id, name, version) is unique.
struct Prompt {
  std::string id;
  std::string project_id;
  std::string name;
  int32_t version = 1;
  std::string prompt;         //!< JSON text: a string for type text, a message array for type chat
  std::string type = "text";  //!< text | chat
  std::string config = "{}";  //!< JSON text
  std::vector<std::string> labels;
  std::vector<std::string> tags;
  std::optional<std::string> commit_message;
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  bool operator==(const Prompt&) const = default;
};

struct Dataset {
  std::string id;
  std::string project_id;
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> metadata;  //!< JSON text
  std::optional<std::string> remote_experiment_url;
  std::optional<std::string> remote_experiment_payload;  //!< JSON text
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  bool operator==(const Dataset&) const = default;
};

struct DatasetItem {
  std::string id;
  std::string project_id;
  std::string dataset_id;
  std::string status = "ACTIVE";               //!< ACTIVE | ARCHIVED
  std::optional<std::string> input;            //!< JSON text
  std::optional<std::string> expected_output;  //!< JSON text
  std::optional<std::string> metadata;         //!< JSON text
  std::optional<std::string> source_trace_id;
  std::optional<std::string> source_observation_id;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  bool operator==(const DatasetItem&) const = default;
};

//! An experiment run over a dataset; (dataset_id, project_id, name) is unique.
struct DatasetRun {
  std::string id;
  std::string project_id;
  std::string dataset_id;
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> metadata;  //!< JSON text
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  bool operator==(const DatasetRun&) const = default;
};

struct DatasetRunItem {
  std::string id;
  std::string project_id;
  std::string dataset_run_id;
  std::string dataset_item_id;
  std::string trace_id;
  std::optional<std::string> observation_id;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  bool operator==(const DatasetRunItem&) const = default;
};

//! A model definition for usage and cost inference. Prices are decimal text ("0.000002"), exact;
//! the per-usage-type prices live in `prices`, the three price columns are Langfuse's legacy ones.
struct Model {
  std::string id;
  std::optional<std::string> project_id;  //!< nullopt for a built-in model
  std::string model_name;
  std::string match_pattern;  //!< regular expression matched against observation model names
  std::optional<int64_t> start_date_ms;
  std::optional<std::string> unit;  //!< TOKENS, CHARACTERS, ...
  std::optional<std::string> input_price;
  std::optional<std::string> output_price;
  std::optional<std::string> total_price;
  std::optional<std::string> tokenizer_id;
  std::optional<std::string> tokenizer_config;  //!< JSON text
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  bool operator==(const Model&) const = default;
};

//! The price of one usage type ("input", "output", "total", ...) of a model; (model_id,
//! usage_type) is unique.
struct Price {
  std::string id;
  std::string model_id;
  std::optional<std::string> project_id;  //!< the model's project
  std::string usage_type;
  std::string price;  //!< decimal text, trailing zeros trimmed by the store
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  bool operator==(const Price&) const = default;
};

//! What MetaStore's prompt, dataset and model methods answer in a store without them.
inline Status NoPromptsDatasets() {
  return Status::Internal("this metadata store does not support prompts, datasets and models");
}
// End of prompts, datasets, models

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

  // Web UI accounts. The defaults answer kInternal, as for score configs.

  //! The user with this id, nullopt when none.
  virtual StatusOr<std::optional<User>> GetUser(const std::string& /*id*/) {
    return Status::Internal("this metadata store does not support web UI accounts");
  }
  //! Inserts a new user (email lower-cased, empty id = generate one); kConflict when the email
  //! (or id) is taken, and then nothing changes.
  virtual Status CreateUser(const User& /*user*/) {
    return Status::Internal("this metadata store does not support web UI accounts");
  }
  //! The user's memberships in every organisation, oldest first.
  virtual StatusOr<std::vector<OrganizationMembership>> ListMembershipsForUser(const std::string& /*user_id*/) {
    return Status::Internal("this metadata store does not support web UI accounts");
  }
  //! Removes (org_id, user_id); kNotFound when there is no such membership.
  virtual Status DeleteMembership(const std::string& /*org_id*/, const std::string& /*user_id*/) {
    return Status::Internal("this metadata store does not support web UI accounts");
  }
  //! The key with this id, nullopt when none.
  virtual StatusOr<std::optional<ApiKey>> GetApiKey(const std::string& /*id*/) {
    return Status::Internal("this metadata store does not support web UI accounts");
  }
  // End of web UI accounts

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

  // v2 import progress. The defaults answer kInternal, as for score configs.

  //! Every row of import_v2_progress (the lease row included), by table name.
  virtual StatusOr<std::vector<ImportProgress>> ListImportProgress() {
    return Status::Internal("this metadata store does not support import progress");
  }
  //! Inserts or replaces the row of `progress.table` (owner and heartbeat are left as they are).
  virtual Status SaveImportProgress(const ImportProgress& progress) {
    (void)progress;
    return Status::Internal("this metadata store does not support import progress");
  }
  //! Takes or renews the import lease for `owner` in one statement: won when nobody holds it, when
  //! `owner` or `replaceable_owner` (a holder the caller knows is dead; may be empty) holds it, or
  //! when its heartbeat is older than `stale_after_ms`. Answers the lease row afterwards: the lease
  //! was won when its owner is `owner`.
  virtual StatusOr<ImportProgress> AcquireImportLease(const std::string& owner, const std::string& replaceable_owner,
                                                      int64_t now_ms, int64_t stale_after_ms) {
    (void)owner;
    (void)replaceable_owner;
    (void)now_ms;
    (void)stale_after_ms;
    return Status::Internal("this metadata store does not support import progress");
  }
  //! Gives the lease up if `owner` holds it.
  virtual Status ReleaseImportLease(const std::string& owner) {
    (void)owner;
    return Status::Internal("this metadata store does not support import progress");
  }
  // Prompts, datasets, models. Every Upsert inserts the row or replaces every column of the row
  // with the same primary key (id; (id, project_id) for the dataset tables; (project_id, user_id)
  // for project memberships). A clash on another unique key is kConflict, a missing parent
  // kInvalidArgument. The defaults answer kInternal, as for score configs.

  virtual Status UpsertProjectMembership(const ProjectMembership& /*membership*/) {
    return NoPromptsDatasets();
  }
  //! Oldest first.
  virtual StatusOr<std::vector<ProjectMembership>> ListProjectMemberships(const std::string& /*project_id*/) {
    return NoPromptsDatasets();
  }

  virtual Status UpsertPrompt(const Prompt& /*prompt*/) { return NoPromptsDatasets(); }
  virtual StatusOr<std::optional<Prompt>> GetPrompt(const std::string& /*project_id*/,
                                                    const std::string& /*id*/) {
    return NoPromptsDatasets();
  }
  //! The project's prompts named `name` (every prompt when empty), by name then version.
  virtual StatusOr<std::vector<Prompt>> ListPrompts(const std::string& /*project_id*/,
                                                    const std::string& /*name*/) {
    return NoPromptsDatasets();
  }

  virtual Status UpsertDataset(const Dataset& /*dataset*/) { return NoPromptsDatasets(); }
  virtual StatusOr<std::optional<Dataset>> GetDataset(const std::string& /*project_id*/,
                                                      const std::string& /*id*/) {
    return NoPromptsDatasets();
  }
  //! Oldest first.
  virtual StatusOr<std::vector<Dataset>> ListDatasets(const std::string& /*project_id*/) {
    return NoPromptsDatasets();
  }

  virtual Status UpsertDatasetItem(const DatasetItem& /*item*/) { return NoPromptsDatasets(); }
  virtual StatusOr<std::optional<DatasetItem>> GetDatasetItem(const std::string& /*project_id*/,
                                                              const std::string& /*id*/) {
    return NoPromptsDatasets();
  }
  //! One page of the dataset's items, newest first (created_at descending, then id), as Langfuse lists them.
  virtual StatusOr<std::vector<DatasetItem>> ListDatasetItems(const std::string& /*project_id*/,
                                                              const std::string& /*dataset_id*/,
                                                              int64_t /*limit*/, int64_t /*offset*/) {
    return NoPromptsDatasets();
  }

  virtual Status UpsertDatasetRun(const DatasetRun& /*run*/) { return NoPromptsDatasets(); }
  virtual StatusOr<std::optional<DatasetRun>> GetDatasetRun(const std::string& /*project_id*/,
                                                            const std::string& /*id*/) {
    return NoPromptsDatasets();
  }
  //! Oldest first.
  virtual StatusOr<std::vector<DatasetRun>> ListDatasetRuns(const std::string& /*project_id*/,
                                                            const std::string& /*dataset_id*/) {
    return NoPromptsDatasets();
  }

  virtual Status UpsertDatasetRunItem(const DatasetRunItem& /*item*/) { return NoPromptsDatasets(); }
  virtual StatusOr<std::optional<DatasetRunItem>> GetDatasetRunItem(const std::string& /*project_id*/,
                                                                    const std::string& /*id*/) {
    return NoPromptsDatasets();
  }
  //! Oldest first.
  virtual StatusOr<std::vector<DatasetRunItem>> ListDatasetRunItems(const std::string& /*project_id*/,
                                                                    const std::string& /*dataset_run_id*/) {
    return NoPromptsDatasets();
  }

  virtual Status UpsertModel(const Model& /*model*/) { return NoPromptsDatasets(); }
  virtual StatusOr<std::optional<Model>> GetModel(const std::string& /*id*/) { return NoPromptsDatasets(); }
  //! The project's own models and the built-in ones (no project), by model_name then id.
  virtual StatusOr<std::vector<Model>> ListModels(const std::string& /*project_id*/) {
    return NoPromptsDatasets();
  }

  virtual Status UpsertPrice(const Price& /*price*/) { return NoPromptsDatasets(); }
  //! The model's prices by usage_type.
  virtual StatusOr<std::vector<Price>> ListPrices(const std::string& /*model_id*/) {
    return NoPromptsDatasets();
  }

  //! Rows in one of the tables named in kCountableTables (kInvalidArgument for another name).
  virtual StatusOr<int64_t> CountRows(std::string_view /*table*/) { return NoPromptsDatasets(); }

  // End of prompts, datasets, models
};

//! Tables CountRows answers for (Prompts, datasets, models).
inline constexpr std::string_view kCountableTables[] = {"organizations",
                                                        "projects",
                                                        "users",
                                                        "organization_memberships",
                                                        "project_memberships",
                                                        "api_keys",
                                                        "score_configs",
                                                        "prompts",
                                                        "datasets",
                                                        "dataset_items",
                                                        "dataset_runs",
                                                        "dataset_run_items",
                                                        "models",
                                                        "prices"};

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
