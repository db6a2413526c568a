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

constexpr MetaMigration kMigrations[] = {
    {1, "initial_schema", kInitialSchema},
    {2, "score_configs", kScoreConfigs},
};

}  // namespace

std::span<const MetaMigration> SqliteMetaMigrations() { return kMigrations; }

}  // namespace langfuse::meta
