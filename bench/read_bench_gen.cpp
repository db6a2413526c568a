// read_bench_gen: fills an embedded tracing store (the chDB folder a `langfuse server` uses,
// LANGFUSE_DATA_DIR/clickhouse) with a large synthetic project for the read benchmark
// (bench/read_bench.mjs). Everything is generated inside the engine with INSERT ... SELECT from
// numbers(), so 10 million observations take minutes rather than hours.
//
// The data set (one project; every value derived from the row number, so reruns are identical):
//   traces        N (default 1,000,000) over the last --days days (default 30) before --end-ms;
//                 20 names, 10,000 users (10% without), sessions of 10 traces, 5 releases,
//                 3 versions, environments production/staging, tags from {prod, beta, vip},
//                 2 metadata keys, ~250 B input and output text.
//   observations  M (default 10,000,000). The first --big-traces traces (default 5) get 1,000
//                 observations each; the rest are spread evenly (~10 per trace). Per trace one
//                 root SPAN, then GENERATION / SPAN / EVENT children; generations carry a model,
//                 usage and cost; 1% ERROR, 3% WARNING, 6% DEBUG levels.
//   scores        one NUMERIC or CATEGORICAL score per second trace.
// Ids are UUID-shaped (MD5 of the kind and number); the big traces' ids are printed.
// The tables are then merged (OPTIMIZE ... FINAL; --no-optimize leaves the inserted parts). With
// --fresh-observations F, F observations of the last day (of every type, picked by a hash of the
// id) are written again afterwards as newer versions, one part beside the merged ones, as a store
// under ingestion always has: reads with FINAL then merge whatever that part overlaps.
//
// Usage: read_bench_gen --data-dir DIR [--project ID] [--traces N] [--observations M]
//          [--big-traces K] [--days D] [--end-ms MS] [--chunk ROWS] [--no-optimize]
//          [--fresh-observations F]
// Prints progress on stderr and one JSON line on stdout: counts, ids, time window, the seconds
// each phase took and the tables' sizes on disk (active parts with their projections).
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "storage/traces/clickhouse_transport.h"
#include "storage/traces/migrations.h"

namespace {

using Clock = std::chrono::steady_clock;
using langfuse::Status;
using langfuse::traces::ClickHouseTransport;
using langfuse::traces::QueryParam;
using langfuse::traces::StringParam;

struct Options {
  std::string data_dir;
  std::string project = "bench-read-project";
  uint64_t traces = 1'000'000;
  uint64_t observations = 10'000'000;
  uint64_t big_traces = 5;
  uint64_t observations_per_big_trace = 1000;
  uint64_t days = 30;
  int64_t end_ms = 0;  // 0: now, rounded down to the hour
  uint64_t chunk = 1'000'000;
  bool optimize = true;
  uint64_t fresh_observations = 0;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(
      stderr,
      "read_bench_gen: %s\nusage: read_bench_gen --data-dir DIR [--project ID] [--traces N] "
      "[--observations M] [--big-traces K] [--days D] [--end-ms MS] [--chunk ROWS] [--no-optimize] "
      "[--fresh-observations F]\n",
      why.c_str());
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage("missing value after " + arg);
      return argv[++i];
    };
    auto number = [&]() -> uint64_t {
      const std::string text = next();
      char* end = nullptr;
      const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0') Usage(arg + " needs a whole number, got '" + text + "'");
      return value;
    };
    if (arg == "--data-dir") {
      o.data_dir = next();
    } else if (arg == "--project") {
      o.project = next();
    } else if (arg == "--traces") {
      o.traces = number();
    } else if (arg == "--observations") {
      o.observations = number();
    } else if (arg == "--big-traces") {
      o.big_traces = number();
    } else if (arg == "--days") {
      o.days = number();
    } else if (arg == "--end-ms") {
      o.end_ms = static_cast<int64_t>(number());
    } else if (arg == "--chunk") {
      o.chunk = number();
    } else if (arg == "--no-optimize") {
      o.optimize = false;
    } else if (arg == "--fresh-observations") {
      o.fresh_observations = number();
    } else if (arg == "--help" || arg == "-h") {
      Usage("help");
    } else {
      Usage("unknown argument " + arg);
    }
  }
  if (o.data_dir.empty()) Usage("--data-dir is required");
  if (o.traces <= o.big_traces || o.days == 0 || o.chunk == 0)
    Usage("need --traces > --big-traces, --days > 0");
  if (o.observations < o.big_traces * o.observations_per_big_trace + (o.traces - o.big_traces)) {
    Usage("--observations must leave at least one observation per trace after the big traces");
  }
  return o;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Check(const langfuse::StatusOr<std::string>& result, const char* what) {
  if (!result.ok()) {
    std::fprintf(stderr, "read_bench_gen: %s failed: %s\n", what, result.status().message().c_str());
    std::exit(1);
  }
}

// Words the text columns are made of: compresses like prose, not like random bytes.
constexpr const char* kWords =
    "['the','model','answer','customer','order','refund','policy','shipping','account','password',"
    "'reset','invoice','payment','delivery','address','please','thanks','question','support','ticket',"
    "'status','update','request','product','warranty','return','days','within','cannot','should',"
    "'would','could','context','document','retrieve','summary','explain','detail','example','latency',"
    "'token','prompt','system','assistant','user','function','result','error','weather','Berlin',"
    "'Paris','tomorrow','meeting','schedule','report','quarter','revenue','growth','forecast','analysis',"
    "'data','chart','table','query']";

// `words` long text made of kWords, seeded by `seed` (an expression) and `salt`.
std::string Text(std::string_view seed, int words, int salt) {
  return fmt::format(
      "arrayStringConcat(arrayMap(i -> words[1 + cityHash64({}, i + {}) % length(words)], range({})), ' ')",
      seed, salt, words);
}

// The trace timestamp of trace number `t` (an expression), in milliseconds.
std::string TraceTimestampMs(std::string_view t) {
  return fmt::format(
      "(toInt64({{start_ms:Int64}}) + toInt64(cityHash64(toUInt64({}), 'ts') % {{span_ms:UInt64}}))", t);
}

std::string TraceId(std::string_view t) {
  return fmt::format("UUIDNumToString(toFixedString(MD5(concat('t', toString(toUInt64({})))), 16))", t);
}

std::string ObservationId(std::string_view n) {
  return fmt::format("UUIDNumToString(toFixedString(MD5(concat('o', toString(toUInt64({})))), 16))", n);
}

std::string TracesInsert(uint64_t offset, uint64_t count) {
  return fmt::format(
      "INSERT INTO traces (id, `timestamp`, name, user_id, metadata, release, version, project_id, "
      "environment, public, bookmarked, tags, input, output, session_id, created_at, updated_at, event_ts, "
      "is_deleted) "
      "WITH {words} AS words "
      "SELECT {id}, fromUnixTimestamp64Milli({ts}) AS ts, "
      "concat('trace-', toString(cityHash64(number, 'name') % 20)), "
      "if(cityHash64(number, 'u') % 10 = 0, NULL, concat('user-', toString(cityHash64(number, 'user') % "
      "10000))), "
      "map('tier', ['free', 'pro', 'enterprise'][1 + cityHash64(number, 'tier') % 3], "
      "'region', ['eu', 'us', 'ap'][1 + number % 3]), "
      "concat('2024.', toString(cityHash64(number, 'rel') % 5)), concat('v', toString(cityHash64(number, "
      "'ver') % 3)), "
      "{{project:String}}, if(number % 10 = 0, 'staging', 'production'), false, number % 1000 = 0, "
      "arrayFilter(x -> x != '', [if(number % 3 = 0, 'prod', ''), if(number % 7 = 0, 'beta', ''), "
      "if(number % 11 = 0, 'vip', '')]), "
      "concat('{{\"messages\":[{{\"role\":\"user\",\"content\":\"', {input}, '\"}}]}}'), {output}, "
      "concat('session-', toString(intDiv(number, 10))), ts, ts, ts, 0 "
      "FROM numbers({offset}, {count})",
      fmt::arg("words", kWords), fmt::arg("id", TraceId("number")),
      fmt::arg("ts", TraceTimestampMs("number")), fmt::arg("input", Text("number", 35, 0)),
      fmt::arg("output", Text("number", 40, 100)), fmt::arg("offset", offset), fmt::arg("count", count));
}

// Observation number n belongs to trace t at position k: the first big_traces * per_big numbers
// fill the big traces in order; the rest go round-robin over the other traces.
std::string ObservationsInsert(const Options& o, uint64_t offset, uint64_t count) {
  const uint64_t big = o.big_traces * o.observations_per_big_trace;
  const uint64_t regular_traces = o.traces - o.big_traces;
  const std::string t = fmt::format("if(number < {0}, intDiv(number, {1}), {2} + (number - {0}) % {3})", big,
                                    o.observations_per_big_trace, o.big_traces, regular_traces);
  const std::string k = fmt::format("if(number < {0}, number % {1}, intDiv(number - {0}, {2}))", big,
                                    o.observations_per_big_trace, regular_traces);
  const std::string root = fmt::format("if(number < {0}, t * {1}, {0} + t - {2})", big,
                                       o.observations_per_big_trace, o.big_traces);
  return fmt::format(
      "INSERT INTO observations (id, trace_id, project_id, environment, type, parent_observation_id, "
      "start_time, end_time, name, metadata, level, status_message, version, input, output, "
      "provided_model_name, model_parameters, provided_usage_details, usage_details, provided_cost_details, "
      "cost_details, total_cost, completion_start_time, created_at, updated_at, event_ts, is_deleted) "
      "WITH {words} AS words "
      "SELECT {id}, {trace_id}, {{project:String}}, if(t % 10 = 0, 'staging', 'production'), "
      "type, if(k = 0, NULL, {root_id}), start, "
      "if(type = 'EVENT', NULL, start + toIntervalMillisecond(50 + cityHash64(number, 'dur') % 3000)), "
      "concat(lower(type), '-', toString(cityHash64(number, 'nm') % 10)), map('step', toString(k)), "
      "multiIf(h % 100 = 0, 'ERROR', h % 100 < 4, 'WARNING', h % 100 < 10, 'DEBUG', 'DEFAULT') AS level, "
      "if(level = 'ERROR', 'upstream timeout', NULL), NULL, "
      "if(type = 'EVENT', NULL, {input}), if(type = 'EVENT', NULL, {output}), "
      "if(type = 'GENERATION', ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet'][1 + h % 3], NULL), "
      "if(type = 'GENERATION', '{{\"temperature\":0.7}}', NULL), usage, usage, cost, cost, "
      "if(type = 'GENERATION', cost['total'], NULL), "
      "if(type = 'GENERATION', start + toIntervalMillisecond(120), NULL), start, start, start, 0 "
      "FROM (SELECT number, {t} AS t, {k} AS k, cityHash64(number, 'h') AS h, "
      "multiIf(k = 0, 'SPAN', k % 3 = 1, 'GENERATION', k % 3 = 2, 'SPAN', 'EVENT') AS type, "
      "fromUnixTimestamp64Milli({trace_ts} + toInt64(k) * 200) AS start, "
      "100 + h % 900 AS input_tokens, 20 + h % 400 AS output_tokens, "
      "if(type = 'GENERATION', map('input', input_tokens, 'output', output_tokens, "
      "'total', input_tokens + output_tokens), map()) AS usage, "
      "if(type = 'GENERATION', map('input', toDecimal64(input_tokens * 0.0000025, 12), "
      "'output', toDecimal64(output_tokens * 0.00001, 12), "
      "'total', toDecimal64(input_tokens * 0.0000025 + output_tokens * 0.00001, 12)), "
      "map()) AS cost "
      "FROM numbers({offset}, {count}))",
      fmt::arg("words", kWords), fmt::arg("id", ObservationId("number")), fmt::arg("trace_id", TraceId("t")),
      fmt::arg("root_id", ObservationId(root)), fmt::arg("input", Text("number", 30, 0)),
      fmt::arg("output", Text("number", 30, 100)), fmt::arg("t", t), fmt::arg("k", k),
      fmt::arg("trace_ts", TraceTimestampMs("t")), fmt::arg("offset", offset), fmt::arg("count", count));
}

std::string ScoresInsert(const Options& o) {
  return fmt::format(
      "INSERT INTO scores (id, `timestamp`, project_id, environment, trace_id, name, value, source, "
      "metadata, "
      "data_type, string_value, created_at, updated_at, event_ts, is_deleted) "
      "SELECT UUIDNumToString(toFixedString(MD5(concat('s', toString(number))), 16)), ts, "
      "{{project:String}}, "
      "if(t % 10 = 0, 'staging', 'production'), {trace_id}, "
      "if(categorical, 'tone', ['accuracy', 'helpfulness', 'toxicity'][1 + number % 3]), "
      "if(categorical, toFloat64(h % 3), (h % 1000) / 1000), 'API', map(), "
      "if(categorical, 'CATEGORICAL', 'NUMERIC'), if(categorical, ['bad', 'ok', 'good'][1 + h % 3], NULL), "
      "ts, ts, ts, 0 "
      "FROM (SELECT number, number * 2 AS t, cityHash64(number, 's') AS h, number % 5 = 0 AS categorical, "
      "fromUnixTimestamp64Milli({trace_ts} + 5000) AS ts FROM numbers({count}))",
      fmt::arg("trace_id", TraceId("t")), fmt::arg("trace_ts", TraceTimestampMs("t")),
      fmt::arg("count", o.traces / 2));
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  int64_t end_ms = o.end_ms;
  if (end_ms == 0) {
    end_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    end_ms -= end_ms % 3'600'000;
  }
  const uint64_t span_ms = o.days * 86'400'000ULL;
  const int64_t start_ms = end_ms - static_cast<int64_t>(span_ms);

  std::filesystem::create_directories(o.data_dir);
  auto opened = langfuse::traces::OpenChdbTransport(o.data_dir, 2);
  if (!opened.ok()) {
    std::fprintf(stderr, "read_bench_gen: cannot open chDB at %s: %s\n", o.data_dir.c_str(),
                 opened.status().message().c_str());
    return 1;
  }
  std::unique_ptr<ClickHouseTransport> transport = std::move(opened).value();
  ClickHouseTransport& ch = *transport;
  int applied = 0;
  if (Status s = langfuse::traces::ApplyClickHouseMigrations(ch, {}, &applied); !s.ok()) {
    std::fprintf(stderr, "read_bench_gen: migrations failed: %s\n", s.message().c_str());
    return 1;
  }
  const std::vector<QueryParam> params = {StringParam("project", o.project),
                                          {"start_ms", std::to_string(start_ms)},
                                          {"span_ms", std::to_string(span_ms)}};
  auto existing =
      ch.Query("SELECT count() FROM traces WHERE project_id = {project:String}", params, "TabSeparated");
  Check(existing, "probe");
  if (*existing != "0\n") {
    std::fprintf(stderr, "read_bench_gen: project %s already has traces in %s; use a fresh folder\n",
                 o.project.c_str(), o.data_dir.c_str());
    return 1;
  }

  const auto all = Clock::now();
  auto phase = Clock::now();
  for (uint64_t offset = 0; offset < o.traces; offset += o.chunk) {
    Check(ch.Query(TracesInsert(offset, std::min(o.chunk, o.traces - offset)), params, "TabSeparated"),
          "trace insert");
    std::fprintf(stderr, "traces: %" PRIu64 " / %" PRIu64 " (%.0f s)\n", std::min(offset + o.chunk, o.traces),
                 o.traces, Seconds(phase));
  }
  const double traces_seconds = Seconds(phase);
  phase = Clock::now();
  for (uint64_t offset = 0; offset < o.observations; offset += o.chunk) {
    Check(ch.Query(ObservationsInsert(o, offset, std::min(o.chunk, o.observations - offset)), params,
                   "TabSeparated"),
          "observation insert");
    std::fprintf(stderr, "observations: %" PRIu64 " / %" PRIu64 " (%.0f s)\n",
                 std::min(offset + o.chunk, o.observations), o.observations, Seconds(phase));
  }
  const double observations_seconds = Seconds(phase);
  phase = Clock::now();
  Check(ch.Query(ScoresInsert(o), params, "TabSeparated"), "score insert");
  const double scores_seconds = Seconds(phase);
  phase = Clock::now();
  if (o.optimize) {
    // Merge each table into as few parts as a long-running store would have settled into.
    for (const char* table : {"traces", "observations", "scores"}) {
      Check(ch.Query(fmt::format("OPTIMIZE TABLE {} FINAL", table), {}, "TabSeparated"), "optimize");
      std::fprintf(stderr, "optimized %s (%.0f s)\n", table, Seconds(phase));
    }
  }
  const double optimize_seconds = Seconds(phase);
  if (o.fresh_observations > 0) {
    const std::string fresh = fmt::format(
        "INSERT INTO observations SELECT * REPLACE (event_ts + INTERVAL 1 SECOND AS event_ts) "
        "FROM observations WHERE project_id = {{project:String}} AND start_time >= "
        "fromUnixTimestamp64Milli({{start_ms:Int64}} + {{span_ms:Int64}} - 86400000) "
        "ORDER BY cityHash64(id) LIMIT {}",
        o.fresh_observations);
    Check(ch.Query(fresh, params, "TabSeparated"), "fresh observations");
    std::fprintf(stderr, "fresh observations: %" PRIu64 "\n", o.fresh_observations);
  }

  auto sizes = ch.Query(
      // A table's bytes include its projections' (system.parts leaves them out).
      "SELECT p.table AS table, p.rows AS rows, p.bytes + ifNull(j.bytes, 0) AS bytes_on_disk, "
      "p.uncompressed + ifNull(j.uncompressed, 0) AS uncompressed_bytes, p.parts AS parts FROM ("
      "SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, sum(data_uncompressed_bytes) AS uncompressed, "
      "count() AS parts FROM system.parts WHERE active AND database = currentDatabase() "
      "AND table IN ('traces', 'observations', 'scores') GROUP BY table) AS p LEFT JOIN ("
      "SELECT table, sum(bytes_on_disk) AS bytes, sum(data_uncompressed_bytes) AS uncompressed "
      "FROM system.projection_parts WHERE active AND database = currentDatabase() GROUP BY table) AS j "
      "ON j.table = p.table ORDER BY table",
      {}, "JSONCompactEachRow");
  Check(sizes, "sizes");
  std::string tables = "[";
  std::string_view rest = *sizes;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    if (!line.empty()) tables += (tables.size() > 1 ? "," : "") + std::string(line);
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  tables += "]";

  std::string big_ids = "[";
  for (uint64_t t = 0; t < o.big_traces; ++t) {
    auto id = ch.Query("SELECT " + TraceId(std::to_string(t)), {}, "TabSeparatedRaw");
    Check(id, "big trace id");
    std::string text = *id;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    big_ids += (t > 0 ? ",\"" : "\"") + text + "\"";
  }
  big_ids += "]";

  std::printf(
      "{\"project\":\"%s\",\"traces\":%" PRIu64 ",\"observations\":%" PRIu64 ",\"scores\":%" PRIu64
      ",\"freshObservations\":%" PRIu64
      ",\"bigTraceIds\":%s,\"observationsPerBigTrace\":%" PRIu64 ",\"fromMs\":%" PRId64 ",\"toMs\":%" PRId64
      ",\"seconds\":{\"traces\":%.1f,\"observations\":%.1f,\"scores\":%.1f,\"optimize\":%.1f,\"total\":%.1f}"
      ",\"tables\":%s}\n",
      o.project.c_str(), o.traces, o.observations, o.traces / 2, o.fresh_observations, big_ids.c_str(),
      o.observations_per_big_trace, start_ms, end_ms, traces_seconds, observations_seconds, scores_seconds,
      optimize_seconds, Seconds(all), tables.c_str());
  std::fflush(stdout);
  transport.reset();
  langfuse::traces::ShutdownChdb();
  return 0;
}
