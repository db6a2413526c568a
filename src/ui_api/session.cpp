#include "ui_api/session.h"

#include <sodium.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>
#include <utility>

#include "auth/sodium_init.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/time.h"

namespace langfuse::ui_api {
namespace {

// Tags keep a session MAC from ever being accepted as a CSRF token and the other way round.
constexpr std::string_view kSessionTag = "langfuse-ui-session-v1:";
constexpr std::string_view kCsrfTag = "langfuse-ui-csrf-v1:";
constexpr size_t kMaxTokenLength = 1024;

std::string Base64Url(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> FromBase64Url(std::string_view text) {
  std::string out(text.size(), '\0');
  size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                        nullptr, &length, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

Status Fail(http::Response* error, int status, std::string_view error_name, std::string_view message) {
  if (error != nullptr) *error = http::Response::Error(status, error_name, message);
  switch (status) {
    case 401:
      return Status::Unauthenticated(std::string(message));
    case 403:
      return Status::PermissionDenied(std::string(message));
    case 404:
      return Status::NotFound(std::string(message));
    default:
      return Status::Internal(std::string(message));
  }
}

Status StoreFailure(http::Response* error, const Status& status) {
  if (error != nullptr) *error = StoreErrorResponse(status);
  return status.ok() ? Status::Internal("store failure") : status;
}

// The session's user (401 when none or deleted) and, for state-changing methods, its CSRF token.
StatusOr<Caller> Authenticate(const Sessions& sessions, meta::MetaStore& meta, const http::Request& request,
                              http::Response* error) {
  const std::optional<std::string> user_id = sessions.UserOf(request);
  if (!user_id) return Fail(error, 401, "UnauthorizedError", "Sign in to continue: no valid session");
  auto user = meta.GetUser(*user_id);
  if (!user.ok()) return StoreFailure(error, user.status());
  if (!user->has_value())
    return Fail(error, 401, "UnauthorizedError", "Sign in to continue: no valid session");
  if (IsStateChanging(request.method) && !sessions.CsrfValid(request)) {
    return Fail(error, 403, "ForbiddenError", "Invalid or missing CSRF token (X-CSRF-Token header)");
  }
  Caller caller;
  caller.user_id = (*user)->id;
  caller.email = (*user)->email;
  caller.name = (*user)->name.value_or("");
  return caller;
}

// The caller's role in `org_id`; kNone when not a member.
StatusOr<Role> RoleIn(meta::MetaStore& meta, const std::string& user_id, const std::string& org_id) {
  ASSIGN_OR_RETURN(const auto memberships, meta.ListMembershipsForUser(user_id));
  for (const auto& m : memberships) {
    if (m.org_id == org_id) return ParseRole(m.role);
  }
  return Role::kNone;
}

Status NeedRole(http::Response* error, Role minimum) {
  return Fail(error, 403, "ForbiddenError",
              "This action needs the " + std::string(RoleName(minimum)) + " role in the organization");
}

}  // namespace

Role ParseRole(std::string_view text) {
  if (text == "OWNER") return Role::kOwner;
  if (text == "ADMIN") return Role::kAdmin;
  if (text == "MEMBER") return Role::kMember;
  if (text == "VIEWER") return Role::kViewer;
  return Role::kNone;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOwner:
      return "OWNER";
    case Role::kAdmin:
      return "ADMIN";
    case Role::kMember:
      return "MEMBER";
    case Role::kViewer:
      return "VIEWER";
    case Role::kNone:
      break;
  }
  return "NONE";
}

std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name) {
  while (!cookie_header.empty()) {
    const size_t semi = cookie_header.find(';');
    std::string_view pair = Trim(cookie_header.substr(0, semi));
    cookie_header = semi == std::string_view::npos ? std::string_view() : cookie_header.substr(semi + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (Trim(pair.substr(0, eq)) != name) continue;
    std::string_view value = Trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return std::nullopt;
}

bool IsStateChanging(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

Sessions::Sessions(std::string secret, int64_t max_age_minutes, bool secure_cookies,
                   std::function<int64_t()> now_ms)
    : secret_(std::move(secret)),
      max_age_seconds_(max_age_minutes * 60),
      secure_cookies_(secure_cookies),
      now_ms_(std::move(now_ms)) {
  if (secret_.empty()) throw std::invalid_argument("the session secret (NEXTAUTH_SECRET) is empty");
  if (max_age_minutes <= 0) throw std::invalid_argument("AUTH_SESSION_MAX_AGE must be positive");
  auth::EnsureSodium();
}

Sessions::Sessions(const UiOptions& options)
    : Sessions(options.session_secret, options.session_max_age_minutes, options.secure_cookies) {}

std::string Sessions::Mac(std::string_view tag, std::string_view message) const {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret_.data()), secret_.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(tag.data()), tag.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()),
                                message.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&state, mac);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

int64_t Sessions::NowSeconds() const { return (now_ms_ ? now_ms_() : NowMs()) / 1000; }

std::string Sessions::Issue(std::string_view user_id) const {
  // The signed part is the token's first two fields as they appear: base64url has no '.', so the
  // split is unambiguous.
  const std::string body = Base64Url(user_id) + "." + std::to_string(NowSeconds() + max_age_seconds_);
  return body + "." + Base64Url(Mac(kSessionTag, body));
}

std::optional<std::string> Sessions::Verify(std::string_view token) const {
  if (token.empty() || token.size() > kMaxTokenLength) return std::nullopt;
  const size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
    return std::nullopt;
  const std::string_view body = token.substr(0, second);
  const std::optional<std::string> mac = FromBase64Url(token.substr(second + 1));
  if (!mac || !ConstantTimeEqual(*mac, Mac(kSessionTag, body))) return std::nullopt;

  const std::string_view expiry_text = token.substr(first + 1, second - first - 1);
  int64_t expiry = 0;
  const auto [ptr, ec] = std::from_chars(expiry_text.data(), expiry_text.data() + expiry_text.size(), expiry);
  if (ec != std::errc() || ptr != expiry_text.data() + expiry_text.size() || expiry <= NowSeconds()) {
    return std::nullopt;
  }
  std::optional<std::string> user_id = FromBase64Url(token.substr(0, first));
  if (!user_id || user_id->empty()) return std::nullopt;
  return user_id;
}

std::string Sessions::CsrfToken(std::string_view session_token) const {
  return Base64Url(Mac(kCsrfTag, session_token));
}

std::optional<std::string> Sessions::TokenOf(const http::Request& request) {
  return CookieValue(request.Header("Cookie"), kSessionCookie);
}

std::optional<std::string> Sessions::UserOf(const http::Request& request) const {
  const std::optional<std::string> token = TokenOf(request);
  if (!token) return std::nullopt;
  return Verify(*token);
}

bool Sessions::CsrfValid(const http::Request& request) const {
  const std::optional<std::string> token = TokenOf(request);
  if (!token || !Verify(*token)) return false;
  const std::string_view sent = request.Header(kCsrfHeader);
  return !sent.empty() && ConstantTimeEqual(sent, CsrfToken(*token));
}

bool Sessions::Secure(const http::Request& request) const {
  if (secure_cookies_) return true;
  // A proxy chain may list several protocols; the first is the client's.
  std::string_view proto = request.Header("X-Forwarded-Proto");
  proto = Trim(proto.substr(0, proto.find(',')));
  return EqualsIgnoreCase(proto, "https");
}

std::string Sessions::SetCookie(const http::Request& request, std::string_view token) const {
  std::string cookie = std::string(kSessionCookie) + "=" + std::string(token) +
                       "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" + std::to_string(max_age_seconds_);
  if (Secure(request)) cookie += "; Secure";
  return cookie;
}

std::string Sessions::ClearCookie(const http::Request& request) const {
  std::string cookie = std::string(kSessionCookie) +
                       "=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
  if (Secure(request)) cookie += "; Secure";
  return cookie;
}

StatusOr<std::string> LoadOrCreateSessionSecret(const std::string& path) {
  auth::EnsureSodium();
  auto read = [&]() -> StatusOr<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::Internal("cannot read the session secret " + path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
      text.pop_back();
    if (text.empty())
      return Status::Internal("the session secret file " + path +
                              " is empty; delete it or set NEXTAUTH_SECRET");
    return text;
  };
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      // Created by an earlier start, or by a process starting at the same moment: give its write
      // a moment to land.
      for (int attempt = 0; attempt < 50; ++attempt) {
        auto secret = read();
        if (secret.ok()) return secret;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      return read();
    }
    return Status::Internal("cannot create the session secret " + path + ": " + std::strerror(errno));
  }
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  const std::string secret =
      ToHex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes)) + "\n";
  size_t written = 0;
  while (written < secret.size()) {
    const ssize_t n = ::write(fd, secret.data() + written, secret.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(path.c_str());
      return Status::Internal("cannot write the session secret " + path + ": " + reason);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Status::Internal("cannot write the session secret " + path + ": " + std::strerror(errno));
  }
  return secret.substr(0, secret.size() - 1);
}

http::Response StoreErrorResponse(const Status& status) {
  if (status.code() == StatusCode::kUnavailable) {
    LOG_ERROR("UI request failed, a store is unavailable: {}", status.message());
    return http::Response::Error(503, "ServiceUnavailableError", "Service unavailable, try again");
  }
  LOG_ERROR("UI request failed: {}", status.message());
  return http::Response::Error(500, "InternalServerError", "Internal Server Error");
}

StatusOr<Caller> RequireSession(const Sessions& sessions, meta::MetaStore& meta, const http::Request& request,
                                http::Response* error) {
  return Authenticate(sessions, meta, request, error);
}

StatusOr<OrgAccess> RequireOrgAccess(const Sessions& sessions, meta::MetaStore& meta,
                                     const http::Request& request, const std::string& org_id, Role minimum,
                                     http::Response* error) {
  ASSIGN_OR_RETURN(Caller caller, Authenticate(sessions, meta, request, error));
  auto role = RoleIn(meta, caller.user_id, org_id);
  if (!role.ok()) return StoreFailure(error, role.status());
  // Not a member: the organisation's existence is not revealed.
  if (*role == Role::kNone) return Fail(error, 404, "LangfuseNotFoundError", "Organization not found");
  if (*role < minimum) return NeedRole(error, minimum);
  OrgAccess access;
  access.caller = std::move(caller);
  access.org_id = org_id;
  access.role = *role;
  return access;
}

StatusOr<ProjectAccess> RequireProjectAccess(const Sessions& sessions, meta::MetaStore& meta,
                                             const http::Request& request, const std::string& project_id,
                                             Role minimum, http::Response* error) {
  ASSIGN_OR_RETURN(Caller caller, Authenticate(sessions, meta, request, error));
  auto project = meta.GetProject(project_id);
  if (!project.ok()) return StoreFailure(error, project.status());
  if (!project->has_value() || (*project)->deleted_at_ms.has_value()) {
    return Fail(error, 404, "LangfuseNotFoundError", "Project not found");
  }
  auto role = RoleIn(meta, caller.user_id, (*project)->org_id);
  if (!role.ok()) return StoreFailure(error, role.status());
  // A project of an organisation the caller is not in is as unknown as a missing one.
  if (*role == Role::kNone) return Fail(error, 404, "LangfuseNotFoundError", "Project not found");
  if (*role < minimum) return NeedRole(error, minimum);
  ProjectAccess access;
  access.caller = std::move(caller);
  access.project_id = project_id;
  access.org_id = (*project)->org_id;
  access.role = *role;
  return access;
}

}  // namespace langfuse::ui_api
