#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"

struct pg_conn;  // libpq's PGconn

namespace langfuse::meta {
class MetaStore;
}
namespace langfuse::traces {
class TraceStore;
}

namespace langfuse::import_v2 {

//! Rows read from the source and rows present in the target afterwards, per table.
struct TableCount {
  int64_t source = 0;
  int64_t imported = 0;  //!< written by this run (0 for rows a previous run already copied)
  int64_t target = 0;
};
using TableCounts = std::map<std::string, TableCount>;  //!< keyed by the v2 table name

//! Called after each batch so the command can print rows per second, rows left and an estimate.
using ProgressFn = std::function<void(const std::string& table, int64_t done, int64_t total)>;

//! Copies the v2 source's transactional tables (organizations, projects, users, memberships, api_keys,
//! prompts, datasets with items and runs, models with prices, score_configs) into `target`, keeping
//! ids and hashes. Idempotent (rows are upserted by id), reads the source only. Fills counts per table.
//! Implemented in transactional_import.cpp.
Status ImportTransactional(pg_conn* source, meta::MetaStore& target, const ProgressFn& progress,
                           TableCounts* counts);


// ---- The import as a whole (import_v2.cpp) -------------------------------------------------------

//! What one import run needs besides the stores.
struct ImportOptions {
  //! The v2 database: postgresql://user:pass@host:port/db, with Prisma's `?schema=` understood.
  std::string source_url;
  //! Rows per read from the source and per INSERT into ClickHouse.
  int batch_size = 5000;
  //! Who holds the lease while this run works ("" = host:pid:random).
  std::string owner;
  //! Called once the transactional tables (projects, API keys) were written, also when writing
  //! them failed part way: the caller drops what it cached about API keys (an imported key may
  //! have been refused, and that answer cached, before it was in). Empty: nothing is called.
  std::function<void()> on_keys_imported;
};

//! What a run did.
struct ImportReport {
  std::string source;        //!< the source's identity (system identifier, database, schema)
  bool already_done = false;  //!< a previous run had finished everything: nothing was read or written
  TableCounts counts;         //!< every table, transactional and tracing
};

//! Connects to the source and checks that it is a v2 database, touching nothing else (so a
//! command can refuse bad input before it opens, let alone creates, the target stores).
Status CheckSource(const std::string& url);

//! Copies a Langfuse v2 database into `meta` and `traces`: checks that the source is reachable and
//! is a v2 database and that the target holds no data of another source, takes the import lease,
//! records the source's identity, runs ImportTransactional, then copies traces, observations and
//! scores newest first in batches, saving a keyset cursor after each batch so that a killed run
//! resumes where it stopped. `stop` ends the run between two batches (kUnavailable "stopped").
//! Errors: kUnavailable (source unreachable, lease held elsewhere, stopped),
//! kInvalidArgument (not a v2 database), kConflict (the target holds another source's data). The
//! source is only read (read-only session).
Status RunImport(const ImportOptions& options, meta::MetaStore& meta, traces::TraceStore& traces,
                 const std::atomic<bool>& stop, const ProgressFn& progress, ImportReport* report);

//! `LANGFUSE_IMPORT_V2_FROM`: the worker role runs RunImport once in a background thread. A lease
//! held by another process (another worker) is waited for; an unreachable source is retried with a
//! back-off; a source that is not v2 or a conflicting target is logged and given up. Progress is
//! logged. Stop() (or destruction) ends it between two batches; the next start resumes.
class BackgroundImport {
 public:
  BackgroundImport(ImportOptions options, meta::MetaStore& meta, traces::TraceStore& traces);
  ~BackgroundImport();
  BackgroundImport(const BackgroundImport&) = delete;
  BackgroundImport& operator=(const BackgroundImport&) = delete;

  void Start();
  void Stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace langfuse::import_v2
