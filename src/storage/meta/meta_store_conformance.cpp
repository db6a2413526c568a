#include "storage/meta/meta_store_conformance.h"

#include <atomic>
#include <thread>
#include <vector>

#include "common/ids.h"

namespace langfuse::meta {

void MetaStoreConformanceTest::SetUp() {
  if (GetParam().skip_reason) {
    const std::string reason = GetParam().skip_reason();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
  auto opened = GetParam().open();
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  store_ = std::move(opened).value();
  int applied = -1;
  const Status migrated = store_->Migrate(&applied);
  ASSERT_TRUE(migrated.ok()) << migrated.message();
  ASSERT_GT(applied, 0);
}

void MetaStoreConformanceTest::CreateOrgAndProject(const std::string& org_id, const std::string& project_id) {
  ASSERT_TRUE(store_->UpsertOrganization({org_id, "Org " + org_id}).ok());
  Project p;
  p.id = project_id;
  p.org_id = org_id;
  p.name = "Project " + project_id;
  ASSERT_TRUE(store_->UpsertProject(p).ok());
}

ApiKey MetaStoreConformanceTest::MakeKey(const std::string& public_key, const std::string& project_id) {
  ApiKey key;
  key.id = "id-" + public_key;
  key.public_key = public_key;
  key.hashed_secret_key = "slow-" + public_key;
  key.fast_hashed_secret_key = Sha256Hex(public_key);
  key.display_secret_key = "sk-lf-...abcd";
  key.project_id = project_id;
  return key;
}

namespace {

TEST_P(MetaStoreConformanceTest, MigrateTwiceAppliesNothing) {
  int applied = -1;
  ASSERT_TRUE(store_->Migrate(&applied).ok());
  EXPECT_EQ(applied, 0);
  EXPECT_TRUE(store_->Ping().ok());
}

TEST_P(MetaStoreConformanceTest, OrganizationUpsertAndGet) {
  auto missing = store_->GetOrganization("org-1");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(*store_->CountOrganizations(), 0);

  ASSERT_TRUE(store_->UpsertOrganization({"org-1", "First"}).ok());
  auto got = store_->GetOrganization("org-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "First");
  EXPECT_GT((*got)->created_at_ms, 0);  // 0 means "now"
  const int64_t created = (*got)->created_at_ms;

  ASSERT_TRUE(store_->UpsertOrganization({"org-1", "Renamed"}).ok());
  got = store_->GetOrganization("org-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "Renamed");
  EXPECT_EQ((*got)->created_at_ms, created);
  EXPECT_EQ(*store_->CountOrganizations(), 1);

  EXPECT_FALSE(store_->UpsertOrganization({"", "no id"}).ok());
}

TEST_P(MetaStoreConformanceTest, ProjectUpsertGetAndList) {
  ASSERT_TRUE(store_->UpsertOrganization({"org-1", "Org"}).ok());
  Project p;
  p.id = "proj-1";
  p.org_id = "org-1";
  p.name = "One";
  p.created_at_ms = 1700000000000;
  ASSERT_TRUE(store_->UpsertProject(p).ok());
  Project q = p;
  q.id = "proj-2";
  q.name = "Two";
  q.created_at_ms = 1700000000001;
  ASSERT_TRUE(store_->UpsertProject(q).ok());

  auto got = store_->GetProject("proj-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->org_id, "org-1");
  EXPECT_EQ((*got)->name, "One");
  EXPECT_EQ((*got)->created_at_ms, 1700000000000);
  EXPECT_FALSE((*got)->deleted_at_ms.has_value());

  auto listed = store_->ListProjects("org-1");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, "proj-1");
  EXPECT_EQ((*listed)[1].id, "proj-2");

  // Soft delete: still readable by id, gone from the list.
  q.deleted_at_ms = 1700000000500;
  ASSERT_TRUE(store_->UpsertProject(q).ok());
  got = store_->GetProject("proj-2");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->deleted_at_ms, std::optional<int64_t>(1700000000500));
  listed = store_->ListProjects("org-1");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);

  EXPECT_TRUE(store_->ListProjects("org-none")->empty());
  EXPECT_FALSE(store_->GetProject("proj-none")->has_value());
}

TEST_P(MetaStoreConformanceTest, ProjectOfMissingOrganizationIsRejected) {
  Project p;
  p.id = "proj-1";
  p.org_id = "org-none";
  p.name = "Orphan";
  const Status status = store_->UpsertProject(p);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.message();
}

TEST_P(MetaStoreConformanceTest, ApiKeyUpsertAndFind) {
  CreateOrgAndProject("org-1", "proj-1");
  ApiKey key = MakeKey("pk-lf-1", "proj-1");
  key.note = "my note";
  key.expires_at_ms = 1900000000000;
  key.created_at_ms = 1700000000000;
  ASSERT_TRUE(store_->UpsertApiKey(key).ok());

  auto by_hash = store_->FindApiKeyByFastHash(key.fast_hashed_secret_key);
  ASSERT_TRUE(by_hash.ok() && by_hash->has_value());
  const ApiKey& k = **by_hash;
  EXPECT_EQ(k.id, key.id);
  EXPECT_EQ(k.public_key, "pk-lf-1");
  EXPECT_EQ(k.hashed_secret_key, key.hashed_secret_key);
  EXPECT_EQ(k.fast_hashed_secret_key, key.fast_hashed_secret_key);
  EXPECT_EQ(k.display_secret_key, key.display_secret_key);
  EXPECT_EQ(k.note, std::optional<std::string>("my note"));
  EXPECT_EQ(k.scope, "PROJECT");
  EXPECT_EQ(k.project_id, std::optional<std::string>("proj-1"));
  EXPECT_FALSE(k.organization_id.has_value());
  EXPECT_EQ(k.created_at_ms, 1700000000000);
  EXPECT_FALSE(k.last_used_at_ms.has_value());
  EXPECT_EQ(k.expires_at_ms, std::optional<int64_t>(1900000000000));

  auto by_pk = store_->FindApiKeyByPublicKey("pk-lf-1");
  ASSERT_TRUE(by_pk.ok() && by_pk->has_value());
  EXPECT_EQ((*by_pk)->id, key.id);

  EXPECT_FALSE(store_->FindApiKeyByFastHash(Sha256Hex("other"))->has_value());
  EXPECT_FALSE(store_->FindApiKeyByFastHash("")->has_value());
  EXPECT_FALSE(store_->FindApiKeyByPublicKey("pk-lf-none")->has_value());
}

TEST_P(MetaStoreConformanceTest, ApiKeyUpsertReplacesByPublicKey) {
  CreateOrgAndProject("org-1", "proj-1");
  const ApiKey first = MakeKey("pk-lf-1", "proj-1");
  ASSERT_TRUE(store_->UpsertApiKey(first).ok());
  ApiKey second = first;
  second.id = "id-replaced";
  second.hashed_secret_key = "slow-replaced";
  second.fast_hashed_secret_key = Sha256Hex("replaced");
  ASSERT_TRUE(store_->UpsertApiKey(second).ok());

  EXPECT_FALSE(store_->FindApiKeyByFastHash(first.fast_hashed_secret_key)->has_value());
  auto found = store_->FindApiKeyByFastHash(second.fast_hashed_secret_key);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, "id-replaced");
  EXPECT_EQ((*found)->hashed_secret_key, "slow-replaced");
  EXPECT_EQ(store_->ListApiKeys("proj-1")->size(), 1u);
}

TEST_P(MetaStoreConformanceTest, ApiKeyUniqueHashesConflict) {
  CreateOrgAndProject("org-1", "proj-1");
  ASSERT_TRUE(store_->UpsertApiKey(MakeKey("pk-lf-1", "proj-1")).ok());
  ApiKey clash = MakeKey("pk-lf-2", "proj-1");
  clash.fast_hashed_secret_key = Sha256Hex("pk-lf-1");
  EXPECT_EQ(store_->UpsertApiKey(clash).code(), StatusCode::kConflict);
}

TEST_P(MetaStoreConformanceTest, ApiKeyOfMissingProjectIsRejected) {
  EXPECT_EQ(store_->UpsertApiKey(MakeKey("pk-lf-1", "proj-none")).code(), StatusCode::kInvalidArgument);
}

TEST_P(MetaStoreConformanceTest, ApiKeyListByProject) {
  CreateOrgAndProject("org-1", "proj-1");
  CreateOrgAndProject("org-1", "proj-2");
  ApiKey a = MakeKey("pk-lf-a", "proj-1");
  a.created_at_ms = 1000;
  ApiKey b = MakeKey("pk-lf-b", "proj-1");
  b.created_at_ms = 2000;
  ASSERT_TRUE(store_->UpsertApiKey(b).ok());
  ASSERT_TRUE(store_->UpsertApiKey(a).ok());
  ASSERT_TRUE(store_->UpsertApiKey(MakeKey("pk-lf-c", "proj-2")).ok());

  auto listed = store_->ListApiKeys("proj-1");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].public_key, "pk-lf-a");
  EXPECT_EQ((*listed)[1].public_key, "pk-lf-b");
  EXPECT_EQ(store_->ListApiKeys("proj-2")->size(), 1u);
  EXPECT_TRUE(store_->ListApiKeys("proj-none")->empty());
}

TEST_P(MetaStoreConformanceTest, ApiKeyDelete) {
  CreateOrgAndProject("org-1", "proj-1");
  const ApiKey key = MakeKey("pk-lf-1", "proj-1");
  ASSERT_TRUE(store_->UpsertApiKey(key).ok());
  ASSERT_TRUE(store_->DeleteApiKey(key.id).ok());
  EXPECT_FALSE(store_->FindApiKeyByPublicKey("pk-lf-1")->has_value());
  EXPECT_FALSE(store_->FindApiKeyByFastHash(key.fast_hashed_secret_key)->has_value());
  EXPECT_EQ(store_->DeleteApiKey(key.id).code(), StatusCode::kNotFound);
}

TEST_P(MetaStoreConformanceTest, ApiKeyTouch) {
  CreateOrgAndProject("org-1", "proj-1");
  const ApiKey key = MakeKey("pk-lf-1", "proj-1");
  ASSERT_TRUE(store_->UpsertApiKey(key).ok());
  ASSERT_TRUE(store_->TouchApiKey(key.id, 1750000000123).ok());
  auto found = store_->FindApiKeyByPublicKey("pk-lf-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->last_used_at_ms, std::optional<int64_t>(1750000000123));
  EXPECT_TRUE(store_->TouchApiKey("id-none", 1).ok());
}

TEST_P(MetaStoreConformanceTest, ApiKeyFastHashBackfill) {
  CreateOrgAndProject("org-1", "proj-1");
  ApiKey legacy = MakeKey("pk-lf-legacy", "proj-1");
  legacy.fast_hashed_secret_key.clear();  // as Langfuse's pre-fast-hash keys
  ASSERT_TRUE(store_->UpsertApiKey(legacy).ok());
  ApiKey other = MakeKey("pk-lf-other", "proj-1");  // two NULL fast hashes must not clash
  other.fast_hashed_secret_key.clear();
  ASSERT_TRUE(store_->UpsertApiKey(other).ok());
  auto found = store_->FindApiKeyByPublicKey("pk-lf-legacy");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->fast_hashed_secret_key, "");

  const std::string hash = Sha256Hex("backfilled");
  ASSERT_TRUE(store_->SetApiKeyFastHash("pk-lf-legacy", hash).ok());
  found = store_->FindApiKeyByFastHash(hash);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->public_key, "pk-lf-legacy");
  EXPECT_EQ(store_->SetApiKeyFastHash("pk-lf-none", hash).code(), StatusCode::kNotFound);
}

TEST_P(MetaStoreConformanceTest, OrganizationScopedApiKey) {
  ASSERT_TRUE(store_->UpsertOrganization({"org-1", "Org"}).ok());
  ApiKey key = MakeKey("pk-lf-org", "");
  key.project_id.reset();
  key.organization_id = "org-1";
  key.scope = "ORGANIZATION";
  ASSERT_TRUE(store_->UpsertApiKey(key).ok());
  auto found = store_->FindApiKeyByFastHash(key.fast_hashed_secret_key);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->scope, "ORGANIZATION");
  EXPECT_FALSE((*found)->project_id.has_value());
  EXPECT_EQ((*found)->organization_id, std::optional<std::string>("org-1"));
}

TEST_P(MetaStoreConformanceTest, UserUpsertByLowerCasedEmail) {
  User user;
  user.email = "Alice@Example.COM";
  user.name = "Alice";
  user.password = "$argon2id$placeholder";
  ASSERT_TRUE(store_->UpsertUser(user).ok());

  auto found = store_->FindUserByEmail("alice@example.com");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->email, "alice@example.com");
  EXPECT_EQ((*found)->name, std::optional<std::string>("Alice"));
  EXPECT_EQ((*found)->password, std::optional<std::string>("$argon2id$placeholder"));
  EXPECT_FALSE((*found)->admin);
  EXPECT_FALSE((*found)->id.empty());  // generated
  EXPECT_GT((*found)->created_at_ms, 0);
  const std::string id = (*found)->id;

  User again;
  again.id = "ignored-because-email-exists";
  again.email = "ALICE@example.com";
  again.name = "Alice B.";
  again.admin = true;
  ASSERT_TRUE(store_->UpsertUser(again).ok());
  found = store_->FindUserByEmail("aLiCe@EXAMPLE.com");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, id);
  EXPECT_EQ((*found)->name, std::optional<std::string>("Alice B."));
  EXPECT_TRUE((*found)->admin);

  EXPECT_FALSE(store_->FindUserByEmail("bob@example.com")->has_value());
  EXPECT_FALSE(store_->UpsertUser(User{}).ok());
}

TEST_P(MetaStoreConformanceTest, MembershipUpsert) {
  ASSERT_TRUE(store_->UpsertOrganization({"org-1", "Org"}).ok());
  User user;
  user.id = "user-1";
  user.email = "u@example.com";
  ASSERT_TRUE(store_->UpsertUser(user).ok());

  ASSERT_TRUE(store_->UpsertMembership({"", "org-1", "user-1", "MEMBER"}).ok());
  auto listed = store_->ListMemberships("org-1");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].role, "MEMBER");
  EXPECT_FALSE((*listed)[0].id.empty());
  const std::string id = (*listed)[0].id;

  ASSERT_TRUE(store_->UpsertMembership({"", "org-1", "user-1", "OWNER"}).ok());
  listed = store_->ListMemberships("org-1");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].role, "OWNER");
  EXPECT_EQ((*listed)[0].id, id);
  EXPECT_EQ((*listed)[0].user_id, "user-1");

  EXPECT_EQ(store_->UpsertMembership({"", "org-1", "user-1", "KING"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->UpsertMembership({"", "org-1", "user-none", "OWNER"}).code(),
            StatusCode::kInvalidArgument);
}

TEST_P(MetaStoreConformanceTest, ConcurrentCallsFromManyThreads) {
  CreateOrgAndProject("org-1", "proj-1");
  constexpr int kThreads = 4;
  constexpr int kKeysPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeysPerThread; ++i) {
        const ApiKey key = MakeKey("pk-lf-" + std::to_string(t) + "-" + std::to_string(i), "proj-1");
        if (!store_->UpsertApiKey(key).ok()) ++failures;
        auto found = store_->FindApiKeyByFastHash(key.fast_hashed_secret_key);
        if (!found.ok() || !found->has_value() || (*found)->public_key != key.public_key) ++failures;
        if (!store_->TouchApiKey(key.id, 1).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->ListApiKeys("proj-1")->size(), static_cast<size_t>(kThreads * kKeysPerThread));
}

// ---- score configs ------------------------------------------------------------------------------

ScoreConfig NumericConfig(const std::string& id, const std::string& project_id, int64_t created_at_ms) {
  ScoreConfig c;
  c.id = id;
  c.project_id = project_id;
  c.name = "accuracy " + id;
  c.data_type = "NUMERIC";
  c.min_value = 0.1;  // not exactly representable: must survive the round trip bit for bit
  c.max_value = 1e300;
  c.description = "how accurate, \"quoted\" ünicode";
  c.created_at_ms = created_at_ms;
  c.updated_at_ms = created_at_ms;
  return c;
}

TEST_P(MetaStoreConformanceTest, ScoreConfigCreateAndGet) {
  CreateOrgAndProject("org-1", "proj-1");
  auto missing = store_->GetScoreConfig("proj-1", "cfg-1");
  ASSERT_TRUE(missing.ok()) << missing.status().message();
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(store_->CreateScoreConfig(NumericConfig("cfg-1", "proj-1", 1700000000000)).ok());
  auto got = store_->GetScoreConfig("proj-1", "cfg-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  const ScoreConfig& c = **got;
  EXPECT_EQ(c.id, "cfg-1");
  EXPECT_EQ(c.project_id, "proj-1");
  EXPECT_EQ(c.name, "accuracy cfg-1");
  EXPECT_EQ(c.data_type, "NUMERIC");
  EXPECT_FALSE(c.is_archived);
  EXPECT_EQ(c.min_value, std::optional<double>(0.1));
  EXPECT_EQ(c.max_value, std::optional<double>(1e300));
  EXPECT_FALSE(c.categories.has_value());
  EXPECT_EQ(c.description, std::optional<std::string>("how accurate, \"quoted\" ünicode"));
  EXPECT_EQ(c.created_at_ms, 1700000000000);
  EXPECT_EQ(c.updated_at_ms, 1700000000000);

  ScoreConfig categorical;
  categorical.id = "cfg-2";
  categorical.project_id = "proj-1";
  categorical.name = "tone";
  categorical.data_type = "CATEGORICAL";
  categorical.categories = R"([{"label":"good","value":1},{"label":"bad","value":-2.5}])";
  ASSERT_TRUE(store_->CreateScoreConfig(categorical).ok());
  got = store_->GetScoreConfig("proj-1", "cfg-2");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->categories, categorical.categories);
  EXPECT_FALSE((*got)->min_value.has_value());
  EXPECT_FALSE((*got)->max_value.has_value());
  EXPECT_FALSE((*got)->description.has_value());
  EXPECT_GT((*got)->created_at_ms, 0);  // 0 means "now"
  EXPECT_EQ((*got)->updated_at_ms, (*got)->created_at_ms);
}

TEST_P(MetaStoreConformanceTest, ScoreConfigBelongsToItsProject) {
  CreateOrgAndProject("org-1", "proj-1");
  CreateOrgAndProject("org-2", "proj-2");
  ASSERT_TRUE(store_->CreateScoreConfig(NumericConfig("cfg-1", "proj-1", 0)).ok());
  auto other = store_->GetScoreConfig("proj-2", "cfg-1");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  EXPECT_EQ(*store_->CountScoreConfigs("proj-2"), 0);
  EXPECT_TRUE(store_->ListScoreConfigs("proj-2", 10, 0)->empty());

  ScoreConfig update = NumericConfig("cfg-1", "proj-2", 0);
  EXPECT_EQ(store_->UpdateScoreConfig(update).code(), StatusCode::kNotFound);
  EXPECT_EQ((*store_->GetScoreConfig("proj-1", "cfg-1"))->name, "accuracy cfg-1");
}

TEST_P(MetaStoreConformanceTest, ScoreConfigConstraints) {
  CreateOrgAndProject("org-1", "proj-1");
  ASSERT_TRUE(store_->CreateScoreConfig(NumericConfig("cfg-1", "proj-1", 0)).ok());
  EXPECT_EQ(store_->CreateScoreConfig(NumericConfig("cfg-1", "proj-1", 0)).code(), StatusCode::kConflict);
  EXPECT_EQ(store_->CreateScoreConfig(NumericConfig("cfg-2", "proj-none", 0)).code(),
            StatusCode::kInvalidArgument);
  ScoreConfig bad_type = NumericConfig("cfg-3", "proj-1", 0);
  bad_type.data_type = "CORRECTION";
  EXPECT_EQ(store_->CreateScoreConfig(bad_type).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateScoreConfig(NumericConfig("", "proj-1", 0)).code(), StatusCode::kInvalidArgument);
}

TEST_P(MetaStoreConformanceTest, ScoreConfigListPagesNewestFirst) {
  CreateOrgAndProject("org-1", "proj-1");
  // Two share a created_at: ties are ordered by id.
  ASSERT_TRUE(store_->CreateScoreConfig(NumericConfig("cfg-a", "proj-1", 1000)).ok());
  ASSERT_TRUE(store_->CreateScoreConfig(NumericConfig("cfg-c", "proj-1", 3000)).ok());
  ASSERT_TRUE(store_->CreateScoreConfig(NumericConfig("cfg-b2", "proj-1", 2000)).ok());
  ASSERT_TRUE(store_->CreateScoreConfig(NumericConfig("cfg-b1", "proj-1", 2000)).ok());
  EXPECT_EQ(*store_->CountScoreConfigs("proj-1"), 4);

  auto ids = [](const StatusOr<std::vector<ScoreConfig>>& list) {
    std::vector<std::string> out;
    if (list.ok()) {
      for (const ScoreConfig& c : *list) out.push_back(c.id);
    }
    return out;
  };
  EXPECT_EQ(ids(store_->ListScoreConfigs("proj-1", 10, 0)),
            (std::vector<std::string>{"cfg-c", "cfg-b1", "cfg-b2", "cfg-a"}));
  EXPECT_EQ(ids(store_->ListScoreConfigs("proj-1", 2, 0)), (std::vector<std::string>{"cfg-c", "cfg-b1"}));
  EXPECT_EQ(ids(store_->ListScoreConfigs("proj-1", 2, 2)), (std::vector<std::string>{"cfg-b2", "cfg-a"}));
  EXPECT_TRUE(ids(store_->ListScoreConfigs("proj-1", 2, 4)).empty());
}

TEST_P(MetaStoreConformanceTest, ScoreConfigUpdate) {
  CreateOrgAndProject("org-1", "proj-1");
  ASSERT_TRUE(store_->CreateScoreConfig(NumericConfig("cfg-1", "proj-1", 1000)).ok());
  ScoreConfig c = **store_->GetScoreConfig("proj-1", "cfg-1");
  c.name = "renamed";
  c.is_archived = true;
  c.min_value = std::nullopt;
  c.max_value = -3.25;
  c.description = std::nullopt;
  c.updated_at_ms = 5000;
  c.created_at_ms = 9999;  // not updatable
  ASSERT_TRUE(store_->UpdateScoreConfig(c).ok());
  const ScoreConfig got = **store_->GetScoreConfig("proj-1", "cfg-1");
  EXPECT_EQ(got.name, "renamed");
  EXPECT_TRUE(got.is_archived);
  EXPECT_FALSE(got.min_value.has_value());
  EXPECT_EQ(got.max_value, std::optional<double>(-3.25));
  EXPECT_FALSE(got.description.has_value());
  EXPECT_EQ(got.created_at_ms, 1000);
  EXPECT_EQ(got.updated_at_ms, 5000);

  c.updated_at_ms = 0;  // now
  ASSERT_TRUE(store_->UpdateScoreConfig(c).ok());
  EXPECT_GT((*store_->GetScoreConfig("proj-1", "cfg-1"))->updated_at_ms, 5000);

  c.id = "cfg-missing";
  EXPECT_EQ(store_->UpdateScoreConfig(c).code(), StatusCode::kNotFound);
}

TEST_P(MetaStoreConformanceTest, ScoreConfigIdsAreUniqueAcrossProjects) {
  // The id is the primary key, as in Langfuse: another project cannot take it over.
  CreateOrgAndProject("org-1", "proj-1");
  ASSERT_TRUE(store_->CreateScoreConfig(NumericConfig("cfg-1", "proj-1", 0)).ok());
  CreateOrgAndProject("org-2", "proj-2");
  EXPECT_EQ(store_->CreateScoreConfig(NumericConfig("cfg-1", "proj-2", 0)).code(), StatusCode::kConflict);
}

}  // namespace
}  // namespace langfuse::meta
