#include "auth/api_keys.h"

#include <gtest/gtest.h>

#include <regex>

#include "auth/password.h"

namespace langfuse::auth {
namespace {

TEST(ApiKeys, FastHashKnownVector) {
  // Computed independently in the shell:
  //   S=$(printf '%s' mysalt | sha256sum | cut -d' ' -f1); printf '%s%s' sk-lf-1234567890 "$S" | sha256sum
  // and with Node's crypto the way Langfuse's createShaHash does.
  EXPECT_EQ(FastHashSecretKey("sk-lf-1234567890", "mysalt"),
            "538ea0fbd57a47c98f2a079df1798e724215e75f08c9140d0a5406e000d77ff7");
  EXPECT_EQ(FastHashSecretKeyWithSaltHash("sk-lf-1234567890",
                                          "f40da0ad65c0b820fe875da4164a230c4f4f4c765421d695a1bc298b4ddfa68c"),
            "538ea0fbd57a47c98f2a079df1798e724215e75f08c9140d0a5406e000d77ff7");
  EXPECT_NE(FastHashSecretKey("sk-lf-1234567890", "othersalt"),
            FastHashSecretKey("sk-lf-1234567890", "mysalt"));
}

TEST(ApiKeys, DisplayForm) {
  EXPECT_EQ(DisplaySecretKey("sk-lf-12345678-aaaa-bbbb-cccc-1234567890ab"), "sk-lf-...90ab");
  EXPECT_EQ(DisplaySecretKey("abc"), "abc...abc");  // JS slice clamps
  EXPECT_EQ(DisplaySecretKey(""), "...");
}

TEST(ApiKeys, GeneratedPairShape) {
  const ApiKeyPair a = GenerateApiKeyPair();
  const std::regex pk("^pk-lf-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  const std::regex sk("^sk-lf-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  EXPECT_TRUE(std::regex_match(a.public_key, pk)) << a.public_key;
  EXPECT_TRUE(std::regex_match(a.secret_key, sk)) << a.secret_key;
  const ApiKeyPair b = GenerateApiKeyPair();
  EXPECT_NE(a.public_key, b.public_key);
  EXPECT_NE(a.secret_key, b.secret_key);
}

TEST(ApiKeys, MakeProjectApiKeyRow) {
  const ApiKeyPair keys{"pk-lf-pub", "sk-lf-secret-1234"};
  auto row = MakeProjectApiKey("proj-1", keys, "salt", std::string("note"));
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(row->id.empty());
  EXPECT_EQ(row->public_key, "pk-lf-pub");
  EXPECT_EQ(row->fast_hashed_secret_key, FastHashSecretKey("sk-lf-secret-1234", "salt"));
  EXPECT_EQ(row->display_secret_key, "sk-lf-...1234");
  EXPECT_TRUE(VerifyPassword("sk-lf-secret-1234", row->hashed_secret_key));
  EXPECT_EQ(row->scope, "PROJECT");
  EXPECT_EQ(row->project_id, std::optional<std::string>("proj-1"));
  EXPECT_EQ(row->note, std::optional<std::string>("note"));
  EXPECT_GT(row->created_at_ms, 0);
}

}  // namespace
}  // namespace langfuse::auth
