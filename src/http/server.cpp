#include "http/server.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/ids.h"
#include "common/log.h"

namespace langfuse::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kServerName = "langfuse-cpp";
// Beast's default (8 KiB) is below Node's 16 KiB; long cookies or tokens must not become 431s.
constexpr uint32_t kHeaderLimit = 64 * 1024;
constexpr size_t kFirstReadBytes = 16 * 1024;
// After an error answer the rest of the request is read and dropped for at most this long, so the
// client sees our answer instead of a reset caused by unread data (a "lingering close").
constexpr std::chrono::milliseconds kLingerTimeout{1000};
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};
constexpr std::string_view kCorsAllowMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
constexpr std::string_view kCorsAllowHeaders =
    "Authorization, Content-Type, X-Request-Id, X-Langfuse-Sdk-Name, X-Langfuse-Sdk-Version, "
    "X-Langfuse-Sdk-Variant, X-Langfuse-Public-Key, X-Langfuse-Ingestion-Version";
constexpr size_t kMaxRequestIdLength = 128;

//! Beast 1.74 takes boost::string_view, which std::string_view does not convert to.
beast::string_view Bv(std::string_view s) { return beast::string_view(s.data(), s.size()); }

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

std::string BodyLimitMessage(uint64_t limit_bytes) {
  return fmt::format("Request body exceeds the limit of {:g} MB", static_cast<double>(limit_bytes) / 1e6);
}

class Session;

//! Everything the server shares between its threads: the io_context, the acceptor, the handler
//! pool and the bookkeeping for a graceful stop. Start/Stop run on the owner's thread; the rest
//! is called from I/O threads (acceptor strand, session strands) and handler threads, and
//! synchronizes through the strands, the atomics and mu_.
class ServerCore {
 public:
  ServerCore(ServerOptions options, const Router& router) : options_(std::move(options)), router_(router) {}
  ~ServerCore() { Stop(std::chrono::milliseconds(0)); }

  void Start();
  void Stop(std::chrono::milliseconds grace);
  uint16_t port() const { return port_; }

  const ServerOptions& options() const { return options_; }
  const Router& router() const { return router_; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  //! Only valid while running: Stop destroys the pool after every I/O thread has been joined.
  net::thread_pool& handler_pool() { return *handler_pool_; }

  //! In-flight accounting for Stop: a request counts from its last byte read until its response
  //! has been written (or the connection failed).
  void BeginRequest() {
    std::lock_guard lock(mu_);
    ++in_flight_;
  }
  void EndRequest() {
    std::lock_guard lock(mu_);
    if (--in_flight_ == 0) in_flight_done_.notify_all();
  }

 private:
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void RunIo();
  std::vector<std::shared_ptr<Session>> LiveSessions();

  const ServerOptions options_;
  const Router& router_;
  // Declared first among the Asio objects so it is destroyed last: destroying it destroys the
  // queued completion handlers, which own the sessions and their sockets.
  net::io_context io_context_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_guard_;
  tcp::acceptor acceptor_{net::make_strand(io_context_)};
  net::steady_timer accept_retry_{acceptor_.get_executor()};
  std::unique_ptr<net::thread_pool> handler_pool_;
  std::vector<std::thread> io_threads_;
  uint16_t port_ = 0;
  enum class State { kNew, kRunning, kStopped } state_ = State::kNew;  // owner thread only
  std::atomic<bool> stopping_{false};

  std::mutex mu_;
  std::condition_variable in_flight_done_;
  int64_t in_flight_ = 0;                         // guarded by mu_
  std::vector<std::weak_ptr<Session>> sessions_;  // guarded by mu_
  size_t sessions_prune_at_ = 64;                 // guarded by mu_
};

//! One TCP connection: reads requests one after another (keep-alive), hands each to the handler
//! pool and writes the answer. Every member is touched only on the connection's strand, except
//! request_ while a handler runs (the strand leaves the session alone in phase kHandling) and
//! executor_, which is immutable. Owned through shared_ptr by the pending Asio operations and
//! handler jobs, the usual Asio way to tie an object's lifetime to its outstanding work.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerCore& server, tcp::socket socket)
      : server_(server), executor_(socket.get_executor()), stream_(std::move(socket)) {
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_address_ = endpoint.address().to_string();
  }

  const net::any_io_executor& executor() const { return executor_; }

  void Start() {
    net::dispatch(executor_, beast::bind_front_handler(&Session::WaitForRequest, shared_from_this()));
  }

  //! On the strand, during Stop: drops connections that are between requests.
  void CloseIfIdle() {
    if (phase_ == Phase::kWaiting || phase_ == Phase::kLingering) Close();
  }

  //! From Stop once no I/O or handler thread runs any more, so no strand is needed.
  void CloseNow() { Close(); }

 private:
  enum class Phase { kWaiting, kReading, kHandling, kWriting, kLingering, kClosed };

  void WaitForRequest();
  void OnFirstBytes(beast::error_code ec, size_t bytes);
  void ReadHeader();
  void OnHeader(beast::error_code ec, size_t bytes);
  void OnContinueWritten(beast::error_code ec, size_t bytes);
  void OnBody(beast::error_code ec, size_t bytes);
  void FailRead(beast::error_code ec);
  void FillRequestHead();
  void Dispatch();
  Response RunHandler(const Handler& handler);
  void WriteResponse(Response response, bool close_after);
  void OnWrite(bool keep_alive, beast::error_code ec, size_t bytes);
  void Linger();
  void OnLingerRead(beast::error_code ec, size_t bytes);
  void Close();

  ServerCore& server_;
  const net::any_io_executor executor_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  Request request_;
  Phase phase_ = Phase::kWaiting;
  bool first_request_ = true;
  bool counted_ = false;  // this request is in ServerCore's in-flight count
  bool request_keep_alive_ = false;
  unsigned request_version_ = 11;
  Clock::time_point started_;
  std::string remote_address_;
  std::string log_path_ = "-";  // raw path, no query string (it may carry secrets)
  std::array<char, 16 * 1024> discard_{};
};

// ---------------------------------------------------------------------------------------------
// Session

void Session::WaitForRequest() {
  if (server_.stopping()) return Close();
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  // No limit while reading the header: Content-Length is checked by hand so that the 413 is ours.
  // (Not boost::none: Beast 1.74 compares Content-Length > none, which is always true.)
  parser_->body_limit(std::numeric_limits<uint64_t>::max());
  request_ = Request{};
  request_version_ = 11;
  request_keep_alive_ = false;
  log_path_ = "-";
  phase_ = Phase::kWaiting;

  // A new connection gets read_timeout for its first request from accept on; a kept-alive one may
  // idle for idle_timeout, and read_timeout starts with the next request's first byte.
  stream_.expires_after(first_request_ ? server_.options().read_timeout : server_.options().idle_timeout);
  if (buffer_.size() > 0) return ReadHeader();  // the client already sent the next request
  stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                          beast::bind_front_handler(&Session::OnFirstBytes, shared_from_this()));
}

void Session::OnFirstBytes(beast::error_code ec, size_t bytes) {
  if (phase_ == Phase::kClosed) return;
  if (ec) return Close();  // end of stream, idle timeout, reset: nobody to answer
  buffer_.commit(bytes);
  ReadHeader();
}

void Session::ReadHeader() {
  phase_ = Phase::kReading;
  started_ = Clock::now();
  if (!first_request_) stream_.expires_after(server_.options().read_timeout);
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
}

void Session::OnHeader(beast::error_code ec, size_t /*bytes*/) {
  if (phase_ == Phase::kClosed) return;
  if (ec) return FailRead(ec);
  FillRequestHead();

  const uint64_t limit = server_.options().body_limit_bytes;
  auto content_length = parser_->content_length();
  if (content_length && *content_length > limit) {
    return WriteResponse(Response::Error(413, "PayloadTooLargeError", BodyLimitMessage(limit)), true);
  }
  // Chunked bodies have no length up front; the parser stops them at the limit (error::body_limit).
  parser_->body_limit(limit);
  if (parser_->is_done()) return Dispatch();

  const auto& head = parser_->get();
  if (head.version() >= 11 && beast::iequals(head[bhttp::field::expect], "100-continue")) {
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     beast::bind_front_handler(&Session::OnContinueWritten, shared_from_this()));
    return;
  }
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&Session::OnBody, shared_from_this()));
}

void Session::OnContinueWritten(beast::error_code ec, size_t /*bytes*/) {
  if (phase_ == Phase::kClosed) return;
  if (ec) return Close();
  bhttp::async_read(stream_, buffer_, *parser_,
                    beast::bind_front_handler(&Session::OnBody, shared_from_this()));
}

void Session::OnBody(beast::error_code ec, size_t /*bytes*/) {
  if (phase_ == Phase::kClosed) return;
  if (ec) return FailRead(ec);
  Dispatch();
}

void Session::FailRead(beast::error_code ec) {
  const uint64_t limit = server_.options().body_limit_bytes;
  if (ec == bhttp::error::body_limit) {
    return WriteResponse(Response::Error(413, "PayloadTooLargeError", BodyLimitMessage(limit)), true);
  }
  if (ec == bhttp::error::header_limit) {
    return WriteResponse(
        Response::Error(431, "RequestHeaderFieldsTooLarge", "Request header fields too large"), true);
  }
  // end_of_stream / partial_message mean the client went away mid-request: nobody reads an answer.
  if (IsHttpParseError(ec) && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    LOG_DEBUG("malformed request from {}: {}", remote_address_, ec.message());
    return WriteResponse(Response::Error(400, "BadRequestError", "Malformed HTTP request"), true);
  }
  LOG_DEBUG("connection from {} dropped while reading a request: {}", remote_address_, ec.message());
  Close();
}

void Session::FillRequestHead() {
  const auto& head = parser_->get();
  request_.method = std::string(head.method_string());
  request_.target = std::string(head.target());
  ParseTarget(request_);
  log_path_ = std::string(RawTargetPath(request_.target));
  for (const auto& field : head) {
    auto [it, inserted] =
        request_.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    if (!inserted) {  // repeated header: one comma-separated value (RFC 9110 5.3)
      it->second += ", ";
      it->second.append(field.value().data(), field.value().size());
    }
  }
  std::string_view incoming_id = request_.Header("X-Request-Id");
  request_.request_id = IsSaneRequestId(incoming_id) ? std::string(incoming_id) : RandomHex(8);
  request_.remote_address = remote_address_;
  request_version_ = head.version();
  request_keep_alive_ = head.keep_alive();
}

void Session::Dispatch() {
  request_.body = std::move(parser_->get().body());
  parser_.reset();
  first_request_ = false;
  phase_ = Phase::kHandling;
  counted_ = true;
  server_.BeginRequest();
  // Time in the handler is not the client's fault; the write sets its own deadline.
  stream_.expires_never();

  Router::Match match = server_.router().Resolve(request_);
  if (request_.method == "OPTIONS") {
    // CORS preflight: answered here for any path that has routes, never by a handler.
    if (match.kind == Router::MatchKind::kNotFound) {
      return WriteResponse(Response::Error(404, "LangfuseNotFoundError", "Not Found"), false);
    }
    Response preflight;
    preflight.status = 204;
    preflight.content_type.clear();
    preflight.headers.emplace_back("Access-Control-Max-Age", "86400");
    return WriteResponse(std::move(preflight), false);
  }
  if (match.kind == Router::MatchKind::kNotFound) {
    return WriteResponse(Response::Error(404, "LangfuseNotFoundError", "Not Found"), false);
  }
  if (match.kind == Router::MatchKind::kMethodNotAllowed) {
    Response response = Response::Error(405, "MethodNotAllowedError", "Method not allowed");
    std::string allow;
    for (const std::string& method : match.allowed_methods) allow += method + ", ";
    allow += "OPTIONS";
    response.headers.emplace_back("Allow", std::move(allow));
    return WriteResponse(std::move(response), false);
  }

  net::post(server_.handler_pool(), [self = shared_from_this(), handler = match.handler] {
    Response response = self->RunHandler(*handler);
    net::post(self->executor_, [self, response = std::move(response)]() mutable {
      self->WriteResponse(std::move(response), false);
    });
  });
}

Response Session::RunHandler(const Handler& handler) {
  // The pool's threads are boost's; name each once so top -H and perf tell them apart.
  thread_local const bool named = (pthread_setname_np(pthread_self(), "lf-http"), true);
  (void)named;
  try {
    Response response = handler(request_);
    if (response.status >= 200 && response.status <= 599) return response;
    LOG_ERROR("handler for {} {} returned invalid status {} (request {})", request_.method, log_path_,
              response.status, request_.request_id);
  } catch (const std::exception& e) {
    LOG_ERROR("handler for {} {} threw: {} (request {})", request_.method, log_path_, e.what(),
              request_.request_id);
  } catch (...) {
    LOG_ERROR("handler for {} {} threw a non-std exception (request {})", request_.method, log_path_,
              request_.request_id);
  }
  // The exception text may hold internals (SQL, paths); it is in the log under the request id.
  return Response::Error(500, "InternalServerError", "Internal Server Error");
}

void Session::WriteResponse(Response response, bool close_after) {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kWriting;
  if (request_.request_id.empty()) request_.request_id = RandomHex(8);
  const bool keep_alive = request_keep_alive_ && !close_after && !server_.stopping();
  const bool bodiless = response.status == 204 || response.status == 304;

  response_ = {};
  response_.version(request_version_ == 10 ? 10 : 11);
  response_.result(static_cast<unsigned>(response.status));
  response_.set(bhttp::field::server, Bv(kServerName));
  if (!bodiless && !response.content_type.empty())
    response_.set(bhttp::field::content_type, response.content_type);
  response_.set("X-Request-Id", request_.request_id);

  std::string_view origin = request_.Header("Origin");
  if (origin.empty()) {
    response_.set(bhttp::field::access_control_allow_origin, "*");
  } else {
    response_.set(bhttp::field::access_control_allow_origin, Bv(origin));
    response_.set(bhttp::field::vary, "Origin");
  }
  response_.set(bhttp::field::access_control_allow_methods, Bv(kCorsAllowMethods));
  std::string_view requested_headers = request_.Header("Access-Control-Request-Headers");
  response_.set(bhttp::field::access_control_allow_headers,
                Bv(requested_headers.empty() ? kCorsAllowHeaders : requested_headers));
  response_.set(bhttp::field::access_control_expose_headers, "X-Request-Id");

  // A handler's header replaces a default of the same name; repeats of its own are kept.
  std::vector<std::string_view> seen;
  for (const auto& [name, value] : response.headers) {
    if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding") ||
        beast::iequals(name, "Connection")) {
      continue;  // framing is the server's business
    }
    bool repeat = std::any_of(seen.begin(), seen.end(),
                              [&](std::string_view s) { return beast::iequals(Bv(s), name); });
    if (repeat) {
      response_.insert(name, value);
    } else {
      response_.set(name, value);
      seen.push_back(name);
    }
  }
  response_.keep_alive(keep_alive);
  if (!bodiless && request_.method == "HEAD") {
    // A HEAD answer (the static files take HEAD as GET; other paths answer 404 or 405): the
    // headers, Content-Length included, and never a body.
    response_.content_length(response.body.size());
  } else if (!bodiless) {
    response_.body() = std::move(response.body);
    response_.prepare_payload();
  }

  // A client that stops reading must not hold the connection forever.
  stream_.expires_after(server_.options().read_timeout);
  bhttp::async_write(stream_, response_,
                     beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive));
}

void Session::OnWrite(bool keep_alive, beast::error_code ec, size_t /*bytes*/) {
  const auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_).count() / 1000.0;
  LOG_INFO("{} {} {} {:.1f}ms in={}B out={}B id={}{}", request_.method.empty() ? "-" : request_.method,
           log_path_, response_.result_int(), elapsed_ms, request_.body.size(), response_.body().size(),
           request_.request_id, ec ? " write_error=" + ec.message() : std::string());
  if (counted_) {
    counted_ = false;
    server_.EndRequest();
  }
  if (phase_ == Phase::kClosed) return;
  if (ec) return Close();
  if (!keep_alive) return Linger();
  WaitForRequest();
}

void Session::Linger() {
  phase_ = Phase::kLingering;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  stream_.expires_after(kLingerTimeout);
  stream_.async_read_some(net::buffer(discard_),
                          beast::bind_front_handler(&Session::OnLingerRead, shared_from_this()));
}

void Session::OnLingerRead(beast::error_code ec, size_t /*bytes*/) {
  if (phase_ != Phase::kLingering) return;
  if (ec) return Close();  // the client closed (or the linger time is up)
  stream_.async_read_some(net::buffer(discard_),
                          beast::bind_front_handler(&Session::OnLingerRead, shared_from_this()));
}

void Session::Close() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kClosed;
  if (counted_) {
    counted_ = false;
    server_.EndRequest();
  }
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
}

// ---------------------------------------------------------------------------------------------
// ServerCore

void ServerCore::Start() {
  if (state_ != State::kNew) throw std::logic_error("http::Server can be started only once");
  const std::string where = fmt::format("{}:{}", options_.bind_address, options_.port);
  beast::error_code ec;
  tcp::resolver resolver(io_context_);
  auto results = resolver.resolve(options_.bind_address, std::to_string(options_.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    throw std::runtime_error(
        fmt::format("HTTP server: cannot resolve bind address {}: {}", where, ec.message()));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  auto fail = [&](std::string_view what) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    throw std::runtime_error(fmt::format("HTTP server: cannot {} {}: {}", what, where, ec.message()));
  };
  if (acceptor_.open(endpoint.protocol(), ec); ec) fail("open a socket for");
  if (acceptor_.set_option(net::socket_base::reuse_address(true), ec); ec) fail("set SO_REUSEADDR on");
  if (acceptor_.bind(endpoint, ec); ec) fail("bind");
  if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) fail("listen on");
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) fail("read the bound port of");

  const int handler_threads = std::max(1, options_.handler_threads);
  int io_threads = options_.io_threads;
  if (io_threads <= 0) io_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  handler_pool_ = std::make_unique<net::thread_pool>(static_cast<size_t>(handler_threads));
  // Keeps run() going while the only pending work is a handler on the pool.
  work_guard_.emplace(io_context_.get_executor());
  state_ = State::kRunning;
  Accept();
  for (int i = 0; i < io_threads; ++i) io_threads_.emplace_back([this] { RunIo(); });
  LOG_INFO("HTTP server listening on {}:{} ({} I/O threads, {} handler threads, version {})",
           endpoint.address().to_string(), port_, io_threads, handler_threads, options_.version);
}

void ServerCore::RunIo() {
  pthread_setname_np(pthread_self(), "lf-http-io");
  // Handlers are written not to throw; should one anyway, log it and keep the thread serving.
  while (true) {
    try {
      io_context_.run();
      return;
    } catch (const std::exception& e) {
      LOG_ERROR("HTTP I/O thread caught an exception: {}", e.what());
    }
  }
}

void ServerCore::Accept() {
  acceptor_.async_accept(net::make_strand(io_context_), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void ServerCore::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (!acceptor_.is_open() || ec == net::error::operation_aborted) return;
  if (ec) {
    // Typically EMFILE: retrying at once would spin, so back off a little.
    LOG_WARN("HTTP server: accept failed: {}", ec.message());
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) Accept();
    });
    return;
  }
  if (stopping()) {
    socket.close(ec);
    return;
  }
  auto session = std::make_shared<Session>(*this, std::move(socket));
  {
    std::lock_guard lock(mu_);
    sessions_.push_back(session);
    if (sessions_.size() >= sessions_prune_at_) {
      std::erase_if(sessions_, [](const std::weak_ptr<Session>& s) { return s.expired(); });
      sessions_prune_at_ = std::max<size_t>(64, sessions_.size() * 2);
    }
  }
  session->Start();
  Accept();
}

std::vector<std::shared_ptr<Session>> ServerCore::LiveSessions() {
  std::vector<std::shared_ptr<Session>> live;
  std::lock_guard lock(mu_);
  for (const auto& weak : sessions_) {
    if (auto session = weak.lock()) live.push_back(std::move(session));
  }
  return live;
}

void ServerCore::Stop(std::chrono::milliseconds grace) {
  if (state_ != State::kRunning) {
    state_ = State::kStopped;
    return;
  }
  state_ = State::kStopped;
  const auto deadline = Clock::now() + grace;
  stopping_.store(true, std::memory_order_release);

  // 1. Stop accepting. The acceptor lives on its strand, so close it there and wait for that.
  std::promise<void> acceptor_closed;
  net::post(acceptor_.get_executor(), [this, &acceptor_closed] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();

  // 2. Connections between requests close now; busy ones close after writing their answer
  //    (stopping() turns keep-alive off).
  for (const auto& session : LiveSessions()) {
    net::post(session->executor(), [session] { session->CloseIfIdle(); });
  }

  // 3. Let in-flight requests finish and their answers be written.
  {
    std::unique_lock lock(mu_);
    if (!in_flight_done_.wait_until(lock, deadline, [this] { return in_flight_ == 0; })) {
      LOG_WARN("HTTP server: {} request(s) still in flight after the stop grace period", in_flight_);
    }
  }

  // 4. No handler starts after this; join() waits for those already running (they cannot be
  //    interrupted, and they use the router and request memory).
  handler_pool_->stop();
  handler_pool_->join();

  // 5. Stop I/O.
  work_guard_.reset();
  io_context_.stop();
  for (std::thread& thread : io_threads_) thread.join();
  io_threads_.clear();

  // 6. No thread touches a session now: close what is left so clients see the connection end.
  for (const auto& session : LiveSessions()) session->CloseNow();
  // Queued-but-never-run handler jobs own sessions; their sockets still need io_context_ alive.
  handler_pool_.reset();
  std::lock_guard lock(mu_);
  sessions_.clear();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server

class Server::Impl : public ServerCore {
 public:
  using ServerCore::ServerCore;
};

Server::Server(ServerOptions options, const Router& router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}

Server::~Server() {
  // Default grace: a Server dropped without Stop still lets in-flight requests finish.
  Stop();
}

void Server::Start() { impl_->Start(); }

uint16_t Server::port() const { return impl_->port(); }

void Server::Stop(std::chrono::milliseconds grace) { impl_->Stop(grace); }

}  // namespace langfuse::http
