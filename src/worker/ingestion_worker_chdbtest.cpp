// The ingestion worker against real chDB and the real local queue. Faults are injected by a
// transport wrapper that fails inserts on demand (FaultInjectingTransport), in front of chDB.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/ids.h"
#include "common/time.h"
#include "ingest/batch.h"
#include "queue/event_queue.h"
#include "storage/traces/trace_store.h"
#include "worker/ingestion_worker.h"

namespace langfuse::worker {
namespace {

// Passes everything to chDB, except that while `failing_inserts` > 0 each insert fails (with
// `failure_code`: kInternal by default, a rejected batch; kUnavailable, a store that is down),
// and each insert (`insert_delay_ms`) or query, the worker's reads of stored rows among them
// (`query_delay_ms`), can be slowed down.
class FaultInjectingTransport final : public traces::ClickHouseTransport {
 public:
  explicit FaultInjectingTransport(traces::ClickHouseTransport& inner) : inner_(inner) {}
  StatusOr<std::string> Query(std::string_view sql, const std::vector<traces::QueryParam>& params,
                              std::string_view format) override {
    if (query_delay_ms.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(query_delay_ms.load()));
    return inner_.Query(sql, params, format);
  }
  Status Insert(std::string_view table, std::string_view format, std::string_view rows,
                std::string_view token) override {
    if (failing_inserts.load() > 0) {
      failing_inserts.fetch_sub(1);
      return Status(failure_code.load(), "injected insert failure");
    }
    if (table == "traces") trace_inserts.fetch_add(1);
    if (insert_delay_ms.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(insert_delay_ms.load()));
    return inner_.Insert(table, format, rows, token);
  }
  Status Ping() override { return inner_.Ping(); }

  std::atomic<int> failing_inserts{0};
  std::atomic<StatusCode> failure_code{StatusCode::kInternal};
  std::atomic<int> insert_delay_ms{0};  // a slow store: each insert takes at least this long
  std::atomic<int> query_delay_ms{0};   // slow reads: each query takes at least this long
  std::atomic<int> trace_inserts{0};    // inserts into `traces` that reached the store

 private:
  traces::ClickHouseTransport& inner_;
};

std::filesystem::path TempDir() {
  const char* base = std::getenv("LANGFUSE_TEST_TMP");
  auto dir = std::filesystem::path(base ? base : std::filesystem::temp_directory_path().string()) /
             ("worker-" + RandomHex(6));
  std::filesystem::create_directories(dir);
  return dir;
}

// One chDB engine per process: opened for the first test, shut down after the last.
class ChdbEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto transport = traces::OpenChdbTransport((TempDir() / "clickhouse").string());
    ASSERT_TRUE(transport.ok()) << transport.status().message();
    chdb = std::move(transport).value();
    traces::TraceStore migrator(std::make_unique<FaultInjectingTransport>(*chdb));
    int applied = 0;
    ASSERT_TRUE(migrator.Migrate(&applied).ok());
  }
  void TearDown() override {
    chdb.reset();
    traces::ShutdownChdb();
  }
  static inline std::unique_ptr<traces::ClickHouseTransport> chdb;
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ChdbEnvironment);

class IngestionWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    project_ = "p-" + RandomHex(6);
    auto transport = std::make_unique<FaultInjectingTransport>(*ChdbEnvironment::chdb);
    faults_ = transport.get();
    store_ = std::make_unique<traces::TraceStore>(std::move(transport));
    auto q = queue::OpenLocalEventQueue((TempDir() / "queue.db").string());
    ASSERT_TRUE(q.ok());
    queue_ = std::move(q).value();
  }
  void TearDown() override {
    worker_.reset();
    queue_.reset();
    store_.reset();
  }

  void StartWorker(size_t cache_bytes = IngestionWorkerOptions{}.cache_bytes, int batch_size = IngestionWorkerOptions{}.batch_size) {
    IngestionWorkerOptions options;
    options.cache_bytes = cache_bytes;
    options.batch_size = batch_size;
    options.retry_backoff_ms = 10;
    options.write_interval_ms = 100;
    worker_ = std::make_unique<IngestionWorker>(*queue_, *store_, options);
    worker_->Start();
  }

  void Enqueue(const std::vector<std::string>& events) {
    std::string batch = R"({"batch":[)";
    for (size_t i = 0; i < events.size(); ++i) batch += (i ? "," : "") + events[i];
    batch += "]}";
    simdjson::dom::parser parser;
    auto validation = ingest::ValidateBatch(parser, batch, {});
    ASSERT_TRUE(validation.ok());
    ASSERT_TRUE(validation->errors.empty()) << validation->errors[0].second.error;
    const std::string payload = ingest::EncodeQueuePayload(project_, {}, NowMs(), validation->accepted);
    ASSERT_TRUE(queue_->Append({{payload, static_cast<uint32_t>(validation->accepted.size())}}).ok());
  }

  static std::string Event(const std::string& type, const std::string& body, const std::string& ts = "") {
    return R"({"id":")" + RandomHex(8) + R"(","timestamp":")" + (ts.empty() ? FormatIso8601Ms(NowMs()) : ts) +
           R"(","type":")" + type + R"(","body":)" + body + "}";
  }

  // Polls until the trace exists (or 10 s pass).
  std::optional<traces::TraceRecord> WaitForTrace(const std::string& id, const std::function<bool(const traces::TraceRecord&)>& done = nullptr) {
    for (int i = 0; i < 1000; ++i) {
      auto rows = store_->GetTraces(project_, {id});
      if (rows.ok() && !rows->empty() && (!done || done(rows->front()))) return rows->front();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  int64_t CountFinal(const std::string& table, const std::string& id) {
    auto out = store_->transport().Query("SELECT count() AS c FROM " + table +
                                             " FINAL WHERE project_id = {p:String} AND id = {id:String}",
                                         {{"p", project_}, {"id", id}}, "TabSeparated");
    EXPECT_TRUE(out.ok()) << out.status().message();
    return out.ok() ? std::stoll(*out) : -1;
  }

  std::string project_;
  FaultInjectingTransport* faults_ = nullptr;
  std::unique_ptr<traces::TraceStore> store_;
  std::unique_ptr<queue::EventQueue> queue_;
  std::unique_ptr<IngestionWorker> worker_;
};

TEST_F(IngestionWorkerTest, WritesAndAcknowledges) {
  StartWorker();
  Enqueue({Event("trace-create", R"({"id":"t1","name":"hello","tags":["a"]})"),
           Event("span-create", R"({"id":"s1","traceId":"t1","name":"step"})")});
  auto trace = WaitForTrace("t1");
  ASSERT_TRUE(trace.has_value());
  EXPECT_EQ(trace->name, "hello");
  // Tables are written one after the other, so the observation may land a moment later.
  StatusOr<std::vector<traces::ObservationRecord>> obs = std::vector<traces::ObservationRecord>{};
  for (int i = 0; i < 500; ++i) {
    obs = store_->GetObservations(project_, {"s1"});
    if (obs.ok() && !obs->empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(obs.ok());
  ASSERT_EQ(obs->size(), 1u);
  EXPECT_EQ(obs->front().trace_id, "t1");
  // Acknowledged: nothing is left in the queue.
  for (int i = 0; i < 100 && queue_->Stats()->pending_items > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(queue_->Stats()->pending_items, 0);
}

// Rows too big for the merge cache's byte budget are not kept: a later update reads them back.
TEST_F(IngestionWorkerTest, RowsBeyondTheCacheBudgetAreReadBackToMerge) {
  StartWorker(/*cache_bytes=*/4096);
  const std::string big(20000, 'x');
  Enqueue({Event("trace-create", R"({"id":"t9","name":"big","input":")" + big + R"(","metadata":{"a":{"x":1}}})")});
  ASSERT_TRUE(WaitForTrace("t9"));
  Enqueue({Event("trace-create", R"({"id":"t9","userId":"u","metadata":{"a":{"y":2}}})")});
  auto merged = WaitForTrace("t9", [](const traces::TraceRecord& r) { return r.user_id.has_value(); });
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->name, "big");
  EXPECT_EQ(merged->input, big);
  EXPECT_EQ(nlohmann::json::parse(merged->metadata.at("a")), nlohmann::json::parse(R"({"x":1,"y":2})"));
  EXPECT_EQ(CountFinal("traces", "t9"), 1);
}

TEST_F(IngestionWorkerTest, UpdateAfterRestartMergesWithTheStoredRow) {
  StartWorker();
  Enqueue({Event("trace-create", R"({"id":"t2","name":"first","metadata":{"a":{"x":1}},"tags":["b"]})")});
  ASSERT_TRUE(WaitForTrace("t2"));
  worker_->Stop();
  StartWorker();  // a fresh worker has no cache: it must read the row back
  Enqueue({Event("trace-create", R"({"id":"t2","userId":"u","metadata":{"a":{"y":2}},"tags":["a"]})")});
  auto merged = WaitForTrace("t2", [](const traces::TraceRecord& r) { return r.user_id.has_value(); });
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->name, "first");
  EXPECT_EQ(merged->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(merged->metadata.at("a"), R"({"x":1,"y":2})");
  EXPECT_EQ(CountFinal("traces", "t2"), 1);
}

// The embedded server keeps the ids of the stored rows (TraceStore::TrackKnownIds) and skips the
// reads of ids certainly not stored: a restarted server, whose ids come from reading the store,
// must still find the row an update merges with.
TEST_F(IngestionWorkerTest, WithKnownIdsAnUpdateAfterRestartMergesWithTheStoredRow) {
  StartWorker();
  Enqueue({Event("trace-create", R"({"id":"t3","name":"first","metadata":{"a":{"x":1}}})"),
           Event("span-create", R"({"id":"s3","traceId":"t3","name":"step","input":"in"})")});
  ASSERT_TRUE(WaitForTrace("t3"));
  worker_.reset();
  // A new process: a new store whose ids are read from the tables.
  auto transport = std::make_unique<FaultInjectingTransport>(*ChdbEnvironment::chdb);
  faults_ = transport.get();
  store_ = std::make_unique<traces::TraceStore>(std::move(transport));
  store_->TrackKnownIds();
  for (int i = 0; i < 1000 && !store_->known_ids()->Ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(store_->known_ids()->Ready());
  StartWorker();
  Enqueue({Event("trace-create", R"({"id":"t3","userId":"u","metadata":{"a":{"y":2}}})"),
           Event("span-update", R"({"id":"s3","traceId":"t3","output":"out"})"),
           Event("span-create", R"({"id":"s3-new","traceId":"t3","name":"next"})")});
  auto merged = WaitForTrace("t3", [](const traces::TraceRecord& r) { return r.user_id.has_value(); });
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->name, "first");
  EXPECT_EQ(merged->metadata.at("a"), R"({"x":1,"y":2})");
  EXPECT_EQ(CountFinal("traces", "t3"), 1);
  StatusOr<std::vector<traces::ObservationRecord>> obs = std::vector<traces::ObservationRecord>{};
  for (int i = 0; i < 500; ++i) {
    obs = store_->GetObservations(project_, {"s3", "s3-new"});
    if (obs.ok() && obs->size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(obs.ok());
  ASSERT_EQ(obs->size(), 2u);
  for (const auto& o : *obs) {
    if (o.id != "s3") continue;
    EXPECT_EQ(o.name, "step");
    EXPECT_EQ(o.input, "in");
    EXPECT_EQ(o.output, "out");
  }
  EXPECT_EQ(CountFinal("observations", "s3"), 1);
}

// Queue ids restart with a new queue file (an emptied data folder, or another instance writing
// to the same ClickHouse server), while the store still remembers the insert tokens it saw: a
// batch of the new queue must not be taken for a repeat of the old queue's batch with the same ids.
TEST_F(IngestionWorkerTest, ANewQueueFileDoesNotRepeatTheOldQueuesInsertTokens) {
  StartWorker();
  Enqueue({Event("trace-create", R"({"id":"t8a","name":"old queue"})")});
  ASSERT_TRUE(WaitForTrace("t8a"));
  worker_.reset();
  auto fresh = queue::OpenLocalEventQueue((TempDir() / "queue.db").string());
  ASSERT_TRUE(fresh.ok());
  queue_ = std::move(fresh).value();
  StartWorker();
  Enqueue({Event("trace-create", R"({"id":"t8b","name":"new queue"})")});  // the same queue id as t8a's entry
  auto trace = WaitForTrace("t8b");
  ASSERT_TRUE(trace.has_value()) << "the insert was dropped as a duplicate";
  EXPECT_EQ(trace->name, "new queue");
}

TEST_F(IngestionWorkerTest, TheSameBatchThreeTimesIsOneRow) {
  const auto events = std::vector<std::string>{Event("trace-create", R"({"id":"t3","name":"x"})"),
                                               Event("generation-create", R"({"id":"g3","traceId":"t3"})")};
  Enqueue(events);
  Enqueue(events);
  Enqueue(events);
  StartWorker();
  ASSERT_TRUE(WaitForTrace("t3"));
  for (int i = 0; i < 100 && queue_->Stats()->pending_items > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(CountFinal("traces", "t3"), 1);
  EXPECT_EQ(CountFinal("observations", "g3"), 1);
}

TEST_F(IngestionWorkerTest, UpdateBeforeCreateEndsAsOneRowWithTheCreatesStartTime) {
  StartWorker();
  Enqueue({Event("span-update", R"({"id":"s4","output":"done"})", "2024-05-01T10:00:05.000Z")});
  for (int i = 0; i < 500; ++i) {
    auto rows = store_->GetObservations(project_, {"s4"});
    if (rows.ok() && !rows->empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Enqueue({Event("span-create", R"({"id":"s4","traceId":"t4","name":"n","startTime":"2024-05-01T10:00:00.000Z"})",
                 "2024-05-01T10:00:00.000Z")});
  for (int i = 0; i < 500; ++i) {
    auto rows = store_->GetObservations(project_, {"s4"});
    if (rows.ok() && !rows->empty() && rows->front().name == "n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto rows = store_->GetObservations(project_, {"s4"});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().start_time_ms, *ParseIso8601Ms("2024-05-01T10:00:00.000Z"));
  EXPECT_EQ(rows->front().trace_id, "t4");
  EXPECT_EQ(*rows->front().output, "done");
  EXPECT_EQ(CountFinal("observations", "s4"), 1) << "the row written first was tombstoned";
}

// The observations' sort key holds the trace id: an observation written before any event named
// its trace (under a made-up trace id) is one row under FINAL once an event names it.
TEST_F(IngestionWorkerTest, AnObservationWhoseTraceIsNamedLaterIsOneRowUnderFinal) {
  StartWorker();
  Enqueue({Event("span-create", R"({"id":"s6","name":"n","startTime":"2024-05-01T10:00:00.000Z"})")});
  const auto final_traces = [&] {
    auto out = store_->transport().Query(
        "SELECT groupArray(trace_id) FROM observations FINAL WHERE project_id = {p:String} AND id = 's6'",
        {{"p", project_}}, "TabSeparated");
    return out.ok() ? *out : out.status().message();
  };
  for (int i = 0; i < 500 && final_traces() == "[]\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(final_traces(), "[]\n");
  ASSERT_NE(final_traces(), "['t6']\n");
  Enqueue({Event("span-update", R"({"id":"s6","traceId":"t6"})")});
  for (int i = 0; i < 500 && final_traces() != "['t6']\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(final_traces(), "['t6']\n") << "the row under the made-up trace id was tombstoned";
}

// The scores' sort key holds the name: a renamed score is one row under FINAL, with the new name.
TEST_F(IngestionWorkerTest, ARenamedScoreIsOneRowUnderFinal) {
  StartWorker();
  Enqueue({Event("score-create", R"({"id":"sc1","traceId":"t5","name":"first","value":1})")});
  const auto final_names = [&] {
    auto out = store_->transport().Query(
        "SELECT groupArray(name) FROM scores FINAL WHERE project_id = {p:String} AND id = 'sc1'",
        {{"p", project_}}, "TabSeparated");
    return out.ok() ? *out : out.status().message();
  };
  for (int i = 0; i < 500 && final_names() != "['first']\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(final_names(), "['first']\n");
  Enqueue({Event("score-create", R"({"id":"sc1","traceId":"t5","name":"second","value":2})")});
  for (int i = 0; i < 500 && final_names() != "['second']\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(final_names(), "['second']\n") << "the row under the old name was tombstoned";
}

TEST_F(IngestionWorkerTest, TransientInsertFailuresAreRetried) {
  faults_->failing_inserts = 2;
  StartWorker();
  Enqueue({Event("trace-create", R"({"id":"t5","name":"retry"})")});
  ASSERT_TRUE(WaitForTrace("t5"));
  EXPECT_EQ(queue_->Stats()->dead_letters, 0);
}

// A store that is down is waited for, however long: its events are not dead-lettered (they would
// otherwise all need a replay after every outage).
TEST_F(IngestionWorkerTest, AnUnavailableStoreIsWaitedForNotDeadLettered) {
  faults_->failure_code = StatusCode::kUnavailable;
  faults_->failing_inserts = 8;  // well past max_attempts
  StartWorker();
  Enqueue({Event("trace-create", R"({"id":"t7","name":"outage"})")});
  ASSERT_TRUE(WaitForTrace("t7"));
  EXPECT_EQ(queue_->Stats()->dead_letters, 0);
  EXPECT_EQ(faults_->failing_inserts.load(), 0);
}

// A backlog in front of a slow store is written in fewer, larger batches: while the writer is
// busy the next batch keeps growing past batch_size instead of waiting at it.
TEST_F(IngestionWorkerTest, ABacklogGrowsBatchesWhileTheWriterIsBusy) {
  faults_->insert_delay_ms = 300;
  for (int i = 0; i < 400; ++i) Enqueue({Event("trace-create", R"({"id":"b)" + std::to_string(i) + R"("})")});
  StartWorker(IngestionWorkerOptions{}.cache_bytes, /*batch_size=*/10);
  for (int i = 0; i < 1500 && queue_->Stats()->pending_items > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(queue_->Stats()->pending_items, 0);
  // Reads of 32 entries of one event each would make 13 batches at batch_size 10.
  EXPECT_LE(faults_->trace_inserts.load(), 6);
  EXPECT_EQ(CountFinal("traces", "b0") + CountFinal("traces", "b399"), 2);
  EXPECT_EQ(queue_->Stats()->dead_letters, 0);
}

// So is a backlog in front of slow reads of stored rows (on a large store they scan the ids of
// the project's rows whatever the number asked for): while the queue holds more than a read
// takes, the batch keeps growing though the writer is idle, so the backlog costs a few reads
// instead of one per read of the queue.
TEST_F(IngestionWorkerTest, ABacklogGrowsBatchesWhileTheWorkerIsBehind) {
  for (int i = 0; i < 400; ++i) Enqueue({Event("trace-create", R"({"id":"w)" + std::to_string(i) + R"("})")});
  faults_->query_delay_ms = 100;
  StartWorker(IngestionWorkerOptions{}.cache_bytes, /*batch_size=*/10);
  for (int i = 0; i < 1500 && queue_->Stats()->pending_items > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(queue_->Stats()->pending_items, 0);
  // Reads of 32 entries of one event each, each batch merged after its read, would make 13.
  EXPECT_LE(faults_->trace_inserts.load(), 3);
  faults_->query_delay_ms = 0;
  EXPECT_EQ(CountFinal("traces", "w0") + CountFinal("traces", "w399"), 2);
  EXPECT_EQ(queue_->Stats()->dead_letters, 0);
}

TEST_F(IngestionWorkerTest, PersistentFailuresGoToTheDeadLetterStoreAndReplay) {
  faults_->failing_inserts = 1'000'000;
  StartWorker();
  Enqueue({Event("trace-create", R"({"id":"t6","name":"poison"})")});
  for (int i = 0; i < 500 && queue_->Stats()->dead_letters == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(queue_->Stats()->dead_letters, 1);
  for (int i = 0; i < 100 && queue_->Stats()->pending_items > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(queue_->Stats()->pending_items, 0) << "dead-lettered entries are acknowledged";
  auto listed = queue_->ListDeadLetters(10);
  ASSERT_TRUE(listed.ok());
  EXPECT_NE(listed->front().reason.find("injected insert failure"), std::string::npos);

  faults_->failing_inserts = 0;  // the store recovers; an operator replays
  ASSERT_EQ(*queue_->ReplayDeadLetters({}), 1);
  auto trace = WaitForTrace("t6");
  ASSERT_TRUE(trace.has_value());
  EXPECT_EQ(trace->name, "poison");
}

}  // namespace
}  // namespace langfuse::worker
