#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/traces/clickhouse_transport.h"
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

  //! Applies the numbered ClickHouse migrations (migrations.h) not yet recorded in
  //! `langfuse_ch_migrations`; `*applied` (may be null) receives how many ran.
  Status Migrate(int* applied);
  Status Ping();

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

 private:
  std::unique_ptr<ClickHouseTransport> transport_;
  SchemaTarget target_;
};

}  // namespace langfuse::traces
