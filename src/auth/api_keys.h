#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/meta/meta_store.h"

namespace langfuse::auth {

//! Langfuse's fast hash of a secret key (apiKeys.ts createShaHash): lower-hex SHA-256 over the
//! secret's bytes followed by the 64 lower-hex characters of SHA-256(salt). `salt` is the SALT
//! environment variable. Stored in api_keys.fast_hashed_secret_key and used for the lookup.
std::string FastHashSecretKey(std::string_view secret_key, std::string_view salt);

//! The same hash when hex(SHA-256(salt)) is already known (the authenticator computes it once).
std::string FastHashSecretKeyWithSaltHash(std::string_view secret_key, std::string_view salt_sha256_hex);

//! The form shown in lists: first 6 characters + "..." + last 4 ("sk-lf-...1a2b"), on UTF-16 code
//! units in Langfuse; identical for the ASCII keys Langfuse and this server generate.
std::string DisplaySecretKey(std::string_view secret_key);

struct ApiKeyPair {
  std::string public_key;  //!< pk-lf-<uuidv4>
  std::string secret_key;  //!< sk-lf-<uuidv4>
};

//! A fresh random key pair in Langfuse's format.
ApiKeyPair GenerateApiKeyPair();

//! Builds the api_keys row for a project key: new id, argon2id slow hash, fast hash, display
//! form, scope PROJECT. Does not store it. kInternal only if hashing runs out of memory.
StatusOr<meta::ApiKey> MakeProjectApiKey(const std::string& project_id, const ApiKeyPair& keys,
                                         std::string_view salt, std::optional<std::string> note);

}  // namespace langfuse::auth
