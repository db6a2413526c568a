#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace langfuse::meta {

//! One numbered schema change of the transactional store. Every dialect (SQLite, Postgres) holds
//! its own list with the same versions and names, each step written in that dialect, so a
//! database of either kind at version N has the same tables and columns. Versions start at 1,
//! increase by one and are never edited once released: a change is a new version.
//! `sql` is static DDL (several statements allowed); it never carries values.
struct MetaMigration {
  int32_t version;
  std::string_view name;
  std::string_view sql;
};

//! The table recording applied versions: langfuse_schema_migrations(version, name, applied_at).
inline constexpr std::string_view kMetaMigrationsTable = "langfuse_schema_migrations";

//! SQLite's migrations, oldest first.
std::span<const MetaMigration> SqliteMetaMigrations();
//! Postgres's migrations, oldest first (the same versions and names as SQLite's).
std::span<const MetaMigration> PostgresMetaMigrations();

}  // namespace langfuse::meta
