#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "storage/meta/meta_store.h"

namespace langfuse::auth {

//! Langfuse's headless initialisation variables (web/src/initialize.ts). An empty string means
//! "not set", as Langfuse's env parsing treats empty variables. LANGFUSE_INIT_ORG_CLOUD_PLAN and
//! LANGFUSE_INIT_PROJECT_RETENTION are not read: both need Langfuse Cloud or an EE entitlement.
struct InitOptions {
  std::string org_id;              //!< LANGFUSE_INIT_ORG_ID; nothing happens without it
  std::string org_name;            //!< LANGFUSE_INIT_ORG_NAME, default "Provisioned Org"
  std::string project_id;          //!< LANGFUSE_INIT_PROJECT_ID
  std::string project_name;        //!< LANGFUSE_INIT_PROJECT_NAME, default "Provisioned Project"
  std::string project_public_key;  //!< LANGFUSE_INIT_PROJECT_PUBLIC_KEY (with the secret key)
  std::string project_secret_key;  //!< LANGFUSE_INIT_PROJECT_SECRET_KEY (with the public key)
  std::string user_email;          //!< LANGFUSE_INIT_USER_EMAIL (with the password)
  std::string user_name;           //!< LANGFUSE_INIT_USER_NAME, default "Provisioned User"
  std::string user_password;       //!< LANGFUSE_INIT_USER_PASSWORD, at least 8 characters
};

//! Reads the LANGFUSE_INIT_* variables from the process environment.
InitOptions InitOptionsFromEnv();

//! Applies `options` the way Langfuse does on every start, so running it again changes nothing:
//!  - no org_id: nothing (a warning lists any other LANGFUSE_INIT_* that is set);
//!  - the organisation and the project are created when missing, never renamed or moved;
//!  - the key pair (both keys and project_id needed) is created when its public key is unknown,
//!    and deleted and re-created when that public key belongs to another project; an existing key
//!    keeps its secret (a changed LANGFUSE_INIT_PROJECT_SECRET_KEY only logs a warning);
//!  - the user (email and password needed; email lower-cased) is created when missing with an
//!    argon2id password hash, an existing user is left as is; either way it becomes OWNER of the
//!    organisation.
//! Partial settings log a warning, as in Langfuse. kInvalidArgument for a password shorter than
//! 8 characters or a malformed email, when the user would be created (Langfuse refuses to start).
//! `salt` is SALT, for the key's fast hash. Call once at start-up, after Migrate, before serving.
Status InitializeFromOptions(meta::MetaStore& store, const InitOptions& options, const std::string& salt);

//! What CreateDefaultsIfEmpty made; the caller prints the keys once (the secret is not stored).
struct DefaultCredentials {
  std::string org_id;
  std::string project_id;
  std::string public_key;
  std::string secret_key;
};

//! First start without LANGFUSE_INIT_*: when the store holds no organisation at all, creates
//! "Default Organization", "Default Project" and a fresh key pair and returns them; otherwise
//! nullopt. Call after InitializeFromOptions (which, when configured, creates an organisation,
//! so the defaults are never added next to a provisioned one).
StatusOr<std::optional<DefaultCredentials>> CreateDefaultsIfEmpty(meta::MetaStore& store,
                                                                  const std::string& salt);

}  // namespace langfuse::auth
