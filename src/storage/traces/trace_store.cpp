#include "storage/traces/trace_store.h"

#include <algorithm>

#include <simdjson.h>

#include "common/log.h"
#include "common/time.h"

#include <utility>

#include "storage/traces/record_json.h"

namespace langfuse::traces {
namespace {

// `SELECT <columns> FROM <table> FINAL WHERE project_id = ... AND <filter> AND is_deleted = 0
//  ORDER BY event_ts DESC LIMIT 1 BY id`. With FINAL, ClickHouse applies the WHERE after
// collapsing, so `is_deleted = 0` cannot resurface an older version of a deleted row; it is
// redundant with FINAL's own handling of is_deleted and kept so the intent survives engines
// that differ there.
std::string NewestVersions(std::string_view columns, std::string_view table, std::string_view filter) {
  std::string sql = "SELECT ";
  sql += columns;
  sql += " FROM ";
  sql += table;
  sql += " FINAL WHERE project_id = {project_id:String} AND ";
  sql += filter;
  sql += " AND is_deleted = 0 ORDER BY event_ts DESC LIMIT 1 BY id";
  return sql;
}

// The newest versions, then sorted for the caller (a second ORDER BY needs the outer query:
// LIMIT BY applies after the inner ORDER BY).
std::string NewestVersionsOrdered(std::string_view columns, std::string_view table, std::string_view filter,
                                  std::string_view order_by) {
  std::string sql = "SELECT * FROM (";
  sql += NewestVersions(columns, table, filter);
  sql += ") ORDER BY ";
  sql += order_by;
  return sql;
}

// Every lookup here filters on columns that never change between versions of a row (id,
// trace_id), so a skip index cannot drop a granule holding the newest version while keeping an
// older one: letting FINAL use the bloom-filter indexes is safe, and turns an id lookup from a
// scan of the project's rows into a read of the few granules that may hold the id.
constexpr std::string_view kIndexedFinal = " SETTINGS use_skip_indexes_if_final = 1";

// A lookup of many ids first asks which of them exist at all: a plain read of the id column,
// pruned by the id bloom filter, costs a fraction of the FINAL read of every column, and most
// ids the worker looks up are new. The FINAL read then covers only the ids found.
constexpr size_t kProbeAbove = 16;

StatusOr<std::vector<std::string>> ExistingIds(ClickHouseTransport& transport, std::string_view table,
                                               const std::string& project_id, const std::vector<std::string>& ids) {
  const std::string sql = "SELECT DISTINCT id FROM " + std::string(table) +
                          " WHERE project_id = {project_id:String} AND id IN {ids:Array(String)}";
  auto out = transport.Query(sql, {StringParam("project_id", project_id), StringArrayParam("ids", ids)});
  if (!out.ok()) return out.status();
  std::vector<std::string> found;
  simdjson::dom::parser parser;
  size_t start = 0;
  const std::string& text = *out;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) {
      simdjson::padded_string line(text.data() + start, end - start);
      std::string_view id;
      if (parser.parse(line)["id"].get(id) != simdjson::SUCCESS) {
        return Status::Internal("unexpected id probe output from ClickHouse");
      }
      found.emplace_back(id);
    }
    start = end + 1;
  }
  return found;
}

// Runs `get` for the ids of `table` that exist (all of them when there are few). With known ids
// (read and ready), the ids they certainly lack are dropped first, without asking the store.
template <typename Get>
auto LookupExisting(ClickHouseTransport& transport, const KnownIds* known, KnownIdTable table,
                    const std::string& project_id, const std::vector<std::string>& all_ids, Get get)
    -> decltype(get(all_ids)) {
  using Result = decltype(get(all_ids));
  using Rows = std::decay_t<decltype(*std::declval<Result>())>;
  const bool filtered = known != nullptr && known->Ready();  // read once: it may turn true meanwhile
  std::vector<std::string> maybe_stored;
  if (filtered) maybe_stored = known->MaybeStored(table, project_id, all_ids);
  const std::vector<std::string>& ids = filtered ? maybe_stored : all_ids;
  if (ids.empty()) return Rows{};
  if (ids.size() <= kProbeAbove) return get(ids);
  auto existing = ExistingIds(transport, KnownIdTableName(table), project_id, ids);
  if (!existing.ok()) return existing.status();
  if (existing->empty()) return Rows{};
  return get(*existing);
}

template <typename Parse>
auto Select(ClickHouseTransport& transport, const std::string& sql, std::vector<QueryParam> params,
            Parse parse) -> decltype(parse(std::string_view())) {
  auto out = transport.Query(sql, params);
  if (!out.ok()) return out.status();
  return parse(*out);
}

}  // namespace

TraceStore::TraceStore(std::unique_ptr<ClickHouseTransport> transport, SchemaTarget target)
    : transport_(std::move(transport)), target_(std::move(target)) {}

TraceStore::~TraceStore() {
  stopping_ = true;
  if (known_ids_loader_.joinable()) known_ids_loader_.join();
}

void TraceStore::TrackKnownIds() {
  if (known_ids_) return;
  known_ids_ = std::make_unique<KnownIds>();
  known_ids_loader_ = std::thread([this] {
    const int64_t started = NowMs();
    Status s = known_ids_->Load(*transport_, stopping_);
    if (!s.ok()) {
      // Lookups keep asking the store, as without the ids: slower, never wrong.
      LOG_WARN("tracing store: cannot read the stored ids ({}); stored rows are looked up in the store",
               s.message());
    } else if (known_ids_->Ready()) {
      LOG_INFO("tracing store: {} stored ids read in {} ms ({} KiB)", known_ids_->size(), NowMs() - started,
               known_ids_->memory_bytes() >> 10);
    }
  });
}

Status TraceStore::Migrate(int* applied) { return ApplyClickHouseMigrations(*transport_, target_, applied); }

Status TraceStore::Ping() { return transport_->Ping(); }

Status TraceStore::InsertTraces(const std::vector<TraceRecord>& rows, const std::string& dedup_token) {
  if (rows.empty()) return Status::Ok();
  // Recorded before the insert: should it fail, the ids only cost a needless read later.
  if (known_ids_) known_ids_->Add(KnownIdTable::kTraces, rows);
  return transport_->Insert("traces", kRowBinaryFormat, TracesToRowBinary(rows), dedup_token);
}

Status TraceStore::InsertObservations(const std::vector<ObservationRecord>& rows,
                                      const std::string& dedup_token) {
  if (rows.empty()) return Status::Ok();
  if (known_ids_) known_ids_->Add(KnownIdTable::kObservations, rows);
  return transport_->Insert("observations", kRowBinaryFormat, ObservationsToRowBinary(rows), dedup_token);
}

Status TraceStore::InsertScores(const std::vector<ScoreRecord>& rows, const std::string& dedup_token) {
  if (rows.empty()) return Status::Ok();
  if (known_ids_) known_ids_->Add(KnownIdTable::kScores, rows);
  return transport_->Insert("scores", kRowBinaryFormat, ScoresToRowBinary(rows), dedup_token);
}

StatusOr<std::vector<TraceRecord>> TraceStore::GetTraces(const std::string& project_id,
                                                         const std::vector<std::string>& ids) {
  static const std::string kSql =
      NewestVersions(TraceSelectColumns(), "traces", "id IN {ids:Array(String)}") + std::string(kIndexedFinal);
  return LookupExisting(*transport_, known_ids_.get(), KnownIdTable::kTraces, project_id, ids,
                        [&](const std::vector<std::string>& some) {
    return Select(*transport_, kSql, {StringParam("project_id", project_id), StringArrayParam("ids", some)},
                  ParseTracesJsonEachRow);
  });
}

StatusOr<std::vector<ObservationRecord>> TraceStore::GetObservations(const std::string& project_id,
                                                                     const std::vector<std::string>& ids) {
  static const std::string kSql =
      NewestVersions(ObservationSelectColumns(), "observations", "id IN {ids:Array(String)}") +
      std::string(kIndexedFinal);
  return LookupExisting(*transport_, known_ids_.get(), KnownIdTable::kObservations, project_id, ids,
                        [&](const std::vector<std::string>& some) {
    return Select(*transport_, kSql, {StringParam("project_id", project_id), StringArrayParam("ids", some)},
                  ParseObservationsJsonEachRow);
  });
}

StatusOr<std::vector<ScoreRecord>> TraceStore::GetScores(const std::string& project_id,
                                                         const std::vector<std::string>& ids) {
  static const std::string kSql =
      NewestVersions(ScoreSelectColumns(), "scores", "id IN {ids:Array(String)}") + std::string(kIndexedFinal);
  return LookupExisting(*transport_, known_ids_.get(), KnownIdTable::kScores, project_id, ids,
                        [&](const std::vector<std::string>& some) {
    return Select(*transport_, kSql, {StringParam("project_id", project_id), StringArrayParam("ids", some)},
                  ParseScoresJsonEachRow);
  });
}

StatusOr<std::vector<ObservationRecord>> TraceStore::ObservationsOfTrace(const std::string& project_id,
                                                                         const std::string& trace_id) {
  static const std::string kSql = NewestVersionsOrdered(
      ObservationSelectColumns(), "observations", "trace_id = {trace_id:String}", "start_time ASC, id ASC") +
      std::string(kIndexedFinal);
  return Select(*transport_, kSql, {StringParam("project_id", project_id), StringParam("trace_id", trace_id)},
                ParseObservationsJsonEachRow);
}

StatusOr<std::vector<ScoreRecord>> TraceStore::ScoresOfTrace(const std::string& project_id,
                                                             const std::string& trace_id) {
  static const std::string kSql = NewestVersionsOrdered(
      ScoreSelectColumns(), "scores", "trace_id = {trace_id:String}", "`timestamp` ASC, id ASC") +
      std::string(kIndexedFinal);
  return Select(*transport_, kSql, {StringParam("project_id", project_id), StringParam("trace_id", trace_id)},
                ParseScoresJsonEachRow);
}

Status TraceStore::DeleteScores(const std::string& project_id, const std::vector<std::string>& ids) {
  if (ids.empty()) return Status::Ok();
  // A newer version of each row marked is_deleted: ReplacingMergeTree(event_ts, is_deleted) then
  // hides the row from FINAL reads at once. Unlike a lightweight DELETE this is a plain insert:
  // no mutation, no wait, and no race with readers of the parts a mutation rewrites.
  ASSIGN_OR_RETURN(std::vector<ScoreRecord> rows, GetScores(project_id, ids));
  if (rows.empty()) return Status::Ok();
  const int64_t now = NowMs();
  for (ScoreRecord& row : rows) {
    row.is_deleted = 1;
    row.event_ts_ms = std::max(now, row.event_ts_ms + 1);
    row.updated_at_ms = now;
  }
  return InsertScores(rows, "");
}

}  // namespace langfuse::traces
