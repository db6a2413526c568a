#include "auth/authenticator.h"

#include <sodium.h>

#include <algorithm>
#include <utility>

#include "auth/api_keys.h"
#include "auth/auth_header.h"
#include "auth/password.h"
#include "auth/sodium_init.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/time.h"

namespace langfuse::auth {
namespace {

constexpr std::string_view kInvalidCredentials = "Invalid credentials";
constexpr std::string_view kInvalidPublicKey = "Invalid public key";
constexpr std::string_view kNoOrganization = "Invalid credentials: No organization found for key";
constexpr std::string_view kOrgKeyWithBearer = "Unauthorized: Cannot use organization key with bearer auth";

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Node strips optional whitespace around header values before Langfuse sees them.
std::string_view TrimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Drops expired entries; if the map is still full, drops arbitrary ones until there is room.
// Random eviction is enough here: the map only saves store lookups, never decides an answer.
template <typename Map, typename CachedAt>
void MakeRoom(Map& map, size_t max_entries, int64_t now, int64_t ttl_ms, CachedAt cached_at) {
  if (map.size() < max_entries) return;
  std::erase_if(map, [&](const auto& item) { return now - cached_at(item.second) >= ttl_ms; });
  while (!map.empty() && map.size() >= max_entries) map.erase(map.begin());
}

}  // namespace

ApiKeyAuthenticator::ApiKeyAuthenticator(meta::MetaStore& store, std::string salt,
                                         AuthenticatorOptions options)
    : store_(store), salt_sha256_hex_(Sha256Hex(salt)), options_(std::move(options)) {
  EnsureSodium();
}

ApiKeyAuthenticator::ApiKeyAuthenticator(meta::MetaStore& store, std::string salt, int64_t cache_ttl_seconds)
    : ApiKeyAuthenticator(store, std::move(salt),
                          AuthenticatorOptions{.cache_ttl_seconds = cache_ttl_seconds}) {}

int64_t ApiKeyAuthenticator::Now() const { return options_.now_ms ? options_.now_ms() : NowMs(); }

Status ApiKeyAuthenticator::Fail(std::string_view reason) {
  {
    std::lock_guard lock(mu_);
    ++stats_.failures;
  }
  return Status::Unauthenticated(std::string(reason));
}

StatusOr<AuthContext> ApiKeyAuthenticator::Authenticate(std::string_view authorization_header) {
  const std::string_view header = TrimOws(authorization_header);
  if (header.empty()) return Fail(kMsgNoAuthorizationHeader);
  if (StartsWith(header, "Basic ")) return AuthenticateBasic(header);
  if (StartsWith(header, "Bearer ")) return AuthenticateBearer(header.substr(7));
  return Fail(kMsgInvalidAuthorizationHeader);  // Langfuse adds no host hint here
}

StatusOr<AuthContext> ApiKeyAuthenticator::AuthenticateProjectRoute(std::string_view authorization_header,
                                                                    bool allow_scores) {
  ASSIGN_OR_RETURN(AuthContext context, Authenticate(authorization_header));
  const bool level_ok =
      context.access_level == kAccessProject || (allow_scores && context.access_level == kAccessScores);
  if (!level_ok) return Status::PermissionDenied(std::string(kMsgInsufficientPermissions));
  if (context.project_id.empty()) return Status::PermissionDenied(std::string(kMsgProjectIdNotFound));
  return context;
}

StatusOr<AuthContext> ApiKeyAuthenticator::AuthenticateIngestion(std::string_view authorization_header) {
  ASSIGN_OR_RETURN(AuthContext context, Authenticate(authorization_header));
  if (context.project_id.empty()) return Status::Unauthenticated(std::string(kMsgIngestionMissingProjectId));
  return context;
}

StatusOr<AuthContext> ApiKeyAuthenticator::AuthenticateBasic(std::string_view header) {
  auto credentials = ParseBasicAuthorization(header);
  if (!credentials.ok()) return Fail(credentials.status().message() + std::string(kHostHint));
  const std::string& public_key = credentials->public_key;
  const std::string& secret_key = credentials->secret_key;
  const std::string hash = FastHashSecretKeyWithSaltHash(secret_key, salt_sha256_hex_);
  const std::string cache_key = "h:" + hash;
  const uint64_t epoch = Epoch();

  if (auto cached = CacheGet(cache_key)) {
    // The map matched the hash already; the constant-time compare keeps timing independent of
    // how a future cache (Redis) looks entries up.
    if (ConstantTimeEquals(cached->fast_hash, hash)) return Accept(*cached, public_key);
  }
  if (UnknownCached(hash)) return Fail(std::string(kInvalidCredentials) + std::string(kHostHint));

  ASSIGN_OR_RETURN(std::optional<meta::ApiKey> by_hash, store_.FindApiKeyByFastHash(hash));
  if (by_hash.has_value() && ConstantTimeEquals(by_hash->fast_hashed_secret_key, hash)) {
    const std::string_view level = by_hash->scope == "ORGANIZATION" ? kAccessOrganization : kAccessProject;
    ASSIGN_OR_RETURN(CachedKey entry, Resolve(*by_hash, level));
    entry.fast_hash = hash;
    CachePut(cache_key, entry, epoch);
    return Accept(entry, public_key);
  }

  // No key with this fast hash: a legacy key (no fast hash yet), a SALT change, or a wrong secret.
  ASSIGN_OR_RETURN(std::optional<meta::ApiKey> by_public_key, store_.FindApiKeyByPublicKey(public_key));
  if (!by_public_key.has_value()) {
    CachePutUnknown(hash, epoch);
    return Fail(std::string(kInvalidCredentials) + std::string(kHostHint));
  }
  if (!slow_hash_slots_.try_acquire_for(kSlowVerificationWait)) {
    return Status::Unavailable("too many API key verifications in progress, retry later");
  }
  {
    std::lock_guard lock(mu_);
    ++stats_.slow_verifications;
  }
  const bool valid = VerifyPassword(secret_key, by_public_key->hashed_secret_key);
  slow_hash_slots_.release();
  if (!valid) {
    // Unlike Langfuse, remember the bad secret: a client retrying with a stale secret would
    // otherwise cost one slow hash per request.
    CachePutUnknown(hash, epoch);
    return Fail(std::string(kInvalidCredentials) + std::string(kHostHint));
  }
  const Status backfilled = store_.SetApiKeyFastHash(public_key, hash);
  if (!backfilled.ok()) {
    // The key is valid; the next request simply takes the slow path again.
    LOG_WARN("api key {}: storing its fast hash failed: {}", by_public_key->id, backfilled.message());
  }
  by_public_key->fast_hashed_secret_key = hash;
  const std::string_view level =
      by_public_key->scope == "ORGANIZATION" ? kAccessOrganization : kAccessProject;
  ASSIGN_OR_RETURN(CachedKey entry, Resolve(*by_public_key, level));
  entry.fast_hash = hash;
  CachePut(cache_key, entry, epoch);
  return Accept(entry, public_key);
}

StatusOr<AuthContext> ApiKeyAuthenticator::AuthenticateBearer(std::string_view public_key) {
  const std::string cache_key = "p:" + std::string(public_key);
  const uint64_t epoch = Epoch();
  if (auto cached = CacheGet(cache_key)) return Accept(*cached, public_key);

  ASSIGN_OR_RETURN(std::optional<meta::ApiKey> key, store_.FindApiKeyByPublicKey(std::string(public_key)));
  if (!key.has_value()) return Fail(std::string(kInvalidPublicKey) + std::string(kHostHint));
  if (key->scope == "ORGANIZATION") return Fail(std::string(kOrgKeyWithBearer) + std::string(kHostHint));
  ASSIGN_OR_RETURN(CachedKey entry, Resolve(*key, kAccessScores));
  CachePut(cache_key, entry, epoch);
  return Accept(entry, public_key);
}

StatusOr<ApiKeyAuthenticator::CachedKey> ApiKeyAuthenticator::Resolve(const meta::ApiKey& key,
                                                                      std::string_view access_level) {
  CachedKey entry;
  entry.context.access_level = std::string(access_level);
  entry.context.api_key_id = key.id;
  entry.context.public_key = key.public_key;
  entry.context.scope = key.scope;
  entry.expires_at_ms = key.expires_at_ms;
  if (key.project_id.has_value() && !key.project_id->empty()) {
    ASSIGN_OR_RETURN(std::optional<meta::Project> project, store_.GetProject(*key.project_id));
    if (project.has_value() && project->deleted_at_ms.has_value()) {
      // Langfuse deletes a project's keys with the project; a soft-deleted project's key is dead.
      return Fail(std::string(kInvalidCredentials) + std::string(kHostHint));
    }
    if (project.has_value()) entry.context.org_id = project->org_id;
    entry.context.project_id = *key.project_id;
  }
  if (entry.context.org_id.empty() && key.organization_id.has_value())
    entry.context.org_id = *key.organization_id;
  if (entry.context.org_id.empty()) return Fail(std::string(kNoOrganization) + std::string(kHostHint));
  return entry;
}

StatusOr<AuthContext> ApiKeyAuthenticator::Accept(const CachedKey& entry,
                                                  std::string_view submitted_public_key) {
  if (entry.expires_at_ms.has_value() && *entry.expires_at_ms <= Now()) {
    return Fail(std::string(kInvalidCredentials) + std::string(kHostHint));
  }
  if (submitted_public_key != entry.context.public_key) {
    // As Langfuse: the secret identifies the key; a stale pk after a partial rotation still works.
    LOG_WARN(
        "basic auth: submitted public key {} differs from public key {} of api key {} (project {}, org {}) "
        "found by its secret key",
        submitted_public_key, entry.context.public_key, entry.context.api_key_id, entry.context.project_id,
        entry.context.org_id);
  }
  return entry.context;
}

std::optional<ApiKeyAuthenticator::CachedKey> ApiKeyAuthenticator::CacheGet(const std::string& cache_key) {
  if (options_.cache_ttl_seconds <= 0) return std::nullopt;
  const int64_t now = Now();
  std::lock_guard lock(mu_);
  auto it = known_.find(cache_key);
  if (it == known_.end()) {
    ++stats_.cache_misses;
    return std::nullopt;
  }
  if (now - it->second.cached_at_ms >= MaxAgeMs()) {
    known_.erase(it);
    ++stats_.cache_misses;
    return std::nullopt;
  }
  ++stats_.cache_hits;
  return it->second;
}

bool ApiKeyAuthenticator::UnknownCached(const std::string& fast_hash) {
  if (options_.cache_ttl_seconds <= 0) return false;
  const int64_t now = Now();
  std::lock_guard lock(mu_);
  auto it = unknown_.find(fast_hash);
  if (it == unknown_.end()) return false;
  if (now - it->second >= MaxAgeMs()) {
    unknown_.erase(it);
    return false;
  }
  ++stats_.unknown_hits;
  return true;
}

void ApiKeyAuthenticator::CachePut(const std::string& cache_key, CachedKey entry, uint64_t epoch) {
  if (options_.cache_ttl_seconds <= 0 || options_.max_cached_keys == 0) return;
  const int64_t now = Now();
  entry.cached_at_ms = now;
  std::lock_guard lock(mu_);
  if (revocation_epoch_ != epoch) return;
  MakeRoom(known_, options_.max_cached_keys, now, options_.cache_ttl_seconds * 1000,
           [](const CachedKey& e) { return e.cached_at_ms; });
  known_.insert_or_assign(cache_key, std::move(entry));
}

void ApiKeyAuthenticator::CachePutUnknown(const std::string& fast_hash, uint64_t epoch) {
  if (options_.cache_ttl_seconds <= 0 || options_.max_cached_unknown == 0) return;
  const int64_t now = Now();
  std::lock_guard lock(mu_);
  if (revocation_epoch_ != epoch) return;
  // A separate, separately bounded map: a flood of random secrets cannot evict known keys.
  MakeRoom(unknown_, options_.max_cached_unknown, now, options_.cache_ttl_seconds * 1000,
           [](int64_t cached_at) { return cached_at; });
  unknown_.insert_or_assign(fast_hash, now);
}

void ApiKeyAuthenticator::Invalidate() {
  const KeyRevocation revocation = KeyRevocation::All();
  ApplyRevocation(revocation);
  if (publish_) publish_(revocation);
}

void ApiKeyAuthenticator::InvalidateApiKey(std::string_view public_key) {
  const KeyRevocation revocation = KeyRevocation::ApiKey(public_key);
  ApplyRevocation(revocation);
  if (publish_) publish_(revocation);
}

void ApiKeyAuthenticator::InvalidateProject(std::string_view project_id) {
  const KeyRevocation revocation = KeyRevocation::Project(project_id);
  ApplyRevocation(revocation);
  if (publish_) publish_(revocation);
}

void ApiKeyAuthenticator::ApplyRevocation(const KeyRevocation& revocation) {
  std::lock_guard lock(mu_);
  revocation_epoch_.fetch_add(1, std::memory_order_acq_rel);
  switch (revocation.scope) {
    case KeyRevocation::Scope::kApiKey:
      std::erase_if(known_,
                    [&](const auto& item) { return item.second.context.public_key == revocation.id; });
      break;
    case KeyRevocation::Scope::kProject:
      std::erase_if(known_,
                    [&](const auto& item) { return item.second.context.project_id == revocation.id; });
      break;
    case KeyRevocation::Scope::kAll:
      known_.clear();
      unknown_.clear();
      break;
  }
}

void ApiKeyAuthenticator::SetRevocationPublisher(std::function<void(const KeyRevocation&)> publish) {
  publish_ = std::move(publish);
}

void ApiKeyAuthenticator::LimitCacheAge(int64_t max_age_ms) {
  cache_age_limit_ms_.store(max_age_ms, std::memory_order_relaxed);
}

int64_t ApiKeyAuthenticator::MaxAgeMs() const {
  return std::min(options_.cache_ttl_seconds * 1000, cache_age_limit_ms_.load(std::memory_order_relaxed));
}

uint64_t ApiKeyAuthenticator::Epoch() const { return revocation_epoch_.load(std::memory_order_acquire); }

ApiKeyAuthenticator::Stats ApiKeyAuthenticator::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace langfuse::auth
