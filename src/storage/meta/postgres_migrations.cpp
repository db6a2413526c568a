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

constexpr MetaMigration kMigrations[] = {
    {1, "initial_schema", kInitialSchema},
    {2, "score_configs", kScoreConfigs},
};

}  // namespace

std::span<const MetaMigration> PostgresMetaMigrations() { return kMigrations; }

}  // namespace langfuse::meta
