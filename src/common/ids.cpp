#include "common/ids.h"

#include <sodium.h>

#include <stdexcept>

namespace langfuse {
namespace {
void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}
}  // namespace

std::string ToHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

std::string RandomHex(size_t bytes) {
  EnsureSodium();
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return ToHex(raw);
}

std::string NewUuidV4() {
  EnsureSodium();
  unsigned char b[16];
  randombytes_buf(b, sizeof(b));
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  const std::string hex = ToHex(std::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

std::string Sha256Hex(std::string_view data) {
  EnsureSodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace langfuse
