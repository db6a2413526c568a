#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/key_revocation.h"
#include "common/status.h"
#include "storage/meta/meta_store.h"

namespace langfuse::auth {

// Access levels, as Langfuse names them (ApiAccessLevel).
inline constexpr std::string_view kAccessProject = "project";            //!< Basic pk:sk of a project key
inline constexpr std::string_view kAccessScores = "scores";              //!< Bearer pk
inline constexpr std::string_view kAccessOrganization = "organization";  //!< Basic pk:sk of an org key

// Langfuse's texts (web/src/features/public-api/server/apiAuth.ts, createAuthedProjectAPIRoute.ts,
// pages/api/public/ingestion.ts at v3.225.4). Body shapes differ by route in Langfuse: routes built
// with createAuthedProjectAPIRoute (most, OTel included) answer {"message": <text>} with no
// "error" field; POST /api/public/ingestion and the routes that throw UnauthorizedError /
// ForbiddenError answer {"message": <text>, "error": "UnauthorizedError" | "ForbiddenError"}.
inline constexpr std::string_view kHostHint = ". Confirm that you've configured the correct host.";
inline constexpr std::string_view kMsgNoAuthorizationHeader = "No authorization header";
inline constexpr std::string_view kMsgInvalidAuthorizationHeader = "Invalid authorization header";
//! 403 on project routes for a level the route does not accept (org key, or Bearer where not allowed).
inline constexpr std::string_view kMsgInsufficientPermissions =
    "Access denied - insufficient permissions for this endpoint";
//! 403 on project routes for a key without a project.
inline constexpr std::string_view kMsgProjectIdNotFound =
    "Project ID not found for API token. Are you using an organization key?";
//! 403 (ForbiddenError) on the legacy v1 /api/public/prompts route for Bearer or org keys.
inline constexpr std::string_view kMsgPromptsV1Forbidden =
    "Access denied: Bearer auth and org api keys are not allowed to access";
//! 401 on POST /api/public/ingestion for a key without a project.
inline constexpr std::string_view kMsgIngestionMissingProjectId =
    "Missing projectId in scope. Are you using an organization key?";

//! Who is calling, once the Authorization header checked out.
struct AuthContext {
  std::string project_id;  //!< empty for organisation keys
  std::string org_id;
  std::string access_level;  //!< kAccessProject | kAccessScores | kAccessOrganization
  std::string api_key_id;
  std::string public_key;  //!< the key's own public key (even if Basic auth sent another)
  std::string scope;       //!< api_keys.scope: PROJECT | ORGANIZATION
};

struct AuthenticatorOptions {
  //! LANGFUSE_CACHE_API_KEY_TTL_SECONDS. Entries expire this long after they were fetched (not
  //! after last use, unlike Langfuse's GETEX). A key deleted through another process stops
  //! working here when that process's revocation arrives (SetRevocationPublisher on its side,
  //! ApplyRevocation on ours; scale mode carries them over Redis), at the latest after one TTL.
  //! 0 disables the cache.
  int64_t cache_ttl_seconds = 300;
  size_t max_cached_keys = 10000;     //!< positive entries (known keys)
  size_t max_cached_unknown = 10000;  //!< negative entries (hashes of unknown secrets)
  std::function<int64_t()> now_ms;    //!< clock for TTLs and expires_at; NowMs when empty
};

//! Checks `Authorization` headers against the API keys in the MetaStore, as Langfuse's
//! ApiAuthService.verifyAuthHeaderAndReturnScope does:
//!  - `Basic base64(pk:sk)`: the key is found by the fast hash of sk (one indexed lookup, cached);
//!    a key without a fast hash (imported from an old Langfuse) is found by pk, its slow hash
//!    (bcrypt or argon2id) verified and its fast hash backfilled. As in Langfuse the key is
//!    identified by the secret: a pk that does not match is accepted and logged.
//!  - `Bearer pk`: access level "scores", for the few routes that accept it.
//! Expired keys (expires_at in the past) are refused, which Langfuse does not check.
//! Failures are kUnauthenticated with Langfuse's message; a store failure keeps its own code
//! (kUnavailable -> 503 "Service Unavailable", as Langfuse answers a database error during auth).
//! Thread-safety: all methods may be called concurrently. The cache is guarded by a mutex held
//! only for map operations, never during store calls. At most kMaxConcurrentSlowVerifications
//! slow-hash checks run at once; a request that cannot get a slot within kSlowVerificationWait
//! gets kUnavailable, so a flood of bad secrets for one legacy key costs two cores and two argon2
//! buffers at most and never parks every handler thread.
class ApiKeyAuthenticator {
 public:
  static constexpr int kMaxConcurrentSlowVerifications = 2;
  static constexpr std::chrono::milliseconds kSlowVerificationWait{250};

  //! `salt` is SALT. The store must outlive the authenticator.
  ApiKeyAuthenticator(meta::MetaStore& store, std::string salt, AuthenticatorOptions options = {});
  ApiKeyAuthenticator(meta::MetaStore& store, std::string salt, int64_t cache_ttl_seconds);

  //! Any valid key, any access level (project, scores, organization).
  StatusOr<AuthContext> Authenticate(std::string_view authorization_header);

  //! Langfuse's check for project routes (createAuthedProjectAPIRoute): Authenticate, then
  //! kPermissionDenied kMsgInsufficientPermissions unless the level is "project" (or "scores" when
  //! `allow_scores`), kPermissionDenied kMsgProjectIdNotFound when the key has no project.
  StatusOr<AuthContext> AuthenticateProjectRoute(std::string_view authorization_header,
                                                 bool allow_scores = false);

  //! Langfuse's check on POST /api/public/ingestion: any level, but a key without a project is
  //! kUnauthenticated kMsgIngestionMissingProjectId. The handler itself limits "scores" to
  //! score-create events.
  StatusOr<AuthContext> AuthenticateIngestion(std::string_view authorization_header);

  //! Forgets every cached answer. Call after keys were created with chosen secrets, or in bulk.
  //! Like the two below, also hands the revocation to the publisher (SetRevocationPublisher).
  void Invalidate();
  //! Forgets the cached answers for one key (call when it is deleted or changed).
  void InvalidateApiKey(std::string_view public_key);
  //! Forgets the cached answers for every key of a project (project deleted or moved).
  void InvalidateProject(std::string_view project_id);

  //! Forgets what a revocation names in this process only: how revocations made by other
  //! processes arrive. A lookup that started before it does not cache its answer.
  void ApplyRevocation(const KeyRevocation& revocation);
  //! Where Invalidate* send their revocations so that the other processes forget too (scale
  //! mode: RedisKeyRevocations::Publish). Called after the local cache forgot, never under a lock;
  //! it must not block. Set before concurrent use.
  void SetRevocationPublisher(std::function<void(const KeyRevocation&)> publish);

  static constexpr int64_t kNoCacheAgeLimit = std::numeric_limits<int64_t>::max();
  //! Serves no cached answer (known or unknown key) older than `max_age_ms`, whatever the TTL:
  //! used while revocations from other processes may be missed (their channel is down), so that
  //! a key revoked meanwhile stops working after this long. kNoCacheAgeLimit lifts the limit.
  void LimitCacheAge(int64_t max_age_ms);

  struct Stats {
    uint64_t cache_hits = 0;
    uint64_t cache_misses = 0;
    uint64_t unknown_hits = 0;  //!< answered by the negative cache
    uint64_t slow_verifications = 0;
    uint64_t failures = 0;  //!< kUnauthenticated answers
  };
  Stats stats() const;

 private:
  struct CachedKey {
    AuthContext context;
    std::optional<int64_t> expires_at_ms;
    std::string fast_hash;  // empty for Bearer entries
    int64_t cached_at_ms = 0;
  };

  StatusOr<AuthContext> AuthenticateBasic(std::string_view header);
  StatusOr<AuthContext> AuthenticateBearer(std::string_view public_key);
  //! Resolves org and project of a stored key: Langfuse takes project.org_id, else organization_id.
  StatusOr<CachedKey> Resolve(const meta::ApiKey& key, std::string_view access_level);
  StatusOr<AuthContext> Accept(const CachedKey& entry, std::string_view submitted_public_key);
  Status Fail(std::string_view reason);

  std::optional<CachedKey> CacheGet(const std::string& cache_key);
  bool UnknownCached(const std::string& fast_hash);
  //! `epoch`: revocation_epoch_ read before the store lookup; nothing is cached when a
  //! revocation came in since (the answer may predate it).
  void CachePut(const std::string& cache_key, CachedKey entry, uint64_t epoch);
  void CachePutUnknown(const std::string& fast_hash, uint64_t epoch);
  int64_t Now() const;
  int64_t MaxAgeMs() const;
  uint64_t Epoch() const;

  meta::MetaStore& store_;
  const std::string salt_sha256_hex_;
  const AuthenticatorOptions options_;

  mutable std::mutex mu_;
  // "h:" + fast hash (Basic) or "p:" + public key (Bearer) -> key.
  std::unordered_map<std::string, CachedKey> known_;  // guarded by mu_
  // fast hash -> cached_at_ms, for secrets that matched no key.
  std::unordered_map<std::string, int64_t> unknown_;  // guarded by mu_
  Stats stats_;                                       // guarded by mu_
  // Revocations applied; written under mu_, read without it before a store lookup.
  std::atomic<uint64_t> revocation_epoch_{0};
  std::atomic<int64_t> cache_age_limit_ms_{kNoCacheAgeLimit};
  std::function<void(const KeyRevocation&)> publish_;  // set before concurrent use

  std::counting_semaphore<kMaxConcurrentSlowVerifications> slow_hash_slots_{kMaxConcurrentSlowVerifications};
};

}  // namespace langfuse::auth
