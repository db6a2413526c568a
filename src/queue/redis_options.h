#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/status.h"

namespace langfuse::queue {

//! Where and how to reach Redis, read from Langfuse's variables (RedisOptionsFromEnv).
struct RedisOptions {
  std::string host = "localhost";
  uint16_t port = 6379;
  std::string username;    //!< ACL user (REDIS_USERNAME); empty: the default user
  std::string password;    //!< REDIS_AUTH; empty: no AUTH
  int db = 0;              //!< logical database, from the connection string's path
  std::string key_prefix;  //!< REDIS_KEY_PREFIX, prepended as is (as ioredis's keyPrefix does)

  //! REDIS_TLS_ENABLED or a `rediss://` connection string: every connection runs over TLS
  //! (ConnectRedis in redis_connect.h). The REDIS_TLS_* settings below apply whenever it is on.
  bool tls_enabled = false;
  std::string tls_ca_path;         //!< REDIS_TLS_CA_PATH (PEM); empty: the system's CA store
  std::string tls_cert_path;       //!< REDIS_TLS_CERT_PATH: client certificate (PEM) for mutual TLS
  std::string tls_key_path;        //!< REDIS_TLS_KEY_PATH: its private key (PEM)
  std::string tls_key_passphrase;  //!< REDIS_TLS_KEY_PASSPHRASE, for an encrypted key
  //! REDIS_TLS_SERVERNAME: the name sent as SNI and checked against the certificate; empty: the host.
  std::string tls_server_name;
  //! REDIS_TLS_REJECT_UNAUTHORIZED (default true): false accepts any server certificate.
  bool tls_reject_unauthorized = true;
  //! REDIS_TLS_CHECK_SERVER_IDENTITY (default true): false verifies the certificate's chain but
  //! not the name in it.
  bool tls_check_server_identity = true;
  //! REDIS_TLS_SECURE_PROTOCOL, Node's names: TLS_method / SSLv23_method (TLS 1.2 or 1.3, the
  //! default), TLSv1_2_method, TLSv1_3_method (each also as *_client_method). Empty: the default.
  std::string tls_secure_protocol;
  //! REDIS_TLS_CIPHERS: an OpenSSL cipher list, `:`-separated; names starting with TLS_ are TLS 1.3
  //! suites. As in Node, a list without TLS 1.3 suites limits the session to TLS 1.2 and one with
  //! only them to TLS 1.3. Empty: OpenSSL's defaults.
  std::string tls_ciphers;

  int connect_timeout_ms = 5000;
  //! REDIS_SOCKET_TIMEOUT_MS (Langfuse's default 30 s; 0 disables): a command whose answer does
  //! not arrive in this time fails and its connection is dropped.
  int socket_timeout_ms = 30'000;

  //! "host:port" for messages (never the password).
  std::string Address() const;
};

//! Knobs of the Redis Streams queue (our own variables; Langfuse's BullMQ queues have none).
struct RedisQueueOptions {
  //! LANGFUSE_INGESTION_QUEUE_CLAIM_IDLE_MS: entries delivered to a consumer and neither
  //! acknowledged nor kept alive by it for this long are taken over by another consumer. A live
  //! consumer keeps its entries alive on its own, so this is how long a dead worker's entries wait.
  int64_t claim_min_idle_ms = 60'000;
  //! Connections shared by Append/Ack/Stats/dead-letter calls (the blocking reader has its own).
  int max_connections = 8;
  //! Consumer name in the group; empty: `<hostname>-<pid>-<random>` (unique per process).
  std::string consumer_name;
  //! Only one consumer of the stream reads at a time: it holds a lease in Redis (renewed while
  //! it lives, expiring claim_min_idle_ms after it dies) and the others wait as standbys. The
  //! worker needs this: it merges each event with the stored row, so two workers merging events
  //! of the same trace at once would each write a row missing the other's events. Off: the
  //! consumers share the stream's entries (for consumers whose work does not merge).
  bool exclusive_reader = true;
};

using RedisEnvLookup = std::function<std::optional<std::string>(const std::string&)>;

//! Reads REDIS_CONNECTION_STRING (`redis://[[user]:password@]host[:port][/db]`, `rediss://` for
//! TLS) or else REDIS_HOST/REDIS_PORT/REDIS_AUTH/REDIS_USERNAME, plus REDIS_KEY_PREFIX,
//! REDIS_TLS_* and REDIS_SOCKET_TIMEOUT_MS (REDIS_TLS_HONOR_CIPHER_ORDER is checked and has no
//! effect: it concerns servers). nullopt when neither REDIS_CONNECTION_STRING nor
//! REDIS_HOST is set (no Redis configured). InvalidArgument naming the variable for a malformed
//! value, and for REDIS_CLUSTER_ENABLED / REDIS_SENTINEL_ENABLED, which this client does not
//! support.
StatusOr<std::optional<RedisOptions>> RedisOptionsFromEnv(const RedisEnvLookup& env);

//! Parses a connection string into `out` (host, port, credentials, db, TLS from the scheme).
Status ParseRedisConnectionString(const std::string& url, RedisOptions& out);

//! Reads LANGFUSE_INGESTION_QUEUE_CLAIM_IDLE_MS (100 ms .. 24 h).
StatusOr<RedisQueueOptions> RedisQueueOptionsFromEnv(const RedisEnvLookup& env);

}  // namespace langfuse::queue
