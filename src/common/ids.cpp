#include "common/ids.h"

#include <sodium.h>

#include <cstring>
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
  // Random bytes drawn 4 KiB at a time per thread: one getrandom() call per 256 ids instead of
  // one per id (ingestion makes an id for every event). The bytes are libsodium's either way.
  thread_local unsigned char pool[4096];
  thread_local size_t used = sizeof(pool);
  if (used + 16 > sizeof(pool)) {
    EnsureSodium();
    randombytes_buf(pool, sizeof(pool));
    used = 0;
  }
  unsigned char* b = pool + used;
  used += 16;
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++o;  // the dashes
    out[o++] = kHex[b[i] >> 4];
    out[o++] = kHex[b[i] & 0xF];
  }
  std::memset(b, 0, 16);  // no copy of an id's bytes stays behind in the pool
  return out;
}

std::string Sha256Hex(std::string_view data) {
  EnsureSodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return ToHex(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace langfuse
