#include "auth/key_revocation.h"

namespace langfuse::auth {

std::string EncodeKeyRevocation(const KeyRevocation& revocation) {
  switch (revocation.scope) {
    case KeyRevocation::Scope::kApiKey:
      return "key " + revocation.id;
    case KeyRevocation::Scope::kProject:
      return "project " + revocation.id;
    case KeyRevocation::Scope::kAll:
      break;
  }
  return "all";
}

std::optional<KeyRevocation> DecodeKeyRevocation(std::string_view message) {
  if (message == "all") return KeyRevocation::All();
  // The id is everything after the first space, spaces included: ids are opaque here.
  const size_t space = message.find(' ');
  if (space == std::string_view::npos || space + 1 == message.size()) return std::nullopt;
  const std::string_view kind = message.substr(0, space);
  const std::string_view id = message.substr(space + 1);
  if (kind == "key") return KeyRevocation::ApiKey(id);
  if (kind == "project") return KeyRevocation::Project(id);
  return std::nullopt;
}

}  // namespace langfuse::auth
