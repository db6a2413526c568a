#include "auth/password.h"

#include <crypt.h>
#include <sodium.h>

#include <cstring>
#include <memory>

#include "auth/sodium_init.h"

namespace langfuse::auth {
namespace {

constexpr unsigned long long kOpsLimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
constexpr size_t kMemLimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool IsArgon2(std::string_view hash) {
  return StartsWith(hash, crypto_pwhash_argon2id_STRPREFIX) ||
         StartsWith(hash, crypto_pwhash_argon2i_STRPREFIX);
}

bool IsBcrypt(std::string_view hash) {
  return StartsWith(hash, "$2a$") || StartsWith(hash, "$2b$") || StartsWith(hash, "$2y$");
}

// libsodium reads the hash as a C string of at most crypto_pwhash_STRBYTES; give it exactly that.
bool ToPwhashBuffer(std::string_view hash, char (&out)[crypto_pwhash_STRBYTES]) {
  if (hash.size() >= crypto_pwhash_STRBYTES || hash.find('\0') != std::string_view::npos) return false;
  std::memset(out, 0, sizeof(out));
  std::memcpy(out, hash.data(), hash.size());
  return true;
}

bool VerifyArgon2(std::string_view password, std::string_view hash) {
  char buffer[crypto_pwhash_STRBYTES];
  if (!ToPwhashBuffer(hash, buffer)) return false;
  return crypto_pwhash_str_verify(buffer, password.data(), password.size()) == 0;
}

bool VerifyBcrypt(std::string_view password, std::string_view hash) {
  // crypt takes C strings; a password with a NUL byte cannot match what bcryptjs stored.
  if (password.find('\0') != std::string_view::npos || hash.find('\0') != std::string_view::npos)
    return false;
  const std::string phrase(password);
  const std::string setting(hash);
  // crypt_data is 32 KiB: on the heap, not on a handler thread's stack. Zeroed as crypt_rn asks.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') return false;
  const size_t out_len = std::strlen(out);
  return out_len == hash.size() && sodium_memcmp(out, hash.data(), out_len) == 0;
}

}  // namespace

StatusOr<std::string> HashPassword(std::string_view password) {
  EnsureSodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), kOpsLimit, kMemLimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::Internal("argon2id hashing failed (out of memory?)");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view password, std::string_view encoded_hash) {
  EnsureSodium();
  if (IsArgon2(encoded_hash)) return VerifyArgon2(password, encoded_hash);
  if (IsBcrypt(encoded_hash)) return VerifyBcrypt(password, encoded_hash);
  return false;
}

bool NeedsRehash(std::string_view encoded_hash) {
  EnsureSodium();
  if (!IsArgon2(encoded_hash)) return true;
  char buffer[crypto_pwhash_STRBYTES];
  if (!ToPwhashBuffer(encoded_hash, buffer)) return true;
  return crypto_pwhash_str_needs_rehash(buffer, kOpsLimit, kMemLimit) != 0;
}

}  // namespace langfuse::auth
