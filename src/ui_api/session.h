#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/http_types.h"
#include "storage/meta/meta_store.h"
#include "ui_api/ui_api.h"

namespace langfuse::ui_api {

//! The session cookie's name.
inline constexpr std::string_view kSessionCookie = "langfuse.session";
//! The header a state-changing request carries the CSRF token in.
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

//! "OWNER" -> kOwner, ...; kNone for anything else (NONE included).
Role ParseRole(std::string_view text);
//! kOwner -> "OWNER", ...; "NONE" for kNone.
std::string_view RoleName(Role role);

//! The value of cookie `name` in a Cookie header ("a=1; b=2"), nullopt when absent. The first
//! occurrence wins; values are taken verbatim (the session token is base64url, never quoted).
std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name);

//! True for POST, PUT, PATCH and DELETE: the methods that need a CSRF token.
bool IsStateChanging(std::string_view method);

//! Issues and checks the UI's session tokens and CSRF tokens. A session token is
//! `<base64url(user id)>.<expiry, Unix seconds>.<base64url(HMAC-SHA256(secret, tag, user id, expiry))>`:
//! stateless, so any web process sharing the secret accepts it, and it cannot be revoked before it
//! expires (signing out clears the cookie only). The CSRF token is an HMAC of the session token
//! under another tag: valid exactly as long as the session.
//! Thread-safety: immutable after construction; every method may be called concurrently.
class Sessions {
 public:
  //! `secret` must not be empty (throws std::invalid_argument: a start-up error).
  Sessions(std::string secret, int64_t max_age_minutes, bool secure_cookies,
           std::function<int64_t()> now_ms = {});
  explicit Sessions(const UiOptions& options);

  //! A fresh token for `user_id`, valid for max_age from now.
  std::string Issue(std::string_view user_id) const;
  //! The user id of a valid, unexpired token; nullopt for anything else.
  std::optional<std::string> Verify(std::string_view token) const;
  //! The CSRF token belonging to a session token.
  std::string CsrfToken(std::string_view session_token) const;

  //! The session token of the request's cookie, nullopt when absent.
  static std::optional<std::string> TokenOf(const http::Request& request);
  //! The user id of the request's valid session, nullopt when none.
  std::optional<std::string> UserOf(const http::Request& request) const;
  //! True when the request's X-CSRF-Token matches its session (constant-time comparison).
  bool CsrfValid(const http::Request& request) const;

  //! The Set-Cookie value that installs `token`.
  std::string SetCookie(const http::Request& request, std::string_view token) const;
  //! The Set-Cookie value that removes the cookie.
  std::string ClearCookie(const http::Request& request) const;

  int64_t max_age_seconds() const { return max_age_seconds_; }

 private:
  std::string Mac(std::string_view tag, std::string_view message) const;
  bool Secure(const http::Request& request) const;
  int64_t NowSeconds() const;

  std::string secret_;
  int64_t max_age_seconds_;
  bool secure_cookies_;
  std::function<int64_t()> now_ms_;
};

//! The caller of an organisation route: signed in (else 401), a member of `org_id` (else 404),
//! at least `minimum` role (else 403), with a valid CSRF token on state-changing methods (else 403).
struct OrgAccess {
  Caller caller;
  std::string org_id;
  Role role = Role::kNone;
};
StatusOr<OrgAccess> RequireOrgAccess(const Sessions& sessions, meta::MetaStore& meta,
                                     const http::Request& request, const std::string& org_id, Role minimum,
                                     http::Response* error);

//! The signed-in caller (else 401) with, on state-changing methods, a valid CSRF token (else 403).
StatusOr<Caller> RequireSession(const Sessions& sessions, meta::MetaStore& meta, const http::Request& request,
                                http::Response* error);

//! The session secret kept at `path` (the embedded mode's stand-in for NEXTAUTH_SECRET): read when
//! the file exists, else 32 random bytes written there (hex, mode 0600) once; a process racing to
//! create it reads the winner's. kInternal when the file cannot be read or written, or is empty.
StatusOr<std::string> LoadOrCreateSessionSecret(const std::string& path);

//! The response for a store failure: 503 when unavailable, else a 500 without internals.
http::Response StoreErrorResponse(const Status& status);

}  // namespace langfuse::ui_api
