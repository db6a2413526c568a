#include "auth/password.h"

#include <gtest/gtest.h>

namespace langfuse::auth {
namespace {

TEST(Password, Argon2idRoundTrip) {
  auto hash = HashPassword("correct horse battery staple");
  ASSERT_TRUE(hash.ok()) << hash.status().message();
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", *hash));
  EXPECT_FALSE(VerifyPassword("correct horse battery stapl", *hash));
  EXPECT_FALSE(VerifyPassword("", *hash));
  EXPECT_FALSE(NeedsRehash(*hash));
  // Salted: the same password never gives the same hash (api_keys.hashed_secret_key is unique).
  EXPECT_NE(*hash, *HashPassword("correct horse battery staple"));
}

// Generated with libxcrypt (python3 crypt, METHOD_BLOWFISH, 2^11 rounds as Langfuse's bcryptjs
// uses for secret keys); $2a$ and $2y$ are the same algorithm for ASCII input.
constexpr const char* kBcryptOfTestSecret = "$2b$11$ERGuKWeHqegODZ1j/qX9iutFfWezGcx7H/zdWeHAst4USufdMqaYS";

TEST(Password, VerifiesBcryptFromLangfuse) {
  EXPECT_TRUE(VerifyPassword("sk-lf-test-secret", kBcryptOfTestSecret));
  EXPECT_FALSE(VerifyPassword("sk-lf-test-secreT", kBcryptOfTestSecret));
  std::string as_2a = kBcryptOfTestSecret;
  as_2a[2] = 'a';
  EXPECT_TRUE(VerifyPassword("sk-lf-test-secret", as_2a));
  std::string as_2y = kBcryptOfTestSecret;
  as_2y[2] = 'y';
  EXPECT_TRUE(VerifyPassword("sk-lf-test-secret", as_2y));
  EXPECT_TRUE(NeedsRehash(kBcryptOfTestSecret));
}

TEST(Password, BcryptPublishedVector) {
  // The classic crypt_blowfish test vector.
  EXPECT_TRUE(VerifyPassword("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_FALSE(VerifyPassword("U*V", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
}

TEST(Password, RejectsUnknownOrMalformedHashes) {
  EXPECT_FALSE(VerifyPassword("x", ""));
  EXPECT_FALSE(VerifyPassword("x", "x"));
  EXPECT_FALSE(VerifyPassword("x", "$1$md5salt$notsupported"));
  EXPECT_FALSE(VerifyPassword("x", "$2b$11$short"));
  EXPECT_FALSE(VerifyPassword("x", "$argon2id$garbage"));
  EXPECT_FALSE(VerifyPassword("x", std::string("$argon2id$") + std::string(300, 'a')));
  EXPECT_FALSE(VerifyPassword(std::string("sk-lf-test-secret\0x", 19), kBcryptOfTestSecret));
}

}  // namespace
}  // namespace langfuse::auth
