#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "common/ids.h"
#include "queue/event_queue.h"

namespace langfuse::queue {
namespace {

std::string TempQueuePath() {
  const char* base = std::getenv("LANGFUSE_TEST_TMP");
  std::filesystem::path dir = base ? base : std::filesystem::temp_directory_path().string();
  std::filesystem::create_directories(dir);
  return (dir / ("queue-" + RandomHex(8) + ".db")).string();
}

std::unique_ptr<EventQueue> Open(const std::string& path) {
  auto q = OpenLocalEventQueue(path);
  EXPECT_TRUE(q.ok()) << q.status().message();
  return std::move(q).value();
}

TEST(LocalEventQueue, AppendReadAckInOrder) {
  auto q = Open(TempQueuePath());
  ASSERT_TRUE(q->Append({{"a", 1}, {"b", 2}}).ok());
  ASSERT_TRUE(q->Append({{"c", 3}}).ok());
  auto items = q->Read(10, std::chrono::milliseconds(0));
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ((*items)[0].payload, "a");
  EXPECT_EQ((*items)[2].payload, "c");
  EXPECT_EQ((*items)[1].event_count, 2u);
  auto stats = q->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pending_items, 3);
  EXPECT_EQ(stats->pending_events, 6);
  ASSERT_TRUE(stats->oldest_enqueued_at_ms.has_value());
  // Delivered items are not delivered twice to the same consumer.
  EXPECT_TRUE(q->Read(10, std::chrono::milliseconds(0))->empty());
  ASSERT_TRUE(q->Ack({(*items)[0].id, (*items)[1].id, (*items)[2].id}).ok());
  EXPECT_EQ(q->Stats()->pending_items, 0);
}

TEST(LocalEventQueue, UnacknowledgedItemsComeBackAfterReopen) {
  const std::string path = TempQueuePath();
  {
    auto q = Open(path);
    ASSERT_TRUE(q->Append({{"one", 1}, {"two", 1}}).ok());
    auto items = q->Read(10, std::chrono::milliseconds(0));
    ASSERT_EQ(items->size(), 2u);
    ASSERT_TRUE(q->Ack({(*items)[0].id}).ok());
  }
  auto q = Open(path);
  auto items = q->Read(10, std::chrono::milliseconds(0));
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].payload, "two");
}

TEST(LocalEventQueue, ReadWaitsForAnAppendFromAnotherThread) {
  auto q = Open(TempQueuePath());
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(q->Append({{"late", 1}}).ok());
  });
  auto items = q->Read(10, std::chrono::milliseconds(5000));
  producer.join();
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].payload, "late");
}

TEST(LocalEventQueue, ConcurrentAppendsAreAllDurableAndDistinct) {
  const std::string path = TempQueuePath();
  {
    auto q = Open(path);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) EXPECT_TRUE(q->Append({{std::to_string(t * 100 + i), 1}}).ok());
      });
    }
    for (auto& th : threads) th.join();
  }
  auto q = Open(path);
  auto items = q->Read(1000, std::chrono::milliseconds(0));
  ASSERT_TRUE(items.ok());
  std::set<std::string> payloads;
  for (const auto& item : *items) payloads.insert(item.payload);
  EXPECT_EQ(payloads.size(), 200u);
}

TEST(LocalEventQueue, DeadLettersAreListedAndReplayed) {
  auto q = Open(TempQueuePath());
  ASSERT_TRUE(q->DeadLetterItem("poison", 4, 123, "insert failed 3 times").ok());
  auto dead = q->ListDeadLetters(10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].payload, "poison");
  EXPECT_EQ((*dead)[0].reason, "insert failed 3 times");
  EXPECT_EQ(q->Stats()->dead_letters, 1);
  auto replayed = q->ReplayDeadLetters({});
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(*replayed, 1);
  EXPECT_EQ(q->Stats()->dead_letters, 0);
  auto items = q->Read(10, std::chrono::milliseconds(0));
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].payload, "poison");
  EXPECT_EQ((*items)[0].event_count, 4u);
}

TEST(LocalEventQueue, InterruptWakesABlockedRead) {
  auto q = Open(TempQueuePath());
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    q->Interrupt();
  });
  const auto start = std::chrono::steady_clock::now();
  auto items = q->Read(10, std::chrono::milliseconds(10'000));
  waker.join();
  EXPECT_TRUE(items.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace langfuse::queue
