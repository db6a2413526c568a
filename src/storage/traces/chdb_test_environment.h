#pragma once

// The chDB engine for a test binary: chDB allows one engine (one data path) per process and
// cannot be reopened after shutdown, so each *_chdbtest binary opens it once, before its first
// test, in a fresh folder, applies the migrations, and shuts it down after its last test.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "common/ids.h"
#include "storage/traces/trace_store.h"

namespace langfuse::traces::testing {

class ChdbTestEnvironment : public ::testing::Environment {
 public:
  explicit ChdbTestEnvironment(std::string name) : name_(std::move(name)) {}

  void SetUp() override {
    const char* tmp = std::getenv("LANGFUSE_TEST_TMP");
    dir_ = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
           (name_ + "-" + std::to_string(getpid()) + "-" + RandomHex(4));
    std::filesystem::remove_all(dir_);
    const auto start = std::chrono::steady_clock::now();
    auto transport = OpenChdbTransport(dir_.string(), 4);
    ASSERT_TRUE(transport.ok()) << transport.status().message();
    store_ = std::make_unique<TraceStore>(std::move(transport).value());
    const Status migrated = store_->Migrate(&first_applied_);
    ASSERT_TRUE(migrated.ok()) << migrated.message();
    open_ms_ =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  }

  void TearDown() override {
    store_.reset();  // closes every connection; chDB must see none before shutdown
    ShutdownChdb();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const std::filesystem::path& dir() const { return dir_; }
  bool ready() const { return store_ != nullptr && first_applied_ >= 0; }
  //! The store on the engine; null when SetUp failed.
  TraceStore* store() { return store_.get(); }
  ClickHouseTransport& transport() { return store_->transport(); }
  int first_applied() const { return first_applied_; }
  int64_t open_ms() const { return open_ms_; }

 private:
  std::string name_;
  std::filesystem::path dir_;
  std::unique_ptr<TraceStore> store_;
  int first_applied_ = -1;
  int64_t open_ms_ = 0;
};

//! Registers the binary's environment; call once at namespace scope.
inline ChdbTestEnvironment* RegisterChdbTestEnvironment(std::string name) {
  return static_cast<ChdbTestEnvironment*>(
      ::testing::AddGlobalTestEnvironment(new ChdbTestEnvironment(std::move(name))));
}

}  // namespace langfuse::traces::testing
