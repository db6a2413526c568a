#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/api.h"
#include "common/status.h"
#include "http/http_types.h"
#include "http/router.h"

namespace langfuse::ui_api {

//! Settings of the UI's routes, read from the environment by the application.
struct UiOptions {
  std::string session_secret;      //!< NEXTAUTH_SECRET (or a generated one kept in the data directory)
  int session_max_age_minutes = 30 * 24 * 60;  //!< AUTH_SESSION_MAX_AGE
  bool signup_disabled = false;    //!< AUTH_DISABLE_SIGNUP
  bool secure_cookies = false;     //!< NEXTAUTH_URL starts with https:
  std::string ui_dir;              //!< LANGFUSE_UI_DIR: the built app (empty: no static files)
  std::string api_key_salt;        //!< SALT: hashes the API keys the UI creates
};

//! Organisation roles, weakest first.
enum class Role { kNone = 0, kViewer, kMember, kAdmin, kOwner };

//! The signed-in user and, for project routes, the caller's role in the project's organisation.
struct Caller {
  std::string user_id;
  std::string email;
  std::string name;
};

//! The access check every project route starts with: a valid session cookie (else 401), the
//! project exists and belongs to an organisation the user is a member of (else 404), with at
//! least `minimum` role there (else 403), and for state-changing methods a valid CSRF header
//! (else 403). On failure `error` holds the response to return.
struct ProjectAccess {
  Caller caller;
  std::string project_id;
  std::string org_id;
  Role role = Role::kNone;
};
class Sessions;  // defined in session.h
StatusOr<ProjectAccess> RequireProjectAccess(const Sessions& sessions, meta::MetaStore& meta,
                                             const http::Request& request, const std::string& project_id,
                                             Role minimum, http::Response* error);

//! Registers /api/ui/auth/*, organisations, projects, keys and members (account_routes.cpp).
void RegisterAccountRoutes(http::Router& router, api::ApiContext& context, const Sessions& sessions,
                           const UiOptions& options);
//! Registers /api/ui/projects/{projectId}/{traces,sessions,users,scores,dashboard} (data_routes.cpp).
void RegisterDataRoutes(http::Router& router, api::ApiContext& context, const Sessions& sessions);

}  // namespace langfuse::ui_api
