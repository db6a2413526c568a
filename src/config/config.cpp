#include "config/config.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace langfuse {
namespace {

int64_t ParseInt(const EnvLookup& env, const std::string& name, int64_t fallback, int64_t min, int64_t max) {
  const auto value = env(name);
  if (!value || value->empty()) return fallback;
  int64_t out = 0;
  const char* end = value->data() + value->size();
  auto [ptr, ec] = std::from_chars(value->data(), end, out);
  if (ec != std::errc() || ptr != end || out < min || out > max) {
    throw std::invalid_argument(name + " must be an integer between " + std::to_string(min) + " and " +
                                std::to_string(max) + ", got '" + *value + "'");
  }
  return out;
}

bool ParseBool(const EnvLookup& env, const std::string& name, bool fallback) {
  const auto value = env(name);
  if (!value || value->empty()) return fallback;
  if (*value == "true" || *value == "1") return true;
  if (*value == "false" || *value == "0") return false;
  throw std::invalid_argument(name + " must be true or false, got '" + *value + "'");
}

// A port, or nullopt when switched off by a negative number, "off" or "disabled".
std::optional<uint16_t> ParseOptionalPort(const EnvLookup& env, const std::string& name,
                                          std::optional<uint16_t> fallback) {
  const auto value = env(name);
  if (!value || value->empty()) return fallback;
  std::string lower(*value);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "off" || lower == "disabled") return std::nullopt;
  int64_t out = 0;
  const char* end = value->data() + value->size();
  auto [ptr, ec] = std::from_chars(value->data(), end, out);
  if (ec != std::errc() || ptr != end || out > 65535) {
    throw std::invalid_argument(name +
                                " must be a port between 0 and 65535, or a negative number, \"off\" or " +
                                "\"disabled\" to turn it off, got '" + *value + "'");
  }
  if (out < 0) return std::nullopt;
  return static_cast<uint16_t>(out);
}

std::string ParseString(const EnvLookup& env, const std::string& name, std::string fallback) {
  const auto value = env(name);
  return value && !value->empty() ? *value : fallback;
}

}  // namespace

std::optional<std::string> GetEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::string DefaultUiDir(const std::string& exe_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path bin_dir = fs::path(exe_path).parent_path();
  if (bin_dir.empty()) return "";
  const fs::path installed = (bin_dir / ".." / "share" / "langfuse" / "ui").lexically_normal();
  if (fs::is_directory(installed, ec)) return installed.string();
  // A build tree inside the source tree: the first ancestor with CMakeLists.txt and ui/dist.
  for (fs::path dir = bin_dir; !dir.empty(); dir = dir.parent_path()) {
    const fs::path dist = dir / "ui" / "dist";
    if (fs::is_directory(dist, ec) && fs::exists(dir / "CMakeLists.txt", ec)) return dist.string();
    if (dir == dir.root_path()) break;
  }
  return "";
}

Config LoadConfig(const EnvLookup& env) {
  Config c;
  c.port = static_cast<uint16_t>(ParseInt(env, "PORT", c.port, 0, 65535));
  c.hostname = ParseString(env, "HOSTNAME", c.hostname);
  c.data_dir = ParseString(env, "LANGFUSE_DATA_DIR", c.data_dir);
  c.salt = ParseString(env, "SALT", c.salt);
  c.log_level = ParseString(env, "LANGFUSE_LOG_LEVEL", c.log_level);
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error" &&
      c.log_level != "trace" && c.log_level != "fatal") {
    throw std::invalid_argument("LANGFUSE_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal");
  }
  c.api_key_cache_ttl_seconds =
      static_cast<int>(ParseInt(env, "LANGFUSE_CACHE_API_KEY_TTL_SECONDS", c.api_key_cache_ttl_seconds, 0, 86400));
  c.api_key_cache_enabled = ParseBool(env, "LANGFUSE_CACHE_API_KEY_ENABLED", c.api_key_cache_enabled);
  c.http_io_threads = static_cast<int>(ParseInt(env, "LANGFUSE_HTTP_IO_THREADS", c.http_io_threads, 0, 256));
  c.http_handler_threads =
      static_cast<int>(ParseInt(env, "LANGFUSE_HTTP_HANDLER_THREADS", c.http_handler_threads, 1, 1024));
  c.otlp_grpc_port = ParseOptionalPort(env, "LANGFUSE_OTLP_GRPC_PORT", c.otlp_grpc_port);
  c.database_url = ParseString(env, "DATABASE_URL", "");
  c.clickhouse_url = ParseString(env, "CLICKHOUSE_URL", "");
  c.redis_configured = !ParseString(env, "REDIS_CONNECTION_STRING", "").empty() || !ParseString(env, "REDIS_HOST", "").empty();
  c.worker_port = static_cast<uint16_t>(ParseInt(env, "LANGFUSE_WORKER_PORT", c.worker_port, 0, 65535));
  c.write_batch_size = static_cast<int>(
      ParseInt(env, "LANGFUSE_INGESTION_CLICKHOUSE_WRITE_BATCH_SIZE", c.write_batch_size, 1, 1'000'000));
  c.write_interval_ms = static_cast<int>(
      ParseInt(env, "LANGFUSE_INGESTION_CLICKHOUSE_WRITE_INTERVAL_MS", c.write_interval_ms, 1, 600'000));
  c.max_attempts =
      static_cast<int>(ParseInt(env, "LANGFUSE_INGESTION_CLICKHOUSE_MAX_ATTEMPTS", c.max_attempts, 1, 100));
  c.retry_backoff_ms =
      static_cast<int>(ParseInt(env, "LANGFUSE_INGESTION_RETRY_BACKOFF_MS", c.retry_backoff_ms, 0, 600'000));
  c.nextauth_secret = ParseString(env, "NEXTAUTH_SECRET", "");
  c.nextauth_url = ParseString(env, "NEXTAUTH_URL", "");
  c.auth_disable_signup = ParseBool(env, "AUTH_DISABLE_SIGNUP", c.auth_disable_signup);
  c.auth_session_max_age_minutes = static_cast<int>(
      ParseInt(env, "AUTH_SESSION_MAX_AGE", c.auth_session_max_age_minutes, 1, 10 * 365 * 24 * 60));
  if (const auto ui_dir = env("LANGFUSE_UI_DIR"); ui_dir.has_value()) {
    c.ui_dir = *ui_dir;  // set but empty: no UI
  } else {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) c.ui_dir = DefaultUiDir(exe.string());
  }
  return c;
}

}  // namespace langfuse
