#include "queue/redis_options.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <string_view>

namespace langfuse::queue {
namespace {

std::optional<std::string> NonEmpty(const RedisEnvLookup& env, const std::string& name) {
  auto value = env(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

// Digits only, within [min, max].
std::optional<int64_t> ParseInteger(std::string_view text, int64_t min, int64_t max) {
  int64_t out = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (text.empty() || ec != std::errc() || ptr != end || out < min || out > max) return std::nullopt;
  return out;
}

// Langfuse's boolean variables accept exactly "true" and "false".
StatusOr<bool> ParseFlag(const RedisEnvLookup& env, const std::string& name, bool fallback) {
  auto value = NonEmpty(env, name);
  if (!value) return fallback;
  if (*value == "true") return true;
  if (*value == "false") return false;
  return Status::InvalidArgument(name + " must be true or false, got '" + *value + "'");
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes %XX escapes (a password may contain '@', ':' or '/' only when escaped).
std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = HexDigit(in[i + 1]);
    const int lo = HexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

std::string RedisOptions::Address() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Status ParseRedisConnectionString(const std::string& url, RedisOptions& out) {
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("REDIS_CONNECTION_STRING: " + why +
                                   " (expected redis://[[username]:password@]host[:port][/db])");
  };
  std::string_view rest = url;
  bool tls = false;
  if (rest.starts_with("redis://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("rediss://")) {
    rest.remove_prefix(9);
    tls = true;
  } else {
    return bad("the scheme must be redis:// or rediss://");
  }
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  RedisOptions parsed = out;
  parsed.tls_enabled = out.tls_enabled || tls;
  parsed.username.clear();
  parsed.password.clear();
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    auto user = PercentDecode(userinfo.substr(0, colon));
    auto pass =
        PercentDecode(colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1));
    if (!user || !pass) return bad("malformed %-escape in the credentials");
    parsed.username = std::move(*user);
    parsed.password = std::move(*pass);
  }
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unterminated [IPv6 address]");
    host = rest.substr(1, close - 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return bad("unexpected text after the IPv6 address");
      port = after.substr(1);
    }
  } else if (const size_t colon = rest.find(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  parsed.host = host.empty() ? "localhost" : std::string(host);
  parsed.port = 6379;
  if (!port.empty()) {
    auto p = ParseInteger(port, 1, 65535);
    if (!p) return bad("the port must be a number between 1 and 65535, got '" + std::string(port) + "'");
    parsed.port = static_cast<uint16_t>(*p);
  }
  parsed.db = 0;
  if (path.size() > 1) {
    auto db = ParseInteger(path.substr(1), 0, 1'000'000);
    if (!db) return bad("the path must be a database number, got '" + std::string(path) + "'");
    parsed.db = static_cast<int>(*db);
  }
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    if (pair.starts_with("db=")) {
      auto db = ParseInteger(pair.substr(3), 0, 1'000'000);
      if (!db) return bad("db must be a database number, got '" + std::string(pair.substr(3)) + "'");
      parsed.db = static_cast<int>(*db);
    } else {
      return bad("unsupported option '" + std::string(pair) + "'");
    }
  }
  out = std::move(parsed);
  return Status::Ok();
}

StatusOr<std::optional<RedisOptions>> RedisOptionsFromEnv(const RedisEnvLookup& env) {
  for (const char* unsupported : {"REDIS_CLUSTER_ENABLED", "REDIS_SENTINEL_ENABLED"}) {
    ASSIGN_OR_RETURN(const bool enabled, ParseFlag(env, unsupported, false));
    if (enabled) {
      return Status::InvalidArgument(
          std::string(unsupported) +
          "=true is not supported: point REDIS_CONNECTION_STRING or REDIS_HOST at a "
          "single Redis server (or a proxy in front of the cluster)");
    }
  }
  RedisOptions o;
  ASSIGN_OR_RETURN(o.tls_enabled, ParseFlag(env, "REDIS_TLS_ENABLED", false));
  if (auto url = NonEmpty(env, "REDIS_CONNECTION_STRING")) {
    // Like Langfuse, the connection string carries the credentials; REDIS_AUTH/USERNAME are not
    // consulted then.
    RETURN_IF_ERROR(ParseRedisConnectionString(*url, o));
  } else if (auto host = NonEmpty(env, "REDIS_HOST")) {
    o.host = *host;
    if (auto port = NonEmpty(env, "REDIS_PORT")) {
      auto p = ParseInteger(*port, 1, 65535);
      if (!p)
        return Status::InvalidArgument("REDIS_PORT must be a number between 1 and 65535, got '" + *port +
                                       "'");
      o.port = static_cast<uint16_t>(*p);
    }
    o.password = NonEmpty(env, "REDIS_AUTH").value_or("");
    o.username = NonEmpty(env, "REDIS_USERNAME").value_or("");
  } else {
    return std::optional<RedisOptions>();
  }
  o.key_prefix = NonEmpty(env, "REDIS_KEY_PREFIX").value_or("");
  o.tls_ca_path = NonEmpty(env, "REDIS_TLS_CA_PATH").value_or("");
  o.tls_cert_path = NonEmpty(env, "REDIS_TLS_CERT_PATH").value_or("");
  o.tls_key_path = NonEmpty(env, "REDIS_TLS_KEY_PATH").value_or("");
  o.tls_server_name = NonEmpty(env, "REDIS_TLS_SERVERNAME").value_or("");
  o.tls_key_passphrase = NonEmpty(env, "REDIS_TLS_KEY_PASSPHRASE").value_or("");
  o.tls_ciphers = NonEmpty(env, "REDIS_TLS_CIPHERS").value_or("");
  ASSIGN_OR_RETURN(o.tls_reject_unauthorized, ParseFlag(env, "REDIS_TLS_REJECT_UNAUTHORIZED", true));
  ASSIGN_OR_RETURN(o.tls_check_server_identity, ParseFlag(env, "REDIS_TLS_CHECK_SERVER_IDENTITY", true));
  // Only servers pick the cipher order; read so that a malformed value is still reported.
  RETURN_IF_ERROR(ParseFlag(env, "REDIS_TLS_HONOR_CIPHER_ORDER", false).status());
  if (auto protocol = NonEmpty(env, "REDIS_TLS_SECURE_PROTOCOL")) {
    static constexpr std::string_view kKnown[] = {
        "TLS_method",     "TLS_client_method",     "SSLv23_method",  "SSLv23_client_method",
        "TLSv1_2_method", "TLSv1_2_client_method", "TLSv1_3_method", "TLSv1_3_client_method"};
    if (std::find(std::begin(kKnown), std::end(kKnown), *protocol) == std::end(kKnown)) {
      return Status::InvalidArgument(
          "REDIS_TLS_SECURE_PROTOCOL must be TLS_method, SSLv23_method, TLSv1_2_method or TLSv1_3_method "
          "(or their *_client_method forms; TLS 1.0 and 1.1 are not supported), got '" +
          *protocol + "'");
    }
    o.tls_secure_protocol = *protocol;
  }
  if (auto timeout = NonEmpty(env, "REDIS_SOCKET_TIMEOUT_MS")) {
    // Langfuse's rule: 0 (disabled) or at least 10 s.
    auto t = ParseInteger(*timeout, 0, 3'600'000);
    if (!t || (*t != 0 && *t < 10'000)) {
      return Status::InvalidArgument(
          "REDIS_SOCKET_TIMEOUT_MS must be 0 (disabled) or between 10000 and 3600000, got '" + *timeout +
          "'");
    }
    o.socket_timeout_ms = static_cast<int>(*t);
  }
  return std::optional<RedisOptions>(std::move(o));
}

StatusOr<RedisQueueOptions> RedisQueueOptionsFromEnv(const RedisEnvLookup& env) {
  RedisQueueOptions o;
  if (auto idle = NonEmpty(env, "LANGFUSE_INGESTION_QUEUE_CLAIM_IDLE_MS")) {
    auto ms = ParseInteger(*idle, 100, 86'400'000);
    if (!ms) {
      return Status::InvalidArgument(
          "LANGFUSE_INGESTION_QUEUE_CLAIM_IDLE_MS must be a number of milliseconds between 100 "
          "and 86400000, got '" +
          *idle + "'");
    }
    o.claim_min_idle_ms = *ms;
  }
  return o;
}

}  // namespace langfuse::queue
