#include "auth/bootstrap.h"

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "auth/api_keys.h"
#include "auth/password.h"
#include "common/ids.h"
#include "common/log.h"

namespace langfuse::auth {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

std::string OrDefault(const std::string& value, const char* fallback) {
  return value.empty() ? fallback : value;
}

std::string AsciiLower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  });
  return text;
}

// A light check (one '@', text on both sides, a dot in the domain, no spaces): Langfuse validates
// the variable as an email at start-up; this catches the same typos without a full RFC parser.
bool LooksLikeEmail(std::string_view email) {
  const size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= email.size()) return false;
  if (email.find('@', at + 1) != std::string_view::npos) return false;
  if (email.find_first_of(" \t\r\n") != std::string_view::npos) return false;
  const std::string_view domain = email.substr(at + 1);
  const size_t dot = domain.find('.');
  return dot != std::string_view::npos && dot > 0 && dot + 1 < domain.size();
}

void WarnAboutIgnoredVariables(const InitOptions& o) {
  std::vector<std::string> set;
  if (!o.org_name.empty()) set.push_back("LANGFUSE_INIT_ORG_NAME");
  if (!o.project_id.empty()) set.push_back("LANGFUSE_INIT_PROJECT_ID");
  if (!o.project_name.empty()) set.push_back("LANGFUSE_INIT_PROJECT_NAME");
  if (!o.project_public_key.empty()) set.push_back("LANGFUSE_INIT_PROJECT_PUBLIC_KEY");
  if (!o.project_secret_key.empty()) set.push_back("LANGFUSE_INIT_PROJECT_SECRET_KEY");
  if (!o.user_email.empty()) set.push_back("LANGFUSE_INIT_USER_EMAIL");
  if (!o.user_name.empty()) set.push_back("LANGFUSE_INIT_USER_NAME");
  if (!o.user_password.empty()) set.push_back("LANGFUSE_INIT_USER_PASSWORD");
  if (set.empty()) return;
  std::string names;
  for (const auto& name : set) names += (names.empty() ? "" : ", ") + name;
  LOG_WARN("init: LANGFUSE_INIT_ORG_ID is not set, so these are ignored: {}", names);
}

void WarnAboutPartialSettings(const InitOptions& o) {
  const bool has_pk = !o.project_public_key.empty();
  const bool has_sk = !o.project_secret_key.empty();
  if (has_pk != has_sk) {
    LOG_WARN(
        "init: {} is not set; API keys are provisioned only when both LANGFUSE_INIT_PROJECT_PUBLIC_KEY and "
        "LANGFUSE_INIT_PROJECT_SECRET_KEY are set",
        has_pk ? "LANGFUSE_INIT_PROJECT_SECRET_KEY" : "LANGFUSE_INIT_PROJECT_PUBLIC_KEY");
  }
  if ((has_pk || has_sk) && o.project_id.empty()) {
    LOG_WARN(
        "init: API key variables are set but LANGFUSE_INIT_PROJECT_ID is not; no API key is provisioned");
  }
  const bool has_email = !o.user_email.empty();
  const bool has_password = !o.user_password.empty();
  if (has_email != has_password) {
    LOG_WARN(
        "init: {} is not set; a user is provisioned only when both LANGFUSE_INIT_USER_EMAIL and "
        "LANGFUSE_INIT_USER_PASSWORD are set",
        has_email ? "LANGFUSE_INIT_USER_PASSWORD" : "LANGFUSE_INIT_USER_EMAIL");
  }
}

Status EnsureOrganization(meta::MetaStore& store, const std::string& id, const std::string& name) {
  ASSIGN_OR_RETURN(std::optional<meta::Organization> existing, store.GetOrganization(id));
  if (existing.has_value()) return Status::Ok();  // never renamed, as Langfuse's upsert with update: {}
  return store.UpsertOrganization({id, name});
}

Status EnsureProject(meta::MetaStore& store, const std::string& id, const std::string& org_id,
                     const std::string& name) {
  ASSIGN_OR_RETURN(std::optional<meta::Project> existing, store.GetProject(id));
  if (existing.has_value()) return Status::Ok();
  meta::Project project;
  project.id = id;
  project.org_id = org_id;
  project.name = name;
  return store.UpsertProject(project);
}

Status EnsureApiKey(meta::MetaStore& store, const InitOptions& o, const std::string& salt) {
  ASSIGN_OR_RETURN(std::optional<meta::ApiKey> existing, store.FindApiKeyByPublicKey(o.project_public_key));
  if (existing.has_value() && existing->project_id == o.project_id) {
    if (!existing->fast_hashed_secret_key.empty() &&
        existing->fast_hashed_secret_key != FastHashSecretKey(o.project_secret_key, salt)) {
      LOG_WARN(
          "init: API key {} exists with another secret key; keeping the stored one "
          "(LANGFUSE_INIT_PROJECT_SECRET_KEY only applies when the key is created)",
          o.project_public_key);
    }
    return Status::Ok();
  }
  if (existing.has_value()) {
    LOG_INFO("init: API key {} belonged to project {}; re-creating it in project {}", o.project_public_key,
             existing->project_id.value_or(""), o.project_id);
    RETURN_IF_ERROR(store.DeleteApiKey(existing->id));
  }
  ASSIGN_OR_RETURN(meta::ApiKey key,
                   MakeProjectApiKey(o.project_id, {o.project_public_key, o.project_secret_key}, salt,
                                     std::string("Provisioned API Key")));
  return store.UpsertApiKey(key);
}

Status EnsureOwner(meta::MetaStore& store, const InitOptions& o) {
  const std::string email = AsciiLower(o.user_email);
  ASSIGN_OR_RETURN(std::optional<meta::User> existing, store.FindUserByEmail(email));
  std::string user_id;
  if (existing.has_value()) {
    user_id = existing->id;  // left as is: name and password are the user's now
  } else {
    if (!LooksLikeEmail(email)) {
      return Status::InvalidArgument("LANGFUSE_INIT_USER_EMAIL is not a valid email address: " +
                                     o.user_email);
    }
    if (o.user_password.size() < kMinPasswordLength) {
      return Status::InvalidArgument("LANGFUSE_INIT_USER_PASSWORD needs to be at least 8 characters long");
    }
    ASSIGN_OR_RETURN(std::string hash, HashPassword(o.user_password));
    meta::User user;
    user.id = NewUuidV4();
    user.email = email;
    user.name = OrDefault(o.user_name, "Provisioned User");
    user.password = std::move(hash);
    RETURN_IF_ERROR(store.UpsertUser(user));
    user_id = user.id;
  }
  return store.UpsertMembership({"", o.org_id, user_id, "OWNER"});
}

}  // namespace

InitOptions InitOptionsFromEnv() {
  InitOptions o;
  o.org_id = Env("LANGFUSE_INIT_ORG_ID");
  o.org_name = Env("LANGFUSE_INIT_ORG_NAME");
  o.project_id = Env("LANGFUSE_INIT_PROJECT_ID");
  o.project_name = Env("LANGFUSE_INIT_PROJECT_NAME");
  o.project_public_key = Env("LANGFUSE_INIT_PROJECT_PUBLIC_KEY");
  o.project_secret_key = Env("LANGFUSE_INIT_PROJECT_SECRET_KEY");
  o.user_email = Env("LANGFUSE_INIT_USER_EMAIL");
  o.user_name = Env("LANGFUSE_INIT_USER_NAME");
  o.user_password = Env("LANGFUSE_INIT_USER_PASSWORD");
  return o;
}

Status InitializeFromOptions(meta::MetaStore& store, const InitOptions& o, const std::string& salt) {
  if (o.org_id.empty()) {
    WarnAboutIgnoredVariables(o);
    return Status::Ok();
  }
  RETURN_IF_ERROR(EnsureOrganization(store, o.org_id, OrDefault(o.org_name, "Provisioned Org")));
  WarnAboutPartialSettings(o);
  if (!o.project_id.empty()) {
    RETURN_IF_ERROR(
        EnsureProject(store, o.project_id, o.org_id, OrDefault(o.project_name, "Provisioned Project")));
    if (!o.project_public_key.empty() && !o.project_secret_key.empty())
      RETURN_IF_ERROR(EnsureApiKey(store, o, salt));
  }
  if (!o.user_email.empty() && !o.user_password.empty()) RETURN_IF_ERROR(EnsureOwner(store, o));
  return Status::Ok();
}

StatusOr<std::optional<DefaultCredentials>> CreateDefaultsIfEmpty(meta::MetaStore& store,
                                                                  const std::string& salt) {
  ASSIGN_OR_RETURN(const int64_t organizations, store.CountOrganizations());
  if (organizations > 0) return std::optional<DefaultCredentials>();

  DefaultCredentials created;
  created.org_id = NewUuidV4();
  created.project_id = NewUuidV4();
  const ApiKeyPair keys = GenerateApiKeyPair();
  created.public_key = keys.public_key;
  created.secret_key = keys.secret_key;

  // Hash before writing anything, so a failure leaves the store empty and the next start retries.
  ASSIGN_OR_RETURN(meta::ApiKey key,
                   MakeProjectApiKey(created.project_id, keys, salt, std::string("Default API Key")));
  RETURN_IF_ERROR(store.UpsertOrganization({created.org_id, "Default Organization"}));
  meta::Project project;
  project.id = created.project_id;
  project.org_id = created.org_id;
  project.name = "Default Project";
  RETURN_IF_ERROR(store.UpsertProject(project));
  RETURN_IF_ERROR(store.UpsertApiKey(key));
  return std::optional<DefaultCredentials>(std::move(created));
}

}  // namespace langfuse::auth
