#include "queue/event_queue_conformance.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "common/time.h"

namespace langfuse::queue {

using std::chrono::milliseconds;

void EventQueueConformanceTest::SetUp() {
  if (GetParam().skip_reason) {
    const std::string reason = GetParam().skip_reason();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
  location_ = GetParam().new_location();
  queue_ = OpenAgain();
  ASSERT_NE(queue_, nullptr);
}

void EventQueueConformanceTest::TearDown() {
  queue_.reset();
  if (!location_.empty()) GetParam().remove(location_);
}

std::unique_ptr<EventQueue> EventQueueConformanceTest::OpenAgain() {
  auto opened = GetParam().open(location_);
  if (!opened.ok()) {
    ADD_FAILURE() << "cannot open the queue: " << opened.status().message();
    return nullptr;
  }
  return std::move(opened).value();
}

std::vector<QueueItem> ReadUntil(EventQueue& queue, size_t count, milliseconds timeout) {
  std::vector<QueueItem> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto items = queue.Read(count - out.size(), std::min(left, milliseconds(500)));
    EXPECT_TRUE(items.ok()) << items.status().message();
    if (!items.ok()) break;
    for (auto& item : *items) out.push_back(std::move(item));
  }
  return out;
}

namespace {

std::vector<std::string> Payloads(const std::vector<QueueItem>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) out.push_back(item.payload);
  return out;
}

std::vector<std::string> Ids(const std::vector<QueueItem>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) out.push_back(item.id);
  return out;
}

using Strings = std::vector<std::string>;

TEST_P(EventQueueConformanceTest, AppendReadAckInOrder) {
  ASSERT_TRUE(queue_->Append({{"a", 1}, {"b", 2}}).ok());
  ASSERT_TRUE(queue_->Append({{"c", 3}}).ok());
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_TRUE(items.ok()) << items.status().message();
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ(Payloads(*items), (Strings{"a", "b", "c"}));
  EXPECT_EQ((*items)[1].event_count, 2u);
  const std::vector<std::string> ids = Ids(*items);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3u);
  auto stats = queue_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->pending_items, 3);
  EXPECT_EQ(stats->pending_events, 6);
  ASSERT_TRUE(stats->oldest_enqueued_at_ms.has_value());
  // Delivered items are not delivered twice to the same consumer.
  EXPECT_TRUE(queue_->Read(10, milliseconds(0))->empty());

  ASSERT_TRUE(queue_->Ack({(*items)[1].id}).ok());
  stats = queue_->Stats();
  EXPECT_EQ(stats->pending_items, 2);
  EXPECT_EQ(stats->pending_events, 4);
  ASSERT_TRUE(queue_->Ack({(*items)[0].id, (*items)[2].id}).ok());
  stats = queue_->Stats();
  EXPECT_EQ(stats->pending_items, 0);
  EXPECT_EQ(stats->pending_events, 0);
  EXPECT_FALSE(stats->oldest_enqueued_at_ms.has_value());
}

TEST_P(EventQueueConformanceTest, EmptyQueue) {
  auto stats = queue_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->pending_items, 0);
  EXPECT_EQ(stats->pending_events, 0);
  EXPECT_EQ(stats->dead_letters, 0);
  EXPECT_FALSE(stats->oldest_enqueued_at_ms.has_value());
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_TRUE(items.ok()) << items.status().message();
  EXPECT_TRUE(items->empty());
  EXPECT_TRUE(queue_->Append({}).ok());
  EXPECT_TRUE(queue_->Ack({}).ok());
  EXPECT_TRUE(queue_->ListDeadLetters(10)->empty());
  EXPECT_EQ(*queue_->ReplayDeadLetters({}), 0);
  EXPECT_EQ(queue_->Stats()->pending_items, 0);
}

// Ids come from operators too (`langfuse dlq replay <id>`): one that is not an id of this queue
// is an error, never a crash, and changes nothing.
TEST_P(EventQueueConformanceTest, IdsThatAreNotQueueIdsAreRefused) {
  ASSERT_TRUE(queue_->Append({{"payload", 1}}).ok());
  for (const std::string bad : {"abc", "", "12abc", "-1", "99999999999999999999999", "1 OR 1=1"}) {
    EXPECT_FALSE(queue_->Ack({bad}).ok()) << bad;
    EXPECT_FALSE(queue_->ReplayDeadLetters({bad}).ok()) << bad;
  }
  EXPECT_EQ(queue_->Stats()->pending_items, 1);
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_TRUE(items.ok()) << items.status().message();
  EXPECT_EQ(items->size(), 1u);
}

TEST_P(EventQueueConformanceTest, ReadReturnsAtMostMaxItemsInOrder) {
  ASSERT_TRUE(queue_->Append({{"1", 1}, {"2", 1}, {"3", 1}, {"4", 1}, {"5", 1}}).ok());
  auto first = queue_->Read(2, milliseconds(0));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Payloads(*first), (Strings{"1", "2"}));
  auto rest = queue_->Read(10, milliseconds(0));
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(Payloads(*rest), (Strings{"3", "4", "5"}));
}

TEST_P(EventQueueConformanceTest, OldestEnqueuedAtIsTheFirstUnacknowledgedItems) {
  const int64_t before = NowMs();
  ASSERT_TRUE(queue_->Append({{"first", 1}}).ok());
  const int64_t between = NowMs();
  std::this_thread::sleep_for(milliseconds(20));
  ASSERT_TRUE(queue_->Append({{"second", 1}}).ok());
  const int64_t after = NowMs();
  auto stats = queue_->Stats();
  ASSERT_TRUE(stats.ok() && stats->oldest_enqueued_at_ms.has_value());
  EXPECT_GE(*stats->oldest_enqueued_at_ms, before);
  EXPECT_LE(*stats->oldest_enqueued_at_ms, between);
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_EQ(items->size(), 2u);
  EXPECT_GE((*items)[0].enqueued_at_ms, before);
  EXPECT_LE((*items)[1].enqueued_at_ms, after);
  ASSERT_TRUE(queue_->Ack({(*items)[0].id}).ok());
  stats = queue_->Stats();
  ASSERT_TRUE(stats->oldest_enqueued_at_ms.has_value());
  EXPECT_EQ(*stats->oldest_enqueued_at_ms, (*items)[1].enqueued_at_ms);
}

TEST_P(EventQueueConformanceTest, PayloadsAreBinarySafeAndMayBeLarge) {
  constexpr char kBinary[] = "nul\0byte\xff\xfe\r\n";
  const std::string binary(kBinary, sizeof(kBinary) - 1);
  std::string large(2 << 20, 'x');
  for (size_t i = 0; i < large.size(); i += 4096) large[i] = static_cast<char>('a' + (i / 4096) % 26);
  ASSERT_TRUE(queue_->Append({{binary, 1}, {large, 7}, {"", 0}}).ok());
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ((*items)[0].payload, binary);
  EXPECT_TRUE((*items)[1].payload == large) << "large payload differs";
  EXPECT_EQ((*items)[1].event_count, 7u);
  EXPECT_EQ((*items)[2].payload, "");
}

TEST_P(EventQueueConformanceTest, AckIsIdempotent) {
  ASSERT_TRUE(queue_->Append({{"a", 2}, {"b", 3}}).ok());
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_EQ(items->size(), 2u);
  ASSERT_TRUE(queue_->Ack({(*items)[0].id}).ok());
  ASSERT_TRUE(queue_->Ack({(*items)[0].id, (*items)[0].id}).ok());
  auto stats = queue_->Stats();
  EXPECT_EQ(stats->pending_items, 1);
  EXPECT_EQ(stats->pending_events, 3);
}

TEST_P(EventQueueConformanceTest, UnacknowledgedItemsComeBackAfterReopen) {
  ASSERT_TRUE(queue_->Append({{"one", 1}, {"two", 1}, {"three", 1}}).ok());
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_EQ(items->size(), 3u);
  ASSERT_TRUE(queue_->Ack({(*items)[1].id}).ok());
  queue_.reset();  // a process that stopped before acknowledging "one" and "three"

  queue_ = OpenAgain();
  ASSERT_NE(queue_, nullptr);
  auto again = ReadUntil(*queue_, 2, milliseconds(10'000));
  EXPECT_EQ(Payloads(again), (Strings{"one", "three"}));
  ASSERT_TRUE(queue_->Ack(Ids(again)).ok());
  EXPECT_EQ(queue_->Stats()->pending_items, 0);
}

TEST_P(EventQueueConformanceTest, AcknowledgedItemsDoNotComeBackAfterReopen) {
  ASSERT_TRUE(queue_->Append({{"done", 1}}).ok());
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_EQ(items->size(), 1u);
  ASSERT_TRUE(queue_->Ack(Ids(*items)).ok());
  queue_.reset();
  queue_ = OpenAgain();
  ASSERT_NE(queue_, nullptr);
  EXPECT_TRUE(ReadUntil(*queue_, 1, milliseconds(1500)).empty());
}

TEST_P(EventQueueConformanceTest, ItemsAppendedThroughOneHandleAreReadThroughAnother) {
  auto producer = OpenAgain();
  ASSERT_NE(producer, nullptr);
  ASSERT_TRUE(producer->Append({{"from-web", 5}}).ok());
  auto items = ReadUntil(*queue_, 1, milliseconds(5000));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].payload, "from-web");
  EXPECT_EQ(items[0].event_count, 5u);
  EXPECT_EQ(producer->Stats()->pending_events, 5);
  ASSERT_TRUE(queue_->Ack(Ids(items)).ok());
  EXPECT_EQ(producer->Stats()->pending_items, 0);
}

TEST_P(EventQueueConformanceTest, ReadWaitsForAnAppendFromAnotherThread) {
  std::thread producer([&] {
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_TRUE(queue_->Append({{"late", 1}}).ok());
  });
  const auto start = std::chrono::steady_clock::now();
  auto items = queue_->Read(10, milliseconds(5000));
  producer.join();
  ASSERT_TRUE(items.ok()) << items.status().message();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].payload, "late");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_P(EventQueueConformanceTest, ConcurrentAppendsAreAllDurableAndDistinct) {
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) EXPECT_TRUE(queue_->Append({{std::to_string(t * 100 + i), 1}}).ok());
      });
    }
    for (auto& th : threads) th.join();
  }
  queue_.reset();
  queue_ = OpenAgain();
  ASSERT_NE(queue_, nullptr);
  auto items = ReadUntil(*queue_, 200, milliseconds(10'000));
  std::set<std::string> payloads;
  for (const auto& item : items) payloads.insert(item.payload);
  EXPECT_EQ(items.size(), 200u);
  EXPECT_EQ(payloads.size(), 200u);
  EXPECT_EQ(queue_->Stats()->pending_events, 200);
}

TEST_P(EventQueueConformanceTest, ConcurrentReadsOfOneHandleDeliverEachItemOnce) {
  std::vector<EventQueue::NewItem> batch;
  for (int i = 0; i < 100; ++i) batch.push_back({std::to_string(i), 1});
  ASSERT_TRUE(queue_->Append(std::move(batch)).ok());
  std::mutex mu;
  std::vector<std::string> seen;
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      for (int attempt = 0; attempt < 200; ++attempt) {
        auto items = queue_->Read(7, milliseconds(20));
        ASSERT_TRUE(items.ok()) << items.status().message();
        std::lock_guard lock(mu);
        for (const auto& item : *items) seen.push_back(item.payload);
        if (seen.size() >= 100) return;
      }
    });
  }
  for (auto& th : readers) th.join();
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 100u);
}

TEST_P(EventQueueConformanceTest, DeadLettersAreListedAndReplayed) {
  const int64_t before = NowMs();
  ASSERT_TRUE(queue_->DeadLetterItem("poison", 4, 123, "insert failed 3 times").ok());
  auto dead = queue_->ListDeadLetters(10);
  ASSERT_TRUE(dead.ok()) << dead.status().message();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].payload, "poison");
  EXPECT_EQ((*dead)[0].reason, "insert failed 3 times");
  EXPECT_EQ((*dead)[0].event_count, 4u);
  EXPECT_EQ((*dead)[0].enqueued_at_ms, 123);
  EXPECT_GE((*dead)[0].failed_at_ms, before);
  EXPECT_LE((*dead)[0].failed_at_ms, NowMs());
  auto stats = queue_->Stats();
  EXPECT_EQ(stats->dead_letters, 1);
  EXPECT_EQ(stats->pending_items, 0);  // a dead letter is not pending

  auto replayed = queue_->ReplayDeadLetters({});
  ASSERT_TRUE(replayed.ok()) << replayed.status().message();
  EXPECT_EQ(*replayed, 1);
  stats = queue_->Stats();
  EXPECT_EQ(stats->dead_letters, 0);
  EXPECT_EQ(stats->pending_items, 1);
  EXPECT_EQ(stats->pending_events, 4);
  EXPECT_EQ(stats->oldest_enqueued_at_ms, 123);  // replay keeps when the events were accepted
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].payload, "poison");
  EXPECT_EQ((*items)[0].event_count, 4u);
  EXPECT_EQ((*items)[0].enqueued_at_ms, 123);
}

TEST_P(EventQueueConformanceTest, SelectedDeadLettersAreReplayedOnce) {
  ASSERT_TRUE(queue_->DeadLetterItem("d0", 1, 10, "r0").ok());
  ASSERT_TRUE(queue_->DeadLetterItem("d1", 2, 11, "r1").ok());
  ASSERT_TRUE(queue_->DeadLetterItem("d2", 3, 12, "r2").ok());
  auto dead = queue_->ListDeadLetters(10);
  ASSERT_EQ(dead->size(), 3u);
  EXPECT_EQ((*dead)[0].payload, "d0");
  EXPECT_EQ((*dead)[2].payload, "d2");

  auto replayed = queue_->ReplayDeadLetters({(*dead)[0].id, (*dead)[2].id});
  ASSERT_TRUE(replayed.ok()) << replayed.status().message();
  EXPECT_EQ(*replayed, 2);
  auto left = queue_->ListDeadLetters(10);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].payload, "d1");
  // Already replayed: nothing happens.
  EXPECT_EQ(*queue_->ReplayDeadLetters({(*dead)[0].id}), 0);
  EXPECT_EQ(queue_->Stats()->pending_events, 4);

  EXPECT_EQ(*queue_->ReplayDeadLetters({}), 1);
  auto items = queue_->Read(10, milliseconds(0));
  ASSERT_TRUE(items.ok());
  std::vector<std::string> payloads = Payloads(*items);
  std::sort(payloads.begin(), payloads.end());
  EXPECT_EQ(payloads, (Strings{"d0", "d1", "d2"}));
  EXPECT_EQ(queue_->Stats()->dead_letters, 0);
}

TEST_P(EventQueueConformanceTest, ListDeadLettersHonoursTheLimit) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue_->DeadLetterItem("d" + std::to_string(i), 1, i, "r").ok());
  auto two = queue_->ListDeadLetters(2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].payload, "d0");
  EXPECT_EQ((*two)[1].payload, "d1");
  EXPECT_TRUE(queue_->ListDeadLetters(0)->empty());
  EXPECT_EQ(queue_->Stats()->dead_letters, 3);
}

TEST_P(EventQueueConformanceTest, InterruptWakesABlockedRead) {
  std::thread waker([&] {
    std::this_thread::sleep_for(milliseconds(50));
    queue_->Interrupt();
  });
  const auto start = std::chrono::steady_clock::now();
  auto items = queue_->Read(10, milliseconds(10'000));
  waker.join();
  EXPECT_TRUE(items.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_P(EventQueueConformanceTest, InterruptBeforeReadIsNotLost) {
  queue_->Interrupt();
  const auto start = std::chrono::steady_clock::now();
  auto items = queue_->Read(10, milliseconds(10'000));
  EXPECT_TRUE(items.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // Consumed: the next read waits again (briefly here) and then sees new items.
  ASSERT_TRUE(queue_->Append({{"x", 1}}).ok());
  EXPECT_EQ(queue_->Read(10, milliseconds(1000))->size(), 1u);
}

}  // namespace
}  // namespace langfuse::queue
