#include "storage/meta/meta_migrations.h"

namespace langfuse::meta {
namespace {

// The same tables, columns (in the same order) and constraints as sqlite_migrations.cpp, in
// Langfuse's own Postgres types (Prisma schema v3.225.4), so rows copied from a Langfuse database
// fit as they are: timestamps are TIMESTAMP(3) without time zone holding UTC, booleans BOOLEAN,
// JSON JSONB, enums Postgres enum types named as Langfuse names them ("Role", "ApiKeyScope",
// "ScoreConfigDataType"). Constraint names follow Postgres's defaults, which are Prisma's too
// (organizations_pkey, api_keys_public_key_key, projects_org_id_fkey). Names are unqualified:
// they land in the store's schema, the connection's search_path.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TYPE "Role" AS ENUM ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER', 'NONE');
CREATE TYPE "ApiKeyScope" AS ENUM ('ORGANIZATION', 'PROJECT');

CREATE TABLE organizations (
  id TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  cloud_config JSONB,
  metadata JSONB,
  cloud_free_tier_usage_threshold_state TEXT
);

CREATE TABLE projects (
  id TEXT NOT NULL PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON UPDATE CASCADE ON DELETE CASCADE,
  name TEXT NOT NULL,
  retention_days INTEGER,
  has_traces BOOLEAN NOT NULL DEFAULT false,
  metadata JSONB,
  deleted_at TIMESTAMP(3),
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX projects_org_id_idx ON projects (org_id);

CREATE TABLE users (
  id TEXT NOT NULL PRIMARY KEY,
  name TEXT,
  email TEXT UNIQUE,
  email_verified TIMESTAMP(3),
  password TEXT,
  image TEXT,
  admin BOOLEAN NOT NULL DEFAULT false,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE organization_memberships (
  id TEXT NOT NULL PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role "Role" NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE (org_id, user_id)
);
CREATE INDEX organization_memberships_user_id_idx ON organization_memberships (user_id);

CREATE TABLE project_memberships (
  org_membership_id TEXT NOT NULL REFERENCES organization_memberships (id) ON DELETE CASCADE,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role "Role" NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_memberships_user_id_idx ON project_memberships (user_id);
CREATE INDEX project_memberships_org_membership_id_idx ON project_memberships (org_membership_id);

CREATE TABLE api_keys (
  id TEXT NOT NULL PRIMARY KEY,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  note TEXT,
  public_key TEXT NOT NULL UNIQUE,
  hashed_secret_key TEXT NOT NULL UNIQUE,
  fast_hashed_secret_key TEXT UNIQUE,
  display_secret_key TEXT NOT NULL,
  last_used_at TIMESTAMP(3),
  expires_at TIMESTAMP(3),
  is_in_app_agent_key BOOLEAN NOT NULL DEFAULT false,
  project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
  organization_id TEXT REFERENCES organizations (id) ON DELETE CASCADE,
  scope "ApiKeyScope" NOT NULL DEFAULT 'PROJECT',
  created_by_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
  created_by_api_key_id TEXT REFERENCES api_keys (id) ON DELETE SET NULL
);
CREATE INDEX api_keys_project_id_idx ON api_keys (project_id);
CREATE INDEX api_keys_organization_id_idx ON api_keys (organization_id);
CREATE INDEX api_keys_created_by_api_key_id_idx ON api_keys (created_by_api_key_id);
)sql";

// Langfuse's score_configs. One deliberate difference: categories is JSON, not JSONB, because the
// store hands the text back verbatim (JSONB would re-format it); JSON still rejects malformed text.
constexpr std::string_view kScoreConfigs = R"sql(
CREATE TYPE "ScoreConfigDataType" AS ENUM ('CATEGORICAL', 'NUMERIC', 'BOOLEAN', 'TEXT');

CREATE TABLE score_configs (
  id TEXT NOT NULL PRIMARY KEY,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  data_type "ScoreConfigDataType" NOT NULL,
  is_archived BOOLEAN NOT NULL DEFAULT false,
  min_value DOUBLE PRECISION,
  max_value DOUBLE PRECISION,
  categories JSON,
  description TEXT,
  UNIQUE (id, project_id)
);
CREATE INDEX score_configs_project_id_created_at_idx ON score_configs (project_id, created_at);
CREATE INDEX score_configs_data_type_idx ON score_configs (data_type);
CREATE INDEX score_configs_is_archived_idx ON score_configs (is_archived);
CREATE INDEX score_configs_updated_at_idx ON score_configs (updated_at);
)sql";

// v2 import progress: `langfuse import-v2`'s cursor per source table and its lease (this
// project's own table; Langfuse keeps the same facts in background_migrations.state). Times are
// epoch milliseconds (BIGINT): the lease compares them arithmetically.
constexpr std::string_view kImportV2Progress = R"sql(
CREATE TABLE import_v2_progress (
  table_name TEXT NOT NULL PRIMARY KEY,
  source TEXT NOT NULL DEFAULT '',
  cursor_created_at TEXT NOT NULL DEFAULT '',
  cursor_id TEXT NOT NULL DEFAULT '',
  rows_done BIGINT NOT NULL DEFAULT 0,
  rows_total BIGINT NOT NULL DEFAULT 0,
  finished BOOLEAN NOT NULL DEFAULT false,
  owner TEXT NOT NULL DEFAULT '',
  heartbeat_at BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL
);
)sql";

// Prompts, datasets, models: Langfuse's tables of the same names and columns (Prisma schema
// v3.225.4) minus what this server does not use yet (prompt dependencies, dataset item versions
// and schemas, pricing tiers). As for score_configs, JSON columns are JSON, not JSONB, so the text
// comes back verbatim. Prices are DECIMAL(65,30) as in Langfuse.
constexpr std::string_view kPromptsDatasetsModels = R"sql(
CREATE TYPE "DatasetStatus" AS ENUM ('ACTIVE', 'ARCHIVED');

CREATE TABLE prompts (
  id TEXT NOT NULL PRIMARY KEY,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  created_by TEXT NOT NULL,
  prompt JSON NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  type TEXT NOT NULL DEFAULT 'text' CHECK (type IN ('text', 'chat')),
  is_active BOOLEAN,
  config JSON NOT NULL DEFAULT '{}',
  tags TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
  labels TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
  commit_message TEXT,
  UNIQUE (project_id, name, version)
);
CREATE INDEX prompts_project_id_id_idx ON prompts (project_id, id);
CREATE INDEX prompts_created_at_idx ON prompts (created_at);
CREATE INDEX prompts_updated_at_idx ON prompts (updated_at);
CREATE INDEX prompts_tags_idx ON prompts USING GIN (tags);

CREATE TABLE datasets (
  id TEXT NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT,
  metadata JSON,
  remote_experiment_url TEXT,
  remote_experiment_payload JSON,
  remote_experiment_enabled BOOLEAN NOT NULL DEFAULT true,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id, project_id),
  UNIQUE (project_id, name)
);
CREATE INDEX datasets_created_at_idx ON datasets (created_at);
CREATE INDEX datasets_updated_at_idx ON datasets (updated_at);

CREATE TABLE dataset_items (
  id TEXT NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  status "DatasetStatus" DEFAULT 'ACTIVE',
  input JSON,
  expected_output JSON,
  metadata JSON,
  source_trace_id TEXT,
  source_observation_id TEXT,
  dataset_id TEXT NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id, project_id),
  FOREIGN KEY (dataset_id, project_id) REFERENCES datasets (id, project_id) ON DELETE CASCADE
);
CREATE INDEX dataset_items_dataset_id_idx ON dataset_items USING HASH (dataset_id);
CREATE INDEX dataset_items_source_trace_id_idx ON dataset_items USING HASH (source_trace_id);
CREATE INDEX dataset_items_source_observation_id_idx ON dataset_items USING HASH (source_observation_id);
CREATE INDEX dataset_items_created_at_idx ON dataset_items (created_at);
CREATE INDEX dataset_items_updated_at_idx ON dataset_items (updated_at);

CREATE TABLE dataset_runs (
  id TEXT NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  description TEXT,
  metadata JSON,
  dataset_id TEXT NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id, project_id),
  UNIQUE (dataset_id, project_id, name),
  FOREIGN KEY (dataset_id, project_id) REFERENCES datasets (id, project_id) ON DELETE CASCADE
);
CREATE INDEX dataset_runs_dataset_id_idx ON dataset_runs USING HASH (dataset_id);
CREATE INDEX dataset_runs_created_at_idx ON dataset_runs (created_at);
CREATE INDEX dataset_runs_updated_at_idx ON dataset_runs (updated_at);

CREATE TABLE dataset_run_items (
  id TEXT NOT NULL,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  dataset_run_id TEXT NOT NULL,
  dataset_item_id TEXT NOT NULL,
  trace_id TEXT NOT NULL,
  observation_id TEXT,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id, project_id),
  FOREIGN KEY (dataset_run_id, project_id) REFERENCES dataset_runs (id, project_id) ON DELETE CASCADE
);
CREATE INDEX dataset_run_items_dataset_run_id_idx ON dataset_run_items USING HASH (dataset_run_id);
CREATE INDEX dataset_run_items_dataset_item_id_idx ON dataset_run_items USING HASH (dataset_item_id);
CREATE INDEX dataset_run_items_observation_id_idx ON dataset_run_items USING HASH (observation_id);
CREATE INDEX dataset_run_items_trace_id_idx ON dataset_run_items (trace_id);
CREATE INDEX dataset_run_items_created_at_idx ON dataset_run_items (created_at);
CREATE INDEX dataset_run_items_updated_at_idx ON dataset_run_items (updated_at);

CREATE TABLE models (
  id TEXT NOT NULL PRIMARY KEY,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
  model_name TEXT NOT NULL,
  match_pattern TEXT NOT NULL,
  start_date TIMESTAMP(3),
  input_price DECIMAL(65, 30),
  output_price DECIMAL(65, 30),
  total_price DECIMAL(65, 30),
  unit TEXT,
  tokenizer_id TEXT,
  tokenizer_config JSON,
  UNIQUE (project_id, model_name, start_date, unit)
);
CREATE INDEX models_model_name_idx ON models (model_name);

CREATE TABLE prices (
  id TEXT NOT NULL PRIMARY KEY,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  model_id TEXT NOT NULL REFERENCES models (id) ON UPDATE CASCADE ON DELETE CASCADE,
  project_id TEXT REFERENCES projects (id) ON UPDATE CASCADE ON DELETE CASCADE,
  usage_type TEXT NOT NULL,
  price DECIMAL(65, 30) NOT NULL,
  UNIQUE (model_id, usage_type)
);
CREATE INDEX prices_model_id_idx ON prices (model_id);
)sql";

constexpr MetaMigration kMigrations[] = {
    {1, "initial_schema", kInitialSchema},
    {2, "score_configs", kScoreConfigs},
    {3, "import_v2_progress", kImportV2Progress},  // v2 import progress
    {4, "prompts_datasets_models", kPromptsDatasetsModels},  // Prompts, datasets, models
};

}  // namespace

std::span<const MetaMigration> PostgresMetaMigrations() { return kMigrations; }

}  // namespace langfuse::meta
