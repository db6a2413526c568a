// The behaviour every ClickHouse transport must give TraceStore (declared in
// trace_store_conformance.h): schema, round trips of every column, versions and deletes, inert
// parameters, deduplicated retries, errors as statuses, reads beside a running insert.
//
// Each binary shares one engine across its cases (chDB allows one per process; the HTTP suite
// starts one loopback server), and ctest runs every case in its own process, so each case must
// pass alone and beside the others: cases use their own project ids and never depend on another
// case's rows.

#include "storage/traces/trace_store_conformance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "common/ids.h"
#include "common/metrics.h"
#include "storage/traces/record_json.h"
#include "storage/traces/test_records.h"

namespace langfuse::traces::testing {

void TraceStoreConformanceTest::SetUp() {
  const std::string reason = GetParam().skip_reason ? GetParam().skip_reason() : std::string();
  if (!reason.empty()) GTEST_SKIP() << reason;
  store_ = GetParam().store();
  if (store_ == nullptr) GTEST_FAIL() << "the " << GetParam().name << " engine did not start";
  // A project of its own per case: cases share the engine when the binary runs them together.
  project_ = "proj-" + RandomHex(6);
}

std::string TraceStoreConformanceTest::QueryText(std::string_view sql,
                                                 const std::vector<QueryParam>& params) {
  auto out = transport().Query(sql, params, "TabSeparatedRaw");
  EXPECT_TRUE(out.ok()) << out.status().message();
  std::string text = out.ok() ? *out : std::string();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

uint64_t TraceStoreConformanceTest::RawCount(std::string_view table) {
  return std::stoull(QueryText(fmt::format("SELECT count() FROM {} WHERE project_id = {{p:String}}", table),
                               {StringParam("p", project_)}));
}

namespace {

std::string Token() { return "batch-" + RandomHex(8); }

// ---- schema ------------------------------------------------------------------------------------

TEST_P(TraceStoreConformanceTest, MigrationsApplyOnceThenNothing) {
  EXPECT_EQ(GetParam().first_applied(), static_cast<int>(ClickHouseMigrations().size()));
  int applied = -1;
  ASSERT_TRUE(store().Migrate(&applied).ok());
  EXPECT_EQ(applied, 0);
  EXPECT_EQ(QueryText("SELECT count() FROM langfuse_ch_migrations WHERE dirty = 0"),
            std::to_string(ClickHouseMigrations().size()));
}

// Langfuse's engines, partitions and keys, but for the observations' sort key: by day, type and
// trace instead of type, day and id (every table sorted by day first; one trace's rows together),
// see migrations.cpp.
TEST_P(TraceStoreConformanceTest, TablesHaveLangfuseEnginesAndKeys) {
  const std::string tables = QueryText(
      "SELECT name, engine, partition_key, sorting_key, primary_key FROM system.tables "
      "WHERE database = currentDatabase() AND name IN ('traces', 'observations', 'scores') ORDER BY name");
  EXPECT_EQ(
      tables,
      "observations\tReplacingMergeTree\ttoYYYYMM(start_time)\t"
      "project_id, toDate(start_time), type, trace_id, id\tproject_id, toDate(start_time), type, trace_id\n"
      "scores\tReplacingMergeTree\ttoYYYYMM(timestamp)\tproject_id, toDate(timestamp), name, id\t"
      "project_id, toDate(timestamp), name\n"
      "traces\tReplacingMergeTree\ttoYYYYMM(timestamp)\tproject_id, toDate(timestamp), id\t"
      "project_id, toDate(timestamp)");
  for (const char* table : {"traces", "observations", "scores"}) {
    const std::string engine_full = QueryText(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        {StringParam("t", table)});
    EXPECT_TRUE(engine_full.starts_with("ReplacingMergeTree(event_ts, is_deleted) PARTITION BY toYYYYMM("))
        << engine_full;
    EXPECT_NE(engine_full.find("non_replicated_deduplication_window = 10000"), std::string::npos)
        << engine_full;
  }
}

TEST_P(TraceStoreConformanceTest, ColumnsMatchLangfuseTypesAndOrder) {
  auto columns = [&](const char* table) {
    return QueryText(
        "SELECT arrayStringConcat(groupArray(concat(name, ' ', type, if(compression_codec = '', '', "
        "concat(' ', compression_codec)), if(default_expression = '', '', concat(' = ', "
        "default_expression)))), "
        "'\\n') FROM (SELECT * FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
        "ORDER BY position)",
        {StringParam("t", table)});
  };
  EXPECT_EQ(
      columns("traces"),
      "id String\ntimestamp DateTime64(3)\nname String\nuser_id Nullable(String)\n"
      "metadata Map(LowCardinality(String), String)\nrelease Nullable(String)\nversion Nullable(String)\n"
      "project_id String\nenvironment LowCardinality(String) = 'default'\npublic Bool\nbookmarked Bool\n"
      "tags Array(String)\ninput Nullable(String) CODEC(ZSTD(3))\noutput Nullable(String) CODEC(ZSTD(3))\n"
      "session_id Nullable(String)\ncreated_at DateTime64(3) = now()\nupdated_at DateTime64(3) = now()\n"
      "event_ts DateTime64(3)\nis_deleted UInt8");
  EXPECT_EQ(
      columns("observations"),
      "id String\ntrace_id String\nproject_id String\nenvironment LowCardinality(String) = 'default'\n"
      "type LowCardinality(String)\nparent_observation_id Nullable(String)\nstart_time DateTime64(3)\n"
      "end_time Nullable(DateTime64(3))\nname String\nmetadata Map(LowCardinality(String), String)\n"
      "level LowCardinality(String)\nstatus_message Nullable(String)\nversion Nullable(String)\n"
      "input Nullable(String) CODEC(ZSTD(3))\noutput Nullable(String) CODEC(ZSTD(3))\n"
      "provided_model_name Nullable(String)\ninternal_model_id Nullable(String)\n"
      "model_parameters Nullable(String)\nprovided_usage_details Map(LowCardinality(String), UInt64)\n"
      "usage_details Map(LowCardinality(String), UInt64)\n"
      "provided_cost_details Map(LowCardinality(String), Decimal(18, 12))\n"
      "cost_details Map(LowCardinality(String), Decimal(18, 12))\ntotal_cost Nullable(Decimal(18, 12))\n"
      "completion_start_time Nullable(DateTime64(3))\nprompt_id Nullable(String)\n"
      "prompt_name Nullable(String)\nprompt_version Nullable(UInt16)\ncreated_at DateTime64(3) = now()\n"
      "updated_at DateTime64(3) = now()\nevent_ts DateTime64(3)\nis_deleted UInt8\n"
      "usage_pricing_tier_id Nullable(String)\nusage_pricing_tier_name Nullable(String)\n"
      "tool_definitions Map(String, String) = map()\ntool_calls Array(String) = []\n"
      "tool_call_names Array(String) = []");
  EXPECT_EQ(columns("scores"),
            "id String\ntimestamp DateTime64(3)\nproject_id String\nenvironment LowCardinality(String) = "
            "'default'\n"
            "trace_id Nullable(String)\nsession_id Nullable(String)\ndataset_run_id Nullable(String)\n"
            "observation_id Nullable(String)\nname String\nvalue Float64\nsource String\n"
            "comment Nullable(String) CODEC(ZSTD(1))\nmetadata Map(LowCardinality(String), String)\n"
            "author_user_id Nullable(String)\nconfig_id Nullable(String)\ndata_type String\n"
            "string_value Nullable(String)\nqueue_id Nullable(String)\ncreated_at DateTime64(3) = now()\n"
            "updated_at DateTime64(3) = now()\nevent_ts DateTime64(3)\nis_deleted UInt8\n"
            "execution_trace_id Nullable(String)\nlong_string_value String CODEC(ZSTD(3))\n"
            "ingestion_api_key String = ''\ningestion_sdk_name LowCardinality(String) = 'unknown'\n"
            "ingestion_sdk_version LowCardinality(String) = 'unknown'");
}

TEST_P(TraceStoreConformanceTest, SkipIndexesMatchLangfuse) {
  EXPECT_EQ(
      QueryText("SELECT arrayStringConcat(groupArray(concat(table, ' ', name, ' ', expr, ' ', type_full)), "
                "'\\n') FROM (SELECT * FROM system.data_skipping_indices WHERE database = currentDatabase() "
                "AND table IN ('traces', 'observations', 'scores') ORDER BY table, name)"),
      // ClickHouse's canonical spelling: `bloom_filter()` and no parentheses around tuples.
      "observations idx_created_at created_at minmax\n"
      "observations idx_id id bloom_filter()\n"
      "observations idx_res_metadata_key mapKeys(metadata) bloom_filter(0.01)\n"
      "observations idx_res_metadata_value mapValues(metadata) bloom_filter(0.01)\n"
      "observations idx_trace_id trace_id bloom_filter()\n"
      "scores idx_created_at created_at minmax\n"
      "scores idx_id id bloom_filter(0.001)\n"
      "scores idx_project_dataset_run project_id, dataset_run_id bloom_filter(0.001)\n"
      "scores idx_project_session project_id, session_id bloom_filter(0.001)\n"
      "scores idx_project_trace_observation project_id, trace_id, observation_id bloom_filter(0.001)\n"
      "traces idx_created_at created_at minmax\n"
      "traces idx_id id bloom_filter(0.001)\n"
      "traces idx_res_metadata_key mapKeys(metadata) bloom_filter(0.01)\n"
      "traces idx_res_metadata_value mapValues(metadata) bloom_filter(0.01)\n"
      "traces idx_session_id session_id bloom_filter()\n"
      "traces idx_user_id user_id bloom_filter()");
}

TEST_P(TraceStoreConformanceTest, SessionRunsInUtcWhateverTheHostZone) {
  EXPECT_EQ(QueryText("SELECT timezone()"), "UTC");
  EXPECT_EQ(QueryText("SELECT toUnixTimestamp64Milli({t:DateTime64(3)})", {DateTime64MsParam("t", -1)}),
            "-1");
  EXPECT_EQ(QueryText("SELECT toString(toDateTime64(1718000000.123, 3))"), "2024-06-10 06:13:20.123");
}

// ---- round trips -------------------------------------------------------------------------------

TEST_P(TraceStoreConformanceTest, TraceRoundTripsEveryColumn) {
  TraceRecord big = FullTrace(project_, "t-big");
  big.input = std::string(3 << 20, 'i') + TrickyText();  // several MB: ZSTD column, multi-slice insert
  const std::vector<TraceRecord> rows = {FullTrace(project_, "t-full"), MinimalTrace(project_, "t-min"), big};
  ASSERT_TRUE(store().InsertTraces(rows, Token()).ok());
  auto got = store().GetTraces(project_, {"t-full", "t-min", "t-big", "t-missing"});
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 3u);
  for (const TraceRecord& want : rows) {
    const auto it =
        std::find_if(got->begin(), got->end(), [&](const TraceRecord& r) { return r.id == want.id; });
    ASSERT_NE(it, got->end()) << want.id;
    EXPECT_EQ(*it, want) << want.id;
  }
}

TEST_P(TraceStoreConformanceTest, ObservationRoundTripsEveryColumn) {
  const std::vector<ObservationRecord> rows = {
      FullObservation(project_, "o-full", "t1"),
      MinimalObservation(project_, "o-min", "t1", 1'700'000'000'000)};
  const Status inserted = store().InsertObservations(rows, Token());
  ASSERT_TRUE(inserted.ok()) << inserted.message();
  auto got = store().GetObservations(project_, {"o-full", "o-min"});
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 2u);
  for (const ObservationRecord& r : *got) EXPECT_EQ(r, r.id == "o-full" ? rows[0] : rows[1]) << r.id;
}

TEST_P(TraceStoreConformanceTest, ScoreRoundTripsEveryColumn) {
  const std::vector<ScoreRecord> rows = {FullScore(project_, "s-full", "t1"),
                                         MinimalScore(project_, "s-min", 1'700'000'000'000)};
  ASSERT_TRUE(store().InsertScores(rows, Token()).ok());
  auto got = store().GetScores(project_, {"s-full", "s-min"});
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 2u);
  for (const ScoreRecord& r : *got) EXPECT_EQ(r, r.id == "s-full" ? rows[0] : rows[1]) << r.id;
}

// The worker inserts RowBinary; JSONEachRow stays the format of other clients and tools. Both
// must store the same values, including the repairs (invalid UTF-8) and roundings (decimals).
TEST_P(TraceStoreConformanceTest, RowBinaryAndJsonEachRowStoreTheSameValues) {
  ObservationRecord o = FullObservation(project_, "o-bin", "t1");
  o.name = std::string("bad \xff\xfe utf-8 \xc3") + TrickyText();
  o.metadata["\xffkey"] = "val\xc0ue";
  o.total_cost = 0.1 + 0.2;  // 0.30000000000000004
  o.cost_details = {{"input", 1.23456789012345678}, {"output", 1e-13},  {"tiny", 3.5e-7},
                    {"big", 123456.000000000001},   {"neg", -0.000123}, {"toolarge", 1e300}};
  o.provided_cost_details = {{"x", 9.999999999999e6}};
  o.usage_details = {{"input", 0}, {"output", UINT64_MAX}};
  o.prompt_version = 65535;
  o.tool_calls = {"", "\xff"};
  ObservationRecord via_json = o;
  via_json.id = "o-json";
  ASSERT_TRUE(store().InsertObservations({o}, Token()).ok());
  ASSERT_TRUE(
      transport().InsertJsonEachRow("observations", ObservationsToJsonEachRow({via_json}), Token()).ok());
  auto got = store().GetObservations(project_, {"o-bin", "o-json"});
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 2u);
  ObservationRecord a = (*got)[0], b = (*got)[1];
  a.id = b.id = "";
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.name.find('\xff'), std::string::npos);  // repaired to U+FFFD on both paths
  EXPECT_EQ(a.cost_details.count("toolarge"), 0u);    // out of Decimal64(12)'s range: left out

  ScoreRecord sc = FullScore(project_, "s-bin", "t1");
  sc.value = std::numeric_limits<double>::quiet_NaN();
  sc.comment = "c\xff";
  ScoreRecord sc_json = sc;
  sc_json.id = "s-json";
  ASSERT_TRUE(store().InsertScores({sc}, Token()).ok());
  ASSERT_TRUE(transport().InsertJsonEachRow("scores", ScoresToJsonEachRow({sc_json}), Token()).ok());
  auto scores = store().GetScores(project_, {"s-bin", "s-json"});
  ASSERT_TRUE(scores.ok()) << scores.status().message();
  ASSERT_EQ(scores->size(), 2u);
  ScoreRecord x = (*scores)[0], y = (*scores)[1];
  x.id = y.id = "";
  EXPECT_EQ(x, y);
}

TEST_P(TraceStoreConformanceTest, EdgeTimesRoundTrip) {
  std::vector<TraceRecord> rows;
  for (const int64_t ms :
       {kMinDateTime64Ms, int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{951'782'400'000}, kMaxDateTime64Ms}) {
    TraceRecord t = MinimalTrace(project_, fmt::format("t{}", ms));
    t.timestamp_ms = ms;
    t.event_ts_ms = ms;
    rows.push_back(t);
  }
  ASSERT_TRUE(store().InsertTraces(rows, Token()).ok());
  std::vector<std::string> ids;
  for (const TraceRecord& t : rows) ids.push_back(t.id);
  auto got = store().GetTraces(project_, ids);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), rows.size());
  for (const TraceRecord& r : *got) EXPECT_EQ(fmt::format("t{}", r.timestamp_ms), r.id);
}

// ---- versions, deletes, isolation --------------------------------------------------------------

TEST_P(TraceStoreConformanceTest, NewestVersionWins) {
  TraceRecord v1 = FullTrace(project_, "t");
  v1.name = "v1";
  v1.event_ts_ms = 2'000;
  TraceRecord v2 = v1;
  v2.name = "v2";
  v2.event_ts_ms = 3'000;
  TraceRecord v0 = v1;  // older, arrives last
  v0.name = "v0";
  v0.event_ts_ms = 1'000;
  ASSERT_TRUE(store().InsertTraces({v1}, Token()).ok());
  ASSERT_TRUE(store().InsertTraces({v2}, Token()).ok());
  ASSERT_TRUE(store().InsertTraces({v0}, Token()).ok());
  // A version whose sort key differs (another day): FINAL cannot collapse it, LIMIT 1 BY does.
  TraceRecord moved = v1;
  moved.name = "moved-but-old";
  moved.timestamp_ms += 86'400'000LL * 40;
  moved.event_ts_ms = 2'500;
  ASSERT_TRUE(store().InsertTraces({moved}, Token()).ok());

  auto got = store().GetTraces(project_, {"t"});
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].name, "v2");

  ObservationRecord o1 = MinimalObservation(project_, "o", "t", 5'000);
  o1.name = "first";
  ObservationRecord o2 = o1;
  o2.name = "second";
  o2.event_ts_ms = o1.event_ts_ms + 1;
  ASSERT_TRUE(store().InsertObservations({o2, o1}, Token()).ok());
  auto obs = store().GetObservations(project_, {"o"});
  ASSERT_TRUE(obs.ok());
  ASSERT_EQ(obs->size(), 1u);
  EXPECT_EQ((*obs)[0].name, "second");
}

TEST_P(TraceStoreConformanceTest, DeletedRowsAreHidden) {
  TraceRecord live = MinimalTrace(project_, "live");
  TraceRecord doomed = MinimalTrace(project_, "doomed");
  ASSERT_TRUE(store().InsertTraces({live, doomed}, Token()).ok());
  doomed.is_deleted = 1;
  doomed.event_ts_ms += 1;
  ASSERT_TRUE(store().InsertTraces({doomed}, Token()).ok());
  auto got = store().GetTraces(project_, {"live", "doomed"});
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, "live");

  ObservationRecord o = MinimalObservation(project_, "o", "t", 1'000);
  ObservationRecord o_deleted = o;
  o_deleted.is_deleted = 1;
  o_deleted.event_ts_ms += 1;
  ASSERT_TRUE(store().InsertObservations({o, o_deleted}, Token()).ok());
  auto obs = store().ObservationsOfTrace(project_, "t");
  ASSERT_TRUE(obs.ok());
  EXPECT_TRUE(obs->empty());

  ScoreRecord s = MinimalScore(project_, "s", 1'000);
  s.trace_id = "t";
  ScoreRecord s_deleted = s;
  s_deleted.is_deleted = 1;
  s_deleted.event_ts_ms += 1;
  ASSERT_TRUE(store().InsertScores({s_deleted, s}, Token()).ok());
  auto scores = store().GetScores(project_, {"s"});
  ASSERT_TRUE(scores.ok());
  EXPECT_TRUE(scores->empty());
}

TEST_P(TraceStoreConformanceTest, ProjectsAreIsolated) {
  const std::string other = project_ + "-other";
  ASSERT_TRUE(store().InsertTraces({MinimalTrace(other, "shared-id")}, Token()).ok());
  ASSERT_TRUE(store().InsertObservations({MinimalObservation(other, "o", "t", 1)}, Token()).ok());
  ASSERT_TRUE(store().InsertScores({MinimalScore(other, "s", 1)}, Token()).ok());
  EXPECT_TRUE(store().GetTraces(project_, {"shared-id"})->empty());
  EXPECT_TRUE(store().GetObservations(project_, {"o"})->empty());
  EXPECT_TRUE(store().ObservationsOfTrace(project_, "t")->empty());
  EXPECT_TRUE(store().GetScores(project_, {"s"})->empty());
  EXPECT_TRUE(store().DeleteScores(project_, {"s"}).ok());
  EXPECT_EQ(store().GetScores(other, {"s"})->size(), 1u);  // the other project's row survives
  EXPECT_EQ(store().GetTraces(other, {"shared-id"})->size(), 1u);
}

TEST_P(TraceStoreConformanceTest, ParameterValuesAreInert) {
  const std::vector<std::string> hostile = {
      "x' OR '1'='1", "x\\' OR 1=1 --", "'); DROP TABLE traces; --", "a\\",         "\\'", "]", "['a']",
      "tab\there",    "new\nline",      std::string("nul\0byte", 8), "{id:String}", "ü🚀"};
  std::vector<TraceRecord> rows;
  for (const std::string& id : hostile) rows.push_back(MinimalTrace(project_, id));
  ASSERT_TRUE(store().InsertTraces(rows, Token()).ok());
  for (const std::string& id : hostile) {
    auto got = store().GetTraces(project_, {id});
    ASSERT_TRUE(got.ok()) << got.status().message();
    ASSERT_EQ(got->size(), 1u) << id;
    EXPECT_EQ((*got)[0].id, id);
  }
  auto all = store().GetTraces(project_, hostile);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), hostile.size());
  // A hostile project id matches nothing, and the table is still there.
  EXPECT_TRUE(store().GetTraces("' OR 1=1 --", {"x' OR '1'='1"})->empty());
  EXPECT_EQ(RawCount("traces"), hostile.size());

  // Every byte value survives StringParam and StringArrayParam.
  std::string all_bytes;
  for (int c = 1; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  all_bytes.push_back('\0');
  EXPECT_EQ(QueryText("SELECT lower(hex({s:String}))", {StringParam("s", all_bytes)}), ToHex(all_bytes));
  EXPECT_EQ(QueryText("SELECT length({a:Array(String)}), lower(hex(arrayElement({a:Array(String)}, 2)))",
                      {StringArrayParam("a", {"first", all_bytes})}),
            "2\t" + ToHex(all_bytes));
}

TEST_P(TraceStoreConformanceTest, InvalidUtf8WrittenByAnotherClientStillReads) {
  // Our encoder never writes invalid UTF-8, but a row written by another client may hold any
  // bytes; output_format_json_validate_utf8 keeps the answer parseable.
  auto inserted = transport().Query(
      "INSERT INTO traces (id, project_id, name, timestamp, event_ts) "
      "VALUES ('bad-utf8', {p:String}, concat('a', unhex('FF'), 'b'), now64(3), now64(3))",
      {StringParam("p", project_)});
  ASSERT_TRUE(inserted.ok()) << inserted.status().message();
  auto got = store().GetTraces(project_, {"bad-utf8"});
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].name,
            "a\xEF\xBF\xBD"
            "b");
}

// ---- per-trace reads and deletes ---------------------------------------------------------------

TEST_P(TraceStoreConformanceTest, ObservationsOfTraceAreOrderedByStartTime) {
  const std::string trace = "trace-1";
  std::vector<ObservationRecord> rows = {
      MinimalObservation(project_, "c", trace, 3'000), MinimalObservation(project_, "a", trace, 1'000),
      MinimalObservation(project_, "b", trace, 2'000), MinimalObservation(project_, "other", "trace-2", 500)};
  rows[1].type = "GENERATION";  // another sort-key prefix: order must not follow the table's order
  // The first span, then an update that moved it to the end (different event_ts, same sort key).
  ASSERT_TRUE(store().InsertObservations(rows, Token()).ok());
  ObservationRecord late = MinimalObservation(project_, "z-first", trace, -5'000);
  ASSERT_TRUE(store().InsertObservations({late}, Token()).ok());

  auto got = store().ObservationsOfTrace(project_, trace);
  ASSERT_TRUE(got.ok()) << got.status().message();
  std::vector<std::string> ids;
  for (const ObservationRecord& o : *got) ids.push_back(o.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"z-first", "a", "b", "c"}));
}

TEST_P(TraceStoreConformanceTest, ScoresOfTraceAndDeleteScores) {
  ScoreRecord s1 = MinimalScore(project_, "s1", 2'000);
  s1.trace_id = "t";
  ScoreRecord s2 = MinimalScore(project_, "s2", 1'000);
  s2.trace_id = "t";
  s2.name = "another name";
  ScoreRecord s3 = MinimalScore(project_, "s3", 3'000);  // no trace
  ASSERT_TRUE(store().InsertScores({s1, s2, s3}, Token()).ok());

  auto of_trace = store().ScoresOfTrace(project_, "t");
  ASSERT_TRUE(of_trace.ok()) << of_trace.status().message();
  ASSERT_EQ(of_trace->size(), 2u);
  EXPECT_EQ((*of_trace)[0].id, "s2");
  EXPECT_EQ((*of_trace)[1].id, "s1");

  ASSERT_TRUE(store().DeleteScores(project_, {"s1", "s3", "never-existed"}).ok());
  auto left = store().GetScores(project_, {"s1", "s2", "s3"});
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, "s2");
  // Deletion writes a newer, deleted version of each row (2 tombstones beside the 3 rows).
  EXPECT_EQ(RawCount("scores"), 5u);
  EXPECT_TRUE(store().DeleteScores(project_, {}).ok());
}

// ---- inserts -----------------------------------------------------------------------------------

TEST_P(TraceStoreConformanceTest, RetriedInsertWithSameTokenIsStoredOnce) {
  std::vector<ObservationRecord> batch;
  for (int i = 0; i < 50; ++i) {
    // Two months: the insert splits into one block per partition, each deduplicated.
    batch.push_back(
        MinimalObservation(project_, fmt::format("o{}", i), "t", 1'718'000'000'000 + i * 86'400'000LL));
  }
  // Background merges would collapse duplicates too and hide a failed dedup: no merges here.
  ASSERT_TRUE(transport().Query("SYSTEM STOP MERGES observations").ok());
  struct StartMerges {
    ClickHouseTransport& t;
    ~StartMerges() { EXPECT_TRUE(t.Query("SYSTEM START MERGES observations").ok()); }
  } start_merges{transport()};

  const std::string token = Token();
  ASSERT_TRUE(store().InsertObservations(batch, token).ok());
  ASSERT_TRUE(store().InsertObservations(batch, token).ok());  // the retry
  EXPECT_EQ(RawCount("observations"), 50u);
  ASSERT_TRUE(store().InsertObservations(batch, Token()).ok());  // a new batch id is a new insert
  EXPECT_EQ(RawCount("observations"), 100u);
  EXPECT_EQ(store().ObservationsOfTrace(project_, "t")->size(), 50u);
}

TEST_P(TraceStoreConformanceTest, InsertRejectsUnsafeNamesAndReportsEngineErrors) {
  const std::string row = TracesToJsonEachRow({MinimalTrace(project_, "x")});
  EXPECT_EQ(transport().InsertJsonEachRow("traces; DROP TABLE scores", row, "").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(transport().InsertJsonEachRow("traces", row, "tok' OR").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(transport().InsertJsonEachRow("", row, "").code(), StatusCode::kInvalidArgument);

  const Status unknown_table = transport().InsertJsonEachRow("no_such_table", row, "");
  EXPECT_EQ(unknown_table.code(), StatusCode::kInternal);
  EXPECT_NE(unknown_table.message().find("UNKNOWN_TABLE"), std::string::npos) << unknown_table.message();

  const Status bad_row =
      transport().InsertJsonEachRow("traces", "{\"id\":\"x\",\"timestamp\":\"nonsense\"}\n", "");
  EXPECT_EQ(bad_row.code(), StatusCode::kInternal);
  EXPECT_NE(bad_row.message().find("insert: "), std::string::npos) << bad_row.message();

  EXPECT_TRUE(transport().InsertJsonEachRow("traces", "", "tok").ok());  // nothing to insert
  EXPECT_EQ(RawCount("traces"), 0u);
  // The writer is usable after every failure.
  EXPECT_TRUE(store().InsertTraces({MinimalTrace(project_, "after")}, Token()).ok());
  EXPECT_EQ(RawCount("traces"), 1u);
}

TEST_P(TraceStoreConformanceTest, QueryErrorsAreStatuses) {
  auto syntax = transport().Query("SELECT FROM WHERE");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), StatusCode::kInternal);
  EXPECT_NE(syntax.status().message().find("SYNTAX_ERROR"), std::string::npos) << syntax.status().message();

  auto bad_param = transport().Query("SELECT {n:UInt8}", {{"n", "300; DROP TABLE traces"}});
  ASSERT_FALSE(bad_param.ok());
  auto missing_param = transport().Query("SELECT {n:UInt8}");
  EXPECT_FALSE(missing_param.ok());
  EXPECT_EQ(transport().Query("SELECT 1", {}, "JSON; DROP").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(transport().Query("SELECT 1", {{"bad name", "1"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store().Ping().ok());
  const std::string metrics = Metrics().RenderPrometheus();
  EXPECT_NE(
      metrics.find(fmt::format(R"(langfuse_clickhouse_statement_errors_total{{transport="{}",kind="read"}})",
                               GetParam().name)),
      std::string::npos);
}

TEST_P(TraceStoreConformanceTest, ConcurrentReadsWhileAnInsertRuns) {
  ASSERT_TRUE(store().InsertTraces({FullTrace(project_, "seed")}, Token()).ok());
  std::vector<ObservationRecord> big;
  for (int i = 0; i < 200; ++i) {
    ObservationRecord o = FullObservation(project_, fmt::format("big{}", i), "t-big");
    o.input = std::string(40'000, static_cast<char>('a' + i % 26));
    big.push_back(std::move(o));
  }
  // Encoded up front: the point is the engine under concurrent use, not the encoder's speed in
  // a sanitizer build.
  const std::string payload = ObservationsToJsonEachRow(big);
  std::atomic<bool> inserting{true};
  std::atomic<int> insert_failures{0};
  std::thread writer([&] {
    for (int round = 0; round < 3; ++round) {
      if (!transport().InsertJsonEachRow("observations", payload, Token()).ok()) ++insert_failures;
    }
    inserting = false;
  });
  std::atomic<int> reads{0};
  std::atomic<int> read_failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {  // more threads than reader connections: some wait for the pool
    readers.emplace_back([&, t] {
      do {
        bool ok = false;
        switch (t % 3) {
          case 0: {
            auto got = store().GetTraces(project_, {"seed"});
            ok = got.ok() && got->size() == 1 && (*got)[0] == FullTrace(project_, "seed");
            break;
          }
          case 1:
            ok = store().Ping().ok();
            break;
          default:
            ok = transport().Query("SELECT count() FROM observations").ok();
            break;
        }
        if (!ok) ++read_failures;
        ++reads;
      } while (inserting);
    });
  }
  writer.join();
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(insert_failures, 0);
  EXPECT_EQ(read_failures, 0);
  EXPECT_GE(reads, 8);
  EXPECT_EQ(store().ObservationsOfTrace(project_, "t-big")->size(), 200u);
}

}  // namespace
}  // namespace langfuse::traces::testing
