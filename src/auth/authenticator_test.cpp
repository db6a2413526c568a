#include "auth/authenticator.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <thread>
#include <vector>

#include "auth/api_keys.h"
#include "auth/auth_test_util.h"
#include "auth/password.h"

namespace langfuse::auth {
namespace {

using testing::CountingMetaStore;

constexpr const char* kSalt = "test-salt";
constexpr const char* kPk = "pk-lf-11111111-1111-4111-8111-111111111111";
constexpr const char* kSk = "sk-lf-22222222-2222-4222-8222-222222222222";
const std::string kWrongCredentials = "Invalid credentials. Confirm that you've configured the correct host.";

std::string Base64(std::string_view text) {
  std::string out(sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string Basic(std::string_view pk, std::string_view sk) {
  return "Basic " + Base64(std::string(pk) + ":" + std::string(sk));
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenMigratedTempStore();
    ASSERT_NE(store_, nullptr);
    counting_ = std::make_unique<CountingMetaStore>(*store_);
    ASSERT_TRUE(store_->UpsertOrganization({"org-1", "Org"}).ok());
    AddProject("proj-1");
    auto key = MakeProjectApiKey("proj-1", {kPk, kSk}, kSalt, std::nullopt);
    ASSERT_TRUE(key.ok());
    key_id_ = key->id;
    ASSERT_TRUE(store_->UpsertApiKey(*key).ok());
    auth_ = MakeAuthenticator({});
  }

  std::unique_ptr<ApiKeyAuthenticator> MakeAuthenticator(AuthenticatorOptions options) {
    options.now_ms = [this] { return now_ms_.load(); };
    return std::make_unique<ApiKeyAuthenticator>(*counting_, kSalt, std::move(options));
  }

  void AddProject(const std::string& id) {
    meta::Project p;
    p.id = id;
    p.org_id = "org-1";
    p.name = id;
    ASSERT_TRUE(store_->UpsertProject(p).ok());
  }

  // A key the way an older Langfuse stored it: slow hash only.
  void AddLegacyKey(const std::string& pk, const std::string& slow_hash) {
    meta::ApiKey key;
    key.id = "legacy-" + pk;
    key.public_key = pk;
    key.hashed_secret_key = slow_hash;
    key.display_secret_key = "sk-lf-...cret";
    key.project_id = "proj-1";
    ASSERT_TRUE(store_->UpsertApiKey(key).ok());
  }

  void ExpectUnauthenticated(std::string_view header, const std::string& message) {
    auto result = auth_->Authenticate(header);
    ASSERT_FALSE(result.ok()) << header;
    EXPECT_EQ(result.status().code(), StatusCode::kUnauthenticated) << header;
    EXPECT_EQ(result.status().message(), message) << header;
  }

  std::unique_ptr<meta::MetaStore> store_;
  std::unique_ptr<CountingMetaStore> counting_;
  std::unique_ptr<ApiKeyAuthenticator> auth_;
  std::string key_id_;
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
};

TEST_F(AuthenticatorTest, GoodBasic) {
  auto ctx = auth_->Authenticate(Basic(kPk, kSk));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->project_id, "proj-1");
  EXPECT_EQ(ctx->org_id, "org-1");
  EXPECT_EQ(ctx->access_level, kAccessProject);
  EXPECT_EQ(ctx->api_key_id, key_id_);
  EXPECT_EQ(ctx->public_key, kPk);
  EXPECT_EQ(ctx->scope, "PROJECT");
  EXPECT_TRUE(auth_->AuthenticateProjectRoute(Basic(kPk, kSk)).ok());
  EXPECT_TRUE(auth_->AuthenticateIngestion(Basic(kPk, kSk)).ok());
  // Node trims the header value.
  EXPECT_TRUE(auth_->Authenticate("  " + Basic(kPk, kSk) + " \t").ok());
}

TEST_F(AuthenticatorTest, WrongSecret) {
  ExpectUnauthenticated(Basic(kPk, "sk-lf-wrong"), kWrongCredentials);
  ExpectUnauthenticated(Basic("pk-lf-unknown", "sk-lf-unknown"), kWrongCredentials);
}

TEST_F(AuthenticatorTest, GarbledHeaders) {
  ExpectUnauthenticated("Basic !!!!", "Invalid character. Confirm that you've configured the correct host.");
  // Langfuse appends ". Confirm..." to atob's message, which already ends with a period.
  ExpectUnauthenticated(
      "Basic Y",
      "The string to be decoded is not correctly encoded.. Confirm that you've configured the "
      "correct host.");
  ExpectUnauthenticated("Basic " + Base64("no-colon-here"),
                        "Invalid authorization header. Confirm that you've configured the correct host.");
  ExpectUnauthenticated("Basic " + Base64(std::string(kPk) + ":"),
                        "Invalid authorization header. Confirm that you've configured the correct host.");
  // Node trims header values: "Basic " arrives as "Basic", which is no known scheme.
  ExpectUnauthenticated("Basic ", "Invalid authorization header");
}

TEST_F(AuthenticatorTest, MissingOrUnknownScheme) {
  ExpectUnauthenticated("", "No authorization header");
  ExpectUnauthenticated("   ", "No authorization header");
  ExpectUnauthenticated("Token abc", "Invalid authorization header");
  ExpectUnauthenticated("basic " + Base64(std::string(kPk) + ":" + kSk), "Invalid authorization header");
  ExpectUnauthenticated("Basic", "Invalid authorization header");
}

TEST_F(AuthenticatorTest, BearerPublicKeyGivesScoresLevel) {
  auto ctx = auth_->Authenticate(std::string("Bearer ") + kPk);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->access_level, kAccessScores);
  EXPECT_EQ(ctx->project_id, "proj-1");
  EXPECT_EQ(ctx->org_id, "org-1");
  EXPECT_EQ(ctx->public_key, kPk);

  auto denied = auth_->AuthenticateProjectRoute(std::string("Bearer ") + kPk);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(), kMsgInsufficientPermissions);
  EXPECT_TRUE(auth_->AuthenticateProjectRoute(std::string("Bearer ") + kPk, /*allow_scores=*/true).ok());
  EXPECT_TRUE(auth_->AuthenticateIngestion(std::string("Bearer ") + kPk).ok());
}

TEST_F(AuthenticatorTest, BearerUnknownPublicKey) {
  ExpectUnauthenticated("Bearer pk-lf-unknown",
                        "Invalid public key. Confirm that you've configured the correct host.");
  ExpectUnauthenticated("Bearer ", "Invalid authorization header");  // trimmed to "Bearer"
}

TEST_F(AuthenticatorTest, OrganizationKeyRejectedOnProjectRoutes) {
  const ApiKeyPair pair = GenerateApiKeyPair();
  auto row = MakeProjectApiKey("unused", pair, kSalt, std::nullopt);
  ASSERT_TRUE(row.ok());
  row->project_id.reset();
  row->organization_id = "org-1";
  row->scope = "ORGANIZATION";
  ASSERT_TRUE(store_->UpsertApiKey(*row).ok());

  auto ctx = auth_->Authenticate(Basic(pair.public_key, pair.secret_key));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->access_level, kAccessOrganization);
  EXPECT_EQ(ctx->org_id, "org-1");
  EXPECT_EQ(ctx->project_id, "");

  auto project_route = auth_->AuthenticateProjectRoute(Basic(pair.public_key, pair.secret_key), true);
  ASSERT_FALSE(project_route.ok());
  EXPECT_EQ(project_route.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(project_route.status().message(), kMsgInsufficientPermissions);

  auto ingestion = auth_->AuthenticateIngestion(Basic(pair.public_key, pair.secret_key));
  ASSERT_FALSE(ingestion.ok());
  EXPECT_EQ(ingestion.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(ingestion.status().message(), kMsgIngestionMissingProjectId);

  ExpectUnauthenticated(
      "Bearer " + pair.public_key,
      "Unauthorized: Cannot use organization key with bearer auth. Confirm that you've configured "
      "the correct host.");
}

TEST_F(AuthenticatorTest, ExpiredKeyRejectedEvenWhenCached) {
  auto key = store_->FindApiKeyByPublicKey(kPk);
  ASSERT_TRUE(key.ok() && key->has_value());
  meta::ApiKey row = **key;
  row.expires_at_ms = now_ms_.load() + 1000;
  ASSERT_TRUE(store_->UpsertApiKey(row).ok());

  ASSERT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());
  ASSERT_TRUE(auth_->Authenticate(std::string("Bearer ") + kPk).ok());
  now_ms_ += 1000;
  ExpectUnauthenticated(Basic(kPk, kSk), kWrongCredentials);
  ExpectUnauthenticated(std::string("Bearer ") + kPk, kWrongCredentials);
}

TEST_F(AuthenticatorTest, CacheHitAvoidsTheStoreUntilTtl) {
  ASSERT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());
  const int after_first = counting_->calls.load();
  EXPECT_GT(after_first, 0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());
  EXPECT_EQ(counting_->calls.load(), after_first);
  EXPECT_EQ(auth_->stats().cache_hits, 10u);

  now_ms_ += 300 * 1000;  // LANGFUSE_CACHE_API_KEY_TTL_SECONDS default
  ASSERT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());
  EXPECT_GT(counting_->calls.load(), after_first);
}

TEST_F(AuthenticatorTest, UnknownSecretIsNegativelyCached) {
  ExpectUnauthenticated(Basic("pk-lf-unknown", "sk-lf-unknown"), kWrongCredentials);
  const int after_first = counting_->calls.load();
  ExpectUnauthenticated(Basic("pk-lf-unknown", "sk-lf-unknown"), kWrongCredentials);
  EXPECT_EQ(counting_->calls.load(), after_first);
  EXPECT_EQ(auth_->stats().unknown_hits, 1u);
}

TEST_F(AuthenticatorTest, CacheDisabledAsksTheStoreEveryTime) {
  auth_ = MakeAuthenticator({.cache_ttl_seconds = 0});
  ASSERT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());
  const int after_first = counting_->calls.load();
  ASSERT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());
  EXPECT_EQ(counting_->calls.load(), 2 * after_first);
}

TEST_F(AuthenticatorTest, LegacyBcryptKeyIsVerifiedAndBackfilled) {
  // bcrypt of "sk-lf-test-secret" (cost 11), as Langfuse stored secret keys before the fast hash.
  AddLegacyKey("pk-lf-legacy", "$2b$11$ERGuKWeHqegODZ1j/qX9iutFfWezGcx7H/zdWeHAst4USufdMqaYS");

  ExpectUnauthenticated(Basic("pk-lf-legacy", "sk-lf-wrong-secret"), kWrongCredentials);
  EXPECT_EQ((*store_->FindApiKeyByPublicKey("pk-lf-legacy"))->fast_hashed_secret_key, "");

  auto ctx = auth_->Authenticate(Basic("pk-lf-legacy", "sk-lf-test-secret"));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->project_id, "proj-1");
  EXPECT_EQ(ctx->api_key_id, "legacy-pk-lf-legacy");
  EXPECT_EQ(counting_->set_fast_hash_calls.load(), 1);
  EXPECT_EQ((*store_->FindApiKeyByPublicKey("pk-lf-legacy"))->fast_hashed_secret_key,
            FastHashSecretKey("sk-lf-test-secret", kSalt));
  EXPECT_EQ(auth_->stats().slow_verifications, 2u);

  // From now on the fast path finds it: no further slow verification, even without the cache.
  auth_->Invalidate();
  ASSERT_TRUE(auth_->Authenticate(Basic("pk-lf-legacy", "sk-lf-test-secret")).ok());
  EXPECT_EQ(auth_->stats().slow_verifications, 2u);
  EXPECT_EQ(counting_->set_fast_hash_calls.load(), 1);
}

TEST_F(AuthenticatorTest, LegacyArgon2KeyAndSaltChange) {
  auto slow = HashPassword("sk-lf-argon-secret");
  ASSERT_TRUE(slow.ok());
  AddLegacyKey("pk-lf-argon", *slow);
  ASSERT_TRUE(auth_->Authenticate(Basic("pk-lf-argon", "sk-lf-argon-secret")).ok());

  // A new SALT invalidates every fast hash; the slow hash lets keys recover, as in Langfuse.
  ApiKeyAuthenticator resalted(*counting_, "another-salt", int64_t{300});
  auto ctx = resalted.Authenticate(Basic("pk-lf-argon", "sk-lf-argon-secret"));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ((*store_->FindApiKeyByPublicKey("pk-lf-argon"))->fast_hashed_secret_key,
            FastHashSecretKey("sk-lf-argon-secret", "another-salt"));
}

TEST_F(AuthenticatorTest, PublicKeyMismatchIsAcceptedAsLangfuseDoes) {
  auto ctx = auth_->Authenticate(Basic("pk-lf-some-other-key", kSk));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->public_key, kPk);
  EXPECT_EQ(ctx->project_id, "proj-1");
}

TEST_F(AuthenticatorTest, InvalidationAfterDelete) {
  ASSERT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());
  ASSERT_TRUE(auth_->Authenticate(std::string("Bearer ") + kPk).ok());
  ASSERT_TRUE(store_->DeleteApiKey(key_id_).ok());
  EXPECT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok()) << "still cached";
  auth_->InvalidateApiKey(kPk);
  ExpectUnauthenticated(Basic(kPk, kSk), kWrongCredentials);
  ExpectUnauthenticated(std::string("Bearer ") + kPk,
                        "Invalid public key. Confirm that you've configured the correct host.");
}

TEST_F(AuthenticatorTest, InvalidateProject) {
  ASSERT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());
  auto project = *store_->GetProject("proj-1");
  project->deleted_at_ms = now_ms_.load();
  ASSERT_TRUE(store_->UpsertProject(*project).ok());
  EXPECT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok()) << "still cached";
  auth_->InvalidateProject("proj-1");
  ExpectUnauthenticated(Basic(kPk, kSk), kWrongCredentials);
}

TEST_F(AuthenticatorTest, StoreFailureIsUnavailableNotUnauthenticated) {
  counting_->fail = true;
  auto result = auth_->Authenticate(Basic(kPk, kSk));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  counting_->fail = false;
  EXPECT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());  // nothing bad was cached
}

TEST_F(AuthenticatorTest, TinyCacheStillAnswersCorrectly) {
  auth_ = MakeAuthenticator({.max_cached_keys = 1, .max_cached_unknown = 1});
  AddProject("proj-2");
  const ApiKeyPair other = GenerateApiKeyPair();
  auto row = MakeProjectApiKey("proj-2", other, kSalt, std::nullopt);
  ASSERT_TRUE(row.ok());
  ASSERT_TRUE(store_->UpsertApiKey(*row).ok());
  for (int i = 0; i < 5; ++i) {
    auto a = auth_->Authenticate(Basic(kPk, kSk));
    auto b = auth_->Authenticate(Basic(other.public_key, other.secret_key));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->project_id, "proj-1");
    EXPECT_EQ(b->project_id, "proj-2");
    EXPECT_FALSE(auth_->Authenticate(Basic(kPk, "sk-lf-bad-" + std::to_string(i))).ok());
  }
}

TEST_F(AuthenticatorTest, ConcurrentAuthentication) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 60; ++i) {
        const bool good = (i + t) % 3 != 0;
        auto result =
            auth_->Authenticate(good ? Basic(kPk, kSk) : Basic(kPk, "sk-lf-bad-" + std::to_string(i % 5)));
        if (result.ok() != good) ++wrong;
        if (i % 10 == 0) auth_->InvalidateApiKey(kPk);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace langfuse::auth
