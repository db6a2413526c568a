#include "storage/meta/meta_store_conformance.h"

#include <atomic>
#include <map>
#include <optional>
#include <string>
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

// Web UI accounts
TEST_P(MetaStoreConformanceTest, WebUiUserCreateAndGet) {
  User user;
  user.email = "Carol@Example.com";
  user.name = "Carol";
  user.password = "$argon2id$placeholder";
  ASSERT_TRUE(store_->CreateUser(user).ok());
  auto by_email = store_->FindUserByEmail("carol@example.com");
  ASSERT_TRUE(by_email.ok() && by_email->has_value());
  const std::string id = (*by_email)->id;
  EXPECT_FALSE(id.empty());

  auto by_id = store_->GetUser(id);
  ASSERT_TRUE(by_id.ok() && by_id->has_value());
  EXPECT_EQ((*by_id)->email, "carol@example.com");
  EXPECT_EQ((*by_id)->name, std::optional<std::string>("Carol"));
  EXPECT_EQ((*by_id)->password, std::optional<std::string>("$argon2id$placeholder"));
  EXPECT_FALSE(store_->GetUser("no-such-user")->has_value());

  // A taken email (any case) is a conflict and changes nothing.
  User again;
  again.email = "CAROL@example.com";
  again.name = "Mallory";
  again.password = "other";
  EXPECT_EQ(store_->CreateUser(again).code(), StatusCode::kConflict);
  by_id = store_->GetUser(id);
  ASSERT_TRUE(by_id.ok() && by_id->has_value());
  EXPECT_EQ((*by_id)->name, std::optional<std::string>("Carol"));
  EXPECT_EQ((*by_id)->password, std::optional<std::string>("$argon2id$placeholder"));
  EXPECT_EQ(store_->CreateUser(User{}).code(), StatusCode::kInvalidArgument);
}

TEST_P(MetaStoreConformanceTest, WebUiMembershipsOfUserAndDelete) {
  ASSERT_TRUE(store_->UpsertOrganization({"org-a", "A"}).ok());
  ASSERT_TRUE(store_->UpsertOrganization({"org-b", "B"}).ok());
  User u1;
  u1.id = "user-1";
  u1.email = "one@example.com";
  ASSERT_TRUE(store_->CreateUser(u1).ok());
  User u2;
  u2.id = "user-2";
  u2.email = "two@example.com";
  ASSERT_TRUE(store_->CreateUser(u2).ok());
  ASSERT_TRUE(store_->UpsertMembership({"", "org-a", "user-1", "OWNER"}).ok());
  ASSERT_TRUE(store_->UpsertMembership({"", "org-b", "user-1", "VIEWER"}).ok());
  ASSERT_TRUE(store_->UpsertMembership({"", "org-a", "user-2", "MEMBER"}).ok());

  auto mine = store_->ListMembershipsForUser("user-1");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  std::map<std::string, std::string> roles;
  for (const auto& m : *mine) {
    EXPECT_EQ(m.user_id, "user-1");
    roles[m.org_id] = m.role;
  }
  EXPECT_EQ(roles["org-a"], "OWNER");
  EXPECT_EQ(roles["org-b"], "VIEWER");
  EXPECT_TRUE(store_->ListMembershipsForUser("nobody")->empty());

  ASSERT_TRUE(store_->DeleteMembership("org-a", "user-2").ok());
  EXPECT_EQ(store_->DeleteMembership("org-a", "user-2").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteMembership("org-b", "user-2").code(), StatusCode::kNotFound);
  auto org_a = store_->ListMemberships("org-a");
  ASSERT_TRUE(org_a.ok());
  ASSERT_EQ(org_a->size(), 1u);
  EXPECT_EQ((*org_a)[0].user_id, "user-1");
  EXPECT_TRUE(store_->ListMembershipsForUser("user-2")->empty());
}

TEST_P(MetaStoreConformanceTest, WebUiApiKeyById) {
  CreateOrgAndProject("org-1", "proj-1");
  ApiKey key = MakeKey("pk-lf-byid", "proj-1");
  key.note = "for the UI";
  ASSERT_TRUE(store_->UpsertApiKey(key).ok());
  auto found = store_->GetApiKey(key.id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->public_key, "pk-lf-byid");
  EXPECT_EQ((*found)->project_id, std::optional<std::string>("proj-1"));
  EXPECT_EQ((*found)->note, std::optional<std::string>("for the UI"));
  EXPECT_FALSE(store_->GetApiKey("no-such-key")->has_value());
  ASSERT_TRUE(store_->DeleteApiKey(key.id).ok());
  EXPECT_FALSE(store_->GetApiKey(key.id)->has_value());
}
// End of web UI accounts

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

// Prompts, datasets, models

TEST_P(MetaStoreConformanceTest, ProjectMembershipUpsertAndList) {
  CreateOrgAndProject("org-1", "proj-1");
  ASSERT_TRUE(store_->UpsertUser({"user-1", "a@example.com"}).ok());
  ASSERT_TRUE(store_->UpsertMembership({"om-1", "org-1", "user-1", "MEMBER"}).ok());
  ProjectMembership pm{"om-1", "proj-1", "user-1", "VIEWER", 1000, 2000};
  ASSERT_TRUE(store_->UpsertProjectMembership(pm).ok());
  pm.role = "ADMIN";  // same (project, user): replaced
  ASSERT_TRUE(store_->UpsertProjectMembership(pm).ok());
  auto listed = store_->ListProjectMemberships("proj-1");
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front(), pm);
  EXPECT_EQ(store_->UpsertProjectMembership({"om-1", "proj-1", "user-1", "GOD"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->UpsertProjectMembership({"om-1", "proj-missing", "user-1", "ADMIN"}).code(),
            StatusCode::kInvalidArgument);
}

Prompt MakePrompt(const std::string& id, const std::string& project_id, const std::string& name,
                  int32_t version) {
  Prompt p;
  p.id = id;
  p.project_id = project_id;
  p.name = name;
  p.version = version;
  p.prompt = "\"Hello {{name}}, version " + std::to_string(version) + "\"";
  p.config = "{\"temperature\": 0.2}";
  p.created_by = "API";
  p.created_at_ms = 1700000000000 + version;
  p.updated_at_ms = 1700000000500 + version;
  return p;
}

TEST_P(MetaStoreConformanceTest, PromptUpsertGetAndList) {
  CreateOrgAndProject("org-1", "proj-1");
  Prompt v1 = MakePrompt("p-1", "proj-1", "greet", 1);
  v1.tags = {"a", "with \"quote\""};
  Prompt v2 = MakePrompt("p-2", "proj-1", "greet", 2);
  v2.labels = {"production", "latest"};
  v2.commit_message = "second";
  Prompt chat = MakePrompt("p-3", "proj-1", "chatty", 1);
  chat.type = "chat";
  chat.prompt = R"([{"role": "system", "content": "Be brief"}, {"role": "user", "content": "{{q}}"}])";
  chat.labels = {"staging"};
  for (const Prompt& p : {v2, v1, chat}) ASSERT_TRUE(store_->UpsertPrompt(p).ok()) << p.id;

  auto got = store_->GetPrompt("proj-1", "p-3");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().message();
  EXPECT_EQ(**got, chat);  // JSON text verbatim, labels in order
  EXPECT_FALSE(store_->GetPrompt("proj-other", "p-3")->has_value());

  auto versions = store_->ListPrompts("proj-1", "greet");
  ASSERT_TRUE(versions.ok()) << versions.status().message();
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0], v1);
  EXPECT_EQ((*versions)[1], v2);
  EXPECT_EQ(store_->ListPrompts("proj-1", "")->size(), 3u);

  // Upsert by id replaces every column.
  v1.labels = {"production"};
  v1.config = "{}";
  v1.updated_at_ms += 1;
  ASSERT_TRUE(store_->UpsertPrompt(v1).ok());
  EXPECT_EQ(**store_->GetPrompt("proj-1", "p-1"), v1);
  EXPECT_EQ(*store_->CountRows("prompts"), 3);

  // Another id for an existing (project, name, version), a bad type, a missing project.
  EXPECT_EQ(store_->UpsertPrompt(MakePrompt("p-9", "proj-1", "greet", 2)).code(), StatusCode::kConflict);
  Prompt bad = MakePrompt("p-10", "proj-1", "other", 1);
  bad.type = "image";
  EXPECT_EQ(store_->UpsertPrompt(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->UpsertPrompt(MakePrompt("p-11", "proj-missing", "x", 1)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->CountRows("prompts"), 3);
}

TEST_P(MetaStoreConformanceTest, DatasetsItemsRunsAndRunItems) {
  CreateOrgAndProject("org-1", "proj-1");
  CreateOrgAndProject("org-2", "proj-2");
  Dataset d{"ds-1",       "proj-1",     "qa", "questions", R"({"owner": "team"})",
            std::nullopt, std::nullopt, 1000, 2000};
  ASSERT_TRUE(store_->UpsertDataset(d).ok());
  // The primary key is (id, project_id), as in Langfuse: another project may use the same id.
  Dataset other{
      "ds-1", "proj-2", "qa", std::nullopt, std::nullopt, "https://x.example/run", R"({"k": [1, 2]})",
      1000,   2000};
  ASSERT_TRUE(store_->UpsertDataset(other).ok());
  EXPECT_EQ(**store_->GetDataset("proj-1", "ds-1"), d);
  EXPECT_EQ(**store_->GetDataset("proj-2", "ds-1"), other);
  EXPECT_EQ(store_->UpsertDataset({"ds-2", "proj-1", "qa"}).code(), StatusCode::kConflict);  // name taken
  d.description = std::nullopt;
  ASSERT_TRUE(store_->UpsertDataset(d).ok());
  ASSERT_EQ(store_->ListDatasets("proj-1")->size(), 1u);
  EXPECT_EQ(store_->ListDatasets("proj-1")->front(), d);

  for (int i = 0; i < 5; ++i) {
    DatasetItem item;
    item.id = "item-" + std::to_string(i);
    item.project_id = "proj-1";
    item.dataset_id = "ds-1";
    item.status = i == 4 ? "ARCHIVED" : "ACTIVE";
    item.input = R"({"q": )" + std::to_string(i) + "}";
    item.expected_output = i % 2 == 0 ? std::optional<std::string>("\"yes\"") : std::nullopt;
    item.source_trace_id = "trace-" + std::to_string(i);
    item.created_at_ms = 10000 + i * 10;
    item.updated_at_ms = 20000;
    ASSERT_TRUE(store_->UpsertDatasetItem(item).ok()) << item.id;
  }
  auto page = store_->ListDatasetItems("proj-1", "ds-1", 2, 1);  // newest first
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, "item-3");
  EXPECT_EQ((*page)[1].id, "item-2");
  auto archived = store_->GetDatasetItem("proj-1", "item-4");
  ASSERT_TRUE(archived.ok() && archived->has_value());
  EXPECT_EQ((*archived)->status, "ARCHIVED");
  EXPECT_EQ((*archived)->input, R"({"q": 4})");
  EXPECT_FALSE(store_->GetDatasetItem("proj-2", "item-4")->has_value());
  DatasetItem orphan{"item-x", "proj-1", "ds-missing"};
  EXPECT_EQ(store_->UpsertDatasetItem(orphan).code(), StatusCode::kInvalidArgument);
  DatasetItem bad_status{"item-y", "proj-1", "ds-1", "DELETED"};
  EXPECT_EQ(store_->UpsertDatasetItem(bad_status).code(), StatusCode::kInvalidArgument);

  DatasetRun run{"run-1", "proj-1", "ds-1", "baseline", "first", R"({"model": "m"})", 3000, 4000};
  ASSERT_TRUE(store_->UpsertDatasetRun(run).ok());
  EXPECT_EQ(store_->UpsertDatasetRun({"run-2", "proj-1", "ds-1", "baseline"}).code(), StatusCode::kConflict);
  EXPECT_EQ(**store_->GetDatasetRun("proj-1", "run-1"), run);
  ASSERT_EQ(store_->ListDatasetRuns("proj-1", "ds-1")->size(), 1u);

  DatasetRunItem ri{"ri-1", "proj-1", "run-1", "item-0", "trace-0", "obs-0", 5000, 6000};
  DatasetRunItem ri2{"ri-2", "proj-1", "run-1", "item-1", "trace-1", std::nullopt, 5001, 6000};
  ASSERT_TRUE(store_->UpsertDatasetRunItem(ri2).ok());
  ASSERT_TRUE(store_->UpsertDatasetRunItem(ri).ok());
  ASSERT_TRUE(store_->UpsertDatasetRunItem(ri).ok());  // idempotent
  auto run_items = store_->ListDatasetRunItems("proj-1", "run-1");
  ASSERT_TRUE(run_items.ok()) << run_items.status().message();
  ASSERT_EQ(run_items->size(), 2u);
  EXPECT_EQ((*run_items)[0], ri);
  EXPECT_EQ((*run_items)[1], ri2);
  EXPECT_EQ(**store_->GetDatasetRunItem("proj-1", "ri-2"), ri2);
  EXPECT_FALSE(store_->GetDatasetRunItem("proj-2", "ri-2")->has_value());
  EXPECT_EQ(store_->UpsertDatasetRunItem({"ri-3", "proj-1", "run-missing", "item-0", "t"}).code(),
            StatusCode::kInvalidArgument);

  EXPECT_EQ(*store_->CountRows("datasets"), 2);
  EXPECT_EQ(*store_->CountRows("dataset_items"), 5);
  EXPECT_EQ(*store_->CountRows("dataset_runs"), 1);
  EXPECT_EQ(*store_->CountRows("dataset_run_items"), 2);
}

TEST_P(MetaStoreConformanceTest, ModelsAndPrices) {
  CreateOrgAndProject("org-1", "proj-1");
  CreateOrgAndProject("org-2", "proj-2");
  Model builtin;
  builtin.id = "m-builtin";
  builtin.model_name = "gpt-4o";
  builtin.match_pattern = "(?i)^(gpt-4o)$";
  builtin.start_date_ms = 1714000000000;
  builtin.unit = "TOKENS";
  builtin.tokenizer_id = "openai";
  builtin.tokenizer_config = R"({"tokenizerModel": "gpt-4o"})";
  builtin.created_at_ms = 1000;
  builtin.updated_at_ms = 1000;
  Model own;
  own.id = "m-own";
  own.project_id = "proj-1";
  own.model_name = "my-model";
  own.match_pattern = "^my-model$";
  own.input_price = "0.0000020";  // trailing zero trimmed by the store
  own.output_price = "12";
  own.created_at_ms = 2000;
  own.updated_at_ms = 2000;
  Model foreign = own;
  foreign.id = "m-foreign";
  foreign.project_id = "proj-2";
  for (const Model& m : {builtin, own, foreign}) ASSERT_TRUE(store_->UpsertModel(m).ok()) << m.id;

  own.input_price = "0.000002";
  EXPECT_EQ(**store_->GetModel("m-own"), own);
  EXPECT_EQ(**store_->GetModel("m-builtin"), builtin);
  auto listed = store_->ListModels("proj-1");
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 2u);  // built-in and own, not proj-2's
  EXPECT_EQ((*listed)[0].id, "m-builtin");
  EXPECT_EQ((*listed)[1].id, "m-own");

  Price input{"pr-1", "m-own", "proj-1", "input", "0.00000200", 3000, 3000};
  Price output{"pr-2", "m-own", "proj-1", "output", "12.5", 3000, 3000};
  ASSERT_TRUE(store_->UpsertPrice(input).ok());
  ASSERT_TRUE(store_->UpsertPrice(output).ok());
  ASSERT_TRUE(store_->UpsertPrice(output).ok());
  auto prices = store_->ListPrices("m-own");
  ASSERT_TRUE(prices.ok()) << prices.status().message();
  ASSERT_EQ(prices->size(), 2u);
  input.price = "0.000002";
  EXPECT_EQ((*prices)[0], input);
  EXPECT_EQ((*prices)[1], output);
  EXPECT_EQ(store_->UpsertPrice({"pr-3", "m-own", "proj-1", "input", "1"}).code(), StatusCode::kConflict);
  EXPECT_EQ(store_->UpsertPrice({"pr-4", "m-missing", std::nullopt, "input", "1"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->CountRows("models"), 3);
  EXPECT_EQ(*store_->CountRows("prices"), 2);
  EXPECT_EQ(store_->CountRows("sqlite_master").status().code(), StatusCode::kInvalidArgument);
}

// End of prompts, datasets, models

// v2 import progress and lease

TEST_P(MetaStoreConformanceTest, ImportProgressSaveAndList) {
  auto empty = store_->ListImportProgress();
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE(empty->empty());

  ImportProgress traces;
  traces.table = "traces";
  traces.source = "7311/langfuse/public";
  traces.cursor_created_at = "2024-05-01 10:00:00.123";
  traces.cursor_id = "trace-'quoted'-ü";
  traces.rows_done = 1'500'000'000'000;  // beyond 32 bits
  traces.rows_total = 2'000'000'000'000;
  traces.updated_at_ms = 1'700'000'000'123;
  ImportProgress scores;
  scores.table = "scores";
  scores.source = traces.source;
  scores.finished = true;
  scores.updated_at_ms = 1'700'000'000'456;
  // Listed by table name, whatever the order of saving.
  ASSERT_TRUE(store_->SaveImportProgress(traces).ok());
  ASSERT_TRUE(store_->SaveImportProgress(scores).ok());
  auto listed = store_->ListImportProgress();
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 2u);
  const ImportProgress& s = (*listed)[0];
  const ImportProgress& t = (*listed)[1];
  EXPECT_EQ(s.table, "scores");
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(s.cursor_id, "");
  EXPECT_EQ(s.updated_at_ms, scores.updated_at_ms);
  EXPECT_EQ(t.table, "traces");
  EXPECT_EQ(t.source, traces.source);
  EXPECT_EQ(t.cursor_created_at, traces.cursor_created_at);
  EXPECT_EQ(t.cursor_id, traces.cursor_id);
  EXPECT_EQ(t.rows_done, traces.rows_done);
  EXPECT_EQ(t.rows_total, traces.rows_total);
  EXPECT_FALSE(t.finished);
  EXPECT_EQ(t.owner, "");
  EXPECT_EQ(t.updated_at_ms, traces.updated_at_ms);

  // Saving again replaces the row (the cursor moves on); 0 as updated_at means now.
  traces.cursor_id = "trace-older";
  traces.rows_done += 5000;
  traces.finished = true;
  traces.updated_at_ms = 0;
  ASSERT_TRUE(store_->SaveImportProgress(traces).ok());
  listed = store_->ListImportProgress();
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[1].cursor_id, "trace-older");
  EXPECT_EQ((*listed)[1].rows_done, traces.rows_done);
  EXPECT_TRUE((*listed)[1].finished);
  EXPECT_GT((*listed)[1].updated_at_ms, 1'700'000'000'456);

  ImportProgress nameless = scores;
  nameless.table = "";
  EXPECT_EQ(store_->SaveImportProgress(nameless).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListImportProgress()->size(), 2u);
}

// The lease row shows who holds the lease; progress rows never carry an owner.
std::optional<ImportProgress> LeaseRow(MetaStore& store) {
  auto rows = store.ListImportProgress();
  if (!rows.ok()) return std::nullopt;
  for (const ImportProgress& p : *rows) {
    if (p.table == kImportLeaseRow) return p;
  }
  return std::nullopt;
}

constexpr int64_t kStaleMs = 60'000;

TEST_P(MetaStoreConformanceTest, ImportLeaseAcquireRenewAndRelease) {
  const int64_t t0 = 1'700'000'000'000;
  auto a = store_->AcquireImportLease("worker-a", "", t0, kStaleMs);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->table, kImportLeaseRow);
  EXPECT_EQ(a->owner, "worker-a");
  EXPECT_EQ(a->heartbeat_at_ms, t0);

  // Another owner is refused while the heartbeat is fresh, and is told who holds it.
  auto b = store_->AcquireImportLease("worker-b", "", t0 + kStaleMs - 1, kStaleMs);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->owner, "worker-a");
  EXPECT_EQ(b->heartbeat_at_ms, t0);

  // The holder renews: the heartbeat moves on, so the lease stays fresh beyond the first TTL.
  auto renewed = store_->AcquireImportLease("worker-a", "", t0 + 50'000, kStaleMs);
  ASSERT_TRUE(renewed.ok()) << renewed.status().message();
  EXPECT_EQ(renewed->owner, "worker-a");
  EXPECT_EQ(renewed->heartbeat_at_ms, t0 + 50'000);
  b = store_->AcquireImportLease("worker-b", "", t0 + 100'000, kStaleMs);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->owner, "worker-a");
  EXPECT_EQ(LeaseRow(*store_)->heartbeat_at_ms, t0 + 50'000);

  // Saving progress leaves the lease alone.
  ImportProgress traces;
  traces.table = "traces";
  traces.source = "src";
  traces.cursor_id = "t-9";
  ASSERT_TRUE(store_->SaveImportProgress(traces).ok());
  EXPECT_EQ(LeaseRow(*store_)->owner, "worker-a");

  // Only the holder releases it; afterwards anyone takes it at once.
  ASSERT_TRUE(store_->ReleaseImportLease("worker-b").ok());
  EXPECT_EQ(LeaseRow(*store_)->owner, "worker-a");
  ASSERT_TRUE(store_->ReleaseImportLease("worker-a").ok());
  EXPECT_EQ(LeaseRow(*store_)->owner, "");
  b = store_->AcquireImportLease("worker-b", "", t0 + 100'001, kStaleMs);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->owner, "worker-b");
  EXPECT_EQ(b->heartbeat_at_ms, t0 + 100'001);

  // The progress row is untouched by the lease's comings and goings.
  auto rows = store_->ListImportProgress();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);  // "@lease" sorts before "traces"
  EXPECT_EQ((*rows)[0].table, kImportLeaseRow);
  EXPECT_EQ((*rows)[1].cursor_id, "t-9");
  EXPECT_EQ((*rows)[1].owner, "");

  EXPECT_EQ(store_->AcquireImportLease("", "", t0, kStaleMs).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LeaseRow(*store_)->owner, "worker-b");
}

TEST_P(MetaStoreConformanceTest, ImportLeaseStaleOrDeadHolderIsReplaced) {
  const int64_t t0 = 1'700'000'000'000;
  ASSERT_EQ(store_->AcquireImportLease("worker-a", "", t0, kStaleMs)->owner, "worker-a");
  // Exactly stale_after_ms old is still fresh; one millisecond more and it is stale.
  EXPECT_EQ(store_->AcquireImportLease("worker-b", "", t0 + kStaleMs, kStaleMs)->owner, "worker-a");
  auto stolen = store_->AcquireImportLease("worker-b", "", t0 + kStaleMs + 1, kStaleMs);
  ASSERT_TRUE(stolen.ok()) << stolen.status().message();
  EXPECT_EQ(stolen->owner, "worker-b");
  EXPECT_EQ(stolen->heartbeat_at_ms, t0 + kStaleMs + 1);

  // The old holder's next heartbeat finds the lease gone and does not take it back.
  auto late = store_->AcquireImportLease("worker-a", "", t0 + kStaleMs + 2, kStaleMs);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->owner, "worker-b");
  ASSERT_TRUE(store_->ReleaseImportLease("worker-a").ok());  // no effect: not the holder
  EXPECT_EQ(LeaseRow(*store_)->owner, "worker-b");

  // A holder the caller knows is dead is replaced at once, fresh heartbeat or not; naming
  // someone else as dead does not.
  const int64_t t1 = t0 + kStaleMs + 10;
  EXPECT_EQ(store_->AcquireImportLease("worker-c", "worker-x", t1, kStaleMs)->owner, "worker-b");
  auto replaced = store_->AcquireImportLease("worker-c", "worker-b", t1, kStaleMs);
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->owner, "worker-c");
  EXPECT_EQ(replaced->heartbeat_at_ms, t1);
}

TEST_P(MetaStoreConformanceTest, ImportLeaseIsGrantedToOneOfManyRacingOwners) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  int64_t now = 1'700'000'000'000;
  for (int round = 0; round < kRounds; ++round) {
    // Odd rounds race for a lease whose holder's heartbeat went stale, even ones for a free one.
    if (round % 2 == 1) {
      ASSERT_EQ(store_->AcquireImportLease("stale-holder", "", now, kStaleMs)->owner, "stale-holder");
      now += kStaleMs + 1;
    }
    std::atomic<int> ready{0};
    std::vector<std::string> answered(kThreads);
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();
        auto got = store_->AcquireImportLease("racer-" + std::to_string(i), "", now, kStaleMs);
        if (got.ok()) {
          answered[i] = got->owner;
        } else {
          errors[i] = got.status().message();
        }
      });
    }
    for (auto& t : threads) t.join();
    const auto holder = LeaseRow(*store_);
    ASSERT_TRUE(holder.has_value());
    int granted = 0;
    for (int i = 0; i < kThreads; ++i) {
      ASSERT_EQ(errors[i], "") << "racer-" << i;
      // Every racer is told the one winner.
      EXPECT_EQ(answered[i], holder->owner) << "round " << round << ", racer-" << i;
      if (answered[i] == "racer-" + std::to_string(i)) ++granted;
    }
    EXPECT_EQ(granted, 1) << "round " << round;
    ASSERT_TRUE(store_->ReleaseImportLease(holder->owner).ok());
    now += 1;
  }
}

// End of v2 import progress and lease

}  // namespace
}  // namespace langfuse::meta
