#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "common/ids.h"
#include "common/metrics.h"
#include "queue/event_queue.h"
#include "queue/event_queue_conformance.h"

namespace langfuse::queue {
namespace {

std::filesystem::path TempDir() {
  const char* base = std::getenv("LANGFUSE_TEST_TMP");
  std::filesystem::path dir =
      (base != nullptr && *base != '\0') ? base : std::filesystem::temp_directory_path();
  std::filesystem::create_directories(dir);
  return dir;
}

EventQueueConformanceParam SqliteParam() {
  EventQueueConformanceParam p;
  p.name = "sqlite";
  p.new_location = [] { return (TempDir() / ("queue-" + RandomHex(8) + ".db")).string(); };
  p.open = [](const std::string& path) { return OpenLocalEventQueue(path); };
  p.remove = [](const std::string& path) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  };
  return p;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, EventQueueConformanceTest, ::testing::Values(SqliteParam()),
                         EventQueueConformanceName);

TEST(LocalEventQueue, OpenFailsClearlyWhereNoFileCanBeCreated) {
  const std::string path = (TempDir() / ("missing-" + RandomHex(8)) / "queue.db").string();
  auto q = OpenLocalEventQueue(path);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find(path), std::string::npos) << q.status().message();
}

// Each group commit is timed in langfuse_queue_commit_seconds (what a request's 207 waits for).
TEST(LocalEventQueue, CommitsAreTimedInTheMetrics) {
  const auto count = [] {
    const std::string text = Metrics().RenderPrometheus();
    const std::string key = "langfuse_queue_commit_seconds_count ";
    const size_t at = text.find(key);
    return at == std::string::npos ? -1L : std::stol(text.substr(at + key.size()));
  };
  const std::string path = (TempDir() / ("queue-" + RandomHex(8) + ".db")).string();
  {
    auto q = OpenLocalEventQueue(path);
    ASSERT_TRUE(q.ok()) << q.status().message();
    const long before = count();
    ASSERT_TRUE((*q)->Append({EventQueue::NewItem{"payload", 1}}).ok());
    ASSERT_TRUE((*q)->Append({EventQueue::NewItem{"payload", 1}}).ok());
    // Observed right after the commit, which may be just after Append returned.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (count() < std::max(before, 0L) + 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GE(count(), std::max(before, 0L) + 2);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

// Bytes this process has handed to write() so far (SQLite writes its WAL with pwrite).
int64_t WrittenBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (io >> key >> value) {
    if (key == "wchar:") return value;
  }
  return -1;
}

// Every queued byte is written and fsynced once to the WAL and once more by the checkpoint;
// deleting an acknowledged entry must not write it a third time (SQLite built with secure
// delete, as Debian's is, overwrites every freed page with zeros unless the queue turns it off).
TEST(LocalEventQueue, AcknowledgingAnEntryDoesNotRewriteItsPayload) {
  if (WrittenBytes() < 0) GTEST_SKIP() << "no /proc/self/io here";
  const std::string path = (TempDir() / ("queue-" + RandomHex(8) + ".db")).string();
  {
    auto q = OpenLocalEventQueue(path);
    ASSERT_TRUE(q.ok()) << q.status().message();
    std::mt19937_64 random(11);
    std::string payload(1u << 20, '\0');
    for (char& c : payload) c = static_cast<char>(random());
    const int64_t before_append = WrittenBytes();
    ASSERT_TRUE((*q)->Append({EventQueue::NewItem{payload, 1}}).ok());
    const int64_t appended = WrittenBytes() - before_append;
    EXPECT_GE(appended, static_cast<int64_t>(payload.size()));
    EXPECT_LT(appended, static_cast<int64_t>(payload.size() * 3 / 2));

    auto items = (*q)->Read(10, std::chrono::milliseconds(0));
    ASSERT_TRUE(items.ok());
    ASSERT_EQ(items->size(), 1u);
    const int64_t before_ack = WrittenBytes();
    ASSERT_TRUE((*q)->Ack({items->front().id}).ok());
    const int64_t acked = WrittenBytes() - before_ack;
    EXPECT_LT(acked, 64 << 10) << "the ack wrote " << acked << " bytes for a 1 MB entry";
    auto stats = (*q)->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->pending_items, 0);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

}  // namespace
}  // namespace langfuse::queue
