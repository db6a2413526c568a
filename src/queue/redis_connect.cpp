// Connections to Redis, plain or over TLS (see redis_connect.h).
//
// Debian's hiredis (0.14) speaks only plain TCP but takes any connected descriptor
// (redisConnectFd). Under TLS we hand it one end of a socket pair; a relay thread per connection
// moves bytes between the other end and an OpenSSL session on the TCP socket. Everything hiredis
// relies on carries over: its reads time out by SO_RCVTIMEO on its end, a write after Redis went
// away fails with EPIPE and a read with end-of-file (the relay closes its end when the session
// ends), and its callers' poll(2) loops see the same readiness as on a socket.
#include "queue/redis_connect.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/log.h"

namespace langfuse::queue {
namespace {

using Clock = std::chrono::steady_clock;

//! Bytes the relay holds per direction before it stops reading that side (back-pressure).
constexpr size_t kRelayBufferCap = 256 * 1024;
//! TCP keep-alive as hiredis sets it: first probe after 15 s idle, then every 5 s, 3 probes.
constexpr int kKeepAliveIdleS = 15;
constexpr int kKeepAliveIntervalS = 5;
constexpr int kKeepAliveProbes = 3;

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

//! A file descriptor closed on destruction unless released.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

bool IsIpLiteral(const std::string& host) {
  in6_addr addr6;
  in_addr addr4;
  return inet_pton(AF_INET, host.c_str(), &addr4) == 1 || inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
}

bool SetBlocking(int fd, bool blocking) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  return fcntl(fd, F_SETFL, blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK)) == 0;
}

enum class Wait { kReady, kTimeout, kStopped };

//! Waits for `events` on `fd` until `deadline`, or until `wake_fd` (if >= 0) becomes readable.
Wait WaitFor(int fd, short events, Clock::time_point deadline, int wake_fd) {
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) return Wait::kTimeout;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    const int timeout = static_cast<int>(std::min<int64_t>(left, 60'000));
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int n = poll(fds, wake_fd >= 0 ? 2 : 1, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (wake_fd >= 0 && (fds[1].revents & POLLIN) != 0) return Wait::kStopped;
    // Errors and hang-ups count as ready: the call that follows reports them.
    if (n < 0 || fds[0].revents != 0) return Wait::kReady;
  }
}

int64_t MillisBetween(Clock::time_point from, Clock::time_point to) {
  return std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(to - from).count());
}

//! The OpenSSL errors queued in this thread, oldest first, joined by "; " (and the queue emptied).
std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason != nullptr ? reason : buf;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// TLS settings.

//! Supplies REDIS_TLS_KEY_PASSPHRASE to OpenSSL; without one an encrypted key fails to load
//! (OpenSSL's default would prompt on the terminal).
int PassphraseCallback(char* buf, int size, int /*rwflag*/, void* userdata) {
  const auto* passphrase = static_cast<const std::string*>(userdata);
  if (passphrase == nullptr || passphrase->empty() || size <= 0) return 0;
  const int n = static_cast<int>(std::min<size_t>(passphrase->size(), static_cast<size_t>(size)));
  std::memcpy(buf, passphrase->data(), static_cast<size_t>(n));
  return n;
}

//! Notes the arrival of a TLS 1.3 session ticket in the flag SSL_get_app_data points to (if any).
int OnNewSession(SSL* ssl, SSL_SESSION* /*session*/) {
  if (auto* arrived = static_cast<bool*>(SSL_get_app_data(ssl))) *arrived = true;
  return 0;  // not kept
}

//! An SSL_CTX for the options (files read now, so a rotated certificate is picked up by the next
//! connection). InvalidArgument naming the variable for anything unusable.
StatusOr<SslCtxPtr> MakeTlsContext(const RedisOptions& o) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Status::Internal("redis TLS: cannot create an OpenSSL context: " + OpenSslErrors());
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  // Node's default range (TLS 1.2 and 1.3), unless REDIS_TLS_SECURE_PROTOCOL pins one version.
  int min_version = TLS1_2_VERSION;
  int max_version = 0;  // the highest OpenSSL knows
  const std::string& protocol = o.tls_secure_protocol;
  if (protocol.starts_with("TLSv1_2_")) {
    max_version = TLS1_2_VERSION;
  } else if (protocol.starts_with("TLSv1_3_")) {
    min_version = TLS1_3_VERSION;
  } else if (!protocol.empty() && !protocol.starts_with("TLS_") && !protocol.starts_with("SSLv23_")) {
    return Status::InvalidArgument("REDIS_TLS_SECURE_PROTOCOL: unsupported protocol '" + protocol + "'");
  }

  if (!o.tls_ciphers.empty()) {
    // As Node does: TLS 1.3 suites (TLS_*) and the older cipher list are set apart.
    std::string suites;
    std::string list;
    std::string_view rest = o.tls_ciphers;
    while (!rest.empty()) {
      const size_t colon = rest.find(':');
      const std::string_view item = rest.substr(0, colon);
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      if (item.empty()) continue;
      std::string& into = item.starts_with("TLS_") ? suites : list;
      if (!into.empty()) into += ':';
      into += item;
    }
    if (suites.empty() && list.empty()) {
      return Status::InvalidArgument("REDIS_TLS_CIPHERS: no cipher named in '" + o.tls_ciphers + "'");
    }
    if (!suites.empty() && SSL_CTX_set_ciphersuites(ctx.get(), suites.c_str()) != 1) {
      return Status::InvalidArgument("REDIS_TLS_CIPHERS: OpenSSL knows none of the TLS 1.3 suites '" +
                                     suites + "'");
    }
    if (!list.empty() && SSL_CTX_set_cipher_list(ctx.get(), list.c_str()) != 1) {
      return Status::InvalidArgument("REDIS_TLS_CIPHERS: OpenSSL knows none of the ciphers '" + list + "'");
    }
    if (suites.empty()) max_version = TLS1_2_VERSION;
    if (list.empty()) min_version = TLS1_3_VERSION;
    if (max_version != 0 && min_version > max_version) {
      return Status::InvalidArgument("REDIS_TLS_CIPHERS: the ciphers '" + o.tls_ciphers +
                                     "' do not fit the protocol of REDIS_TLS_SECURE_PROTOCOL=" + protocol);
    }
  }
  SSL_CTX_set_min_proto_version(ctx.get(), min_version);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);

  if (!o.tls_ca_path.empty()) {
    // As in Node, a configured CA replaces the system's store.
    if (SSL_CTX_load_verify_locations(ctx.get(), o.tls_ca_path.c_str(), nullptr) != 1) {
      return Status::InvalidArgument("REDIS_TLS_CA_PATH: cannot load CA certificates from '" + o.tls_ca_path +
                                     "': " + OpenSslErrors());
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return Status::InvalidArgument("redis TLS: cannot load the system's CA store: " + OpenSslErrors() +
                                   " (set REDIS_TLS_CA_PATH)");
  }
  SSL_CTX_set_verify(ctx.get(), o.tls_reject_unauthorized ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  // Sessions are not resumed; the callback only tells when the server sent a ticket.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.get(), OnNewSession);

  if (o.tls_cert_path.empty() != o.tls_key_path.empty()) {
    return Status::InvalidArgument(
        "REDIS_TLS_CERT_PATH and REDIS_TLS_KEY_PATH go together (the client certificate and its key): "
        "set both or neither");
  }
  if (!o.tls_cert_path.empty()) {
    SSL_CTX_set_default_passwd_cb(ctx.get(), PassphraseCallback);
    SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), const_cast<std::string*>(&o.tls_key_passphrase));
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.tls_cert_path.c_str()) != 1) {
      return Status::InvalidArgument("REDIS_TLS_CERT_PATH: cannot load a certificate from '" +
                                     o.tls_cert_path + "': " + OpenSslErrors());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), o.tls_key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
      return Status::InvalidArgument(
          "REDIS_TLS_KEY_PATH: cannot load a private key from '" + o.tls_key_path + "': " + OpenSslErrors() +
          (o.tls_key_passphrase.empty() ? " (encrypted? set REDIS_TLS_KEY_PASSPHRASE)" : ""));
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      return Status::InvalidArgument("REDIS_TLS_KEY_PATH: the key in '" + o.tls_key_path +
                                     "' does not belong to the certificate in '" + o.tls_cert_path + "'");
    }
    // The passphrase is needed only while loading; the callback must not outlive `o`.
    SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), nullptr);
  }
  ERR_clear_error();
  return ctx;
}

//! The name the certificate must hold: REDIS_TLS_SERVERNAME, else the host.
const std::string& ServerName(const RedisOptions& o) {
  return o.tls_server_name.empty() ? o.host : o.tls_server_name;
}

//! Why a TLS handshake (or the first exchange after it) failed, in terms an operator can act on.
std::string TlsFailure(const RedisOptions& o, SSL* ssl, int ssl_error) {
  const long verify = SSL_get_verify_result(ssl);
  // Reasons first: reading them empties the queue.
  const unsigned long last = ERR_peek_last_error();
  const int reason = last != 0 ? ERR_GET_REASON(last) : 0;
  const std::string errors = OpenSslErrors();
  if (ssl_error == SSL_ERROR_SSL && o.tls_reject_unauthorized && verify != X509_V_OK) {
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return "the server's certificate is not valid for '" + ServerName(o) +
             "' (REDIS_TLS_SERVERNAME, or else the host, must be a name the certificate holds)";
    }
    return std::string("the server's certificate is not trusted: ") + X509_verify_cert_error_string(verify) +
           " (verified against " +
           (o.tls_ca_path.empty()
                ? std::string("the system's CA store; set REDIS_TLS_CA_PATH to the CA that signed it")
                : "REDIS_TLS_CA_PATH " + o.tls_ca_path) +
           ")";
  }
  switch (reason) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return "the server requires a client certificate (set REDIS_TLS_CERT_PATH and REDIS_TLS_KEY_PATH)";
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return "the server refused the client certificate (" + errors +
             "; REDIS_TLS_CERT_PATH must be signed by a CA the server trusts)";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
      return "the server does not speak TLS on this port (" + errors + ")";
    default:
      break;
  }
  if (!errors.empty()) return errors;
  std::string why = ssl_error == SSL_ERROR_ZERO_RETURN             ? "the server ended the TLS session"
                    : ssl_error == SSL_ERROR_SYSCALL && errno != 0 ? std::string(std::strerror(errno))
                                                                   : "the server closed the connection";
  if (SSL_is_init_finished(ssl) == 1) {
    // Right after a completed handshake: what servers do with a client certificate they refuse.
    why += o.tls_cert_path.empty()
               ? " right after the handshake (does it require a client certificate? set REDIS_TLS_CERT_PATH "
                 "and REDIS_TLS_KEY_PATH)"
               : " right after the handshake (does it refuse the client certificate REDIS_TLS_CERT_PATH?)";
  }
  return why;
}

// ---------------------------------------------------------------------------------------------
// TCP.

void TuneSocket(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepAliveIdleS, sizeof(kKeepAliveIdleS));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepAliveIntervalS, sizeof(kKeepAliveIntervalS));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepAliveProbes, sizeof(kKeepAliveProbes));
}

//! A connected, non-blocking TCP socket to the first address of host:port that accepts.
StatusOr<Fd> ConnectTcp(const RedisOptions& o, const RedisConnectLimits& limits, Clock::time_point start) {
  const std::string where = "redis " + o.Address() + ": cannot connect: ";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(o.port);
  const int gai = getaddrinfo(o.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) return Status::Unavailable(where + gai_strerror(gai));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  std::string last_error = "no address";
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Fd fd(socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.get() < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    if (connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_error = std::strerror(errno);
        continue;
      }
      switch (WaitFor(fd.get(), POLLOUT, limits.deadline, limits.wake_fd)) {
        case Wait::kStopped:
          return Status::Unavailable(std::string(kRedisConnectStopped));
        case Wait::kTimeout:
          return Status::Unavailable(where + "no answer within " +
                                     std::to_string(MillisBetween(start, limits.deadline)) + " ms");
        case Wait::kReady:
          break;
      }
      int error = 0;
      socklen_t length = sizeof(error);
      if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      if (error != 0) {
        last_error = std::strerror(error);
        continue;
      }
    }
    TuneSocket(fd.get());
    return fd;
  }
  return Status::Unavailable(where + last_error);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The relay.

namespace detail {

//! Carries bytes between hiredis's end of a socket pair (`local`) and a TLS session, on its own
//! thread, until either side closes or the relay is destroyed.
class TlsRelay {
 public:
  TlsRelay(SslPtr ssl, Fd tcp, Fd local, Fd stop)
      : ssl_(std::move(ssl)), tcp_(std::move(tcp)), local_(std::move(local)), stop_(std::move(stop)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~TlsRelay() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = write(stop_.get(), &one, sizeof(one));
    if (thread_.joinable()) thread_.join();
  }
  TlsRelay(const TlsRelay&) = delete;
  TlsRelay& operator=(const TlsRelay&) = delete;

 private:
  void Run() {
    // The thread is ours: SIGPIPE from OpenSSL's writes stays blocked (and pending, discarded
    // with the thread); writes to the pair use MSG_NOSIGNAL anyway.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    pthread_setname_np(pthread_self(), "lf-redis-tls");
    const bool session_ok = Pump();
    // Either side is done. Closing our end tells hiredis (end-of-file, or EPIPE on its next
    // write); a close_notify, sent if the socket takes it at once, tells Redis (not after a
    // fatal error, when OpenSSL forbids it).
    local_ = Fd();
    ERR_clear_error();
    if (session_ok) SSL_shutdown(ssl_.get());
    ERR_clear_error();
  }

  //! Relays until one side is done; true when the TLS session is still sound (hiredis closed).
  bool Pump() {
    std::string up;    // from hiredis, for Redis
    std::string down;  // from Redis, for hiredis
    char buf[16 * 1024];
    bool server_open = true;
    while (true) {
      bool progress = false;
      short tcp_events = 0;
      short local_events = 0;
      // After an SSL_write or SSL_read that moved nothing: wait for what TLS needs next, or stop
      // on close_notify, a reset or a protocol error.
      const auto wait_for_tls = [&](int result) {
        const int e = SSL_get_error(ssl_.get(), result);
        if (e == SSL_ERROR_WANT_READ) {
          tcp_events |= POLLIN;
        } else if (e == SSL_ERROR_WANT_WRITE) {
          tcp_events |= POLLOUT;
        } else {
          server_open = false;
        }
      };

      if (up.size() < kRelayBufferCap) {
        const ssize_t n = recv(local_.get(), buf, std::min(sizeof(buf), kRelayBufferCap - up.size()), 0);
        if (n > 0) {
          up.append(buf, static_cast<size_t>(n));
          progress = true;
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          return server_open;  // hiredis closed the connection
        } else {
          local_events |= POLLIN;
        }
      }
      if (server_open && !up.empty()) {
        ERR_clear_error();
        const int n = SSL_write(ssl_.get(), up.data(), static_cast<int>(up.size()));
        if (n > 0) {
          up.erase(0, static_cast<size_t>(n));
          progress = true;
        } else {
          wait_for_tls(n);
        }
      }
      if (server_open && down.size() < kRelayBufferCap) {
        ERR_clear_error();
        const int n =
            SSL_read(ssl_.get(), buf, static_cast<int>(std::min(sizeof(buf), kRelayBufferCap - down.size())));
        if (n > 0) {
          down.append(buf, static_cast<size_t>(n));
          progress = true;
        } else {
          wait_for_tls(n);
        }
      }
      if (!down.empty()) {
        const ssize_t n = send(local_.get(), down.data(), down.size(), MSG_NOSIGNAL);
        if (n > 0) {
          down.erase(0, static_cast<size_t>(n));
          progress = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          local_events |= POLLOUT;
        } else {
          return server_open;  // hiredis closed the connection
        }
      }
      // Redis is gone and everything it sent has been handed over.
      if (!server_open && down.empty()) return false;
      if (progress) continue;

      pollfd fds[3] = {{server_open ? tcp_.get() : -1, tcp_events, 0},
                       {local_.get(), local_events, 0},
                       {stop_.get(), POLLIN, 0}};
      if (poll(fds, 3, -1) < 0 && errno != EINTR) return false;
      if ((fds[2].revents & POLLIN) != 0) return server_open;
      // Hang-ups are reported even when not asked for: hiredis's end closed, or the TCP
      // connection reset (what was in flight is lost either way).
      if ((fds[1].revents & (POLLHUP | POLLERR)) != 0 && (fds[1].revents & POLLIN) == 0) return server_open;
      if ((fds[0].revents & (POLLHUP | POLLERR)) != 0 && (fds[0].revents & POLLIN) == 0) server_open = false;
    }
  }

  SslPtr ssl_;
  Fd tcp_;
  Fd local_;  // touched by the thread only, until joined
  Fd stop_;   // eventfd: the destructor asks the thread to end
  std::thread thread_;
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// RedisSocket.

RedisSocket::RedisSocket(redisContext* ctx, std::unique_ptr<detail::TlsRelay> relay)
    : ctx_(ctx), relay_(std::move(relay)) {}

RedisSocket::RedisSocket() = default;

RedisSocket::~RedisSocket() { reset(); }

RedisSocket::RedisSocket(RedisSocket&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), relay_(std::move(other.relay_)) {}

RedisSocket& RedisSocket::operator=(RedisSocket&& other) noexcept {
  if (this != &other) {
    reset();
    ctx_ = std::exchange(other.ctx_, nullptr);
    relay_ = std::move(other.relay_);
  }
  return *this;
}

void RedisSocket::reset() {
  // The context first: closing hiredis's end is what the relay sees as the end of the connection.
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
  relay_.reset();
}

//! Builds RedisSockets (a class so that it may use RedisSocket's private constructor).
class RedisConnector {
 public:
  static StatusOr<RedisSocket> Connect(const RedisOptions& o, RedisIo io, const RedisConnectLimits& limits) {
    const auto start = Clock::now();
    SslCtxPtr tls;
    if (o.tls_enabled) {
      ASSIGN_OR_RETURN(tls, MakeTlsContext(o));
    }
    ASSIGN_OR_RETURN(Fd tcp, ConnectTcp(o, limits, start));
    if (!tls) return Wrap(std::move(tcp), io, nullptr);

    const std::string where = "redis " + o.Address() + ": TLS: ";
    SigpipeGuard no_sigpipe;
    ERR_clear_error();
    SslPtr ssl(SSL_new(tls.get()));
    if (!ssl || SSL_set_fd(ssl.get(), tcp.get()) != 1) {
      return Status::Internal(where + "cannot set up a session: " + OpenSslErrors());
    }
    const std::string& name = ServerName(o);
    if (!IsIpLiteral(name)) SSL_set_tlsext_host_name(ssl.get(), name.c_str());
    if (o.tls_reject_unauthorized && o.tls_check_server_identity) {
      const int set = IsIpLiteral(name)
                          ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str())
                          : SSL_set1_host(ssl.get(), name.c_str());
      if (set != 1) return Status::InvalidArgument(where + "cannot check the server's name '" + name + "'");
    }

    auto wait = [&](int ssl_result, const char* stage) -> Status {
      const int e = SSL_get_error(ssl.get(), ssl_result);
      short events = 0;
      if (e == SSL_ERROR_WANT_READ) events = POLLIN;
      if (e == SSL_ERROR_WANT_WRITE) events = POLLOUT;
      if (events == 0) return Status::Unavailable(where + TlsFailure(o, ssl.get(), e));
      switch (WaitFor(tcp.get(), events, limits.deadline, limits.wake_fd)) {
        case Wait::kStopped:
          return Status::Unavailable(std::string(kRedisConnectStopped));
        case Wait::kTimeout:
          return Status::Unavailable(where + "no answer to the " + stage + " within " +
                                     std::to_string(MillisBetween(start, limits.deadline)) +
                                     " ms (does the server speak TLS on this port?)");
        case Wait::kReady:
          return Status::Ok();
      }
      return Status::Ok();
    };
    while (true) {
      ERR_clear_error();
      const int r = SSL_connect(ssl.get());
      if (r == 1) break;
      RETURN_IF_ERROR(wait(r, "handshake"));
    }
    // Under TLS 1.3 the server judges the client's certificate after the client's side of the
    // handshake is over; a refusal is an alert followed by the end of the connection. Were the
    // client to write first, the server's kernel would answer the write with a reset, which
    // discards the alert unread. So read first, until the server's first session ticket (an
    // OpenSSL server, Redis included, sends one once it accepted the handshake), an alert, or a
    // short while for servers that send no ticket.
    if (SSL_version(ssl.get()) == TLS1_3_VERSION) {
      bool ticket = false;
      SSL_set_app_data(ssl.get(), &ticket);
      const auto settle = std::min(limits.deadline, Clock::now() + std::chrono::milliseconds(250));
      Status settled;
      while (!ticket && settled.ok()) {
        char byte;
        ERR_clear_error();
        const int r = SSL_read(ssl.get(), &byte, 1);
        const int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl.get(), r);
        if (r > 0) {
          settled = Status::Unavailable(where + "the server spoke first (is this a Redis server?)");
        } else if (e != SSL_ERROR_WANT_READ) {
          settled = Status::Unavailable(where + TlsFailure(o, ssl.get(), e));
        } else if (!ticket) {
          const Wait w = WaitFor(tcp.get(), POLLIN, settle, limits.wake_fd);
          if (w == Wait::kStopped) settled = Status::Unavailable(std::string(kRedisConnectStopped));
          if (w == Wait::kTimeout) break;
        }
      }
      SSL_set_app_data(ssl.get(), nullptr);  // `ticket` goes out of scope; later tickets are ignored
      RETURN_IF_ERROR(settled);
    }
    // Then one exchange, which any answer completes (NOAUTH included: AUTH is the caller's).
    static constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
    while (true) {
      ERR_clear_error();
      const int r = SSL_write(ssl.get(), kPing.data(), static_cast<int>(kPing.size()));
      if (r == static_cast<int>(kPing.size())) break;
      if (r > 0) return Status::Internal(where + "partial write of PING");  // a mode we did not set
      RETURN_IF_ERROR(wait(r, "first command"));
    }
    std::string answer;
    while (answer.find('\n') == std::string::npos) {
      char buf[256];
      ERR_clear_error();
      const int r = SSL_read(ssl.get(), buf, sizeof(buf));
      if (r > 0) {
        answer.append(buf, static_cast<size_t>(r));
        if (answer.size() > 4096) return Status::Unavailable(where + "unexpected answer to PING");
        continue;
      }
      RETURN_IF_ERROR(wait(r, "first command"));
    }
    if (answer[0] != '+' && answer[0] != '-') {
      return Status::Unavailable(where + "unexpected answer to PING (is this a Redis server?)");
    }

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      return Status::Unavailable(where + "socketpair: " + std::strerror(errno));
    }
    Fd client(pair[0]);
    Fd relay_end(pair[1]);
    Fd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (stop.get() < 0) return Status::Unavailable(where + "eventfd: " + std::strerror(errno));
    if (!SetBlocking(relay_end.get(), false))
      return Status::Unavailable(where + "fcntl: " + std::strerror(errno));
    auto relay = std::make_unique<detail::TlsRelay>(std::move(ssl), std::move(tcp), std::move(relay_end),
                                                    std::move(stop));
    return Wrap(std::move(client), io, std::move(relay));
  }

 private:
  //! A hiredis context over `fd` (connected), in the mode the caller drives it.
  static StatusOr<RedisSocket> Wrap(Fd fd, RedisIo io, std::unique_ptr<detail::TlsRelay> relay) {
    if (!SetBlocking(fd.get(), io == RedisIo::kBlocking)) {
      return Status::Unavailable(std::string("redis: fcntl: ") + std::strerror(errno));
    }
    redisContext* c = redisConnectFd(fd.get());
    if (c == nullptr) return Status::Unavailable("redis: cannot allocate a connection");
    fd.release();  // the context closes it
    // redisConnectFd marks the context blocking; a non-blocking one treats EAGAIN as "later".
    if (io == RedisIo::kNonBlocking) c->flags &= ~REDIS_BLOCK;
    return RedisSocket(c, std::move(relay));
  }
};

StatusOr<RedisSocket> ConnectRedis(const RedisOptions& options, RedisIo io,
                                   const RedisConnectLimits& limits) {
  return RedisConnector::Connect(options, io, limits);
}

Status CheckRedisTls(const RedisOptions& options) {
  if (!options.tls_enabled) return Status::Ok();
  RETURN_IF_ERROR(MakeTlsContext(options).status());
  static std::atomic<bool> warned{false};
  if (!options.tls_reject_unauthorized && !warned.exchange(true)) {
    LOG_WARN(
        "redis {}: REDIS_TLS_REJECT_UNAUTHORIZED=false: the server's certificate is not verified, so "
        "anyone on the network path can pose as Redis",
        options.Address());
  }
  return Status::Ok();
}

SigpipeGuard::SigpipeGuard() {
  sigemptyset(&pipe_);
  sigaddset(&pipe_, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
}

SigpipeGuard::~SigpipeGuard() {
  if (!was_pending_) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace langfuse::queue
