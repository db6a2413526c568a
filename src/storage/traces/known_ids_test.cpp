#include "storage/traces/known_ids.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

namespace langfuse::traces {
namespace {

TEST(KnownIdHashTest, SeparatesProjectFromId) {
  EXPECT_NE(KnownIdHash("ab", "c"), KnownIdHash("a", "bc"));
  EXPECT_NE(KnownIdHash("p", "id-1"), KnownIdHash("q", "id-1"));
  EXPECT_EQ(KnownIdHash("p", "id-1"), KnownIdHash(std::string("p"), std::string("id-1")));
}

TEST(IdHashFilterTest, NeverLosesAHashAndRarelyClaimsAnAbsentOne) {
  std::mt19937_64 rng(42);
  IdHashFilter filter(1000);  // grows through several filters
  std::unordered_set<uint64_t> added;
  while (added.size() < 200'000) added.insert(rng());
  for (uint64_t h : added) filter.Add(h);
  EXPECT_EQ(filter.size(), added.size());
  for (uint64_t h : added) ASSERT_TRUE(filter.MayContain(h)) << h;

  size_t claimed = 0;
  size_t asked = 0;
  while (asked < 1'000'000) {
    const uint64_t h = rng();
    if (added.count(h)) continue;
    ++asked;
    claimed += filter.MayContain(h);
  }
  // About 1 in 10^8 expected (several tables here); more than a few means the fingerprints or the
  // walk are broken.
  EXPECT_LE(claimed, 2u) << claimed << " of " << asked;
  // 5 bytes per hash of capacity; after growing, at most three times the hashes held.
  EXPECT_LE(filter.memory_bytes(), 15 * added.size() + 8192);
}

TEST(IdHashFilterTest, KeepsAHashAddedTwiceOnce) {
  IdHashFilter filter;
  filter.Add(12345);
  filter.Add(12345);
  EXPECT_EQ(filter.size(), 1u);
  EXPECT_TRUE(filter.MayContain(12345));
  EXPECT_FALSE(filter.MayContain(54321));
}

TEST(IdHashFilterTest, ReserveMakesOneFilterForAKnownCount) {
  IdHashFilter filter;
  filter.Reserve(1'000'000);
  const size_t bytes = filter.memory_bytes();
  EXPECT_GE(bytes, 5'000'000u);
  EXPECT_LT(bytes, 5'100'000u);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1'000'000; ++i) filter.Add(rng());
  EXPECT_EQ(filter.memory_bytes(), bytes);  // no second filter
}

// A stand-in for the store (not a real engine; trace_store_chdbtest reads a real one): answers
// the list of days and each day's hashes as ClickHouse would.
class ScriptedTransport final : public ClickHouseTransport {
 public:
  std::vector<uint64_t> hashes;
  bool truncate = false;
  int queries = 0;

  StatusOr<std::string> Query(std::string_view sql, const std::vector<QueryParam>& params,
                              std::string_view format) override {
    ++queries;
    if (sql.find("GROUP BY day") != std::string_view::npos) {
      if (sql.find("FROM observations") == std::string_view::npos) return std::string();
      return "2026-11-02\t" + std::to_string(hashes.size()) + "\n";
    }
    EXPECT_NE(sql.find("FROM observations"), std::string_view::npos) << sql;
    EXPECT_EQ(params.size(), 1u);
    EXPECT_EQ(params[0].value, "2026-11-02");
    EXPECT_EQ(format, "RowBinary");
    std::string out(hashes.size() * 8, '\0');
    for (size_t i = 0; i < hashes.size(); ++i) std::memcpy(out.data() + 8 * i, &hashes[i], 8);
    if (truncate) out.pop_back();
    return out;
  }
  Status Insert(std::string_view, std::string_view, std::string_view, std::string_view) override {
    return Status::Ok();
  }
  Status Ping() override { return Status::Ok(); }
};

struct Row {
  std::string project_id;
  std::string id;
};

TEST(KnownIdsTest, AnswersEveryIdUntilLoadedThenOnlyThoseThatMayBeStored) {
  ScriptedTransport transport;
  transport.hashes = {KnownIdHash("p", "stored-1"), KnownIdHash("p", "stored-2")};
  KnownIds known;
  const std::vector<std::string> ids = {"stored-1", "new-1", "stored-2", "inserted", "new-2"};
  EXPECT_EQ(known.MaybeStored(KnownIdTable::kObservations, "p", ids), ids);  // not read yet

  known.Add(KnownIdTable::kObservations, std::vector<Row>{{"p", "inserted"}});
  std::atomic<bool> stop{false};
  ASSERT_TRUE(known.Load(transport, stop).ok());
  ASSERT_TRUE(known.Ready());
  EXPECT_EQ(known.MaybeStored(KnownIdTable::kObservations, "p", ids),
            (std::vector<std::string>{"stored-1", "stored-2", "inserted"}));
  // Per project and per table.
  EXPECT_TRUE(known.MaybeStored(KnownIdTable::kObservations, "other", ids).empty());
  EXPECT_TRUE(known.MaybeStored(KnownIdTable::kTraces, "p", ids).empty());
}

TEST(KnownIdsTest, AnUnreadableHashListLeavesItNotReady) {
  ScriptedTransport transport;
  transport.hashes = {KnownIdHash("p", "stored-1")};
  transport.truncate = true;
  KnownIds known;
  std::atomic<bool> stop{false};
  EXPECT_FALSE(known.Load(transport, stop).ok());
  EXPECT_FALSE(known.Ready());
  EXPECT_EQ(known.MaybeStored(KnownIdTable::kObservations, "p", {"new-1"}).size(), 1u);
}

TEST(KnownIdsTest, StopsEarlyWhenAskedAndStaysNotReady) {
  ScriptedTransport transport;
  transport.hashes = {KnownIdHash("p", "stored-1")};
  KnownIds known;
  std::atomic<bool> stop{true};
  EXPECT_TRUE(known.Load(transport, stop).ok());
  EXPECT_FALSE(known.Ready());
}

}  // namespace
}  // namespace langfuse::traces
