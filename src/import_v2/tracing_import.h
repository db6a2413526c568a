#pragma once

// Internals of the import shared by import_v2.cpp and tracing_import.cpp.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "import_v2/import_v2.h"

namespace langfuse::import_v2::detail {

//! The tracing tables, in the order they are copied.
inline const std::vector<std::string>& TracingTables() {
  static const std::vector<std::string> tables = {"traces", "observations", "scores"};
  return tables;
}

//! Runs one statement on the source and hands back its rows as text (NULL as nullopt).
struct SourceRows {
  int rows = 0;
  int columns = 0;
  std::vector<std::optional<std::string>> cells;  //!< row-major
  const std::optional<std::string>& At(int row, int column) const {
    return cells[static_cast<size_t>(row) * static_cast<size_t>(columns) + static_cast<size_t>(column)];
  }
};
StatusOr<SourceRows> SourceQuery(pg_conn* source, const std::string& sql,
                                 const std::vector<std::string>& params);

//! Everything one table's copy needs.
struct TableJob {
  std::string table;            //!< traces | observations | scores
  std::string source_identity;  //!< recorded with the progress
  bool has_prompts = false;     //!< the source has a prompts table (observations join it for name/version)
  int batch_size = 5000;
};

//! Copies `job.table` from its saved cursor on (newest first), saving the cursor after every batch,
//! until the table is done or `stop` is set. `count->imported` gets the rows written by this call.
Status ImportTracingTable(pg_conn* source, const TableJob& job, meta::MetaStore& meta,
                          traces::TraceStore& traces, const std::atomic<bool>& stop,
                          const std::function<Status()>& check_lease, const ProgressFn& progress,
                          TableCount* count);

//! Rows of `table` for the given projects in the tracing store, newest version of each row only
//! (FINAL, deleted rows excluded).
StatusOr<int64_t> CountTarget(traces::TraceStore& traces, const std::string& table,
                              const std::vector<std::string>& project_ids);

}  // namespace langfuse::import_v2::detail
