#pragma once

#include <signal.h>

#include <chrono>
#include <memory>
#include <string_view>

#include "common/status.h"
#include "queue/redis_options.h"

struct redisContext;  // hiredis

namespace langfuse::queue {

namespace detail {
class TlsRelay;
}

//! One open connection to Redis, as hiredis drives it. Without TLS the hiredis context owns the
//! TCP socket. With TLS (hiredis 0.14 has none) the context owns one end of a socket pair, and a
//! relay thread carries the bytes between the pair's other end and the TLS session on the TCP
//! socket; to hiredis, and to the code around it, the connection behaves like a plain one: reads
//! time out by the same socket options, and when Redis closes the session the context reads
//! end-of-file. Closing (reset, destruction) frees the context and joins the relay, which ends
//! promptly (it waits in poll(2) on the pair and on its own stop signal, never in a blocking call).
//! As over TCP, a write after Redis closed the connection raises SIGPIPE (hiredis writes with
//! write(2)): callers block it around their writes. Move-only; not thread-safe (one owner at a
//! time, like the context).
class RedisSocket {
 public:
  RedisSocket();
  ~RedisSocket();
  RedisSocket(RedisSocket&& other) noexcept;
  RedisSocket& operator=(RedisSocket&& other) noexcept;
  RedisSocket(const RedisSocket&) = delete;
  RedisSocket& operator=(const RedisSocket&) = delete;

  redisContext* get() const { return ctx_; }
  redisContext* operator->() const { return ctx_; }
  explicit operator bool() const { return ctx_ != nullptr; }
  //! Whether the bytes go through a TLS session.
  bool tls() const { return relay_ != nullptr; }
  //! Closes the connection (nothing when already closed).
  void reset();

 private:
  friend class RedisConnector;
  RedisSocket(redisContext* ctx, std::unique_ptr<detail::TlsRelay> relay);

  redisContext* ctx_ = nullptr;
  std::unique_ptr<detail::TlsRelay> relay_;
};

//! How the caller drives the context: blocking calls (redisGetReply; a socket timeout, set by the
//! caller with redisSetTimeout, bounds them) or non-blocking ones it polls for itself.
enum class RedisIo { kBlocking, kNonBlocking };

//! Bounds of one connection attempt (name resolution, TCP connect, TLS handshake and its check).
struct RedisConnectLimits {
  std::chrono::steady_clock::time_point deadline;
  //! When readable, the attempt stops with kRedisConnectStopped (-1: none).
  int wake_fd = -1;
};

//! The message of the Unavailable status an attempt stopped by RedisConnectLimits::wake_fd returns.
inline constexpr std::string_view kRedisConnectStopped = "stopping";

//! Connects to options.host:port (every address the name resolves to, in order), with TCP
//! keep-alive and no Nagle delay. With options.tls_enabled it also establishes a TLS session:
//! the server's certificate verified against REDIS_TLS_CA_PATH or else the system's CA store
//! (unless REDIS_TLS_REJECT_UNAUTHORIZED=false), its name checked against REDIS_TLS_SERVERNAME or
//! else the host (unless REDIS_TLS_CHECK_SERVER_IDENTITY=false), SNI sent for a host name, the
//! client certificate presented when configured; then a PING checks that the server accepted the
//! session (under TLS 1.3 a server refuses a client certificate only after the handshake).
//! Authentication (AUTH) and SELECT are left to the caller. Unavailable with
//! "redis <host:port>: ..." saying what failed; InvalidArgument for TLS settings that cannot be
//! used (an unreadable file, an unknown protocol name).
StatusOr<RedisSocket> ConnectRedis(const RedisOptions& options, RedisIo io, const RedisConnectLimits& limits);

//! Blocks SIGPIPE in the calling thread while in scope: hiredis and OpenSSL write with write(2),
//! and a write to a connection Redis closed would otherwise kill the process. A SIGPIPE raised
//! meanwhile is consumed before the mask is restored (the technique libpq uses).
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

//! Checks the TLS settings without connecting (files readable, the key matching the certificate,
//! the cipher list known): InvalidArgument naming the variable, Ok when TLS is off. Logs a warning
//! (once per process) when the server's certificate will not be verified.
Status CheckRedisTls(const RedisOptions& options);

}  // namespace langfuse::queue
