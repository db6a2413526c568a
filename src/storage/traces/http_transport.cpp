// ClickHouseTransport over ClickHouse's HTTP interface (a ClickHouse server, local or managed).

#include "storage/traces/http_transport.h"

#include <poll.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/log.h"
#include "common/version.h"
#include "storage/traces/clickhouse_sql.h"

namespace langfuse::traces {
namespace http_detail {
namespace {

// How long after the client's own timeout the server is asked to stop a statement
// (max_execution_time), as Langfuse's client does.
constexpr int kServerTimeoutGraceSeconds = 5;
// Error texts are kept to this size in a Status (a proxy may answer with a whole HTML page).
constexpr size_t kMaxErrorText = 4000;

// ClickHouse's exception codes this transport treats specially (src/Common/ErrorCodes.cpp).
constexpr int kUnknownUser = 192;
constexpr int kWrongPassword = 193;
constexpr int kRequiredPassword = 194;
constexpr int kAuthenticationFailed = 516;
// The codes of the transient errors StatusFromClickHouseError knows by name, for servers whose
// messages carry only the number.
constexpr std::array<int, 15> kTransientCodes{159, 160, 202, 203, 209, 210, 236, 241,
                                              242, 252, 279, 319, 394, 439, 999};

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendParam(std::string& target, std::string_view name, std::string_view value) {
  target += target.back() == '?' ? "" : "&";
  target += UrlEncode(name);
  target += '=';
  target += UrlEncode(value);
}

std::string BaseTarget(const HttpTransportOptions& options, std::string_view path_prefix) {
  std::string target(path_prefix);
  target += "/?";
  AppendParam(target, "database", options.database);
  if (options.pin_session_settings) {
    for (const SessionSetting& s : SessionSettings()) AppendParam(target, s.name, s.value);
  }
  if (options.compress_responses) AppendParam(target, "enable_http_compression", "1");
  return target;
}

std::string_view TrimTrailingSpace(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string ClickHouseEndpoint::HostHeader() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return fmt::format("{}{}{}:{}", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port);
}

std::string ClickHouseEndpoint::Describe() const {
  return fmt::format("{}://{}{}", tls ? "https" : "http", HostHeader(), path_prefix);
}

StatusOr<ClickHouseEndpoint> ParseClickHouseUrl(std::string_view url) {
  // Messages repeat the URL without any credentials in it.
  std::string shown(url);
  if (const size_t scheme = shown.find("://"); scheme != std::string::npos) {
    const size_t at = shown.find('@', scheme + 3);
    if (at != std::string::npos && at < shown.find_first_of("/?#", scheme + 3))
      shown.replace(scheme + 3, at - scheme - 3, "***");
  }
  const auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format(
        "'{}': {} (expected http://host[:port] or https://host[:port], optionally with a path)", shown, why));
  };
  ClickHouseEndpoint out;
  std::string_view rest = url;
  const auto starts_with_ci = [](std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    }
    return true;
  };
  if (starts_with_ci(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (starts_with_ci(rest, "https://")) {
    rest.remove_prefix(8);
    out.tls = true;
  } else {
    return bad("the scheme must be http:// or https://");
  }
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos)
    return bad("credentials in the URL are not supported; set CLICKHOUSE_USER and CLICKHOUSE_PASSWORD");
  if (path.find_first_of("?#") != std::string_view::npos)
    return bad("a query string or fragment is not supported; set the database with CLICKHOUSE_DB");
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("unexpected text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
  }
  if (out.host.empty()) return bad("no host");
  for (const char c : out.host) {
    if (!(IsUnreserved(c) || c == ':')) return bad("the host has characters a host name cannot have");
  }
  out.port = out.tls ? 8443 : 8123;
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return bad("the port must be a number from 1 to 65535");
    out.port = static_cast<uint16_t>(port);
  }
  while (path.ends_with('/')) path.remove_suffix(1);
  for (const char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '<' || c == '>' || c == '\\')
      return bad("the path has characters that must be percent-encoded");
  }
  out.path_prefix = std::string(path);
  return out;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (const char c : text) {
    if (IsUnreserved(c)) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
  }
  return out;
}

bool UrlDecode(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] != '%') {
      out.push_back(text[i]);
    } else {
      if (i + 2 >= text.size()) return false;
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return true;
}

HttpStatementRequest BuildQueryRequest(const HttpTransportOptions& options, std::string_view path_prefix,
                                       std::string_view sql, const std::vector<QueryParam>& params,
                                       std::string_view format) {
  HttpStatementRequest request;
  request.target = BaseTarget(options, path_prefix);
  AppendParam(request.target, "default_format", format);
  AppendParam(request.target, "wait_end_of_query", "1");
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(options.request_timeout).count();
  AppendParam(request.target, "max_execution_time", std::to_string(seconds + kServerTimeoutGraceSeconds));
  for (const QueryParam& p : params) AppendParam(request.target, "param_" + p.name, p.value);
  request.body = std::string(sql);
  return request;
}

HttpStatementRequest BuildInsertRequest(const HttpTransportOptions& options, std::string_view path_prefix,
                                        std::string_view table, std::string_view format,
                                        std::string_view rows, std::string_view dedup_token) {
  HttpStatementRequest request;
  request.target = BaseTarget(options, path_prefix);
  AppendParam(request.target, "query",
              fmt::format("{} FORMAT {}", InsertStatement(table, dedup_token), format));
  if (rows.size() >= options.compress_request_min_bytes) {
    // Level 3: most of level 6's ratio on this kind of text at a fraction of its CPU time.
    request.body = GzipCompress(rows, 3);
    request.gzip = true;
  } else {
    request.body = std::string(rows);
  }
  return request;
}

int ClickHouseExceptionCode(std::string_view code_header, std::string_view body) {
  int code = 0;
  if (!code_header.empty()) {
    const auto [ptr, ec] = std::from_chars(code_header.data(), code_header.data() + code_header.size(), code);
    if (ec == std::errc() && ptr == code_header.data() + code_header.size()) return code;
  }
  // A JSON-formatted error (http_write_exception_in_output_format) carries the same text inside.
  const size_t at = body.find("Code: ");
  if (at == std::string_view::npos || at > 64) return 0;
  const std::string_view digits = body.substr(at + 6);
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), code);
  if (ec != std::errc() || ptr == digits.data() + digits.size() || (*ptr != '.' && *ptr != ',')) return 0;
  return code;
}

Status StatusFromHttpError(unsigned http_status, std::string_view code_header, std::string_view body,
                           std::string_view what, std::string_view server, std::string_view user) {
  const int code = ClickHouseExceptionCode(code_header, body);
  std::string text(TrimTrailingSpace(body));
  if (text.size() > kMaxErrorText) {
    text.resize(kMaxErrorText);
    text += "...";
  }
  if (text.empty()) text = fmt::format("HTTP {} with an empty body", http_status);
  const bool refused_credentials = code == kUnknownUser || code == kWrongPassword ||
                                   code == kRequiredPassword || code == kAuthenticationFailed ||
                                   http_status == 401 || (http_status == 403 && code == 0);
  if (refused_credentials) {
    return Status::Unavailable(fmt::format(
        "{}: {} refused the credentials of user '{}' (check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD): {}",
        what, server, user, text));
  }
  if (code == 0 && (http_status == 502 || http_status == 503 || http_status == 504)) {
    return Status::Unavailable(fmt::format("{}: {} answered HTTP {}: {}", what, server, http_status, text));
  }
  if (std::find(kTransientCodes.begin(), kTransientCodes.end(), code) != kTransientCodes.end() ||
      (code == 0 && http_status == 408)) {
    return Status::Unavailable(fmt::format("{}: {}", what, text));
  }
  return StatusFromClickHouseError(what, text);
}

std::string GzipCompress(std::string_view data, int level) {
  z_stream zs{};
  // 15 + 16: the largest window, gzip framing.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 64);
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  size_t consumed = 0;
  int rc = Z_OK;
  do {
    // avail_in is 32 bits: feed at most 1 GiB per call.
    const size_t chunk = std::min<size_t>(data.size() - consumed, size_t{1} << 30);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
    zs.avail_in = static_cast<uInt>(chunk);
    consumed += chunk;
    const int flush = consumed == data.size() ? Z_FINISH : Z_NO_FLUSH;
    while (true) {
      if (zs.avail_out == 0) {
        const size_t used = out.size();
        out.resize(used * 2);
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - used, UINT32_MAX));
      }
      rc = deflate(&zs, flush);
      if (rc == Z_STREAM_END || (flush == Z_NO_FLUSH && zs.avail_in == 0)) break;
      if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    }
  } while (consumed < data.size() && rc == Z_OK);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

bool GzipDecompress(std::string_view data, size_t max_bytes, std::string& out, std::string& error) {
  out.clear();
  z_stream zs{};
  // 15 + 32: detect gzip or zlib framing from the header.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) {
    error = "zlib could not start";
    return false;
  }
  size_t consumed = 0;
  std::array<char, 64 << 10> chunk;
  bool ok = true;
  while (ok) {
    if (zs.avail_in == 0) {
      const size_t n = std::min<size_t>(data.size() - consumed, size_t{1} << 30);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
      zs.avail_in = static_cast<uInt>(n);
      consumed += n;
    }
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = chunk.size() - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      error = fmt::format("more than {} bytes after decompression", max_bytes);
      ok = false;
      break;
    }
    out.append(chunk.data(), produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0 && consumed == data.size()) break;
      inflateReset(&zs);  // another gzip member follows
    } else if (rc == Z_BUF_ERROR && zs.avail_in == 0 && consumed == data.size()) {
      error = "truncated compressed data";
      ok = false;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      error = zs.msg != nullptr ? zs.msg : "corrupt compressed data";
      ok = false;
    }
  }
  inflateEnd(&zs);
  return ok;
}

}  // namespace http_detail

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using http_detail::ClickHouseEndpoint;
using http_detail::HttpStatementRequest;

// How an exchange with the server went, as far as retrying is concerned.
enum class Failure {
  kNone,
  kConnect,     // no connection: nothing was sent, any statement may be retried
  kNoResponse,  // sent (maybe), no byte of an answer came back: the statement may have run
  kBroken,      // the answer broke off half-way
  kTimeout,     // no (complete) answer before the deadline
  kTooLarge,    // the answer exceeds max_response_bytes
};

struct Exchange {
  Failure failure = Failure::kNone;
  std::string detail;  // what went wrong, for the Status
  bhttp::response<bhttp::string_body> response;
  bool keep_alive = false;
};

// One keep-alive connection (plain or TLS) with its own io_context: blocking calls are made of
// asynchronous operations run to completion on the calling thread, which is what gives every
// step a deadline (Beast's tcp_stream timeouts apply to asynchronous operations only).
// Thread-safety: used by one thread at a time (the pool hands it out exclusively).
class HttpConnection {
 public:
  HttpConnection(const ClickHouseEndpoint& endpoint, asio::ssl::context* tls_context)
      : endpoint_(endpoint), tls_context_(tls_context) {}

  bool connected() const { return connected_; }

  //! Resolves, connects and (for https) completes the TLS handshake before `deadline`.
  std::optional<std::string> Connect(Clock::time_point deadline) {
    tcp::resolver resolver(ioc_);
    asio::steady_timer timer(ioc_);
    tcp::resolver::results_type endpoints;
    boost::system::error_code ec = asio::error::would_block;
    timer.expires_at(deadline);
    timer.async_wait([&](boost::system::error_code e) {
      if (!e) resolver.cancel();
    });
    resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                           [&](boost::system::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             timer.cancel();
                           });
    RunLoop();
    if (ec == asio::error::operation_aborted) return "name resolution timed out";
    if (ec) return "cannot resolve the host: " + ec.message();

    if (tls_context_ != nullptr) {
      tls_.emplace(ioc_, *tls_context_);
    } else {
      plain_.emplace(ioc_);
    }
    beast::tcp_stream& tcp = Tcp();
    tcp.expires_at(deadline);
    ec = asio::error::would_block;
    tcp.async_connect(endpoints, [&](boost::system::error_code e, const tcp::endpoint&) { ec = e; });
    RunLoop();
    if (ec == beast::error::timeout) return "connect timed out";
    if (ec) return "connect: " + ec.message();
    tcp.socket().set_option(tcp::no_delay(true), ec);

    if (tls_) {
      // SNI, and the certificate checked against the host name when verification is on.
      if (SSL_set_tlsext_host_name(tls_->native_handle(), endpoint_.host.c_str()) != 1)
        return "TLS: cannot set the server name";
      if (verify_host_) {
        tls_->set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
      }
      tcp.expires_at(deadline);
      ec = asio::error::would_block;
      tls_->async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code e) { ec = e; });
      RunLoop();
      if (ec == beast::error::timeout) return "TLS handshake timed out";
      if (ec) return "TLS handshake: " + ec.message();
    }
    connected_ = true;
    return std::nullopt;
  }

  void set_verify_host(bool verify) { verify_host_ = verify; }

  //! Sends `request` and reads the answer before `deadline`.
  Exchange RoundTrip(const bhttp::request<bhttp::span_body<const char>>& request, Clock::time_point deadline,
                     size_t max_body) {
    Exchange out;
    boost::system::error_code ec = asio::error::would_block;
    Tcp().expires_at(deadline);
    if (tls_) {
      bhttp::async_write(*tls_, request, [&](boost::system::error_code e, size_t) { ec = e; });
    } else {
      bhttp::async_write(*plain_, request, [&](boost::system::error_code e, size_t) { ec = e; });
    }
    RunLoop();
    if (ec) {
      connected_ = false;
      out.failure = ec == beast::error::timeout ? Failure::kTimeout : Failure::kNoResponse;
      out.detail = "sending the request: " + ec.message();
      return out;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(64 << 10);
    parser.body_limit(max_body);
    ec = asio::error::would_block;
    Tcp().expires_at(deadline);
    if (tls_) {
      bhttp::async_read(*tls_, buffer_, parser, [&](boost::system::error_code e, size_t) { ec = e; });
    } else {
      bhttp::async_read(*plain_, buffer_, parser, [&](boost::system::error_code e, size_t) { ec = e; });
    }
    RunLoop();
    if (ec) {
      connected_ = false;
      if (ec == beast::error::timeout) {
        out.failure = Failure::kTimeout;
      } else if (ec == bhttp::error::body_limit) {
        out.failure = Failure::kTooLarge;
      } else {
        out.failure = parser.got_some() ? Failure::kBroken : Failure::kNoResponse;
      }
      out.detail = "reading the answer: " + ec.message();
      return out;
    }
    out.keep_alive = parser.keep_alive();
    out.response = parser.release();
    if (!out.keep_alive) connected_ = false;
    return out;
  }

  //! False when the server has closed the idle connection (or sent something unasked): checked
  //! before reuse, so a request is rarely written into a connection that is already gone.
  bool StillOpen() {
    if (!connected_ || buffer_.size() != 0) return false;
    pollfd p{Tcp().socket().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  Clock::time_point idle_since;
  std::chrono::milliseconds idle_limit{0};

 private:
  beast::tcp_stream& Tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

  void RunLoop() {
    ioc_.restart();
    ioc_.run();
  }

  const ClickHouseEndpoint& endpoint_;
  asio::ssl::context* tls_context_;
  bool verify_host_ = true;
  asio::io_context ioc_{1};
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

// At most `max` connections; idle ones are reused newest first (the oldest age out).
// Thread-safety: all methods may be called concurrently.
class ConnectionPool {
 public:
  ConnectionPool(const ClickHouseEndpoint& endpoint, asio::ssl::context* tls_context, bool verify_host,
                 int max)
      : endpoint_(endpoint), tls_context_(tls_context), verify_host_(verify_host), max_(max) {}

  //! An idle connection, or a new unconnected one; null when none became free before `deadline`.
  std::unique_ptr<HttpConnection> Acquire(Clock::time_point deadline) {
    std::vector<std::unique_ptr<HttpConnection>> stale;  // closed outside the lock
    std::unique_lock lock(mu_);
    while (true) {
      while (!idle_.empty()) {
        std::unique_ptr<HttpConnection> c = std::move(idle_.back());
        idle_.pop_back();
        if (Clock::now() - c->idle_since < c->idle_limit && c->StillOpen()) return c;
        stale.push_back(std::move(c));
        --open_;
      }
      if (open_ < max_) {
        ++open_;
        auto c = std::make_unique<HttpConnection>(endpoint_, tls_context_);
        c->set_verify_host(verify_host_);
        return c;
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= max_)
        return nullptr;
    }
  }

  //! Returns a connection; `reusable` when it is connected and its last answer was complete.
  void Release(std::unique_ptr<HttpConnection> c, bool reusable, std::chrono::milliseconds idle_limit) {
    {
      std::lock_guard lock(mu_);
      if (reusable && c->connected() && idle_limit.count() > 0) {
        c->idle_since = Clock::now();
        c->idle_limit = idle_limit;
        idle_.push_back(std::move(c));
      } else {
        --open_;
      }
    }
    cv_.notify_one();
    c.reset();  // a connection not kept is closed here, outside the lock
  }

 private:
  const ClickHouseEndpoint& endpoint_;
  asio::ssl::context* tls_context_;
  bool verify_host_;
  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<HttpConnection>> idle_;  // guarded by mu_
  int open_ = 0;                                       // connections handed out or idle; guarded by mu_
};

// The server's "Keep-Alive: timeout=N" (seconds it keeps an idle connection), if it sent one.
std::optional<std::chrono::milliseconds> ServerKeepAlive(
    const bhttp::response<bhttp::string_body>& response) {
  const auto it = response.find("Keep-Alive");
  if (it == response.end()) return std::nullopt;
  const std::string_view value(it->value().data(), it->value().size());
  const size_t at = value.find("timeout=");
  if (at == std::string_view::npos) return std::nullopt;
  int seconds = 0;
  const auto [ptr, ec] = std::from_chars(value.data() + at + 8, value.data() + value.size(), seconds);
  if (ec != std::errc() || seconds < 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

// Runs `run`, observing its duration and counting its failure.
template <typename Run>
auto Timed(Histogram& seconds, Counter& errors, Run run) {
  const auto start = Clock::now();
  auto result = run();
  seconds.Observe(std::chrono::duration<double>(Clock::now() - start).count());
  if (!result.ok()) errors.Add();
  return result;
}

//! ClickHouseTransport over HTTP(S): a pool of keep-alive connections, each statement one POST.
//! Every step has a deadline (connect_timeout for the connection, request_timeout for the whole
//! statement including waiting for a connection and any retry). Reads, and inserts that carry a
//! dedup token, are retried when the connection fails before an answer arrives; other statements
//! only when the connection could not be opened (nothing was sent). Thread-safety: all methods
//! may be called concurrently; the destructor must not race any call.
class HttpTransport final : public ClickHouseTransport {
 public:
  HttpTransport(HttpTransportOptions options, ClickHouseEndpoint endpoint,
                std::unique_ptr<asio::ssl::context> tls_context)
      : options_(std::move(options)),
        endpoint_(std::move(endpoint)),
        tls_context_(std::move(tls_context)),
        pool_(endpoint_, tls_context_.get(), options_.tls_verify, std::max(1, options_.max_connections)),
        user_agent_(fmt::format("langfuse-cpp/{}", kVersion)) {}

  StatusOr<std::string> Query(std::string_view sql, const std::vector<QueryParam>& params,
                              std::string_view format) override {
    if (!IsSqlIdentifier(format))
      return Status::InvalidArgument(fmt::format("bad output format '{}'", format));
    for (const QueryParam& p : params) {
      if (!IsSqlIdentifier(p.name))
        return Status::InvalidArgument(fmt::format("bad parameter name '{}'", p.name));
    }
    const HttpStatementRequest request =
        http_detail::BuildQueryRequest(options_, endpoint_.path_prefix, sql, params, format);
    if (IsReadOnlyStatement(sql)) {
      return Timed(metrics_.read_seconds, metrics_.read_errors,
                   [&] { return Execute(request, /*retry_after_sending=*/true, "ClickHouse query"); });
    }
    return Timed(metrics_.write_seconds, metrics_.write_errors,
                 [&] { return Execute(request, /*retry_after_sending=*/false, "ClickHouse statement"); });
  }

  Status Insert(std::string_view table, std::string_view format, std::string_view rows,
                std::string_view dedup_token) override {
    if (!IsSqlIdentifier(format))
      return Status::InvalidArgument(fmt::format("bad input format '{}'", format));
    if (!IsSafeSqlName(table)) {
      return Status::InvalidArgument(fmt::format("insert table name '{}' is not [A-Za-z0-9_.-]+", table));
    }
    if (!dedup_token.empty() && !IsSafeSqlName(dedup_token)) {
      return Status::InvalidArgument(
          fmt::format("insert dedup token '{}' is not [A-Za-z0-9_.-]+", dedup_token));
    }
    if (format == "JSONEachRow" && rows.find_first_not_of(" \t\r\n") == std::string_view::npos)
      return Status::Ok();
    if (rows.empty()) return Status::Ok();
    return Timed(metrics_.insert_seconds, metrics_.insert_errors, [&] {
      const HttpStatementRequest request =
          http_detail::BuildInsertRequest(options_, endpoint_.path_prefix, table, format, rows, dedup_token);
      // With a token the server drops a repeated block, so an insert whose answer was lost can be
      // sent again; without one a retry could store the rows twice.
      return Execute(request, /*retry_after_sending=*/!dedup_token.empty(), "ClickHouse insert").status();
    });
  }

  Status Ping() override {
    auto out = Query("SELECT 1", {}, "TabSeparated");
    if (!out.ok()) return out.status();
    if (*out != "1\n")
      return Status::Unavailable(
          fmt::format("ClickHouse ping: {} answered '{}' to SELECT 1", endpoint_.Describe(), *out));
    return Status::Ok();
  }

 private:
  bhttp::request<bhttp::span_body<const char>> MakeRequest(const HttpStatementRequest& r) const {
    bhttp::request<bhttp::span_body<const char>> req{bhttp::verb::post, r.target, 11};
    req.set(bhttp::field::host, endpoint_.HostHeader());
    req.set(bhttp::field::user_agent, user_agent_);
    req.set(bhttp::field::content_type, "text/plain; charset=UTF-8");
    req.set("X-ClickHouse-User", options_.user);
    req.set("X-ClickHouse-Key", options_.password);
    if (r.gzip) req.set(bhttp::field::content_encoding, "gzip");
    if (options_.compress_responses) req.set(bhttp::field::accept_encoding, "gzip");
    req.keep_alive(true);
    req.body() = boost::beast::span<const char>(r.body.data(), r.body.size());
    req.prepare_payload();
    return req;
  }

  StatusOr<std::string> Execute(const HttpStatementRequest& r, bool retry_after_sending,
                                std::string_view what) {
    const auto request = MakeRequest(r);
    const Clock::time_point deadline = Clock::now() + options_.request_timeout;
    const int attempts = std::max(1, options_.max_attempts);
    std::string last_error;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
      if (attempt > 1) {
        // 50 ms, 100 ms, 200 ms...: a restarting server or a dropped connection needs a moment.
        const auto backoff = std::chrono::milliseconds(50) * (1 << std::min(attempt - 2, 6));
        if (Clock::now() + backoff >= deadline) break;
        std::this_thread::sleep_for(backoff);
        LOG_DEBUG("{} to {}: attempt {} after: {}", what, endpoint_.Describe(), attempt, last_error);
      }
      std::unique_ptr<HttpConnection> conn = pool_.Acquire(deadline);
      if (conn == nullptr) {
        metrics_.connection_wait_timeouts.Add();
        return Status::Unavailable(fmt::format("{}: no connection to {} free within {} ms (at most {} open)",
                                               what, endpoint_.Describe(), options_.request_timeout.count(),
                                               options_.max_connections));
      }
      if (!conn->connected()) {
        const Clock::time_point connect_deadline =
            std::min(deadline, Clock::now() + options_.connect_timeout);
        if (std::optional<std::string> error = conn->Connect(connect_deadline)) {
          pool_.Release(std::move(conn), false, {});
          last_error = std::move(*error);
          continue;  // nothing was sent: safe to try again whatever the statement
        }
      }
      Exchange exchange = conn->RoundTrip(request, deadline, options_.max_response_bytes);
      if (exchange.failure != Failure::kNone) {
        pool_.Release(std::move(conn), false, {});
        switch (exchange.failure) {
          case Failure::kTimeout:
            return Status::Unavailable(fmt::format("{}: {} did not answer within {} ms ({})", what,
                                                   endpoint_.Describe(), options_.request_timeout.count(),
                                                   exchange.detail));
          case Failure::kTooLarge:
            return Status::Internal(fmt::format("{}: the answer from {} exceeds {} bytes", what,
                                                endpoint_.Describe(), options_.max_response_bytes));
          default:
            last_error = std::move(exchange.detail);
            if (!retry_after_sending) {
              return Status::Unavailable(fmt::format(
                  "{}: the connection to {} failed before the answer ({}); not retried, the statement may "
                  "have run",
                  what, endpoint_.Describe(), last_error));
            }
            continue;
        }
      }
      std::chrono::milliseconds idle_limit = options_.keep_alive_idle;
      if (const auto server = ServerKeepAlive(exchange.response)) {
        // Give up the connection a second before the server would.
        idle_limit = std::min(idle_limit, *server - std::chrono::seconds(1));
      }
      pool_.Release(std::move(conn), exchange.keep_alive, idle_limit);
      return Answer(exchange.response, what);
    }
    return Status::Unavailable(fmt::format("{}: cannot reach {} ({} attempts): {}", what,
                                           endpoint_.Describe(), attempts, last_error));
  }

  StatusOr<std::string> Answer(bhttp::response<bhttp::string_body>& response, std::string_view what) const {
    std::string body = std::move(response.body());
    const auto encoding = response[bhttp::field::content_encoding];
    // An empty body needs no decoding whatever the header says (an answer without output).
    if (!body.empty() && !encoding.empty() && encoding != "identity") {
      if (encoding != "gzip" && encoding != "deflate") {
        return Status::Internal(fmt::format("{}: {} answered with unsupported Content-Encoding '{}'", what,
                                            endpoint_.Describe(),
                                            std::string_view(encoding.data(), encoding.size())));
      }
      std::string plain, error;
      if (!http_detail::GzipDecompress(body, options_.max_response_bytes, plain, error)) {
        return Status::Internal(
            fmt::format("{}: cannot decompress the answer from {}: {}", what, endpoint_.Describe(), error));
      }
      body = std::move(plain);
    }
    if (response.result_int() == 200) return body;
    const auto code = response["X-ClickHouse-Exception-Code"];
    return http_detail::StatusFromHttpError(response.result_int(), std::string_view(code.data(), code.size()),
                                            body, what, endpoint_.Describe(), options_.user);
  }

  const HttpTransportOptions options_;
  const ClickHouseEndpoint endpoint_;
  const std::unique_ptr<asio::ssl::context> tls_context_;  // null for http://
  TransportMetrics& metrics_ = GetTransportMetrics("http");
  ConnectionPool pool_;
  const std::string user_agent_;
};

std::optional<std::string> NonEmpty(const ClickHouseEnvLookup& env, const std::string& name) {
  auto value = env(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

// An integer variable within [min, max]; `fallback` when unset.
StatusOr<int64_t> IntegerVariable(const ClickHouseEnvLookup& env, const std::string& name, int64_t fallback,
                                  int64_t min, int64_t max) {
  const auto value = NonEmpty(env, name);
  if (!value) return fallback;
  int64_t out = 0;
  const char* end = value->data() + value->size();
  const auto [ptr, ec] = std::from_chars(value->data(), end, out);
  if (ec != std::errc() || ptr != end || out < min || out > max) {
    return Status::InvalidArgument(
        fmt::format("{} must be an integer from {} to {}, got '{}'", name, min, max, *value));
  }
  return out;
}

}  // namespace

StatusOr<std::optional<HttpTransportOptions>> HttpTransportOptionsFromEnv(const ClickHouseEnvLookup& env) {
  const auto url = NonEmpty(env, "CLICKHOUSE_URL");
  if (!url) return std::optional<HttpTransportOptions>();
  HttpTransportOptions o;
  if (auto parsed = http_detail::ParseClickHouseUrl(*url); !parsed.ok()) {
    return Status::InvalidArgument("CLICKHOUSE_URL " + parsed.status().message());
  }
  o.url = *url;
  o.user = NonEmpty(env, "CLICKHOUSE_USER").value_or("default");
  o.password = env("CLICKHOUSE_PASSWORD").value_or("");
  o.database = NonEmpty(env, "CLICKHOUSE_DB").value_or("default");
  ASSIGN_OR_RETURN(const int64_t connections,
                   IntegerVariable(env, "CLICKHOUSE_MAX_OPEN_CONNECTIONS", o.max_connections, 1, 10'000));
  o.max_connections = static_cast<int>(connections);
  ASSIGN_OR_RETURN(const int64_t idle, IntegerVariable(env, "CLICKHOUSE_KEEP_ALIVE_IDLE_SOCKET_TTL",
                                                       o.keep_alive_idle.count(), 0, 3'600'000));
  o.keep_alive_idle = std::chrono::milliseconds(idle);
  ASSIGN_OR_RETURN(const int64_t attempts,
                   IntegerVariable(env, "LANGFUSE_CLICKHOUSE_QUERY_MAX_ATTEMPTS", o.max_attempts, 1, 20));
  o.max_attempts = static_cast<int>(attempts);
  ASSIGN_OR_RETURN(const int64_t connect_ms, IntegerVariable(env, "LANGFUSE_CLICKHOUSE_CONNECT_TIMEOUT_MS",
                                                             o.connect_timeout.count(), 1, 600'000));
  o.connect_timeout = std::chrono::milliseconds(connect_ms);
  ASSIGN_OR_RETURN(const int64_t request_ms, IntegerVariable(env, "LANGFUSE_CLICKHOUSE_REQUEST_TIMEOUT_MS",
                                                             o.request_timeout.count(), 1, 86'400'000));
  o.request_timeout = std::chrono::milliseconds(request_ms);
  return std::optional<HttpTransportOptions>(std::move(o));
}

StatusOr<std::unique_ptr<ClickHouseTransport>> OpenHttpTransport(const HttpTransportOptions& options) {
  ASSIGN_OR_RETURN(ClickHouseEndpoint endpoint, http_detail::ParseClickHouseUrl(options.url));
  // Header values: a line break would end the header (and could inject another).
  for (const std::string* value : {&options.user, &options.password}) {
    if (value->find_first_of("\r\n") != std::string::npos)
      return Status::InvalidArgument("ClickHouse user and password must not contain line breaks");
  }
  if (options.database.empty()) return Status::InvalidArgument("ClickHouse database name is empty");
  if (options.request_timeout.count() <= 0 || options.connect_timeout.count() <= 0)
    return Status::InvalidArgument("ClickHouse timeouts must be positive");
  std::unique_ptr<asio::ssl::context> tls;
  if (endpoint.tls) {
    boost::system::error_code ec;
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    tls->set_default_verify_paths(ec);
    if (ec)
      return Status::InvalidArgument("TLS: cannot load the system's trusted certificates: " + ec.message());
    if (!options.tls_ca_file.empty()) {
      tls->load_verify_file(options.tls_ca_file, ec);
      if (ec) {
        return Status::InvalidArgument(
            fmt::format("TLS: cannot load CA file '{}': {}", options.tls_ca_file, ec.message()));
      }
    }
    tls->set_verify_mode(options.tls_verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  }
  LOG_INFO("ClickHouse over HTTP at {} (database '{}', user '{}', up to {} connections)", endpoint.Describe(),
           options.database, options.user, options.max_connections);
  return std::unique_ptr<ClickHouseTransport>(
      new HttpTransport(options, std::move(endpoint), std::move(tls)));
}

}  // namespace langfuse::traces
