#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "common/ids.h"
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

}  // namespace
}  // namespace langfuse::queue
