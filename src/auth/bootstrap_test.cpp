#include "auth/bootstrap.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>

#include "auth/api_keys.h"
#include "auth/auth_test_util.h"
#include "auth/authenticator.h"
#include "auth/password.h"

namespace langfuse::auth {
namespace {

constexpr const char* kSalt = "bootstrap-salt";

InitOptions FullOptions() {
  InitOptions o;
  o.org_id = "org-init";
  o.project_id = "proj-init";
  o.project_public_key = "pk-lf-init";
  o.project_secret_key = "sk-lf-init-secret";
  o.user_email = "Admin@Example.com";
  o.user_password = "s3cret-password";
  return o;
}

std::string BasicHeader(const std::string& pk, const std::string& sk) {
  const std::string raw = pk + ":" + sk;
  std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return "Basic " + out;
}

class BootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenMigratedTempStore();
    ASSERT_NE(store_, nullptr);
  }
  std::unique_ptr<meta::MetaStore> store_;
};

TEST_F(BootstrapTest, NothingWithoutOrgId) {
  InitOptions o = FullOptions();
  o.org_id.clear();
  ASSERT_TRUE(InitializeFromOptions(*store_, o, kSalt).ok());
  EXPECT_EQ(*store_->CountOrganizations(), 0);
}

TEST_F(BootstrapTest, FullInitIsIdempotent) {
  const InitOptions o = FullOptions();
  ASSERT_TRUE(InitializeFromOptions(*store_, o, kSalt).ok());

  auto org = *store_->GetOrganization("org-init");
  ASSERT_TRUE(org.has_value());
  EXPECT_EQ(org->name, "Provisioned Org");
  auto project = *store_->GetProject("proj-init");
  ASSERT_TRUE(project.has_value());
  EXPECT_EQ(project->name, "Provisioned Project");
  EXPECT_EQ(project->org_id, "org-init");
  auto keys = *store_->ListApiKeys("proj-init");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].public_key, "pk-lf-init");
  EXPECT_EQ(keys[0].note, std::optional<std::string>("Provisioned API Key"));
  EXPECT_EQ(keys[0].display_secret_key, "sk-lf-...cret");
  EXPECT_EQ(keys[0].fast_hashed_secret_key, FastHashSecretKey("sk-lf-init-secret", kSalt));
  auto user = *store_->FindUserByEmail("admin@example.com");
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->email, "admin@example.com");
  EXPECT_EQ(user->name, std::optional<std::string>("Provisioned User"));
  ASSERT_TRUE(user->password.has_value());
  EXPECT_EQ(user->password->rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(VerifyPassword("s3cret-password", *user->password));
  auto members = *store_->ListMemberships("org-init");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].role, "OWNER");
  EXPECT_EQ(members[0].user_id, user->id);

  // Second start: nothing new, nothing re-created.
  ASSERT_TRUE(InitializeFromOptions(*store_, o, kSalt).ok());
  EXPECT_EQ(*store_->CountOrganizations(), 1);
  EXPECT_EQ(store_->ListProjects("org-init")->size(), 1u);
  auto keys_again = *store_->ListApiKeys("proj-init");
  ASSERT_EQ(keys_again.size(), 1u);
  EXPECT_EQ(keys_again[0].id, keys[0].id);
  EXPECT_EQ(keys_again[0].hashed_secret_key, keys[0].hashed_secret_key);
  EXPECT_EQ((*store_->FindUserByEmail("admin@example.com"))->id, user->id);
  EXPECT_EQ(store_->ListMemberships("org-init")->size(), 1u);

  ApiKeyAuthenticator auth(*store_, kSalt);
  auto ctx = auth.Authenticate(BasicHeader("pk-lf-init", "sk-lf-init-secret"));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->project_id, "proj-init");
  EXPECT_EQ(ctx->org_id, "org-init");
}

TEST_F(BootstrapTest, ExistingRowsAreNotRenamedAndUsersNotChanged) {
  ASSERT_TRUE(store_->UpsertOrganization({"org-init", "My Org"}).ok());
  meta::User user;
  user.email = "admin@example.com";
  user.name = "Existing";
  user.password = *HashPassword("original-password");
  ASSERT_TRUE(store_->UpsertUser(user).ok());
  const std::string user_id = (*store_->FindUserByEmail("admin@example.com"))->id;
  ASSERT_TRUE(store_->UpsertMembership({"", "org-init", user_id, "VIEWER"}).ok());

  InitOptions o = FullOptions();
  o.org_name = "Other Name";
  o.project_name = "Named Project";
  o.user_name = "Other Name";
  ASSERT_TRUE(InitializeFromOptions(*store_, o, kSalt).ok());

  EXPECT_EQ((*store_->GetOrganization("org-init"))->name, "My Org");
  EXPECT_EQ((*store_->GetProject("proj-init"))->name, "Named Project");
  auto found = *store_->FindUserByEmail("admin@example.com");
  EXPECT_EQ(found->name, std::optional<std::string>("Existing"));
  EXPECT_TRUE(VerifyPassword("original-password", *found->password));
  auto members = *store_->ListMemberships("org-init");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].role, "OWNER");  // promoted, as Langfuse's upsert does
}

TEST_F(BootstrapTest, KeyBoundToAnotherProjectIsRecreated) {
  InitOptions o = FullOptions();
  ASSERT_TRUE(InitializeFromOptions(*store_, o, kSalt).ok());
  const std::string first_id = (*store_->ListApiKeys("proj-init"))[0].id;

  o.project_id = "proj-moved";
  ASSERT_TRUE(InitializeFromOptions(*store_, o, kSalt).ok());
  EXPECT_TRUE(store_->ListApiKeys("proj-init")->empty());
  auto moved = *store_->ListApiKeys("proj-moved");
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].public_key, "pk-lf-init");
  EXPECT_NE(moved[0].id, first_id);
}

TEST_F(BootstrapTest, ChangedSecretKeepsTheStoredKey) {
  InitOptions o = FullOptions();
  ASSERT_TRUE(InitializeFromOptions(*store_, o, kSalt).ok());
  o.project_secret_key = "sk-lf-changed";
  ASSERT_TRUE(InitializeFromOptions(*store_, o, kSalt).ok());
  EXPECT_EQ((*store_->ListApiKeys("proj-init"))[0].fast_hashed_secret_key,
            FastHashSecretKey("sk-lf-init-secret", kSalt));
}

TEST_F(BootstrapTest, PartialSettingsCreateWhatTheyCan) {
  InitOptions o = FullOptions();
  o.project_secret_key.clear();  // key needs both
  o.user_password.clear();       // user needs both
  ASSERT_TRUE(InitializeFromOptions(*store_, o, kSalt).ok());
  EXPECT_TRUE(store_->GetProject("proj-init")->has_value());
  EXPECT_TRUE(store_->ListApiKeys("proj-init")->empty());
  EXPECT_FALSE(store_->FindUserByEmail("admin@example.com")->has_value());

  InitOptions no_project = FullOptions();
  no_project.org_id = "org-2";
  no_project.project_id.clear();  // keys need a project
  no_project.project_public_key = "pk-lf-orphan";
  no_project.user_email = "second@example.com";
  ASSERT_TRUE(InitializeFromOptions(*store_, no_project, kSalt).ok());
  EXPECT_FALSE(store_->FindApiKeyByPublicKey("pk-lf-orphan")->has_value());
  EXPECT_TRUE(store_->FindUserByEmail("second@example.com")->has_value());
}

TEST_F(BootstrapTest, InvalidUserSettingsFail) {
  InitOptions o = FullOptions();
  o.user_password = "short";
  const Status short_password = InitializeFromOptions(*store_, o, kSalt);
  EXPECT_EQ(short_password.code(), StatusCode::kInvalidArgument) << short_password.message();

  o = FullOptions();
  o.user_email = "not-an-email";
  EXPECT_EQ(InitializeFromOptions(*store_, o, kSalt).code(), StatusCode::kInvalidArgument);
}

TEST_F(BootstrapTest, DefaultsOnlyWhenEmpty) {
  auto created = CreateDefaultsIfEmpty(*store_, kSalt);
  ASSERT_TRUE(created.ok()) << created.status().message();
  ASSERT_TRUE(created->has_value());
  const DefaultCredentials& c = **created;
  EXPECT_EQ(c.public_key.rfind("pk-lf-", 0), 0u);
  EXPECT_EQ(c.secret_key.rfind("sk-lf-", 0), 0u);
  EXPECT_EQ((*store_->GetOrganization(c.org_id))->name, "Default Organization");
  EXPECT_EQ((*store_->GetProject(c.project_id))->name, "Default Project");

  ApiKeyAuthenticator auth(*store_, kSalt);
  auto ctx = auth.Authenticate(BasicHeader(c.public_key, c.secret_key));
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_EQ(ctx->project_id, c.project_id);

  auto again = CreateDefaultsIfEmpty(*store_, kSalt);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(*store_->CountOrganizations(), 1);
}

TEST_F(BootstrapTest, NoDefaultsNextToAProvisionedOrg) {
  ASSERT_TRUE(InitializeFromOptions(*store_, FullOptions(), kSalt).ok());
  auto created = CreateDefaultsIfEmpty(*store_, kSalt);
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE(created->has_value());
}

TEST(InitOptionsFromEnv, ReadsLangfuseVariables) {
  setenv("LANGFUSE_INIT_ORG_ID", "env-org", 1);
  setenv("LANGFUSE_INIT_PROJECT_SECRET_KEY", "sk-env", 1);
  setenv("LANGFUSE_INIT_USER_NAME", "", 1);
  const InitOptions o = InitOptionsFromEnv();
  unsetenv("LANGFUSE_INIT_ORG_ID");
  unsetenv("LANGFUSE_INIT_PROJECT_SECRET_KEY");
  unsetenv("LANGFUSE_INIT_USER_NAME");
  EXPECT_EQ(o.org_id, "env-org");
  EXPECT_EQ(o.project_secret_key, "sk-env");
  EXPECT_EQ(o.user_name, "");
}

}  // namespace
}  // namespace langfuse::auth
