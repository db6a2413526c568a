// The web UI's account routes (docs/ui-api.md, "Auth and account" and "Organisations, projects,
// keys, members"): sign-up and sign-in with a signed session cookie, organisations, projects,
// project API keys and organisation members.

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/api_keys.h"
#include "auth/password.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/time.h"
#include "ui_api/session.h"
#include "ui_api/ui_api.h"

namespace langfuse::ui_api {
namespace {

using nlohmann::json;

constexpr size_t kMaxNameLength = 100;
constexpr size_t kMaxEmailLength = 254;
// Argon2 takes any length, but an unbounded password is only a way to burn CPU.
constexpr size_t kMaxPasswordLength = 1024;
constexpr size_t kMaxNoteLength = 1000;
constexpr std::string_view kInvalidCredentials = "Invalid email or password";

http::Response JsonResponse(int status, const json& body) {
  return http::Response::Json(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

http::Response BadRequest(std::string_view message) {
  return http::Response::Error(400, "InvalidRequestError", message);
}

json Nullable(const std::optional<std::string>& value) { return value ? json(*value) : json(nullptr); }
json NullableTime(const std::optional<int64_t>& ms) {
  return ms ? json(FormatIso8601Ms(*ms)) : json(nullptr);
}

json UserJson(const meta::User& user) {
  return {{"id", user.id}, {"name", Nullable(user.name)}, {"email", user.email}};
}

//! The request body as a JSON object; on failure `error` holds the 400.
std::optional<json> ParseObject(const http::Request& request, http::Response* error,
                                bool empty_is_object = false) {
  if (empty_is_object && request.body.find_first_not_of(" \t\r\n") == std::string::npos)
    return json::object();
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    *error = BadRequest("Invalid request body: expected a JSON object");
    return std::nullopt;
  }
  return body;
}

//! A required string field, trimmed, 1..max_length characters (bytes); on failure `error` holds
//! a 400 naming the field.
std::optional<std::string> StringField(const json& body, const char* field, size_t max_length,
                                       http::Response* error, bool trim = true) {
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    *error = BadRequest(std::string("Invalid request body: ") + field + ": Required");
    return std::nullopt;
  }
  if (!it->is_string()) {
    *error = BadRequest(std::string("Invalid request body: ") + field + ": Expected string, received " +
                        it->type_name());
    return std::nullopt;
  }
  std::string value = it->get<std::string>();
  if (trim) {
    const size_t first = value.find_first_not_of(" \t\r\n");
    const size_t last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
  }
  if (value.empty()) {
    *error = BadRequest(std::string("Invalid request body: ") + field + ": must not be empty");
    return std::nullopt;
  }
  if (value.size() > max_length) {
    *error = BadRequest(std::string("Invalid request body: ") + field + ": must be at most " +
                        std::to_string(max_length) + " characters");
    return std::nullopt;
  }
  return value;
}

//! A plausible address: one '@' with text on both sides, a dot in the domain, no spaces or
//! control characters. Lower-cased (ASCII) as the store keeps it.
std::optional<std::string> EmailField(const json& body, http::Response* error) {
  std::optional<std::string> email = StringField(body, "email", kMaxEmailLength, error);
  if (!email) return std::nullopt;
  const size_t at = email->find('@');
  bool valid = at != std::string::npos && at > 0 && email->find('@', at + 1) == std::string::npos &&
               email->find('.', at + 2) != std::string::npos && email->back() != '.';
  for (char& c : *email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) valid = false;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!valid) {
    *error = BadRequest("Invalid request body: email: Invalid email");
    return std::nullopt;
  }
  return email;
}

std::optional<Role> RoleField(const json& body, http::Response* error) {
  std::optional<std::string> text = StringField(body, "role", 16, error);
  if (!text) return std::nullopt;
  const Role role = ParseRole(*text);
  if (role == Role::kNone) {
    *error = BadRequest(
        "Invalid request body: role: Invalid enum value. Expected 'OWNER' | 'ADMIN' | 'MEMBER' | "
        "'VIEWER', received '" +
        *text + "'");
    return std::nullopt;
  }
  return role;
}

bool IsJsonContentType(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  std::string lower;
  for (char c : media) {
    if (c == ' ' || c == '\t') continue;
    lower += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return lower == "application/json";
}

//! Everything the handlers share; lives as long as the router (captured by the handlers).
struct AccountRoutes {
  meta::MetaStore& meta;
  auth::ApiKeyAuthenticator& authenticator;
  const Sessions& sessions;
  UiOptions options;
  //! Serialises member changes in this process, so two concurrent demotions cannot both see
  //! "another OWNER remains". Across several web processes the check is per process only.
  std::mutex members_mu;
  //! A hash verified for unknown e-mails, so that an unknown address costs as long as a wrong
  //! password and the timing does not tell which addresses have accounts.
  std::once_flag dummy_once;
  std::string dummy_hash;

  const std::string& DummyHash() {
    std::call_once(dummy_once, [this] {
      auto hash = auth::HashPassword(RandomHex(16));
      dummy_hash = hash.ok() ? *hash : "";
    });
    return dummy_hash;
  }

  http::Response WithCookie(http::Response response, std::string cookie) {
    response.headers.emplace_back("Set-Cookie", std::move(cookie));
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
  }

  // --- Auth ---

  http::Response Config(http::Request&) {
    return JsonResponse(200, {{"signUpDisabled", options.signup_disabled}});
  }

  http::Response SignUp(http::Request& request) {
    if (options.signup_disabled) return http::Response::Error(403, "ForbiddenError", "Sign-up is disabled");
    if (!IsJsonContentType(request.Header("Content-Type"))) {
      return BadRequest("Content-Type must be application/json");
    }
    http::Response error;
    const auto body = ParseObject(request, &error);
    if (!body) return error;
    const auto name = StringField(*body, "name", kMaxNameLength, &error);
    if (!name) return error;
    const auto email = EmailField(*body, &error);
    if (!email) return error;
    const auto password = StringField(*body, "password", kMaxPasswordLength, &error, /*trim=*/false);
    if (!password) return error;
    if (password->size() < auth::kMinPasswordLength) {
      return BadRequest("Invalid request body: password: must be at least " +
                        std::to_string(auth::kMinPasswordLength) + " characters");
    }
    auto hash = auth::HashPassword(*password);
    if (!hash.ok()) return StoreErrorResponse(hash.status());
    meta::User user;
    user.id = NewUuidV4();
    user.email = *email;
    user.name = *name;
    user.password = *hash;
    const Status created = meta.CreateUser(user);
    if (created.code() == StatusCode::kConflict) {
      return http::Response::Error(409, "LangfuseConflictError", "A user with this email already exists");
    }
    if (!created.ok()) return StoreErrorResponse(created);
    return WithCookie(JsonResponse(201, {{"user", UserJson(user)}}),
                      sessions.SetCookie(request, sessions.Issue(user.id)));
  }

  http::Response SignIn(http::Request& request) {
    if (!IsJsonContentType(request.Header("Content-Type"))) {
      return BadRequest("Content-Type must be application/json");
    }
    http::Response error;
    const auto body = ParseObject(request, &error);
    if (!body) return error;
    // Shape errors only; a malformed address is just an unknown one (same answer as a wrong password).
    const auto email = StringField(*body, "email", kMaxEmailLength, &error);
    if (!email) return error;
    const auto password = StringField(*body, "password", kMaxPasswordLength, &error, /*trim=*/false);
    if (!password) return error;

    auto found = meta.FindUserByEmail(*email);
    if (!found.ok()) return StoreErrorResponse(found.status());
    const bool known = found->has_value() && (*found)->password.has_value() && !(*found)->password->empty();
    const std::string& hash = known ? *(*found)->password : DummyHash();
    const bool matches = auth::VerifyPassword(*password, hash);
    if (!known || !matches) return http::Response::Error(401, "UnauthorizedError", kInvalidCredentials);

    meta::User user = **found;
    if (auth::NeedsRehash(hash)) {
      // Imported with bcrypt: upgrade to argon2id now that the password is known.
      if (auto upgraded = auth::HashPassword(*password); upgraded.ok()) {
        meta::User updated = user;
        updated.password = *upgraded;
        if (Status st = meta.UpsertUser(updated); !st.ok()) {
          LOG_WARN("could not upgrade the password hash of user {}: {}", user.id, st.message());
        }
      }
    }
    return WithCookie(JsonResponse(200, {{"user", UserJson(user)}}),
                      sessions.SetCookie(request, sessions.Issue(user.id)));
  }

  http::Response SignOut(http::Request& request) {
    // Without a valid session there is nothing to protect: just clear the cookie.
    if (sessions.UserOf(request) && !sessions.CsrfValid(request)) {
      return http::Response::Error(403, "ForbiddenError",
                                   "Invalid or missing CSRF token (X-CSRF-Token header)");
    }
    return WithCookie(JsonResponse(200, json::object()), sessions.ClearCookie(request));
  }

  http::Response Session(http::Request& request) {
    http::Response error;
    auto caller = RequireSession(sessions, meta, request, &error);
    if (!caller.ok()) return error;
    auto orgs = OrganizationsOf(caller->user_id);
    if (!orgs.ok()) return StoreErrorResponse(orgs.status());
    json user = {{"id", caller->user_id},
                 {"name", caller->name.empty() ? json(nullptr) : json(caller->name)},
                 {"email", caller->email}};
    http::Response response =
        JsonResponse(200, {{"user", std::move(user)},
                           {"csrfToken", sessions.CsrfToken(*Sessions::TokenOf(request))},
                           {"organizations", std::move(*orgs)}});
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
  }

  StatusOr<json> OrgJson(const std::string& org_id, Role role) {
    ASSIGN_OR_RETURN(const auto org, meta.GetOrganization(org_id));
    if (!org) return Status::NotFound("organization not found");
    ASSIGN_OR_RETURN(const auto projects, meta.ListProjects(org_id));
    json list = json::array();
    for (const auto& p : projects) list.push_back({{"id", p.id}, {"name", p.name}});
    return json{
        {"id", org->id}, {"name", org->name}, {"role", RoleName(role)}, {"projects", std::move(list)}};
  }

  StatusOr<json> OrganizationsOf(const std::string& user_id) {
    ASSIGN_OR_RETURN(const auto memberships, meta.ListMembershipsForUser(user_id));
    json out = json::array();
    for (const auto& m : memberships) {
      const Role role = ParseRole(m.role);
      if (role == Role::kNone) continue;
      auto org = OrgJson(m.org_id, role);
      if (org.status().code() == StatusCode::kNotFound) continue;
      if (!org.ok()) return org.status();
      out.push_back(std::move(*org));
    }
    return out;
  }

  // --- Organisations and projects ---

  http::Response CreateOrganization(http::Request& request) {
    http::Response error;
    auto caller = RequireSession(sessions, meta, request, &error);
    if (!caller.ok()) return error;
    const auto body = ParseObject(request, &error);
    if (!body) return error;
    const auto name = StringField(*body, "name", kMaxNameLength, &error);
    if (!name) return error;
    meta::Organization org;
    org.id = NewUuidV4();
    org.name = *name;
    if (Status st = meta.UpsertOrganization(org); !st.ok()) return StoreErrorResponse(st);
    if (Status st = meta.UpsertMembership({"", org.id, caller->user_id, "OWNER"}); !st.ok()) {
      return StoreErrorResponse(st);
    }
    return JsonResponse(201,
                        {{"id", org.id}, {"name", org.name}, {"role", "OWNER"}, {"projects", json::array()}});
  }

  http::Response CreateProject(http::Request& request) {
    http::Response error;
    auto access =
        RequireOrgAccess(sessions, meta, request, request.path_params["orgId"], Role::kAdmin, &error);
    if (!access.ok()) return error;
    const auto body = ParseObject(request, &error);
    if (!body) return error;
    const auto name = StringField(*body, "name", kMaxNameLength, &error);
    if (!name) return error;
    meta::Project project;
    project.id = NewUuidV4();
    project.org_id = access->org_id;
    project.name = *name;
    if (Status st = meta.UpsertProject(project); !st.ok()) return StoreErrorResponse(st);
    return JsonResponse(201, {{"id", project.id}, {"name", project.name}, {"orgId", project.org_id}});
  }

  http::Response GetProject(http::Request& request) {
    http::Response error;
    auto access = RequireProjectAccess(sessions, meta, request, request.path_params["projectId"],
                                       Role::kViewer, &error);
    if (!access.ok()) return error;
    auto project = meta.GetProject(access->project_id);
    if (!project.ok()) return StoreErrorResponse(project.status());
    if (!project->has_value())
      return http::Response::Error(404, "LangfuseNotFoundError", "Project not found");
    return JsonResponse(200, {{"id", (*project)->id},
                              {"name", (*project)->name},
                              {"orgId", (*project)->org_id},
                              {"role", RoleName(access->role)}});
  }

  // --- API keys ---

  http::Response ListApiKeys(http::Request& request) {
    http::Response error;
    auto access = RequireProjectAccess(sessions, meta, request, request.path_params["projectId"],
                                       Role::kViewer, &error);
    if (!access.ok()) return error;
    auto keys = meta.ListApiKeys(access->project_id);
    if (!keys.ok()) return StoreErrorResponse(keys.status());
    json data = json::array();
    for (const auto& k : *keys) {
      data.push_back({{"id", k.id},
                      {"publicKey", k.public_key},
                      {"displaySecretKey", k.display_secret_key},
                      {"note", Nullable(k.note)},
                      {"createdAt", FormatIso8601Ms(k.created_at_ms)},
                      {"lastUsedAt", NullableTime(k.last_used_at_ms)}});
    }
    return JsonResponse(200, {{"data", std::move(data)}});
  }

  http::Response CreateApiKey(http::Request& request) {
    http::Response error;
    auto access =
        RequireProjectAccess(sessions, meta, request, request.path_params["projectId"], Role::kAdmin, &error);
    if (!access.ok()) return error;
    const auto body = ParseObject(request, &error, /*empty_is_object=*/true);
    if (!body) return error;
    std::optional<std::string> note;
    if (const auto it = body->find("note"); it != body->end() && !it->is_null()) {
      if (!it->is_string())
        return BadRequest("Invalid request body: note: Expected string, received " +
                          std::string(it->type_name()));
      if (it->get<std::string>().size() > kMaxNoteLength) {
        return BadRequest("Invalid request body: note: must be at most " + std::to_string(kMaxNoteLength) +
                          " characters");
      }
      if (!it->get<std::string>().empty()) note = it->get<std::string>();
    }
    const auth::ApiKeyPair pair = auth::GenerateApiKeyPair();
    auto key = auth::MakeProjectApiKey(access->project_id, pair, options.api_key_salt, note);
    if (!key.ok()) return StoreErrorResponse(key.status());
    if (Status st = meta.UpsertApiKey(*key); !st.ok()) return StoreErrorResponse(st);
    // The secret is random, so no cached answer (not even a negative one) can name it: the new
    // key authenticates at once without invalidating anything.
    return JsonResponse(201, {{"id", key->id},
                              {"publicKey", key->public_key},
                              {"secretKey", pair.secret_key},
                              {"displaySecretKey", key->display_secret_key},
                              {"note", Nullable(key->note)},
                              {"createdAt", FormatIso8601Ms(key->created_at_ms)}});
  }

  http::Response DeleteApiKey(http::Request& request) {
    http::Response error;
    auto access =
        RequireProjectAccess(sessions, meta, request, request.path_params["projectId"], Role::kAdmin, &error);
    if (!access.ok()) return error;
    auto key = meta.GetApiKey(request.path_params["keyId"]);
    if (!key.ok()) return StoreErrorResponse(key.status());
    if (!key->has_value() || (*key)->project_id != access->project_id) {
      return http::Response::Error(404, "LangfuseNotFoundError", "API key not found");
    }
    const Status deleted = meta.DeleteApiKey((*key)->id);
    if (!deleted.ok() && deleted.code() != StatusCode::kNotFound) return StoreErrorResponse(deleted);
    // Every web process forgets the key now (in scale mode the revocation goes out through Redis).
    authenticator.InvalidateApiKey((*key)->public_key);
    return JsonResponse(200, json::object());
  }

  // --- Members ---

  StatusOr<json> MemberJson(const std::string& user_id, Role role) {
    ASSIGN_OR_RETURN(const auto user, meta.GetUser(user_id));
    json out = {{"userId", user_id}, {"name", nullptr}, {"email", nullptr}, {"role", RoleName(role)}};
    if (user) {
      out["name"] = Nullable(user->name);
      out["email"] = user->email;
    }
    return out;
  }

  http::Response ListMembers(http::Request& request) {
    http::Response error;
    auto access =
        RequireOrgAccess(sessions, meta, request, request.path_params["orgId"], Role::kViewer, &error);
    if (!access.ok()) return error;
    auto members = meta.ListMemberships(access->org_id);
    if (!members.ok()) return StoreErrorResponse(members.status());
    json data = json::array();
    for (const auto& m : *members) {
      auto member = MemberJson(m.user_id, ParseRole(m.role));
      if (!member.ok()) return StoreErrorResponse(member.status());
      data.push_back(std::move(*member));
    }
    return JsonResponse(200, {{"data", std::move(data)}});
  }

  //! The memberships of the org and the role of `user_id` among them (kNone when not a member).
  static Role RoleOf(const std::vector<meta::OrganizationMembership>& members, const std::string& user_id) {
    for (const auto& m : members) {
      if (m.user_id == user_id) return ParseRole(m.role);
    }
    return Role::kNone;
  }
  static size_t OwnerCount(const std::vector<meta::OrganizationMembership>& members) {
    size_t owners = 0;
    for (const auto& m : members) owners += ParseRole(m.role) == Role::kOwner ? 1 : 0;
    return owners;
  }

  http::Response AddMember(http::Request& request) {
    http::Response error;
    auto access =
        RequireOrgAccess(sessions, meta, request, request.path_params["orgId"], Role::kAdmin, &error);
    if (!access.ok()) return error;
    const auto body = ParseObject(request, &error);
    if (!body) return error;
    const auto email = EmailField(*body, &error);
    if (!email) return error;
    const auto role = RoleField(*body, &error);
    if (!role) return error;
    if (*role == Role::kOwner && access->role != Role::kOwner) {
      return http::Response::Error(403, "ForbiddenError", "Only an OWNER can give the OWNER role");
    }
    auto user = meta.FindUserByEmail(*email);
    if (!user.ok()) return StoreErrorResponse(user.status());
    if (!user->has_value()) {
      return http::Response::Error(404, "LangfuseNotFoundError",
                                   "No user with this email: they must sign up first");
    }
    std::lock_guard lock(members_mu);
    auto members = meta.ListMemberships(access->org_id);
    if (!members.ok()) return StoreErrorResponse(members.status());
    if (RoleOf(*members, (*user)->id) != Role::kNone) {
      return http::Response::Error(409, "LangfuseConflictError", "This user is already a member");
    }
    if (Status st = meta.UpsertMembership({"", access->org_id, (*user)->id, std::string(RoleName(*role))});
        !st.ok()) {
      return StoreErrorResponse(st);
    }
    auto member = MemberJson((*user)->id, *role);
    if (!member.ok()) return StoreErrorResponse(member.status());
    return JsonResponse(201, *member);
  }

  http::Response UpdateMember(http::Request& request) {
    http::Response error;
    auto access =
        RequireOrgAccess(sessions, meta, request, request.path_params["orgId"], Role::kAdmin, &error);
    if (!access.ok()) return error;
    const auto body = ParseObject(request, &error);
    if (!body) return error;
    const auto role = RoleField(*body, &error);
    if (!role) return error;
    const std::string& user_id = request.path_params["userId"];
    std::lock_guard lock(members_mu);
    auto members = meta.ListMemberships(access->org_id);
    if (!members.ok()) return StoreErrorResponse(members.status());
    const Role current = RoleOf(*members, user_id);
    if (current == Role::kNone)
      return http::Response::Error(404, "LangfuseNotFoundError", "Member not found");
    if ((current == Role::kOwner || *role == Role::kOwner) && access->role != Role::kOwner) {
      return http::Response::Error(403, "ForbiddenError", "Only an OWNER can give or take the OWNER role");
    }
    if (current == Role::kOwner && *role != Role::kOwner && OwnerCount(*members) <= 1) {
      return BadRequest("The last OWNER of an organization cannot be demoted");
    }
    if (Status st = meta.UpsertMembership({"", access->org_id, user_id, std::string(RoleName(*role))});
        !st.ok()) {
      return StoreErrorResponse(st);
    }
    auto member = MemberJson(user_id, *role);
    if (!member.ok()) return StoreErrorResponse(member.status());
    return JsonResponse(200, *member);
  }

  http::Response RemoveMember(http::Request& request) {
    http::Response error;
    auto access =
        RequireOrgAccess(sessions, meta, request, request.path_params["orgId"], Role::kAdmin, &error);
    if (!access.ok()) return error;
    const std::string& user_id = request.path_params["userId"];
    std::lock_guard lock(members_mu);
    auto members = meta.ListMemberships(access->org_id);
    if (!members.ok()) return StoreErrorResponse(members.status());
    const Role current = RoleOf(*members, user_id);
    if (current == Role::kNone)
      return http::Response::Error(404, "LangfuseNotFoundError", "Member not found");
    if (current == Role::kOwner && access->role != Role::kOwner) {
      return http::Response::Error(403, "ForbiddenError", "Only an OWNER can remove an OWNER");
    }
    if (current == Role::kOwner && OwnerCount(*members) <= 1) {
      return BadRequest("The last OWNER of an organization cannot be removed");
    }
    const Status st = meta.DeleteMembership(access->org_id, user_id);
    if (!st.ok() && st.code() != StatusCode::kNotFound) return StoreErrorResponse(st);
    return JsonResponse(200, json::object());
  }
};

}  // namespace

void RegisterAccountRoutes(http::Router& router, api::ApiContext& context, const Sessions& sessions,
                           const UiOptions& options) {
  // Shared by every handler's copy; lives as long as the router.
  auto routes = std::shared_ptr<AccountRoutes>(
      new AccountRoutes{context.meta, context.authenticator, sessions, options, {}, {}, {}});
  auto bind = [&](http::Response (AccountRoutes::*method)(http::Request&)) {
    return [routes, method](http::Request& request) { return ((*routes).*method)(request); };
  };
  router.Add("GET", "/api/ui/auth/config", bind(&AccountRoutes::Config));
  router.Add("POST", "/api/ui/auth/signup", bind(&AccountRoutes::SignUp));
  router.Add("POST", "/api/ui/auth/signin", bind(&AccountRoutes::SignIn));
  router.Add("POST", "/api/ui/auth/signout", bind(&AccountRoutes::SignOut));
  router.Add("GET", "/api/ui/auth/session", bind(&AccountRoutes::Session));

  router.Add("POST", "/api/ui/organizations", bind(&AccountRoutes::CreateOrganization));
  router.Add("POST", "/api/ui/organizations/{orgId}/projects", bind(&AccountRoutes::CreateProject));
  router.Add("GET", "/api/ui/projects/{projectId}", bind(&AccountRoutes::GetProject));
  router.Add("GET", "/api/ui/projects/{projectId}/api-keys", bind(&AccountRoutes::ListApiKeys));
  router.Add("POST", "/api/ui/projects/{projectId}/api-keys", bind(&AccountRoutes::CreateApiKey));
  router.Add("DELETE", "/api/ui/projects/{projectId}/api-keys/{keyId}", bind(&AccountRoutes::DeleteApiKey));
  router.Add("GET", "/api/ui/organizations/{orgId}/members", bind(&AccountRoutes::ListMembers));
  router.Add("POST", "/api/ui/organizations/{orgId}/members", bind(&AccountRoutes::AddMember));
  router.Add("PUT", "/api/ui/organizations/{orgId}/members/{userId}", bind(&AccountRoutes::UpdateMember));
  router.Add("DELETE", "/api/ui/organizations/{orgId}/members/{userId}", bind(&AccountRoutes::RemoveMember));
}

}  // namespace langfuse::ui_api
