#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "storage/traces/clickhouse_transport.h"
#include "storage/traces/known_ids.h"
#include "storage/traces/migrations.h"
#include "storage/traces/records.h"

namespace langfuse::traces {

//! The tracing data (traces, observations, scores) in ClickHouse's dialect, over any transport.
//! Every statement is parameterised. Reads see the newest version of each id: `FINAL` collapses
//! versions that share a sort key and drops those whose newest version has is_deleted = 1, then
//! `ORDER BY event_ts DESC LIMIT 1 BY id` also collapses versions whose sort key differs (an
//! immutable key such as `timestamp` changed between writes). Thread-safety: as the transport
//! (fully concurrent).
class TraceStore {
 public:
  //! `target` says whether Migrate() writes unclustered or `ON CLUSTER` DDL.
  explicit TraceStore(std::unique_ptr<ClickHouseTransport> transport, SchemaTarget target = {});
  ~TraceStore();
  TraceStore(const TraceStore&) = delete;
  TraceStore& operator=(const TraceStore&) = delete;

  //! Applies the numbered ClickHouse migrations (migrations.h) not yet recorded in
  //! `langfuse_ch_migrations`; `*applied` (may be null) receives how many ran.
  Status Migrate(int* applied);
  Status Ping();

  //! For a store this process alone writes (chDB in-process): keeps the ids of the stored rows
  //! in memory (known_ids.h), so that GetTraces/GetObservations/GetScores skip the ids certainly
  //! not stored instead of asking the store, which for many ids means reading the ids of all the
  //! project's rows. The rows already stored are read on a background thread; until it is done,
  //! lookups ask the store. Call once, after Migrate and before anything is inserted; never with
  //! a store that other processes write to (their rows would be missed).
  void TrackKnownIds();
  //! The ids kept (null unless TrackKnownIds was called).
  const KnownIds* known_ids() const { return known_ids_.get(); }

  //! One INSERT per call; `dedup_token` makes a retried insert harmless.
  Status InsertTraces(const std::vector<TraceRecord>& rows, const std::string& dedup_token);
  Status InsertObservations(const std::vector<ObservationRecord>& rows, const std::string& dedup_token);
  Status InsertScores(const std::vector<ScoreRecord>& rows, const std::string& dedup_token);

  //! The newest version of each row with one of `ids` in the project (deleted rows excluded), in
  //! no particular order; ids not found are simply absent.
  StatusOr<std::vector<TraceRecord>> GetTraces(const std::string& project_id,
                                               const std::vector<std::string>& ids);
  StatusOr<std::vector<ObservationRecord>> GetObservations(const std::string& project_id,
                                                           const std::vector<std::string>& ids);
  StatusOr<std::vector<ScoreRecord>> GetScores(const std::string& project_id,
                                               const std::vector<std::string>& ids);

  //! All observations / scores of one trace: observations ordered by start_time, scores by
  //! timestamp (ties by id).
  StatusOr<std::vector<ObservationRecord>> ObservationsOfTrace(const std::string& project_id,
                                                               const std::string& trace_id);
  StatusOr<std::vector<ScoreRecord>> ScoresOfTrace(const std::string& project_id,
                                                   const std::string& trace_id);

  //! Lightweight delete of the score rows.
  Status DeleteScores(const std::string& project_id, const std::vector<std::string>& ids);

  ClickHouseTransport& transport() { return *transport_; }
  const SchemaTarget& schema_target() const { return target_; }

 private:
  std::unique_ptr<ClickHouseTransport> transport_;
  SchemaTarget target_;
  std::unique_ptr<KnownIds> known_ids_;
  std::thread known_ids_loader_;
  std::atomic<bool> stopping_{false};
};

}  // namespace langfuse::traces
