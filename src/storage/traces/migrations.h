#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {

//! Where the tracing schema lives: one engine (chDB, or a single ClickHouse server), or a cluster,
//! where every DDL statement runs `ON CLUSTER <cluster>` and tables use the Replicated* engines
//! (as Langfuse's `clustered` migrations do; CLICKHOUSE_CLUSTER_ENABLED/CLICKHOUSE_CLUSTER_NAME).
struct SchemaTarget {
  std::string cluster;  //!< empty: unclustered; otherwise the cluster name ([A-Za-z0-9_]+)
};

//! One statement of a migration, written once for both targets. Placeholders, replaced by
//! RenderMigrationStatement: `@ON_CLUSTER@` (" ON CLUSTER `name`" or nothing), `@REPLICATED@`
//! (engine prefix "Replicated" or nothing), `@DEDUP_SETTINGS@` (the MergeTree settings that make
//! insert_deduplication_token work on an unclustered table, or nothing).
struct MigrationStatement {
  std::string_view sql;
  bool unclustered_only = false;  //!< skipped on a cluster
  //! A performance setting only: a server that does not know it (an older ClickHouse answers
  //! UNKNOWN_SETTING) goes on without it instead of failing the migration.
  bool tuning = false;
};

//! A numbered schema change. Every statement is idempotent (IF NOT EXISTS, MODIFY SETTING...), so
//! a migration interrupted half-way ("dirty") is simply run again, and running against a database
//! Langfuse itself created (same tables) changes nothing.
struct ClickHouseMigration {
  uint64_t version;
  std::string_view name;
  std::vector<MigrationStatement> statements;
};

//! The table recording applied versions: (version UInt64, dirty UInt8, sequence UInt64, ...),
//! golang-migrate's shape, but our own name so that Langfuse's `schema_migrations` (which numbers
//! Langfuse's own history) is never read or written.
inline constexpr std::string_view kMigrationsTable = "langfuse_ch_migrations";

//! All migrations, ascending by version.
const std::vector<ClickHouseMigration>& ClickHouseMigrations();

//! `statement.sql` with its placeholders filled for `target`.
std::string RenderMigrationStatement(const MigrationStatement& statement, const SchemaTarget& target);

//! Creates the migrations table if needed, then applies, in version order, every migration whose
//! latest record is missing or dirty; `*applied` (when not null) receives how many ran. Stops at
//! the first failing statement, leaving that version recorded as dirty. Safe to run from several
//! processes at once (statements are idempotent; a version may then be recorded twice).
Status ApplyClickHouseMigrations(ClickHouseTransport& transport, const SchemaTarget& target, int* applied);

//! Rewrites an `observations` table sorted otherwise (Langfuse's (project_id, type, day, id), say)
//! into one sorted by day, type and trace like the tables created here (see migrations.cpp):
//! copies every row into a new table of the same definition but for the sort key, checks that it
//! holds as many rows, merges it, swaps the two and drops the old one. `database` is the table's
//! database ([A-Za-z0-9_]+; empty: the connection's current one). Returns false when the table
//! is sorted so already. Not for a cluster (the caller checks), and offline only: a row written
//! to the old table while it is copied would be lost. Safe to run again after an interruption (a
//! half-made copy is dropped first).
StatusOr<bool> SortObservationsByTrace(ClickHouseTransport& transport, std::string_view database = "");

}  // namespace langfuse::traces
