// Revocation messages, and the authenticator's side of revocations between processes: what it
// publishes, what it applies from others, its cache age limit and lookups racing a revocation.
#include "auth/key_revocation.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <vector>

#include "auth/api_keys.h"
#include "auth/auth_test_util.h"
#include "auth/authenticator.h"

namespace langfuse::auth {
namespace {

using testing::CountingMetaStore;

TEST(KeyRevocationMessage, RoundTrips) {
  for (const KeyRevocation& r :
       {KeyRevocation::ApiKey("pk-lf-1"), KeyRevocation::Project("proj 1"), KeyRevocation::All()}) {
    const auto decoded = DecodeKeyRevocation(EncodeKeyRevocation(r));
    ASSERT_TRUE(decoded.has_value()) << EncodeKeyRevocation(r);
    EXPECT_EQ(*decoded, r);
  }
  EXPECT_EQ(EncodeKeyRevocation(KeyRevocation::ApiKey("pk-lf-1")), "key pk-lf-1");
  EXPECT_EQ(EncodeKeyRevocation(KeyRevocation::Project("p")), "project p");
  EXPECT_EQ(EncodeKeyRevocation(KeyRevocation::All()), "all");
}

TEST(KeyRevocationMessage, AnythingElseIsRefused) {
  for (const char* message : {"", "key", "key ", "project ", "ALL", "all ", "keys pk", "flush", " key pk"}) {
    EXPECT_FALSE(DecodeKeyRevocation(message).has_value()) << "'" << message << "'";
  }
}

constexpr const char* kSalt = "test-salt";
constexpr const char* kPk = "pk-lf-33333333-3333-4333-8333-333333333333";
constexpr const char* kSk = "sk-lf-44444444-4444-4444-8444-444444444444";

std::string Basic(std::string_view pk, std::string_view sk) {
  const std::string plain = std::string(pk) + ":" + std::string(sk);
  std::string out(sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(plain.data()),
                    plain.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return "Basic " + out;
}

class AuthenticatorRevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenMigratedTempStore();
    ASSERT_NE(store_, nullptr);
    counting_ = std::make_unique<CountingMetaStore>(*store_);
    ASSERT_TRUE(store_->UpsertOrganization({"org-1", "Org"}).ok());
    meta::Project p;
    p.id = "proj-1";
    p.org_id = "org-1";
    p.name = "proj-1";
    ASSERT_TRUE(store_->UpsertProject(p).ok());
    auto key = MakeProjectApiKey("proj-1", {kPk, kSk}, kSalt, std::nullopt);
    ASSERT_TRUE(key.ok());
    ASSERT_TRUE(store_->UpsertApiKey(*key).ok());
    AuthenticatorOptions options;
    options.now_ms = [this] { return now_ms_.load(); };
    auth_ = std::make_unique<ApiKeyAuthenticator>(*counting_, kSalt, options);
    auth_->SetRevocationPublisher([this](const KeyRevocation& r) { published_.push_back(r); });
  }

  // Authenticates and tells whether the answer came from the cache (no store call).
  bool AuthenticatedFromCache() {
    const int before = counting_->calls.load();
    auto ctx = auth_->Authenticate(Basic(kPk, kSk));
    EXPECT_TRUE(ctx.ok()) << ctx.status().message();
    return counting_->calls.load() == before;
  }

  std::unique_ptr<meta::MetaStore> store_;
  std::unique_ptr<CountingMetaStore> counting_;
  std::unique_ptr<ApiKeyAuthenticator> auth_;
  std::vector<KeyRevocation> published_;
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
};

TEST_F(AuthenticatorRevocationTest, InvalidationsArePublishedAppliedRevocationsAreNot) {
  auth_->InvalidateApiKey(kPk);
  auth_->InvalidateProject("proj-1");
  auth_->Invalidate();
  EXPECT_EQ(published_, (std::vector<KeyRevocation>{KeyRevocation::ApiKey(kPk),
                                                    KeyRevocation::Project("proj-1"), KeyRevocation::All()}));
  published_.clear();
  // What arrives from other processes is applied here and not sent back out.
  EXPECT_FALSE(AuthenticatedFromCache());
  EXPECT_TRUE(AuthenticatedFromCache());
  auth_->ApplyRevocation(KeyRevocation::ApiKey(kPk));
  EXPECT_FALSE(AuthenticatedFromCache());
  auth_->ApplyRevocation(KeyRevocation::ApiKey("pk-lf-other"));
  EXPECT_TRUE(AuthenticatedFromCache());
  auth_->ApplyRevocation(KeyRevocation::Project("proj-1"));
  EXPECT_FALSE(AuthenticatedFromCache());
  auth_->ApplyRevocation(KeyRevocation::All());
  EXPECT_FALSE(AuthenticatedFromCache());
  EXPECT_TRUE(published_.empty());
}

TEST_F(AuthenticatorRevocationTest, AnAppliedRevocationRefusesADeletedKeyAtOnce) {
  ASSERT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok());
  auto key = store_->FindApiKeyByPublicKey(kPk);
  ASSERT_TRUE(key.ok() && key->has_value());
  ASSERT_TRUE(store_->DeleteApiKey((*key)->id).ok());
  EXPECT_TRUE(auth_->Authenticate(Basic(kPk, kSk)).ok()) << "still cached";
  auth_->ApplyRevocation(KeyRevocation::ApiKey(kPk));
  auto refused = auth_->Authenticate(Basic(kPk, kSk));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthenticatorRevocationTest, CacheAgeLimitBelowTheTtl) {
  EXPECT_FALSE(AuthenticatedFromCache());
  now_ms_ += 1500;
  EXPECT_TRUE(AuthenticatedFromCache());
  auth_->LimitCacheAge(1000);
  EXPECT_FALSE(AuthenticatedFromCache()) << "fetched 1.5 s ago, limit 1 s";
  now_ms_ += 999;
  EXPECT_TRUE(AuthenticatedFromCache()) << "fetched again 999 ms ago";
  now_ms_ += 1;
  EXPECT_FALSE(AuthenticatedFromCache());
  // Negative answers too.
  const int before = counting_->calls.load();
  EXPECT_FALSE(auth_->Authenticate(Basic(kPk, "sk-lf-wrong")).ok());
  EXPECT_FALSE(auth_->Authenticate(Basic(kPk, "sk-lf-wrong")).ok());
  const int two_lookups_later = counting_->calls.load();
  EXPECT_EQ(two_lookups_later, before + 2) << "the second answer is cached";
  now_ms_ += 1000;
  EXPECT_FALSE(auth_->Authenticate(Basic(kPk, "sk-lf-wrong")).ok());
  EXPECT_GT(counting_->calls.load(), two_lookups_later);

  auth_->LimitCacheAge(ApiKeyAuthenticator::kNoCacheAgeLimit);
  now_ms_ += 60'000;
  EXPECT_TRUE(AuthenticatedFromCache()) << "the TTL (300 s) alone again";
  auth_->LimitCacheAge(0);
  EXPECT_FALSE(AuthenticatedFromCache());
  EXPECT_FALSE(AuthenticatedFromCache());
}

TEST_F(AuthenticatorRevocationTest, ALookupRacingARevocationIsNotCached) {
  // The revocation lands while the store is being asked: the answer may predate it, so it serves
  // this request but is not cached.
  bool fired = false;
  counting_->before_call = [&] {
    if (fired) return;
    fired = true;
    auth_->ApplyRevocation(KeyRevocation::ApiKey("pk-lf-any"));
  };
  EXPECT_FALSE(AuthenticatedFromCache());
  EXPECT_FALSE(AuthenticatedFromCache()) << "the first answer was cached despite the revocation";
  EXPECT_TRUE(AuthenticatedFromCache());
  // The same for a negative answer.
  fired = false;
  const int before = counting_->calls.load();
  EXPECT_FALSE(auth_->Authenticate(Basic("pk-lf-x", "sk-lf-unknown")).ok());
  const int after_first = counting_->calls.load();
  EXPECT_FALSE(auth_->Authenticate(Basic("pk-lf-x", "sk-lf-unknown")).ok());
  EXPECT_GT(counting_->calls.load(), after_first) << "the first negative answer was cached";
  EXPECT_GT(after_first, before);
}

}  // namespace
}  // namespace langfuse::auth
