#pragma once

// Test helpers for src/auth: a migrated SQLite store in a fresh file and a MetaStore wrapper that
// counts calls (to prove the cache answers) and can simulate an unavailable database.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/ids.h"
#include "storage/meta/meta_store.h"

namespace langfuse::auth::testing {

//! Deletes the database files this test process created once all its tests ran (each ctest
//! entry is its own process, so concurrent tests never lose their files).
class TempDbCleanup : public ::testing::Environment {
 public:
  static std::vector<std::string>& Paths() {
    static std::vector<std::string> paths;
    return paths;
  }
  void TearDown() override {
    for (const std::string& path : Paths()) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
  }
};
inline ::testing::Environment* const kTempDbCleanup = ::testing::AddGlobalTestEnvironment(new TempDbCleanup);

inline std::unique_ptr<meta::MetaStore> OpenMigratedTempStore() {
  const char* root = std::getenv("LANGFUSE_TEST_TMP");
  std::filesystem::path dir = (root != nullptr && *root != '\0') ? root : "/tmp";
  dir /= "auth";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / ("auth-" + NewUuidV4() + ".db")).string();
  TempDbCleanup::Paths().push_back(path);
  auto store = meta::OpenSqliteMetaStore(path);
  EXPECT_TRUE(store.ok()) << store.status().message();
  if (!store.ok()) return nullptr;
  int applied = 0;
  const Status migrated = (*store)->Migrate(&applied);
  EXPECT_TRUE(migrated.ok()) << migrated.message();
  return std::move(store).value();
}

//! Forwards to `inner`, counting every call; `fail` makes every call answer kUnavailable.
class CountingMetaStore final : public meta::MetaStore {
 public:
  explicit CountingMetaStore(meta::MetaStore& inner) : inner_(inner) {}

  std::atomic<int> calls{0};
  std::atomic<int> set_fast_hash_calls{0};
  std::atomic<bool> fail{false};
  //! Runs at the start of every call when set (set it before calls start).
  std::function<void()> before_call;

  Status Migrate(int* applied) override { return Count() ? Down() : inner_.Migrate(applied); }
  Status Ping() override { return Count() ? Down() : inner_.Ping(); }
  Status UpsertOrganization(const meta::Organization& o) override {
    return Count() ? Down() : inner_.UpsertOrganization(o);
  }
  StatusOr<std::optional<meta::Organization>> GetOrganization(const std::string& id) override {
    if (Count()) return Down();
    return inner_.GetOrganization(id);
  }
  StatusOr<int64_t> CountOrganizations() override {
    if (Count()) return Down();
    return inner_.CountOrganizations();
  }
  Status UpsertProject(const meta::Project& p) override { return Count() ? Down() : inner_.UpsertProject(p); }
  StatusOr<std::optional<meta::Project>> GetProject(const std::string& id) override {
    if (Count()) return Down();
    return inner_.GetProject(id);
  }
  StatusOr<std::vector<meta::Project>> ListProjects(const std::string& org_id) override {
    if (Count()) return Down();
    return inner_.ListProjects(org_id);
  }
  Status UpsertApiKey(const meta::ApiKey& k) override { return Count() ? Down() : inner_.UpsertApiKey(k); }
  StatusOr<std::optional<meta::ApiKey>> FindApiKeyByFastHash(const std::string& h) override {
    if (Count()) return Down();
    return inner_.FindApiKeyByFastHash(h);
  }
  StatusOr<std::optional<meta::ApiKey>> FindApiKeyByPublicKey(const std::string& pk) override {
    if (Count()) return Down();
    return inner_.FindApiKeyByPublicKey(pk);
  }
  StatusOr<std::vector<meta::ApiKey>> ListApiKeys(const std::string& project_id) override {
    if (Count()) return Down();
    return inner_.ListApiKeys(project_id);
  }
  Status DeleteApiKey(const std::string& id) override { return Count() ? Down() : inner_.DeleteApiKey(id); }
  Status TouchApiKey(const std::string& id, int64_t ms) override {
    return Count() ? Down() : inner_.TouchApiKey(id, ms);
  }
  Status SetApiKeyFastHash(const std::string& pk, const std::string& h) override {
    ++set_fast_hash_calls;
    return Count() ? Down() : inner_.SetApiKeyFastHash(pk, h);
  }
  Status UpsertUser(const meta::User& u) override { return Count() ? Down() : inner_.UpsertUser(u); }
  StatusOr<std::optional<meta::User>> FindUserByEmail(const std::string& e) override {
    if (Count()) return Down();
    return inner_.FindUserByEmail(e);
  }
  Status UpsertMembership(const meta::OrganizationMembership& m) override {
    return Count() ? Down() : inner_.UpsertMembership(m);
  }
  StatusOr<std::vector<meta::OrganizationMembership>> ListMemberships(const std::string& org_id) override {
    if (Count()) return Down();
    return inner_.ListMemberships(org_id);
  }

 private:
  // Counts the call; true when the call must fail.
  bool Count() {
    ++calls;
    if (before_call) before_call();
    return fail.load();
  }
  static Status Down() { return Status::Unavailable("meta store down (test)"); }

  meta::MetaStore& inner_;
};

}  // namespace langfuse::auth::testing
