// The merge thread's batch work on its own: grouping, ordering, merging onto cached and stored
// rows, the cache shared with the rows to insert, and a failed read that changes nothing.
#include "worker/batch_merge.h"

#include <gtest/gtest.h>

#include <map>

namespace langfuse::worker::internal {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

std::string Event(const std::string& id, const std::string& type, const std::string& body,
                  const std::string& timestamp = "2024-01-01T00:00:00.000Z") {
  return R"({"id":")" + id + R"(","timestamp":")" + timestamp + R"(","type":")" + type + R"(","body":)" +
         body + "}";
}

queue::QueueItem Item(const std::string& id, const std::vector<std::string>& events,
                      const std::string& project = "p") {
  queue::QueueItem item;
  item.id = id;
  item.payload =
      ingest::EncodeQueuePayload(project, ingest::IngestionSource{"key", "sdk", "1"}, kNow, events);
  item.event_count = static_cast<uint32_t>(events.size());
  return item;
}

// A store holding `rows`; counts the ids asked for and can be made to fail.
class FakeStoredRows final : public StoredRowReader {
 public:
  StatusOr<std::vector<traces::TraceRecord>> Traces(const std::string&,
                                                    const std::vector<std::string>& ids) override {
    trace_ids_asked += ids.size();
    return traces;
  }
  StatusOr<std::vector<traces::ObservationRecord>> Observations(
      const std::string&, const std::vector<std::string>& ids) override {
    if (fail_observations > 0) {
      --fail_observations;
      return Status::Unavailable("store down");
    }
    observation_ids_asked += ids.size();
    std::vector<traces::ObservationRecord> found;
    for (const auto& row : observations) {
      if (std::find(ids.begin(), ids.end(), row.id) != ids.end()) found.push_back(row);
    }
    return found;
  }
  StatusOr<std::vector<traces::ScoreRecord>> Scores(const std::string&,
                                                    const std::vector<std::string>&) override {
    return std::vector<traces::ScoreRecord>{};
  }

  std::vector<traces::TraceRecord> traces;
  std::vector<traces::ObservationRecord> observations;
  int fail_observations = 0;
  size_t trace_ids_asked = 0;
  size_t observation_ids_asked = 0;
};

std::map<std::string, traces::ObservationRecord> ById(const std::vector<traces::ObservationRecord>& rows) {
  std::map<std::string, traces::ObservationRecord> out;
  for (const auto& row : rows) {
    if (!row.is_deleted) out[row.id] = row;
  }
  return out;
}

TEST(WorkerBatch, GroupsEventsByEntityInArrivalOrder) {
  simdjson::dom::parser parser;
  Batch batch;
  batch.Add(
      Item("1", {Event("e1", "trace-create", R"({"id":"t"})"), Event("e2", "span-create", R"({"id":"s"})")}),
      parser);
  batch.Add(Item("2", {Event("e3", "span-update", R"({"id":"s"})"),
                       Event("e4", "span-create", R"({"id":"s"})", "x")}),
            parser);  // e4 does not validate: skipped
  batch.Add(Item("3", {Event("e5", "span-update", R"({"id":"s"})")}, "other-project"), parser);
  queue::QueueItem unreadable = Item("4", {});
  unreadable.payload = "not json";
  batch.Add(std::move(unreadable), parser);

  EXPECT_EQ(batch.event_count(), 4u);
  EXPECT_EQ(batch.item_ids(), (std::vector<std::string>{"1", "2", "3", "4"}));
  ASSERT_EQ(batch.unreadable().size(), 1u);
  EXPECT_EQ(batch.unreadable()[0].payload, "not json");
  EXPECT_EQ(batch.queued().size(), 3u);
  EXPECT_EQ(batch.traces().size(), 1u);
  ASSERT_EQ(batch.observations().size(), 2u) << "the same id in two projects is two entities";
  const Batch::Entity& span = batch.observations().at(EntityKey("p", "s"));
  std::vector<Batch::EventRef> refs;
  batch.EventsOf(span, refs);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(batch.event(refs[0]).event_id, "e2");
  EXPECT_EQ(batch.event(refs[1]).event_id, "e3");
  EXPECT_TRUE(refs[0] < refs[1]);
  EXPECT_EQ(batch.payload(refs[1]).project_id, "p");
  batch.EventsOf(batch.observations().at(EntityKey("other-project", "s")), refs);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(batch.event(refs[0]).event_id, "e5");
}

TEST(WorkerBatch, MergesCreatesBeforeUpdatesOfTheSameInstant) {
  simdjson::dom::parser parser;
  Batch batch;
  // The update arrives first, with the same envelope time: the create still applies first.
  batch.Add(
      Item("1", {Event("e1", "generation-update", R"({"id":"g","name":"from-update"})"),
                 Event("e2", "generation-create", R"({"id":"g","name":"from-create","input":{"q":1}})"),
                 Event("e3", "span-update", R"({"id":"g","output":"later"})", "2024-01-01T00:00:01.000Z")}),
      parser);
  Caches caches(100, 1 << 20);
  FakeStoredRows store;
  MergedRows rows;
  ASSERT_TRUE(MergeBatch(batch, caches, store, kNow, rows).ok());
  ASSERT_EQ(rows.observations->size(), 1u);
  const auto& row = rows.observations->front();
  EXPECT_EQ(row.name, "from-update");
  EXPECT_EQ(row.type, "GENERATION") << "the create fixes the type";
  EXPECT_EQ(row.input, R"({"q":1})");
  EXPECT_EQ(row.output, "later");
  EXPECT_EQ(row.updated_at_ms, kNow);
}

TEST(WorkerBatch, NextBatchMergesOntoTheCachedRowSharedWithTheInsert) {
  simdjson::dom::parser parser;
  Caches caches(100, 1 << 20);
  FakeStoredRows store;
  Batch first;
  // Only an update: the type and start time are provisional.
  first.Add(Item("1", {Event("e1", "span-update", R"({"id":"o","input":"in","metadata":{"a":{"x":1}}})")}),
            parser);
  MergedRows first_rows;
  ASSERT_TRUE(MergeBatch(first, caches, store, kNow, first_rows).ok());
  EXPECT_EQ(store.observation_ids_asked, 1u);
  const CachedRow<traces::ObservationRecord>* cached = caches.observations.Find(EntityKey("p", "o"));
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(&cached->row(), &first_rows.observations->front())
      << "the cache keeps the inserted row, not a copy";
  EXPECT_FALSE(cached->type_is_explicit);
  EXPECT_FALSE(cached->time_is_explicit);

  Batch second;
  second.Add(Item("2", {Event("e2", "generation-create",
                              R"({"id":"o","startTime":"2023-12-31T00:00:00Z","metadata":{"a":{"y":2}}})")}),
             parser);
  MergedRows second_rows;
  ASSERT_TRUE(MergeBatch(second, caches, store, kNow + 1, second_rows).ok());
  EXPECT_EQ(store.observation_ids_asked, 1u) << "a cached entity is not read from the store";
  ASSERT_EQ(second_rows.observations->size(), 2u)
      << "the row moved in the sort key: a tombstone, then the row";
  const auto& tombstone = (*second_rows.observations)[0];
  EXPECT_EQ(tombstone.is_deleted, 1);
  EXPECT_EQ(tombstone.type, "SPAN");
  EXPECT_EQ(tombstone.event_ts_ms, kNow + 1);
  const auto& row = (*second_rows.observations)[1];
  EXPECT_EQ(row.is_deleted, 0);
  EXPECT_EQ(row.type, "GENERATION");
  EXPECT_EQ(row.input, "in");
  EXPECT_EQ(row.metadata.at("a"), R"({"x":1,"y":2})");
  EXPECT_EQ(first_rows.observations->front().type, "SPAN") << "the first batch's rows are never changed";
  EXPECT_EQ(&caches.observations.Find(EntityKey("p", "o"))->row(), &row);
}

TEST(WorkerBatch, AFailedReadChangesNothingAndCanBeRepeated) {
  simdjson::dom::parser parser;
  Caches caches(100, 1 << 20);
  FakeStoredRows store;
  traces::ObservationRecord stored;
  stored.id = "s";
  stored.project_id = "p";
  stored.trace_id = "t";
  stored.type = "SPAN";
  stored.start_time_ms = 1000;
  stored.input = "stored input";
  store.observations.push_back(stored);
  store.fail_observations = 1;
  Batch batch;
  batch.Add(Item("1", {Event("e1", "trace-create", R"({"id":"t","input":"trace input"})"),
                       Event("e2", "span-update", R"({"id":"s","output":"out"})")}),
            parser);
  MergedRows rows;
  Status failed = MergeBatch(batch, caches, store, kNow, rows);
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
  EXPECT_EQ(rows.traces, nullptr);
  EXPECT_EQ(caches.traces.size(), 0u);

  ASSERT_TRUE(MergeBatch(batch, caches, store, kNow, rows).ok());
  ASSERT_EQ(rows.traces->size(), 1u);
  EXPECT_EQ(rows.traces->front().input, "trace input") << "the failed attempt consumed no event";
  auto observations = ById(*rows.observations);
  ASSERT_EQ(observations.size(), 1u);
  EXPECT_EQ(observations["s"].input, "stored input");
  EXPECT_EQ(observations["s"].output, "out");
  EXPECT_EQ(observations["s"].start_time_ms, 1000);
  EXPECT_EQ(caches.traces.size(), 1u);
  EXPECT_EQ(caches.observations.size(), 1u);
}

TEST(RecentRows, DropsTheOlderGenerationAndRowsTooLargeToKeep) {
  RecentRows<traces::TraceRecord> cache(4, 1 << 20);  // generations of 2 entries, 512 KB
  auto rows = std::make_shared<std::vector<traces::TraceRecord>>(6);
  for (int i = 0; i < 6; ++i) (*rows)[i].id = "r" + std::to_string(i);
  (*rows)[5].input = std::string(600 << 10, 'x');
  std::shared_ptr<const std::vector<traces::TraceRecord>> shared = rows;
  auto put = [&](int i) {
    cache.Put("k" + std::to_string(i), CachedRow<traces::TraceRecord>{shared, size_t(i)});
  };
  put(0);
  put(1);
  put(2);  // young {0,1} becomes old
  ASSERT_NE(cache.Find("k0"), nullptr);
  EXPECT_EQ(cache.Find("k0")->row().id, "r0");
  put(3);
  put(4);  // young {2,3} becomes old: 0 and 1 are forgotten
  EXPECT_EQ(cache.Find("k0"), nullptr);
  EXPECT_EQ(cache.Find("k1"), nullptr);
  EXPECT_NE(cache.Find("k2"), nullptr);
  EXPECT_EQ(cache.Find("k4")->row().id, "r4");
  put(5);
  EXPECT_EQ(cache.Find("k5"), nullptr) << "a row larger than a generation is not kept";
  shared.reset();
  rows.reset();
  EXPECT_EQ(cache.Find("k4")->row().id, "r4") << "the cache keeps the rows alive";
}

// The byte budget holds what the rows really take: the record itself (over a kilobyte for an
// observation before any text), its map nodes and its long strings, not just its text.
TEST(RecentRows, ByteBudgetCountsTheWholeRow) {
  traces::ObservationRecord row;
  row.id = std::string(36, 'i');
  row.trace_id = std::string(36, 't');
  row.input = std::string(1000, 'x');
  for (int k = 0; k < 10; ++k) row.usage_details["usage_key_number_" + std::to_string(k)] = k;
  const size_t heap_at_least = 1000 + 2 * 36 + 10 * (sizeof(std::pair<const std::string, uint64_t>) + 20);
  const size_t bytes = ApproxBytes("project\x1f" + row.id, row);
  EXPECT_GE(bytes, sizeof(traces::ObservationRecord) + heap_at_least);
  EXPECT_LE(bytes, 2 * (sizeof(traces::ObservationRecord) + heap_at_least));

  constexpr size_t kBudget = 1 << 20;
  RecentRows<traces::ObservationRecord> cache(1'000'000, kBudget);
  auto rows = std::make_shared<std::vector<traces::ObservationRecord>>(2000, row);
  std::shared_ptr<const std::vector<traces::ObservationRecord>> shared = rows;
  for (size_t i = 0; i < rows->size(); ++i) {
    cache.Put("k" + std::to_string(i), CachedRow<traces::ObservationRecord>{shared, i});
  }
  EXPECT_GT(cache.size(), 0u);
  EXPECT_LE(cache.size() * (sizeof(traces::ObservationRecord) + heap_at_least), kBudget);
}

}  // namespace
}  // namespace langfuse::worker::internal
