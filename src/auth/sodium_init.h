#pragma once

namespace langfuse::auth {

//! Initialises libsodium once per process (thread-safe, idempotent). Throws std::runtime_error
//! when the library cannot start (no entropy source): a start-up failure, not a request error.
void EnsureSodium();

}  // namespace langfuse::auth
