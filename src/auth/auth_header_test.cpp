#include "auth/auth_header.h"

#include <gtest/gtest.h>

namespace langfuse::auth {
namespace {

constexpr const char* kInvalidCharacter = "Invalid character";
constexpr const char* kNotCorrectlyEncoded = "The string to be decoded is not correctly encoded.";

// Expected values recorded from Node 20's atob, the function Langfuse applies.
TEST(Atob, MatchesNode) {
  struct Case {
    const char* input;
    const char* decoded;  // nullptr: error
    const char* error;
  };
  const Case cases[] = {
      {"YWJj", "abc", nullptr},
      {"YWJ", "ab", nullptr},
      {"YW", "a", nullptr},
      {"Y", nullptr, kNotCorrectlyEncoded},
      {"YWJj=", nullptr, kInvalidCharacter},
      {"YW==", "a", nullptr},
      {"YW=", nullptr, kInvalidCharacter},
      {"YW===", nullptr, kInvalidCharacter},
      {"Y W J j", "abc", nullptr},
      {"YWJj\t", "abc", nullptr},
      {"YW=J", nullptr, kInvalidCharacter},
      {"YWI=", "ab", nullptr},
      {"YWJ=", "ab", nullptr},
      {"YR", "a", nullptr},  // leftover bits are dropped
      {"YR==", "a", nullptr},
      {"YWJjZA", "abcd", nullptr},
      {"a:b", nullptr, kInvalidCharacter},
      {"  ", "", nullptr},
      {"=", nullptr, kInvalidCharacter},
      {"YWJj-_", nullptr, kInvalidCharacter},  // URL-safe alphabet is not accepted
  };
  for (const Case& c : cases) {
    auto decoded = DecodeBase64LikeAtob(c.input);
    if (c.decoded != nullptr) {
      ASSERT_TRUE(decoded.ok()) << c.input << ": " << decoded.status().message();
      EXPECT_EQ(*decoded, c.decoded) << c.input;
    } else {
      ASSERT_FALSE(decoded.ok()) << c.input;
      EXPECT_EQ(decoded.status().message(), c.error) << c.input;
    }
  }
}

TEST(BasicAuthorization, SplitsLikeLangfuse) {
  auto creds = ParseBasicAuthorization("Basic cGstbGYtMTpzay1sZi0y");  // pk-lf-1:sk-lf-2
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->public_key, "pk-lf-1");
  EXPECT_EQ(creds->secret_key, "sk-lf-2");

  creds = ParseBasicAuthorization("Basic cGs6c2s6ZXh0cmE= trailing");  // pk:sk:extra, second token ignored
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->public_key, "pk");
  EXPECT_EQ(creds->secret_key, "sk");
}

TEST(BasicAuthorization, Rejections) {
  const char* header_errors[] = {
      "Basic ",           // no token
      "Basic  cGs6c2s=",  // split(" ")[1] is empty
      "Basic cGtzaw==",   // "pksk": no colon
      "Basic OnNr",       // ":sk": empty public key
      "Basic cGs6",       // "pk:": empty secret key
  };
  for (const char* header : header_errors) {
    auto creds = ParseBasicAuthorization(header);
    ASSERT_FALSE(creds.ok()) << header;
    EXPECT_EQ(creds.status().message(), "Invalid authorization header") << header;
  }
  auto garbled = ParseBasicAuthorization("Basic !!!notbase64");
  ASSERT_FALSE(garbled.ok());
  EXPECT_EQ(garbled.status().message(), kInvalidCharacter);
}

}  // namespace
}  // namespace langfuse::auth
