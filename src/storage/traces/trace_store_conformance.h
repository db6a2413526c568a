#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "storage/traces/clickhouse_transport.h"
#include "storage/traces/trace_store.h"

namespace langfuse::traces::testing {

//! One transport under test, through the binary's shared, migrated TraceStore.
struct TraceStoreConformanceParam {
  std::string name;                    //!< shows in test names and is the transport's metric label
  std::function<TraceStore*()> store;  //!< the store; null when the engine did not start
  //! How many migrations the first Migrate() of the store applied (all of them, on a fresh engine).
  std::function<int()> first_applied;
  //! When set and it returns a non-empty reason, every test skips with it.
  std::function<std::string()> skip_reason;
};

inline std::ostream& operator<<(std::ostream& os, const TraceStoreConformanceParam& p) {
  return os << p.name;
}

//! The TraceStore behaviour every ClickHouse transport must share (tests in
//! trace_store_conformance.cpp, compiled into each transport's test binary):
//!
//!   INSTANTIATE_TEST_SUITE_P(Chdb, TraceStoreConformanceTest,
//!                            ::testing::Values(TraceStoreConformanceParam{"chdb", ...}),
//!                            TraceStoreConformanceName);
class TraceStoreConformanceTest : public ::testing::TestWithParam<TraceStoreConformanceParam> {
 protected:
  void SetUp() override;

  TraceStore& store() { return *store_; }
  ClickHouseTransport& transport() { return store_->transport(); }

  //! The TabSeparatedRaw output of `sql`, without its trailing newlines.
  std::string QueryText(std::string_view sql, const std::vector<QueryParam>& params = {});
  //! Rows of this case's project physically present (no FINAL): what dedup tokens and merges are about.
  uint64_t RawCount(std::string_view table);

  TraceStore* store_ = nullptr;
  std::string project_;
};

//! Names instantiations by TraceStoreConformanceParam::name.
inline std::string TraceStoreConformanceName(
    const ::testing::TestParamInfo<TraceStoreConformanceParam>& info) {
  return info.param.name;
}

}  // namespace langfuse::traces::testing
