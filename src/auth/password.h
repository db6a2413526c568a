#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace langfuse::auth {

//! Langfuse's minimum password length (credentialsServerUtils.ts isValidPassword).
inline constexpr size_t kMinPasswordLength = 8;

//! An argon2id hash of `password` in PHC string form ("$argon2id$v=19$m=...,t=...,p=1$salt$hash"),
//! libsodium's interactive limits (about 64 MiB and a few tens of ms). Used for user passwords
//! and for API keys' slow hash (hashed_secret_key). kInternal when memory runs out.
StatusOr<std::string> HashPassword(std::string_view password);

//! True when `password` matches `encoded_hash`: argon2id/argon2i (ours) or bcrypt
//! `$2a$`/`$2b$`/`$2y$` (users and API keys imported from Langfuse, which hashes with bcryptjs).
//! False for any other or malformed hash. Comparison is constant-time.
bool VerifyPassword(std::string_view password, std::string_view encoded_hash);

//! True for hashes VerifyPassword can check but HashPassword would not produce (bcrypt), so a
//! caller may upgrade them to argon2id after a successful login.
bool NeedsRehash(std::string_view encoded_hash);

}  // namespace langfuse::auth
