#pragma once

#include <string>
#include <string_view>

namespace langfuse {

//! A random (version 4) UUID in its canonical lower-case form.
std::string NewUuidV4();
//! `bytes` random bytes as lower-case hex.
std::string RandomHex(size_t bytes);
//! Lower-case hex of arbitrary bytes.
std::string ToHex(std::string_view bytes);
//! Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace langfuse
