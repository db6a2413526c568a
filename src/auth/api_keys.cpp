#include "auth/api_keys.h"

#include <utility>

#include "auth/password.h"
#include "common/ids.h"
#include "common/time.h"

namespace langfuse::auth {

std::string FastHashSecretKeyWithSaltHash(std::string_view secret_key, std::string_view salt_sha256_hex) {
  std::string input;
  input.reserve(secret_key.size() + salt_sha256_hex.size());
  input.append(secret_key).append(salt_sha256_hex);
  return Sha256Hex(input);
}

std::string FastHashSecretKey(std::string_view secret_key, std::string_view salt) {
  return FastHashSecretKeyWithSaltHash(secret_key, Sha256Hex(salt));
}

std::string DisplaySecretKey(std::string_view secret_key) {
  // JS slice semantics: slice(0, 6) and slice(-4) both clamp to the string, so short keys
  // repeat characters rather than fail.
  const std::string_view head = secret_key.substr(0, 6);
  const std::string_view tail = secret_key.substr(secret_key.size() >= 4 ? secret_key.size() - 4 : 0);
  std::string out;
  out.append(head).append("...").append(tail);
  return out;
}

ApiKeyPair GenerateApiKeyPair() { return {"pk-lf-" + NewUuidV4(), "sk-lf-" + NewUuidV4()}; }

StatusOr<meta::ApiKey> MakeProjectApiKey(const std::string& project_id, const ApiKeyPair& keys,
                                         std::string_view salt, std::optional<std::string> note) {
  ASSIGN_OR_RETURN(std::string slow_hash, HashPassword(keys.secret_key));
  meta::ApiKey key;
  key.id = NewUuidV4();
  key.public_key = keys.public_key;
  key.hashed_secret_key = std::move(slow_hash);
  key.fast_hashed_secret_key = FastHashSecretKey(keys.secret_key, salt);
  key.display_secret_key = DisplaySecretKey(keys.secret_key);
  key.note = std::move(note);
  key.scope = "PROJECT";
  key.project_id = project_id;
  key.created_at_ms = NowMs();
  return key;
}

}  // namespace langfuse::auth
