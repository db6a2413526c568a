#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace langfuse::auth {

//! An API key revocation that every process caching API keys has to apply: one key deleted or
//! changed, all keys of a project, or everything (keys created with chosen secrets, bulk changes).
struct KeyRevocation {
  enum class Scope { kApiKey, kProject, kAll };
  Scope scope = Scope::kAll;
  std::string id;  //!< the public key (kApiKey) or the project id (kProject); empty for kAll

  static KeyRevocation ApiKey(std::string_view public_key) {
    return {Scope::kApiKey, std::string(public_key)};
  }
  static KeyRevocation Project(std::string_view project_id) {
    return {Scope::kProject, std::string(project_id)};
  }
  static KeyRevocation All() { return {Scope::kAll, {}}; }

  bool operator==(const KeyRevocation&) const = default;
};

//! The revocation as one message: `key <public key>`, `project <project id>` or `all`.
std::string EncodeKeyRevocation(const KeyRevocation& revocation);
//! The revocation a message names; nullopt for anything else (an empty id included).
std::optional<KeyRevocation> DecodeKeyRevocation(std::string_view message);

}  // namespace langfuse::auth
