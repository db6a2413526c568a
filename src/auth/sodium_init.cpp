#include "auth/sodium_init.h"

#include <sodium.h>

#include <stdexcept>

namespace langfuse::auth {

void EnsureSodium() {
  // A function-local static: initialised once, thread-safe since C++11.
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace langfuse::auth
