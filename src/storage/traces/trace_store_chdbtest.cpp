// TraceStore and the chDB transport against a real (in-process) ClickHouse engine: the shared
// conformance suite (trace_store_conformance.cpp) plus what only chDB has.
//
// chDB allows one engine per process on one data path, so the whole binary shares one transport,
// opened by a gtest Environment on a fresh folder and shut down after the last test. ctest runs
// every case in its own process, so each case must also pass alone: cases use their own project
// ids and never depend on another case's rows.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/ids.h"
#include "storage/traces/chdb_test_environment.h"
#include "storage/traces/test_records.h"
#include "storage/traces/trace_store.h"
#include "storage/traces/trace_store_conformance.h"

namespace langfuse::traces {
namespace {

using testing::MinimalTrace;
using testing::TraceStoreConformanceName;
using testing::TraceStoreConformanceParam;
using testing::TraceStoreConformanceTest;

auto* const g_env = testing::RegisterChdbTestEnvironment("traces_chdbtest");

INSTANTIATE_TEST_SUITE_P(Chdb, TraceStoreConformanceTest,
                         ::testing::Values(TraceStoreConformanceParam{
                             "chdb", [] { return g_env->ready() ? g_env->store() : nullptr; },
                             [] { return g_env->first_applied(); }}),
                         TraceStoreConformanceName);

class TraceStoreChdbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!g_env->ready()) GTEST_FAIL() << "the chDB environment did not start";
    project_ = "proj-" + RandomHex(6);
  }

  TraceStore& store() { return *g_env->store(); }

  std::string project_;
};

std::string Token() { return "batch-" + RandomHex(8); }

TEST_F(TraceStoreChdbTest, MoreTransportsShareTheEngineButNotAnotherPath) {
  {
    auto second = OpenChdbTransport(g_env->dir().string(), 1);
    ASSERT_TRUE(second.ok()) << second.status().message();
    TraceStore other(std::move(second).value());
    ASSERT_TRUE(other.InsertTraces({MinimalTrace(project_, "via-second")}, Token()).ok());
    EXPECT_EQ(store().GetTraces(project_, {"via-second"})->size(), 1u);
  }  // closing the second transport leaves the first one working
  EXPECT_TRUE(store().Ping().ok());

  const auto elsewhere = std::filesystem::path(g_env->dir().string() + "-elsewhere");
  auto refused = OpenChdbTransport(elsewhere.string());
  std::filesystem::remove_all(elsewhere);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("only one chDB data path"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace langfuse::traces
