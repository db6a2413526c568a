#include "common/ids.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>
#include <vector>

namespace langfuse {
namespace {

TEST(Ids, UuidV4Shape) {
  const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  const std::string a = NewUuidV4();
  EXPECT_TRUE(std::regex_match(a, shape)) << a;
  EXPECT_NE(a, NewUuidV4());
}

// Ids come from a per-thread pool of random bytes: across several pool refills and threads every
// id keeps the v4 shape and none repeats.
TEST(Ids, UuidV4UniqueAcrossPoolRefillsAndThreads) {
  const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread) {
    threads.emplace_back([&ids] {
      for (int i = 0; i < 5000; ++i) ids.push_back(NewUuidV4());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& ids : per_thread) {
    for (const std::string& id : ids) {
      ASSERT_TRUE(std::regex_match(id, shape)) << id;
      all.insert(id);
    }
  }
  EXPECT_EQ(all.size(), 20000u);
}

TEST(Ids, Sha256KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(RandomHex(8).size(), 16u);
}

}  // namespace
}  // namespace langfuse
