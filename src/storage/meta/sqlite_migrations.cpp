#include "storage/meta/meta_migrations.h"

namespace langfuse::meta {
namespace {

// Tables, columns and constraints follow Langfuse's Prisma schema (v3.225.4) in snake_case, so data
// moves between Langfuse's Postgres and this store column by column. SQLite differences:
// timestamps are INTEGER milliseconds since the epoch (UTC), booleans INTEGER 0/1, JSON TEXT, enums
// TEXT with a CHECK. STRICT makes SQLite enforce the declared types.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE organizations (
  id TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  cloud_config TEXT,
  metadata TEXT,
  cloud_free_tier_usage_threshold_state TEXT
) STRICT;

CREATE TABLE projects (
  id TEXT NOT NULL PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON UPDATE CASCADE ON DELETE CASCADE,
  name TEXT NOT NULL,
  retention_days INTEGER,
  has_traces INTEGER NOT NULL DEFAULT 0 CHECK (has_traces IN (0, 1)),
  metadata TEXT,
  deleted_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX projects_org_id_idx ON projects (org_id);

CREATE TABLE users (
  id TEXT NOT NULL PRIMARY KEY,
  name TEXT,
  email TEXT UNIQUE,
  email_verified INTEGER,
  password TEXT,
  image TEXT,
  admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE organization_memberships (
  id TEXT NOT NULL PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER', 'NONE')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (org_id, user_id)
) STRICT;
CREATE INDEX organization_memberships_user_id_idx ON organization_memberships (user_id);

CREATE TABLE project_memberships (
  org_membership_id TEXT NOT NULL REFERENCES organization_memberships (id) ON DELETE CASCADE,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER', 'NONE')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (project_id, user_id)
) STRICT;
CREATE INDEX project_memberships_user_id_idx ON project_memberships (user_id);
CREATE INDEX project_memberships_org_membership_id_idx ON project_memberships (org_membership_id);

CREATE TABLE api_keys (
  id TEXT NOT NULL PRIMARY KEY,
  created_at INTEGER NOT NULL,
  note TEXT,
  public_key TEXT NOT NULL UNIQUE,
  hashed_secret_key TEXT NOT NULL UNIQUE,
  fast_hashed_secret_key TEXT UNIQUE,
  display_secret_key TEXT NOT NULL,
  last_used_at INTEGER,
  expires_at INTEGER,
  is_in_app_agent_key INTEGER NOT NULL DEFAULT 0 CHECK (is_in_app_agent_key IN (0, 1)),
  project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
  organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE,
  scope TEXT NOT NULL DEFAULT 'PROJECT' CHECK (scope IN ('ORGANIZATION', 'PROJECT')),
  created_by_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
  created_by_api_key_id TEXT REFERENCES api_keys (id) ON DELETE SET NULL
) STRICT;
CREATE INDEX api_keys_project_id_idx ON api_keys (project_id);
CREATE INDEX api_keys_organization_id_idx ON api_keys (organization_id);
CREATE INDEX api_keys_created_by_api_key_id_idx ON api_keys (created_by_api_key_id);
)sql";

// Langfuse's score_configs (Prisma model ScoreConfig): min/max are DOUBLE PRECISION there, REAL
// here; categories is the JSON text of [{label, value}].
constexpr std::string_view kScoreConfigs = R"sql(
CREATE TABLE score_configs (
  id TEXT NOT NULL PRIMARY KEY,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  data_type TEXT NOT NULL CHECK (data_type IN ('NUMERIC', 'CATEGORICAL', 'BOOLEAN', 'TEXT')),
  is_archived INTEGER NOT NULL DEFAULT 0 CHECK (is_archived IN (0, 1)),
  min_value REAL,
  max_value REAL,
  categories TEXT,
  description TEXT,
  UNIQUE (id, project_id)
) STRICT;
CREATE INDEX score_configs_project_id_created_at_idx ON score_configs (project_id, created_at);
CREATE INDEX score_configs_data_type_idx ON score_configs (data_type);
CREATE INDEX score_configs_is_archived_idx ON score_configs (is_archived);
CREATE INDEX score_configs_updated_at_idx ON score_configs (updated_at);
)sql";

// v2 import progress: `langfuse import-v2`'s cursor per source table and its lease (this
// project's own table; Langfuse keeps the same facts in background_migrations.state).
constexpr std::string_view kImportV2Progress = R"sql(
CREATE TABLE import_v2_progress (
  table_name TEXT NOT NULL PRIMARY KEY,
  source TEXT NOT NULL DEFAULT '',
  cursor_created_at TEXT NOT NULL DEFAULT '',
  cursor_id TEXT NOT NULL DEFAULT '',
  rows_done INTEGER NOT NULL DEFAULT 0,
  rows_total INTEGER NOT NULL DEFAULT 0,
  finished INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1)),
  owner TEXT NOT NULL DEFAULT '',
  heartbeat_at INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
) STRICT;
)sql";

// Prompts, datasets, models: Langfuse's prompts, datasets, dataset_items, dataset_runs,
// dataset_run_items, models and prices (Prisma schema v3.225.4) minus what this server does not
// use yet (prompt dependencies, dataset item versions and schemas, pricing tiers). labels and tags
// are TEXT[] in Langfuse, JSON arrays of strings here; decimal prices are TEXT to stay exact.
constexpr std::string_view kPromptsDatasetsModels = R"sql(
CREATE TABLE prompts (
  id TEXT NOT NULL PRIMARY KEY,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  created_by TEXT NOT NULL,
  prompt TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  type TEXT NOT NULL DEFAULT 'text' CHECK (type IN ('text', 'chat')),
  is_active INTEGER CHECK (is_active IN (0, 1)),
  config TEXT NOT NULL DEFAULT '{}',
  tags TEXT NOT NULL DEFAULT '[]',
  labels TEXT NOT NULL DEFAULT '[]',
  commit_message TEXT,
  UNIQUE (project_id, name, version)
) STRICT;
CREATE INDEX prompts_project_id_id_idx ON prompts (project_id, id);
CREATE INDEX prompts_created_at_idx ON prompts (created_at);
CREATE INDEX prompts_updated_at_idx ON prompts (updated_at);

CREATE TABLE datasets (
  id TEXT NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT,
  metadata TEXT,
  remote_experiment_url TEXT,
  remote_experiment_payload TEXT,
  remote_experiment_enabled INTEGER NOT NULL DEFAULT 1 CHECK (remote_experiment_enabled IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (id, project_id),
  UNIQUE (project_id, name)
) STRICT;
CREATE INDEX datasets_created_at_idx ON datasets (created_at);
CREATE INDEX datasets_updated_at_idx ON datasets (updated_at);

CREATE TABLE dataset_items (
  id TEXT NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  status TEXT DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'ARCHIVED')),
  input TEXT,
  expected_output TEXT,
  metadata TEXT,
  source_trace_id TEXT,
  source_observation_id TEXT,
  dataset_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (id, project_id),
  FOREIGN KEY (dataset_id, project_id) REFERENCES datasets (id, project_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX dataset_items_dataset_id_idx ON dataset_items (dataset_id);
CREATE INDEX dataset_items_source_trace_id_idx ON dataset_items (source_trace_id);
CREATE INDEX dataset_items_source_observation_id_idx ON dataset_items (source_observation_id);
CREATE INDEX dataset_items_created_at_idx ON dataset_items (created_at);
CREATE INDEX dataset_items_updated_at_idx ON dataset_items (updated_at);

CREATE TABLE dataset_runs (
  id TEXT NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT,
  metadata TEXT,
  dataset_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (id, project_id),
  UNIQUE (dataset_id, project_id, name),
  FOREIGN KEY (dataset_id, project_id) REFERENCES datasets (id, project_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX dataset_runs_dataset_id_idx ON dataset_runs (dataset_id);
CREATE INDEX dataset_runs_created_at_idx ON dataset_runs (created_at);
CREATE INDEX dataset_runs_updated_at_idx ON dataset_runs (updated_at);

CREATE TABLE dataset_run_items (
  id TEXT NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  dataset_run_id TEXT NOT NULL,
  dataset_item_id TEXT NOT NULL,
  trace_id TEXT NOT NULL,
  observation_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (id, project_id),
  FOREIGN KEY (dataset_run_id, project_id) REFERENCES dataset_runs (id, project_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX dataset_run_items_dataset_run_id_idx ON dataset_run_items (dataset_run_id);
CREATE INDEX dataset_run_items_dataset_item_id_idx ON dataset_run_items (dataset_item_id);
CREATE INDEX dataset_run_items_observation_id_idx ON dataset_run_items (observation_id);
CREATE INDEX dataset_run_items_trace_id_idx ON dataset_run_items (trace_id);
CREATE INDEX dataset_run_items_created_at_idx ON dataset_run_items (created_at);
CREATE INDEX dataset_run_items_updated_at_idx ON dataset_run_items (updated_at);

CREATE TABLE models (
  id TEXT NOT NULL PRIMARY KEY,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
  model_name TEXT NOT NULL,
  match_pattern TEXT NOT NULL,
  start_date INTEGER,
  input_price TEXT,
  output_price TEXT,
  total_price TEXT,
  unit TEXT,
  tokenizer_id TEXT,
  tokenizer_config TEXT,
  UNIQUE (project_id, model_name, start_date, unit)
) STRICT;
CREATE INDEX models_model_name_idx ON models (model_name);

CREATE TABLE prices (
  id TEXT NOT NULL PRIMARY KEY,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  model_id TEXT NOT NULL REFERENCES models (id) ON UPDATE CASCADE ON DELETE CASCADE,
  project_id TEXT REFERENCES projects (id) ON UPDATE CASCADE ON DELETE CASCADE,
  usage_type TEXT NOT NULL,
  price TEXT NOT NULL,
  UNIQUE (model_id, usage_type)
) STRICT;
CREATE INDEX prices_model_id_idx ON prices (model_id);
)sql";

constexpr MetaMigration kMigrations[] = {
    {1, "initial_schema", kInitialSchema},
    {2, "score_configs", kScoreConfigs},
    {3, "import_v2_progress", kImportV2Progress},  // v2 import progress
    {4, "prompts_datasets_models", kPromptsDatasetsModels},  // Prompts, datasets, models
};

}  // namespace

std::span<const MetaMigration> SqliteMetaMigrations() { return kMigrations; }

}  // namespace langfuse::meta
