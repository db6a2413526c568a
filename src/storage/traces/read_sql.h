#pragma once

// SQL pieces the tracing reads share (public API, UI and metrics queries): how a read collapses
// row versions, which scores are listed, how far before a trace its children are looked for, and
// page arithmetic. Internal to the storage module.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "storage/traces/record_json.h"

namespace langfuse::traces::read_sql {

//! Appended to statements that read with FINAL: each table's partition key (its month) is a
//! function of its sorting key (which holds the day), so the versions FINAL collapses always share
//! a partition, and FINAL may work partition by partition and skip partitions of a single part.
inline constexpr std::string_view kFinalSettings = " SETTINGS do_not_merge_across_partitions_select_final = 1";

//! The score data types the APIs list (as Langfuse, without its internal types).
inline constexpr std::string_view kListableScoreTypes = "('NUMERIC', 'BOOLEAN', 'CATEGORICAL', 'TEXT')";

//! Langfuse's TRACE_TO_OBSERVATIONS_INTERVAL: a trace's observations and scores are read from one
//! hour before its timestamp on, which lets the date in the tables' primary keys prune older days.
inline constexpr int64_t kTraceToChildrenMs = 3'600'000;

//! `ms` held to DateTime64(3)'s range, for parameters computed from stored times.
inline int64_t ClampToDateTime64(int64_t ms) { return std::clamp(ms, kMinDateTime64Ms, kMaxDateTime64Ms); }

//! `(page - 1) * limit` for 1-based pages (page 0 reads as 1), saturated instead of wrapping.
inline uint64_t PageOffset(uint64_t page, uint64_t limit) {
  const uint64_t skipped_pages = page > 0 ? page - 1 : 0;
  if (limit != 0 && skipped_pages > std::numeric_limits<uint64_t>::max() / limit) {
    return std::numeric_limits<uint64_t>::max();
  }
  return skipped_pages * limit;
}

//! The newest live version of each row of `table` in the project that meets `where`, without
//! FINAL: every version is read and the newest kept per id (a deleted marker written in the same
//! instant as the row that replaced it ranks after that row), then deleted rows are dropped. For
//! lookups by columns that never change between versions (id, trace_id), where FINAL would read
//! every row sharing a primary-key prefix with the bloom-filter hits. `{project_id:String}` is the
//! project parameter.
inline std::string NewestById(std::string_view columns, std::string_view table, std::string_view where) {
  return fmt::format(
      "SELECT * FROM (SELECT {} FROM {} WHERE project_id = {{project_id:String}} AND {} "
      "ORDER BY event_ts DESC, is_deleted ASC LIMIT 1 BY id) WHERE is_deleted = 0",
      columns, table, where);
}

}  // namespace langfuse::traces::read_sql
