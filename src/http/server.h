#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "http/router.h"

namespace langfuse::http {

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 3000;                            //!< 0 picks a free port (tests)
  int io_threads = 0;                              //!< 0 = one per core
  int handler_threads = 32;                        //!< blocking handlers run here
  uint64_t body_limit_bytes = 4'500'000;           //!< larger bodies get 413 with a JSON body
  std::chrono::milliseconds read_timeout{30'000};  //!< whole request must arrive within this
  std::chrono::milliseconds idle_timeout{60'000};  //!< keep-alive connection idle limit
  std::string version = "unknown";                 //!< for the Server header / logs
};

//! HTTP/1.1 server on Boost.Beast: keep-alive, per-request timeouts, body limit, CORS (reflects
//! Origin, answers preflight), JSON 404/405/413/500 bodies, an X-Request-Id per request and one
//! access-log line per request. I/O runs on io_threads; handlers run on a separate pool so a
//! blocking handler never stalls reads. Start/Stop are called from one thread.
class Server {
 public:
  Server(ServerOptions options, const Router& router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  //! Binds and starts serving; throws std::runtime_error when the port cannot be bound.
  void Start();
  //! The bound port (useful with port 0).
  uint16_t port() const;
  //! Graceful stop: stop accepting, close idle connections, let in-flight requests finish and
  //! their responses be written (up to `grace`), then close the rest and join threads. Handlers
  //! still running when `grace` ends are waited for (they cannot be interrupted); queued ones
  //! never run. No handler runs after Stop returns. Idempotent; the destructor calls it. Must not
  //! be called from a handler.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10'000));

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace langfuse::http
