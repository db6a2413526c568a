// chdb_insert_bench: the raw ceiling of the ingestion path, i.e. how fast chDB takes the rows the
// worker writes, with no HTTP, queue or merge in front of it.
//
// It opens chDB on a fresh temporary folder through our transport, applies the tracing
// migrations, builds ~1 KB rows shaped like what the load generator (bench/ingest_load.mjs)
// produces once merged (per conversation: 1 trace, 1 SPAN, 1 GENERATION), and inserts them in
// batches of 1000 rows per table, two ways:
//   store: TraceStore::InsertTraces/InsertObservations (JSONEachRow serialization + INSERT);
//   raw:   ClickHouseTransport::InsertJsonEachRow on payloads serialized beforehand (INSERT only),
// reporting rows/s for each and the serialization rate on its own. Every batch carries a unique
// insert_deduplication_token, as the worker's do.
//
// Usage: chdb_insert_bench [--rows N] [--batch N] [--seconds S] [--json] [--keep] [--data-dir DIR]
//   --rows     rows per phase (default 100000; 1/3 traces, 2/3 observations)
//   --batch    rows per INSERT (default 1000)
//   --seconds  stop a phase early after S seconds (default: no limit)
//   --json     print only the JSON result line
//   --keep     keep the data folder (it is deleted by default)
//   --no-dedup-token  insert without insert_deduplication_token (to see what the token costs)
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage/traces/clickhouse_transport.h"
#include "storage/traces/record_json.h"
#include "storage/traces/records.h"
#include "storage/traces/trace_store.h"

namespace {

using langfuse::Status;
using langfuse::traces::ObservationRecord;
using langfuse::traces::TraceRecord;
using langfuse::traces::TraceStore;
using Clock = std::chrono::steady_clock;

constexpr const char* kProject = "bench-project";

struct Options {
  int64_t rows = 100'000;
  int64_t batch = 1000;
  double seconds = 0;  // 0: no limit
  bool json_only = false;
  bool keep = false;
  bool dedup_tokens = true;
  std::string data_dir;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(
      stderr,
      "chdb_insert_bench: %s\nusage: chdb_insert_bench [--rows N] [--batch N] [--seconds S] [--json] "
      "[--keep] [--no-dedup-token] [--data-dir DIR]\n",
      why);
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value after " + arg).c_str());
      return argv[++i];
    };
    if (arg == "--rows") {
      o.rows = std::atoll(next().c_str());
    } else if (arg == "--batch") {
      o.batch = std::atoll(next().c_str());
    } else if (arg == "--seconds") {
      o.seconds = std::atof(next().c_str());
    } else if (arg == "--data-dir") {
      o.data_dir = next();
    } else if (arg == "--json") {
      o.json_only = true;
    } else if (arg == "--keep") {
      o.keep = true;
    } else if (arg == "--no-dedup-token") {
      o.dedup_tokens = false;
    } else if (arg == "--help" || arg == "-h") {
      Usage("help");
    } else {
      Usage(("unknown argument " + arg).c_str());
    }
  }
  if (o.rows < 3 || o.batch < 1) Usage("--rows must be >= 3 and --batch >= 1");
  return o;
}

// Deterministic pseudo-random text (xorshift64*), so rows differ as real prompts do and
// compression does not flatter the numbers.
class TextGen {
 public:
  explicit TextGen(uint64_t seed) : state_(seed | 1) {}

  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % uint64_t(hi - lo + 1));
  }

  //! Sentence-like text of about `length` characters.
  std::string Text(size_t length) {
    static const char* const kWords[] = {
        "the",      "model",    "answer",   "customer",  "order",   "refund",   "policy",  "shipping",
        "account",  "password", "reset",    "invoice",   "payment", "delivery", "address", "please",
        "thanks",   "question", "support",  "ticket",    "status",  "update",   "request", "product",
        "warranty", "return",   "days",     "within",    "cannot",  "should",   "would",   "could",
        "context",  "document", "retrieve", "summary",   "explain", "detail",   "example", "latency",
        "token",    "prompt",   "system",   "assistant", "user",    "function", "result",  "error",
        "weather",  "Berlin",   "Paris",    "tomorrow",  "meeting", "schedule", "report",  "quarter",
        "revenue",  "growth",   "forecast", "analysis",  "data",    "chart",    "table",   "query"};
    constexpr size_t kCount = sizeof(kWords) / sizeof(kWords[0]);
    std::string out;
    out.reserve(length + 16);
    bool sentence_start = true;
    while (out.size() < length) {
      std::string word = kWords[Next() % kCount];
      if (sentence_start) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
      out += word;
      sentence_start = Next() % 9 == 0;
      out += sentence_start ? ". " : " ";
    }
    out.resize(length);
    return out;
  }

 private:
  uint64_t state_;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One conversation as the worker writes it after merging trace-create, span-create/-update and
// generation-create/-update (see bench/ingest_load.mjs for the events).
struct Conversation {
  TraceRecord trace;
  ObservationRecord span;
  ObservationRecord generation;
};

Conversation MakeConversation(TextGen& gen, const std::string& prefix, int64_t n, int64_t now_ms) {
  const std::string id = prefix + "-" + std::to_string(n);
  const int64_t start = now_ms + n % 1000;
  Conversation c;

  TraceRecord& t = c.trace;
  t.id = id + "-t";
  t.timestamp_ms = start;
  t.name = "chat-turn";
  t.user_id = "user-" + std::to_string(gen.Between(1, 500));
  t.session_id = "session-" + prefix + "-" + std::to_string(n / 8);
  t.metadata = {{"tenant", "acme-" + std::to_string(gen.Between(1, 20))},
                {"route", "/v1/chat"},
                {"region", "eu-west-1"},
                {"experiment", R"({"variant":"b","weight":0.5})"}};
  t.release = "2024.11.3";
  t.version = "v7";
  t.project_id = kProject;
  t.environment = "production";
  t.tags = {"bench", "chat", "prod"};
  t.input = gen.Text(static_cast<size_t>(gen.Between(300, 500)));
  t.output = gen.Text(static_cast<size_t>(gen.Between(300, 500)));
  t.created_at_ms = t.updated_at_ms = t.event_ts_ms = start;

  ObservationRecord& s = c.span;
  s.id = id + "-s";
  s.trace_id = t.id;
  s.project_id = kProject;
  s.environment = "production";
  s.type = "SPAN";
  s.start_time_ms = start + 1;
  s.end_time_ms = start + 180 + gen.Between(0, 200);
  s.name = "retrieve-context";
  s.metadata = {{"retriever", "bm25"}, {"k", "5"}, {"index", "kb-2024-11"}};
  s.input = R"({"query":")" + gen.Text(static_cast<size_t>(gen.Between(250, 400))) +
            R"(","filters":{"lang":"en","tenant":"acme"}})";
  s.output = R"({"documents":[")" + gen.Text(static_cast<size_t>(gen.Between(300, 420))) + R"(",")" +
             gen.Text(static_cast<size_t>(gen.Between(300, 420))) + R"("]})";
  s.created_at_ms = s.updated_at_ms = s.event_ts_ms = start + 1;

  ObservationRecord& g = c.generation;
  g.id = id + "-g";
  g.trace_id = t.id;
  g.project_id = kProject;
  g.environment = "production";
  g.type = "GENERATION";
  g.parent_observation_id = s.id;
  g.start_time_ms = start + 200;
  g.end_time_ms = start + 900 + gen.Between(0, 900);
  g.completion_start_time_ms = start + 450;
  g.name = "llm-call";
  g.metadata = {{"attempt", "1"}, {"cache", "miss"}};
  g.input = R"([{"role":"system","content":")" + gen.Text(static_cast<size_t>(gen.Between(200, 300))) +
            R"("},{"role":"user","content":")" + gen.Text(static_cast<size_t>(gen.Between(350, 500))) +
            R"("}])";
  g.output =
      R"({"role":"assistant","content":")" + gen.Text(static_cast<size_t>(gen.Between(450, 650))) + R"("})";
  g.provided_model_name = "gpt-4o-mini";
  g.model_parameters = R"({"temperature":0.7,"max_tokens":512,"top_p":1})";
  const uint64_t in = static_cast<uint64_t>(gen.Between(50, 900));
  const uint64_t out = static_cast<uint64_t>(gen.Between(20, 400));
  g.provided_usage_details = {{"input", in}, {"output", out}, {"total", in + out}};
  g.usage_details = g.provided_usage_details;
  g.cost_details = {{"input", static_cast<double>(in) * 1.5e-7},
                    {"output", static_cast<double>(out) * 6e-7},
                    {"total", static_cast<double>(in) * 1.5e-7 + static_cast<double>(out) * 6e-7}};
  g.total_cost = g.cost_details["total"];
  g.created_at_ms = g.updated_at_ms = g.event_ts_ms = start + 200;
  return c;
}

//! The rows of one phase, in INSERT order: per group of `batch` conversations, one batch of
//! traces then the observations in batches of `batch` rows (so 1/3 traces, 2/3 observations).
struct PhaseRows {
  std::vector<std::vector<TraceRecord>> trace_batches;
  std::vector<std::vector<ObservationRecord>> observation_batches;
  // Order of inserts: 't' = next trace batch, 'o' = next observation batch.
  std::string order;
  int64_t rows = 0;
};

PhaseRows BuildRows(const std::string& prefix, int64_t total_rows, int64_t batch, uint64_t seed) {
  TextGen gen(seed);
  const int64_t now_ms = NowMs();
  const int64_t conversations = (total_rows + 2) / 3;
  PhaseRows p;
  for (int64_t first = 0; first < conversations; first += batch) {
    const int64_t count = std::min(batch, conversations - first);
    std::vector<TraceRecord> traces;
    std::vector<ObservationRecord> observations;
    traces.reserve(static_cast<size_t>(count));
    observations.reserve(static_cast<size_t>(2 * count));
    for (int64_t n = first; n < first + count; ++n) {
      Conversation c = MakeConversation(gen, prefix, n, now_ms);
      traces.push_back(std::move(c.trace));
      observations.push_back(std::move(c.span));
      observations.push_back(std::move(c.generation));
    }
    p.rows += static_cast<int64_t>(traces.size() + observations.size());
    p.trace_batches.push_back(std::move(traces));
    p.order += 't';
    for (size_t i = 0; i < observations.size(); i += static_cast<size_t>(batch)) {
      const size_t end = std::min(observations.size(), i + static_cast<size_t>(batch));
      p.observation_batches.emplace_back(
          std::make_move_iterator(observations.begin() + static_cast<ptrdiff_t>(i)),
          std::make_move_iterator(observations.begin() + static_cast<ptrdiff_t>(end)));
      p.order += 'o';
    }
  }
  return p;
}

struct PhaseResult {
  std::string name;
  int64_t rows = 0;
  int64_t inserts = 0;
  int64_t bytes = 0;  // JSONEachRow bytes inserted (raw phase) or serialized (serialize phase)
  double seconds = 0;
  std::vector<double> batch_ms;
  double serialize_seconds = 0;  // raw phase: time spent serializing beforehand
  bool ok = true;
  std::string error;

  double RowsPerSecond() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
  double Percentile(double q) const {
    if (batch_ms.empty()) return 0;
    std::vector<double> v = batch_ms;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
    return v[i];
  }
};

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

PhaseResult RunStorePhase(TraceStore& store, const PhaseRows& rows, const Options& options) {
  PhaseResult r;
  r.name = "store";
  size_t ti = 0, oi = 0;
  const auto begin = Clock::now();
  for (size_t k = 0; k < rows.order.size(); ++k) {
    if (options.seconds > 0 && Seconds(begin, Clock::now()) >= options.seconds) break;
    const std::string token = options.dedup_tokens ? "bench-store-" + std::to_string(k) : "";
    const auto t0 = Clock::now();
    Status s;
    int64_t n;
    if (rows.order[k] == 't') {
      n = static_cast<int64_t>(rows.trace_batches[ti].size());
      s = store.InsertTraces(rows.trace_batches[ti++], token);
    } else {
      n = static_cast<int64_t>(rows.observation_batches[oi].size());
      s = store.InsertObservations(rows.observation_batches[oi++], token);
    }
    r.batch_ms.push_back(Seconds(t0, Clock::now()) * 1000);
    if (!s.ok()) {
      r.ok = false;
      r.error = s.message();
      break;
    }
    r.rows += n;
    ++r.inserts;
  }
  r.seconds = Seconds(begin, Clock::now());
  return r;
}

PhaseResult RunRawPhase(TraceStore& store, PhaseRows rows, const Options& options) {
  PhaseResult r;
  r.name = "raw";
  // Serialize everything first (timed on its own), then free the records.
  struct Payload {
    const char* table;
    std::string json;
    int64_t rows;
  };
  std::vector<Payload> payloads;
  payloads.reserve(rows.order.size());
  size_t ti = 0, oi = 0;
  const auto s0 = Clock::now();
  for (char kind : rows.order) {
    if (kind == 't') {
      const auto& b = rows.trace_batches[ti++];
      payloads.push_back(
          {"traces", langfuse::traces::TracesToJsonEachRow(b), static_cast<int64_t>(b.size())});
    } else {
      const auto& b = rows.observation_batches[oi++];
      payloads.push_back(
          {"observations", langfuse::traces::ObservationsToJsonEachRow(b), static_cast<int64_t>(b.size())});
    }
  }
  r.serialize_seconds = Seconds(s0, Clock::now());
  rows = PhaseRows{};

  auto& transport = store.transport();
  const auto begin = Clock::now();
  for (size_t k = 0; k < payloads.size(); ++k) {
    if (options.seconds > 0 && Seconds(begin, Clock::now()) >= options.seconds) break;
    const std::string token = options.dedup_tokens ? "bench-raw-" + std::to_string(k) : "";
    const auto t0 = Clock::now();
    Status s = transport.InsertJsonEachRow(payloads[k].table, payloads[k].json, token);
    r.batch_ms.push_back(Seconds(t0, Clock::now()) * 1000);
    if (!s.ok()) {
      r.ok = false;
      r.error = s.message();
      break;
    }
    r.rows += payloads[k].rows;
    r.bytes += static_cast<int64_t>(payloads[k].json.size());
    ++r.inserts;
  }
  r.seconds = Seconds(begin, Clock::now());
  return r;
}

int64_t ProcStatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::atoll(line.c_str() + n + 1);
  }
  return -1;
}

//! The 1-minute load average: the benchmark shares the machine, and a busy one skews it.
double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  in >> one;
  return one;
}

//! What ClickHouse itself accounts for (caches, insert buffers, merges), in bytes; -1 if unknown.
int64_t ChdbTrackedMemory(TraceStore& store) {
  auto out = store.transport().Query("SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'", {},
                                     "TabSeparated");
  return out.ok() && !out->empty() ? std::atoll(out->c_str()) : -1;
}

int64_t CountRows(TraceStore& store, const char* table) {
  auto out = store.transport().Query(std::string("SELECT count() FROM ") + table, {}, "TabSeparated");
  return out.ok() ? std::atoll(out->c_str()) : -1;
}

int64_t FolderBytes(const std::string& path) {
  int64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) total += static_cast<int64_t>(it->file_size(fec));
  }
  return total;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string PhaseJson(const PhaseResult& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"ok\":%s,\"rows\":%" PRId64 ",\"inserts\":%" PRId64
                ",\"seconds\":%.3f,\"rows_per_s\":%.0f,\"batch_ms_p50\":%.2f,\"batch_ms_p99\":%.2f,"
                "\"batch_ms_max\":%.2f",
                r.ok ? "true" : "false", r.rows, r.inserts, r.seconds, r.RowsPerSecond(), r.Percentile(0.5),
                r.Percentile(0.99), r.Percentile(1.0));
  std::string out = buf;
  if (r.bytes > 0) {
    std::snprintf(buf, sizeof buf, ",\"bytes\":%" PRId64 ",\"mb_per_s\":%.1f,\"bytes_per_row\":%.0f", r.bytes,
                  r.seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / r.seconds : 0,
                  r.rows > 0 ? static_cast<double>(r.bytes) / static_cast<double>(r.rows) : 0);
    out += buf;
  }
  if (r.serialize_seconds > 0) {
    std::snprintf(buf, sizeof buf, ",\"serialize_seconds\":%.3f", r.serialize_seconds);
    out += buf;
  }
  if (!r.ok) out += ",\"error\":\"" + JsonEscape(r.error) + "\"";
  out += "}";
  return out;
}

void PrintPhase(const PhaseResult& r, const char* title) {
  std::printf("  %-44s %9.0f rows/s  (%" PRId64 " rows in %" PRId64
              " inserts, %.2f s; insert p50 %.1f ms, p99 %.1f ms, max %.1f ms)\n",
              title, r.RowsPerSecond(), r.rows, r.inserts, r.seconds, r.Percentile(0.5), r.Percentile(0.99),
              r.Percentile(1.0));
  if (!r.ok) std::printf("    FAILED: %s\n", r.error.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);

  std::string dir = options.data_dir;
  bool made_dir = false;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "chdb-insert-bench-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("chdb_insert_bench: mkdtemp");
      return 1;
    }
    dir = tmpl;
    made_dir = true;
  }

  auto transport = langfuse::traces::OpenChdbTransport(dir + "/clickhouse");
  if (!transport.ok()) {
    std::fprintf(stderr, "chdb_insert_bench: cannot open chDB in %s: %s\n", dir.c_str(),
                 transport.status().message().c_str());
    return 1;
  }
  auto store = std::make_unique<TraceStore>(std::move(transport).value());
  int applied = 0;
  if (Status m = store->Migrate(&applied); !m.ok()) {
    std::fprintf(stderr, "chdb_insert_bench: migrations failed: %s\n", m.message().c_str());
    store.reset();
    langfuse::traces::ShutdownChdb();
    return 1;
  }

  const double load_before = LoadAverage();
  const int64_t rss_open_kb = ProcStatusKb("VmRSS");

  // Rows are built before each phase's clock starts (the two phases use different ids, so
  // nothing is deduplicated); a phase's rows are freed before the next phase's are built.
  auto b0 = Clock::now();
  PhaseRows store_rows = BuildRows("bench-store", options.rows, options.batch, 0x5eed1);
  double build_seconds = Seconds(b0, Clock::now());

  // Serialization alone, on the store phase's rows (what InsertTraces/InsertObservations add).
  PhaseResult serialize;
  serialize.name = "serialize";
  {
    const auto s0 = Clock::now();
    for (const auto& b : store_rows.trace_batches) {
      serialize.bytes += static_cast<int64_t>(langfuse::traces::TracesToJsonEachRow(b).size());
      serialize.rows += static_cast<int64_t>(b.size());
    }
    for (const auto& b : store_rows.observation_batches) {
      serialize.bytes += static_cast<int64_t>(langfuse::traces::ObservationsToJsonEachRow(b).size());
      serialize.rows += static_cast<int64_t>(b.size());
    }
    serialize.seconds = Seconds(s0, Clock::now());
  }

  const PhaseResult store_phase = RunStorePhase(*store, store_rows, options);
  store_rows = PhaseRows{};
  b0 = Clock::now();
  PhaseRows raw_rows = BuildRows("bench-raw", options.rows, options.batch, 0x5eed2);
  build_seconds += Seconds(b0, Clock::now());
  const PhaseResult raw_phase = RunRawPhase(*store, std::move(raw_rows), options);
  const double load_after = LoadAverage();

  const int64_t traces_count = CountRows(*store, "traces");
  const int64_t observations_count = CountRows(*store, "observations");
  const int64_t expected = store_phase.rows + raw_phase.rows;
  const bool counts_ok = traces_count + observations_count == expected;
  const int64_t peak_rss_kb = ProcStatusKb("VmHWM");
  const int64_t chdb_memory = ChdbTrackedMemory(*store);

  // Shut down in order: the transport (inside the store), then chDB's engine.
  store.reset();
  langfuse::traces::ShutdownChdb();
  const int64_t disk_bytes = FolderBytes(dir);
  if (made_dir && !options.keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  const double ceiling = std::max(store_phase.RowsPerSecond(), raw_phase.RowsPerSecond());
  char head[1024];
  std::snprintf(
      head, sizeof head,
      "{\"bench\":\"chdb_insert\",\"rows_per_phase\":%" PRId64 ",\"batch\":%" PRId64
      ",\"build_seconds\":%.3f,\"serialize_rows_per_s\":%.0f,\"serialize_mb_per_s\":%.1f,"
      "\"bytes_per_row\":%.0f,\"load_avg_before\":%.2f,\"load_avg_after\":%.2f,\"traces_rows\":%" PRId64
      ",\"observations_rows\":%" PRId64
      ",\"row_count_ok\":%s,\"rss_after_open_mb\":%.1f,\"chdb_tracked_memory_mb\":%.1f,\"peak_rss_mb\":%.1f,"
      "\"disk_mb\":%.1f,\"ceiling_rows_per_s\":%.0f",
      options.rows, options.batch, build_seconds, serialize.RowsPerSecond(),
      serialize.seconds > 0 ? static_cast<double>(serialize.bytes) / 1e6 / serialize.seconds : 0,
      serialize.rows > 0 ? static_cast<double>(serialize.bytes) / static_cast<double>(serialize.rows) : 0,
      load_before, load_after, traces_count, observations_count, counts_ok ? "true" : "false",
      static_cast<double>(rss_open_kb) / 1024.0, static_cast<double>(chdb_memory) / 1048576.0,
      static_cast<double>(peak_rss_kb) / 1024.0, static_cast<double>(disk_bytes) / 1e6, ceiling);
  const std::string json =
      std::string(head) + ",\"store\":" + PhaseJson(store_phase) + ",\"raw\":" + PhaseJson(raw_phase) + "}";

  if (!options.json_only) {
    std::printf(
        "chDB INSERT ... FORMAT JSONEachRow ceiling (%" PRId64 " rows per phase, %" PRId64
        " rows per INSERT, 1 trace + 2 observations per conversation, ~%.0f B per row)\n",
        options.rows, options.batch,
        serialize.rows > 0 ? static_cast<double>(serialize.bytes) / static_cast<double>(serialize.rows) : 0);
    std::printf("  %-44s %9.0f rows/s  (%.1f MB/s)\n", "JSONEachRow serialization only",
                serialize.RowsPerSecond(),
                serialize.seconds > 0 ? static_cast<double>(serialize.bytes) / 1e6 / serialize.seconds : 0);
    PrintPhase(store_phase, "TraceStore::Insert* (serialize + INSERT)");
    PrintPhase(raw_phase, "transport InsertJsonEachRow (pre-serialized)");
    std::printf("  rows in tables: traces %" PRId64 ", observations %" PRId64 " (expected total %" PRId64
                ": %s)\n",
                traces_count, observations_count, expected, counts_ok ? "ok" : "MISMATCH");
    std::printf(
        "  memory: RSS %.1f MB after open + migrations, peak %.1f MB (includes one phase's rows held in "
        "memory); chDB MemoryTracking at the end %.1f MB; data on disk %.1f MB\n",
        static_cast<double>(rss_open_kb) / 1024.0, static_cast<double>(peak_rss_kb) / 1024.0,
        static_cast<double>(chdb_memory) / 1048576.0, static_cast<double>(disk_bytes) / 1e6);
    std::printf("  machine load average %.2f before, %.2f after (%u cores)%s\n", load_before, load_after,
                std::thread::hardware_concurrency(),
                load_before > 0.5 * std::thread::hardware_concurrency()
                    ? ": the machine was busy before the run, rates are pessimistic"
                    : "");
  }
  std::printf("%s\n", json.c_str());
  return store_phase.ok && raw_phase.ok && counts_ok ? 0 : 1;
}
