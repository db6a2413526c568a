#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace langfuse {

//! Everything the process reads from its environment, under Langfuse's variable names where one
//! exists. Built once at start-up; read-only afterwards.
struct Config {
  uint16_t port = 3000;                       //!< PORT
  std::string hostname = "0.0.0.0";           //!< HOSTNAME
  std::string data_dir = "./data";            //!< LANGFUSE_DATA_DIR
  std::string salt;                           //!< SALT (API-key hashing)
  std::string log_level = "info";             //!< LANGFUSE_LOG_LEVEL
  int api_key_cache_ttl_seconds = 300;        //!< LANGFUSE_CACHE_API_KEY_TTL_SECONDS
  bool api_key_cache_enabled = true;          //!< LANGFUSE_CACHE_API_KEY_ENABLED
  int http_io_threads = 0;                    //!< LANGFUSE_HTTP_IO_THREADS (0 = one per core)
  int http_handler_threads = 32;              //!< LANGFUSE_HTTP_HANDLER_THREADS
  //! LANGFUSE_OTLP_GRPC_PORT: the OTLP/gRPC trace receiver's port on HOSTNAME; 0 picks a free
  //! port; nullopt (a negative value, "off" or "disabled") turns the receiver off.
  std::optional<uint16_t> otlp_grpc_port = 4317;

  // Scale mode: external stores instead of the embedded ones, each switched on by its variable.
  std::string database_url;    //!< DATABASE_URL: Postgres for transactional data (else SQLite)
  std::string clickhouse_url;  //!< CLICKHOUSE_URL: a ClickHouse server over HTTP (else chDB)
  //! Redis for the queue (else the local queue file): REDIS_CONNECTION_STRING or REDIS_HOST; the
  //! queue module reads the details (port, auth, TLS, key prefix).
  bool redis_configured = false;
  uint16_t worker_port = 3030;  //!< LANGFUSE_WORKER_PORT: health and metrics of `langfuse worker`

  // Worker (Langfuse's ingestion variables).
  //! LANGFUSE_INGESTION_CLICKHOUSE_WRITE_BATCH_SIZE. Langfuse's default is 1000; chDB's fixed cost
  //! per INSERT makes larger batches markedly cheaper (bench/chdb_insert_bench), hence 5000.
  int write_batch_size = 5000;
  int write_interval_ms = 500;                //!< LANGFUSE_INGESTION_CLICKHOUSE_WRITE_INTERVAL_MS
  int max_attempts = 3;                       //!< LANGFUSE_INGESTION_CLICKHOUSE_MAX_ATTEMPTS
  int retry_backoff_ms = 500;                 //!< LANGFUSE_INGESTION_RETRY_BACKOFF_MS (doubles per attempt)

  // Web UI.
  std::string nextauth_secret;       //!< NEXTAUTH_SECRET: signs the UI's session cookies
  std::string nextauth_url;          //!< NEXTAUTH_URL: the public URL; https: makes cookies Secure
  bool auth_disable_signup = false;  //!< AUTH_DISABLE_SIGNUP
  int auth_session_max_age_minutes = 30 * 24 * 60;  //!< AUTH_SESSION_MAX_AGE (minutes, as Langfuse)
  //! LANGFUSE_UI_DIR: the built web app; default DefaultUiDir() of this binary ("" = no UI).
  std::string ui_dir;

  //! Paths under data_dir.
  std::string MetaDbPath() const { return data_dir + "/langfuse.db"; }
  std::string QueueDbPath() const { return data_dir + "/queue.db"; }
  std::string ClickHousePath() const { return data_dir + "/clickhouse"; }
  std::string SessionSecretPath() const { return data_dir + "/session.secret"; }
};

//! Where the web app is when LANGFUSE_UI_DIR is not set, for the binary at `exe_path`:
//! `<exe dir>/../share/langfuse/ui` (an installed layout) if it is a directory, else the source
//! tree's `ui/dist` found by walking up from the binary (build/<x>/src/app/langfuse), else "".
std::string DefaultUiDir(const std::string& exe_path);

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

//! The process environment.
std::optional<std::string> GetEnv(const std::string& name);

//! Reads the configuration; throws std::invalid_argument naming the variable when a value is
//! malformed (start-up only).
Config LoadConfig(const EnvLookup& env = GetEnv);

}  // namespace langfuse
