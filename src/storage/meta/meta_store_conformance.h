#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "common/status.h"
#include "storage/meta/meta_store.h"

namespace langfuse::meta {

//! One MetaStore implementation under test: `open` returns a fresh, empty, not yet migrated
//! store each time it is called (a new file, a new schema...).
struct MetaStoreConformanceParam {
  std::string name;  //!< shows in test names: "sqlite", "postgres"
  std::function<StatusOr<std::unique_ptr<MetaStore>>()> open;
  //! When set and it returns a non-empty reason, every test skips with it (a server-backed store
  //! whose server is not configured).
  std::function<std::string()> skip_reason;
};

inline std::ostream& operator<<(std::ostream& os, const MetaStoreConformanceParam& p) { return os << p.name; }

//! The behaviour every MetaStore must share (tests in meta_store_conformance.cpp). Run it for an
//! implementation by compiling meta_store_conformance.cpp into the test binary and writing:
//!
//!   INSTANTIATE_TEST_SUITE_P(Sqlite, MetaStoreConformanceTest,
//!                            ::testing::Values(MetaStoreConformanceParam{"sqlite", OpenFreshStore}),
//!                            MetaStoreConformanceName);
//!
//! SetUp opens a store and migrates it; `store_` is ready in each test.
class MetaStoreConformanceTest : public ::testing::TestWithParam<MetaStoreConformanceParam> {
 protected:
  void SetUp() override;

  //! Creates organisation `org_id` and project `project_id` in it (API keys need a parent).
  void CreateOrgAndProject(const std::string& org_id, const std::string& project_id);
  //! A project key with unique hashes derived from `public_key`.
  static ApiKey MakeKey(const std::string& public_key, const std::string& project_id);

  std::unique_ptr<MetaStore> store_;
};

//! Names instantiations by MetaStoreConformanceParam::name.
inline std::string MetaStoreConformanceName(const ::testing::TestParamInfo<MetaStoreConformanceParam>& info) {
  return info.param.name;
}

}  // namespace langfuse::meta
