// Copies v2's traces, observations and scores into the tracing store, newest first, in batches with
// a keyset cursor (created_at DESC, id DESC) saved after every batch, as Langfuse's background
// migrations keep their maxDate. Column mapping as Langfuse v3's migration scripts do it
// (worker/src/backgroundMigrations/migrate*FromPostgresToClickhouse.ts):
//  - observations: prompt/completion/total_tokens -> usage_details input/output/total (every
//    non-negative value, zeros included); input/output/total_cost (user-provided) ->
//    provided_cost_details; calculated_* -> cost_details and total_cost; `model` ->
//    provided_model_name; `modelParameters` -> model_parameters; prompt name and version from
//    the prompts table; event_ts = start_time;
//  - traces: event_ts = timestamp; scores: event_ts = timestamp, no metadata in v2;
//  - environment "default" everywhere (v2 had none).
// One deliberate difference: a JSON string in input/output/metadata is stored verbatim, as this
// server's ingestion stores the same value sent by an SDK (Langfuse's script stores it quoted),
// so an imported row reads back exactly like one ingested through the API.

#include <libpq-fe.h>

#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <fmt/core.h>
#include <simdjson.h>

#include "common/time.h"
#include "import_v2/tracing_import.h"
#include "ingest/event.h"
#include "storage/meta/meta_store.h"
#include "storage/traces/clickhouse_transport.h"
#include "storage/traces/records.h"
#include "storage/traces/trace_store.h"

namespace langfuse::import_v2::detail {
namespace {

// Epoch milliseconds of a timestamp column, exact for Prisma's TIMESTAMP(3).
std::string Ms(std::string_view column) {
  return fmt::format("floor(extract(epoch from {}) * 1000)::bigint", column);
}

std::string TracesSelect() {
  return fmt::format(
      "SELECT t.id, {}, t.name, t.user_id, t.metadata::text, t.release, t.version, t.project_id, t.public, "
      "t.bookmarked, array_to_json(t.tags)::text, t.input::text, t.output::text, t.session_id, {}, {}, "
      "t.created_at::text FROM traces t",
      Ms("t.\"timestamp\""), Ms("t.created_at"), Ms("t.updated_at"));
}

std::string ObservationsSelect(bool has_prompts) {
  return fmt::format(
      "SELECT o.id, o.trace_id, o.project_id, o.type::text, o.parent_observation_id, {}, {}, o.name, "
      "o.metadata::text, o.level::text, o.status_message, o.version, o.input::text, o.output::text, o.model, "
      "o.internal_model_id, o.\"modelParameters\"::text, o.prompt_tokens, o.completion_tokens, "
      "o.total_tokens, "
      "o.input_cost::text, o.output_cost::text, o.total_cost::text, o.calculated_input_cost::text, "
      "o.calculated_output_cost::text, o.calculated_total_cost::text, {}, o.prompt_id, {}, {}, {}, {}, "
      "o.created_at::text FROM observations o{}",
      Ms("o.start_time"), Ms("o.end_time"), Ms("o.completion_start_time"), has_prompts ? "p.name" : "NULL",
      has_prompts ? "p.version" : "NULL", Ms("o.created_at"), Ms("o.updated_at"),
      has_prompts ? " LEFT JOIN prompts p ON p.id = o.prompt_id" : "");
}

std::string ScoresSelect() {
  return fmt::format(
      "SELECT s.id, {}, s.project_id, s.trace_id, s.observation_id, s.name, s.value, s.source::text, "
      "s.comment, "
      "s.author_user_id, s.config_id, s.data_type::text, s.string_value, s.queue_id, {}, {}, "
      "s.created_at::text "
      "FROM scores s",
      Ms("s.\"timestamp\""), Ms("s.created_at"), Ms("s.updated_at"));
}

// The batch query of `table`: the first batch reads from the newest row, the next ones below the
// cursor ($1 = created_at as the source printed it, $2 = id). Both orderings use the column's own
// collation, so the cursor and the order always agree.
std::string BatchSql(const TableJob& job, bool with_cursor) {
  const std::string alias = job.table == "traces" ? "t" : job.table == "observations" ? "o" : "s";
  std::string sql = job.table == "traces"         ? TracesSelect()
                    : job.table == "observations" ? ObservationsSelect(job.has_prompts)
                                                  : ScoresSelect();
  if (with_cursor) {
    sql += fmt::format(" WHERE {0}.created_at <= $1 AND ({0}.created_at < $1 OR {0}.id < $2)", alias);
  }
  sql += fmt::format(" ORDER BY {0}.created_at DESC, {0}.id DESC LIMIT {1}", alias, job.batch_size);
  return sql;
}

int64_t ToInt(const std::optional<std::string>& text, int64_t fallback = 0) {
  if (!text) return fallback;
  int64_t value = fallback;
  std::from_chars(text->data(), text->data() + text->size(), value);
  return value;
}
std::optional<int64_t> ToOptionalInt(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return ToInt(text);
}
std::optional<double> ToOptionalDouble(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return std::strtod(text->c_str(), nullptr);
}
std::string OrEmpty(const std::optional<std::string>& text) { return text.value_or(std::string()); }

// jsonb as stored text: a JSON string verbatim, anything else compact; JSON null or SQL NULL -> none.
class JsonReader {
 public:
  std::optional<std::string> Stored(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    simdjson::dom::element e;
    if (parser_.parse(*text).get(e) != simdjson::SUCCESS)
      return *text;  // not JSON (a json column's oddity): verbatim
    if (e.is_null()) return std::nullopt;
    return ingest::StoredJsonText(e);
  }

  // metadata: top-level keys become entries (values as stored text); a non-object is kept under
  // "metadata", as the ingestion API and Langfuse's migration do.
  traces::StringMap Metadata(const std::optional<std::string>& text) {
    traces::StringMap out;
    if (!text) return out;
    simdjson::dom::element e;
    if (parser_.parse(*text).get(e) != simdjson::SUCCESS) {
      out["metadata"] = *text;
      return out;
    }
    if (e.is_null()) return out;
    simdjson::dom::object o;
    if (e.get_object().get(o) == simdjson::SUCCESS) {
      for (auto [key, value] : o) out[std::string(key)] = ingest::StoredJsonText(value);
    } else {
      out["metadata"] = ingest::StoredJsonText(e);
    }
    return out;
  }

  std::vector<std::string> StringArray(const std::optional<std::string>& text) {
    std::vector<std::string> out;
    if (!text) return out;
    simdjson::dom::array a;
    if (parser_.parse(*text).get(a) != simdjson::SUCCESS) return out;
    for (simdjson::dom::element item : a) {
      std::string_view s;
      if (item.get_string().get(s) == simdjson::SUCCESS) out.emplace_back(s);
    }
    return out;
  }

 private:
  simdjson::dom::parser parser_;
};

std::vector<traces::TraceRecord> ToTraces(const SourceRows& r, JsonReader& json) {
  std::vector<traces::TraceRecord> out(static_cast<size_t>(r.rows));
  for (int i = 0; i < r.rows; ++i) {
    traces::TraceRecord& t = out[static_cast<size_t>(i)];
    t.id = OrEmpty(r.At(i, 0));
    t.timestamp_ms = ToInt(r.At(i, 1));
    t.name = OrEmpty(r.At(i, 2));
    t.user_id = r.At(i, 3);
    t.metadata = json.Metadata(r.At(i, 4));
    t.release = r.At(i, 5);
    t.version = r.At(i, 6);
    t.project_id = OrEmpty(r.At(i, 7));
    t.is_public = r.At(i, 8) == "t";
    t.bookmarked = r.At(i, 9) == "t";
    t.tags = json.StringArray(r.At(i, 10));
    t.input = json.Stored(r.At(i, 11));
    t.output = json.Stored(r.At(i, 12));
    t.session_id = r.At(i, 13);
    t.created_at_ms = ToInt(r.At(i, 14));
    t.updated_at_ms = ToInt(r.At(i, 15));
    t.event_ts_ms = t.timestamp_ms;
  }
  return out;
}

// Langfuse keeps a usage value only when it is a non-negative number.
void PutUsage(std::map<std::string, uint64_t>& map, const char* key, const std::optional<std::string>& text) {
  const std::optional<int64_t> value = ToOptionalInt(text);
  if (value && *value >= 0) map[key] = static_cast<uint64_t>(*value);
}
void PutCost(std::map<std::string, double>& map, const char* key, const std::optional<std::string>& text) {
  if (const std::optional<double> value = ToOptionalDouble(text)) map[key] = *value;
}

std::vector<traces::ObservationRecord> ToObservations(const SourceRows& r, JsonReader& json) {
  std::vector<traces::ObservationRecord> out(static_cast<size_t>(r.rows));
  for (int i = 0; i < r.rows; ++i) {
    traces::ObservationRecord& o = out[static_cast<size_t>(i)];
    o.id = OrEmpty(r.At(i, 0));
    o.trace_id = OrEmpty(r.At(i, 1));
    o.project_id = OrEmpty(r.At(i, 2));
    o.type = OrEmpty(r.At(i, 3));
    o.parent_observation_id = r.At(i, 4);
    o.start_time_ms = ToInt(r.At(i, 5));
    o.end_time_ms = ToOptionalInt(r.At(i, 6));
    o.name = OrEmpty(r.At(i, 7));
    o.metadata = json.Metadata(r.At(i, 8));
    o.level = r.At(i, 9).value_or("DEFAULT");
    o.status_message = r.At(i, 10);
    o.version = r.At(i, 11);
    o.input = json.Stored(r.At(i, 12));
    o.output = json.Stored(r.At(i, 13));
    o.provided_model_name = r.At(i, 14);
    o.internal_model_id = r.At(i, 15);
    o.model_parameters = json.Stored(r.At(i, 16));
    PutUsage(o.usage_details, "input", r.At(i, 17));
    PutUsage(o.usage_details, "output", r.At(i, 18));
    PutUsage(o.usage_details, "total", r.At(i, 19));
    PutCost(o.provided_cost_details, "input", r.At(i, 20));
    PutCost(o.provided_cost_details, "output", r.At(i, 21));
    PutCost(o.provided_cost_details, "total", r.At(i, 22));
    PutCost(o.cost_details, "input", r.At(i, 23));
    PutCost(o.cost_details, "output", r.At(i, 24));
    PutCost(o.cost_details, "total", r.At(i, 25));
    o.total_cost = ToOptionalDouble(r.At(i, 25));
    o.completion_start_time_ms = ToOptionalInt(r.At(i, 26));
    o.prompt_id = r.At(i, 27);
    o.prompt_name = r.At(i, 28);
    if (const std::optional<int64_t> version = ToOptionalInt(r.At(i, 29));
        version && *version >= 0 && *version <= 65535) {
      o.prompt_version = static_cast<uint16_t>(*version);
    }
    o.created_at_ms = ToInt(r.At(i, 30));
    o.updated_at_ms = ToInt(r.At(i, 31));
    o.event_ts_ms = o.start_time_ms;
  }
  return out;
}

std::vector<traces::ScoreRecord> ToScores(const SourceRows& r) {
  std::vector<traces::ScoreRecord> out(static_cast<size_t>(r.rows));
  for (int i = 0; i < r.rows; ++i) {
    traces::ScoreRecord& s = out[static_cast<size_t>(i)];
    s.id = OrEmpty(r.At(i, 0));
    s.timestamp_ms = ToInt(r.At(i, 1));
    s.project_id = OrEmpty(r.At(i, 2));
    s.trace_id = r.At(i, 3);
    s.observation_id = r.At(i, 4);
    s.name = OrEmpty(r.At(i, 5));
    s.value = ToOptionalDouble(r.At(i, 6)).value_or(0);  // v2 CATEGORICAL scores may have none
    s.source = r.At(i, 7).value_or("API");
    s.comment = r.At(i, 8);
    s.author_user_id = r.At(i, 9);
    s.config_id = r.At(i, 10);
    s.data_type = r.At(i, 11).value_or("NUMERIC");
    s.string_value = r.At(i, 12);
    s.queue_id = r.At(i, 13);
    s.created_at_ms = ToInt(r.At(i, 14));
    s.updated_at_ms = ToInt(r.At(i, 15));
    s.event_ts_ms = s.timestamp_ms;
  }
  return out;
}

// A token per batch, the same whenever the same rows are read again (a run killed between the
// insert and saving the cursor re-reads that batch), so the engine drops the repeated insert.
std::string DedupToken(const std::string& table, const std::string& first_id, const std::string& last_id,
                       int rows) {
  uint64_t h = 1469598103934665603ULL;
  for (const std::string* part : {&first_id, &last_id}) {
    for (unsigned char c : *part) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  }
  return fmt::format("v2-{}-{:016x}-{}", table, h, rows);
}

// One batch read from the source, converted for the tracing store, with the cursor it advances to.
struct Batch {
  int rows = 0;
  std::string token;
  std::string cursor_created_at;
  std::string cursor_id;
  std::vector<traces::TraceRecord> traces;
  std::vector<traces::ObservationRecord> observations;
  std::vector<traces::ScoreRecord> scores;
};

//! Reads and converts a table's batches in a thread of its own, one batch ahead of the writer, so
//! that reading the next batch from the source overlaps inserting the current one. It walks from
//! the cursor it was given, independently of the saved cursor (which the writer moves only after a
//! batch's insert succeeded). The source connection is this thread's alone while it runs. A batch
//! of fewer than batch_size rows, or an error, is the last one it hands over.
class BatchReader {
 public:
  BatchReader(pg_conn* source, const TableJob& job, std::string cursor_created_at, std::string cursor_id)
      : source_(source),
        job_(job),
        first_sql_(BatchSql(job, false)),
        next_sql_(BatchSql(job, true)),
        cursor_created_at_(std::move(cursor_created_at)),
        cursor_id_(std::move(cursor_id)) {
    thread_ = std::thread([this] { Run(); });
  }
  //! Waits for the batch being read, if any (one statement, bounded by the statement timeout).
  ~BatchReader() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  BatchReader(const BatchReader&) = delete;
  BatchReader& operator=(const BatchReader&) = delete;

  //! The next batch, waiting for it to be read. Not called again after the last one.
  StatusOr<Batch> Next() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return ready_.has_value(); });
    StatusOr<Batch> out = std::move(*ready_);
    ready_.reset();
    changed_.notify_all();
    return out;
  }

 private:
  StatusOr<Batch> Read() {
    ASSIGN_OR_RETURN(const SourceRows rows, cursor_id_.empty()
                                                ? SourceQuery(source_, first_sql_, {})
                                                : SourceQuery(source_, next_sql_, {cursor_created_at_, cursor_id_}));
    Batch batch;
    batch.rows = rows.rows;
    if (rows.rows == 0) return batch;
    const int last = rows.rows - 1;
    const int id_column = 0;
    const int cursor_column = rows.columns - 1;
    batch.token = DedupToken(job_.table, OrEmpty(rows.At(0, id_column)), OrEmpty(rows.At(last, id_column)), rows.rows);
    batch.cursor_created_at = OrEmpty(rows.At(last, cursor_column));
    batch.cursor_id = OrEmpty(rows.At(last, id_column));
    if (job_.table == "traces") {
      batch.traces = ToTraces(rows, json_);
    } else if (job_.table == "observations") {
      batch.observations = ToObservations(rows, json_);
    } else {
      batch.scores = ToScores(rows);
    }
    return batch;
  }

  void Run() {
    while (true) {
      StatusOr<Batch> batch = Read();  // while the writer inserts the batch before
      const bool last = !batch.ok() || batch->rows < job_.batch_size;
      if (batch.ok() && !last) {
        cursor_created_at_ = batch->cursor_created_at;
        cursor_id_ = batch->cursor_id;
      }
      std::unique_lock lock(mu_);
      changed_.wait(lock, [this] { return stopping_ || !ready_.has_value(); });
      if (stopping_) return;
      ready_.emplace(std::move(batch));
      changed_.notify_all();
      if (last) return;
    }
  }

  pg_conn* const source_;
  const TableJob& job_;
  const std::string first_sql_;
  const std::string next_sql_;
  std::string cursor_created_at_;  // the reader thread's own
  std::string cursor_id_;
  JsonReader json_;  // the reader thread's own

  std::mutex mu_;
  std::condition_variable changed_;
  std::optional<StatusOr<Batch>> ready_;  // guarded by mu_
  bool stopping_ = false;                 // guarded by mu_
  std::thread thread_;
};

}  // namespace

StatusOr<SourceRows> SourceQuery(pg_conn* source, const std::string& sql,
                                 const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  PGresult* res = PQexecParams(source, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                               nullptr, nullptr, 0);
  if (res == nullptr || (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)) {
    std::string reason = res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(source);
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
    const bool broken = PQstatus(source) != CONNECTION_OK;
    if (res != nullptr) PQclear(res);
    return Status(broken ? StatusCode::kUnavailable : StatusCode::kInternal, "v2 database: " + reason);
  }
  SourceRows out;
  out.rows = PQntuples(res);
  out.columns = PQnfields(res);
  out.cells.reserve(static_cast<size_t>(out.rows) * static_cast<size_t>(out.columns));
  for (int i = 0; i < out.rows; ++i) {
    for (int c = 0; c < out.columns; ++c) {
      if (PQgetisnull(res, i, c)) {
        out.cells.emplace_back();
      } else {
        out.cells.emplace_back(
            std::string(PQgetvalue(res, i, c), static_cast<size_t>(PQgetlength(res, i, c))));
      }
    }
  }
  PQclear(res);
  return out;
}

Status ImportTracingTable(pg_conn* source, const TableJob& job, meta::MetaStore& meta,
                          traces::TraceStore& traces, const std::atomic<bool>& stop,
                          const std::function<Status()>& check_lease, const ProgressFn& progress,
                          TableCount* count) {
  meta::ImportProgress state;
  {
    ASSIGN_OR_RETURN(const auto all, meta.ListImportProgress());
    for (const auto& p : all) {
      if (p.table == job.table) state = p;
    }
  }
  state.table = job.table;
  state.source = job.source_identity;
  {
    ASSIGN_OR_RETURN(const SourceRows total, SourceQuery(source, "SELECT count(*) FROM " + job.table, {}));
    state.rows_total = ToInt(total.At(0, 0));
  }
  count->source = state.rows_total;
  if (state.finished) {
    if (progress) progress(job.table, state.rows_done, state.rows_total);
    return Status::Ok();
  }
  if (progress) progress(job.table, state.rows_done, std::max(state.rows_total, state.rows_done));
  BatchReader reader(source, job, state.cursor_created_at, state.cursor_id);
  while (true) {
    if (stop.load()) return Status::Unavailable("stopped");
    if (check_lease) RETURN_IF_ERROR(check_lease());
    ASSIGN_OR_RETURN(Batch batch, reader.Next());
    if (batch.rows > 0) {
      if (job.table == "traces") {
        RETURN_IF_ERROR(traces.InsertTraces(batch.traces, batch.token));
      } else if (job.table == "observations") {
        RETURN_IF_ERROR(traces.InsertObservations(batch.observations, batch.token));
      } else {
        RETURN_IF_ERROR(traces.InsertScores(batch.scores, batch.token));
      }
      state.cursor_created_at = batch.cursor_created_at;
      state.cursor_id = batch.cursor_id;
      state.rows_done += batch.rows;
      count->imported += batch.rows;
    }
    state.finished = batch.rows < job.batch_size;
    state.updated_at_ms = NowMs();
    // Saved after the insert: a run killed in between re-reads this batch, and its token makes the
    // second insert a no-op.
    RETURN_IF_ERROR(meta.SaveImportProgress(state));
    if (progress) progress(job.table, state.rows_done, std::max(state.rows_total, state.rows_done));
    if (state.finished) return Status::Ok();
  }
}

StatusOr<int64_t> CountTarget(traces::TraceStore& traces, const std::string& table,
                              const std::vector<std::string>& project_ids) {
  if (project_ids.empty()) return int64_t{0};
  // `table` is one of TracingTables(), never caller text.
  const std::string sql = "SELECT count() AS n FROM " + table +
                          " FINAL WHERE project_id IN {ids:Array(String)} AND is_deleted = 0";
  ASSIGN_OR_RETURN(const std::string out,
                   traces.transport().Query(sql, {traces::StringArrayParam("ids", project_ids)}));
  simdjson::dom::parser parser;
  simdjson::padded_string text(out);
  simdjson::dom::element e;
  if (parser.parse(text).get(e) != simdjson::SUCCESS)
    return Status::Internal("unexpected count output: " + out);
  int64_t n = 0;
  uint64_t un = 0;
  std::string_view s;
  if (e["n"].get(un) == simdjson::SUCCESS) {
    n = static_cast<int64_t>(un);
  } else if (e["n"].get(s) == simdjson::SUCCESS) {
    std::from_chars(s.data(), s.data() + s.size(), n);
  } else {
    return Status::Internal("unexpected count output: " + out);
  }
  return n;
}

}  // namespace langfuse::import_v2::detail
