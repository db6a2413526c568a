#include "http/server.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/json_text.h"

namespace langfuse::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Req = bhttp::request<bhttp::string_body>;
using Res = bhttp::response<bhttp::string_body>;
using std::chrono::milliseconds;

// Upper bound for any single client operation, so a server bug fails a test instead of hanging it.
constexpr milliseconds kIoTimeout{3000};
constexpr milliseconds kSlowHandler{250};

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

bool ClosedByPeer(const beast::error_code& ec) {
  return ec == net::error::eof || ec == net::error::connection_reset;
}

//! A blocking HTTP/1.1 test client on one connection. Every operation runs a private io_context
//! with a deadline (beast::tcp_stream), so it never blocks longer than the timeout. One thread.
class Client {
 public:
  explicit Client(uint16_t port) : stream_(io_context_) {
    stream_.expires_after(kIoTimeout);
    stream_.async_connect(tcp::endpoint(net::ip::address_v4::loopback(), port),
                          [this](beast::error_code ec) { connect_error_ = ec; });
    Run();
  }

  const beast::error_code& connect_error() const { return connect_error_; }

  beast::error_code Write(Req request) {
    request.prepare_payload();
    beast::error_code result;
    stream_.expires_after(kIoTimeout);
    bhttp::async_write(stream_, request, [&](beast::error_code ec, size_t) { result = ec; });
    Run();
    return result;
  }

  beast::error_code WriteRaw(const std::string& data) {
    beast::error_code result;
    stream_.expires_after(kIoTimeout);
    net::async_write(stream_, net::buffer(data), [&](beast::error_code ec, size_t) { result = ec; });
    Run();
    return result;
  }

  beast::error_code Read(Res& response) {
    bhttp::response_parser<bhttp::string_body> parser;
    beast::error_code result;
    stream_.expires_after(kIoTimeout);
    bhttp::async_read(stream_, buffer_, parser, [&](beast::error_code ec, size_t) { result = ec; });
    Run();
    response = parser.release();
    return result;
  }

  Res Send(Req request) {
    beast::error_code ec = Write(std::move(request));
    EXPECT_FALSE(ec) << ec.message();
    Res response;
    ec = Read(response);
    EXPECT_FALSE(ec) << ec.message();
    return response;
  }

  //! Reads and drops bytes until the server closes the connection or `timeout` passes; returns
  //! the final error (eof or reset when the server closed, beast::error::timeout otherwise).
  beast::error_code WaitForClose(milliseconds timeout = kIoTimeout) {
    if (buffer_.size() > 0) buffer_.consume(buffer_.size());
    beast::error_code result;
    std::function<void(beast::error_code, size_t)> on_read = [&](beast::error_code ec, size_t) {
      if (ec) {
        result = ec;
        return;
      }
      stream_.async_read_some(net::buffer(scratch_), on_read);
    };
    stream_.expires_after(timeout);
    stream_.async_read_some(net::buffer(scratch_), on_read);
    Run();
    return result;
  }

 private:
  void Run() {
    io_context_.restart();
    io_context_.run();
  }

  net::io_context io_context_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  beast::error_code connect_error_;
  std::array<char, 64 * 1024> scratch_{};
};

Req Make(bhttp::verb verb, const std::string& target, std::string body = "") {
  Req request{verb, target, 11};
  request.set(bhttp::field::host, "localhost");
  request.body() = std::move(body);
  return request;
}

std::string JsonArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (const std::string& value : values) {
    if (out.size() > 1) out += ',';
    out += JsonString(value);
  }
  return out + "]";
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/api/public/health",
                [](Request&) { return Response::Json(200, R"({"status":"OK"})"); });
    router_.Add("GET", "/api/public/traces/{traceId}", [this](Request& request) {
      ++trace_handler_calls_;
      return Response::Json(200, "{\"traceId\":" + JsonString(request.path_params.at("traceId")) +
                                     ",\"path\":" + JsonString(request.path) +
                                     ",\"tags\":" + JsonArray(request.QueryParams("tags")) +
                                     ",\"requestId\":" + JsonString(request.request_id) + "}");
    });
    router_.Add("POST", "/api/public/ingestion", [](Request& request) {
      return Response::Json(207, "{\"bytes\":" + std::to_string(request.body.size()) + "}");
    });
    router_.Add("POST", "/echo", [](Request& request) {
      Response response;
      response.body = request.body;
      response.content_type = "text/plain";
      response.headers.emplace_back("X-Custom", "1");
      response.headers.emplace_back("X-Custom", "2");
      response.headers.emplace_back("Content-Length", "999");  // ignored: framing is the server's
      return response;
    });
    router_.Add("GET", "/boom", [](Request&) -> Response { throw std::runtime_error("secret detail"); });
    router_.Add("GET", "/slow", [this](Request&) {
      ++slow_started_;
      std::this_thread::sleep_for(kSlowHandler);
      return Response::Json(200, R"({"slow":true})");
    });
  }

  void TearDown() override { server_.reset(); }

  ServerOptions TestOptions() {
    ServerOptions options;
    options.bind_address = "127.0.0.1";
    options.port = 0;
    options.io_threads = 2;
    options.handler_threads = 8;
    return options;
  }

  void StartServer(ServerOptions options) {
    server_ = std::make_unique<Server>(std::move(options), router_);
    server_->Start();
    ASSERT_NE(server_->port(), 0);
  }
  void StartServer() { StartServer(TestOptions()); }

  uint16_t port() const { return server_->port(); }

  //! Waits (bounded) until `n` slow handlers have started.
  void AwaitSlowStarted(int n) {
    auto deadline = Clock::now() + kIoTimeout;
    while (slow_started_.load() < n && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(1));
    ASSERT_GE(slow_started_.load(), n);
  }

  Router router_;
  std::unique_ptr<Server> server_;
  std::atomic<int> trace_handler_calls_{0};
  std::atomic<int> slow_started_{0};
};

TEST_F(ServerTest, GetReturnsJsonWithStandardHeaders) {
  StartServer();
  Client client(port());
  ASSERT_FALSE(client.connect_error());
  Res response = client.Send(Make(bhttp::verb::get, "/api/public/health"));
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), R"({"status":"OK"})");
  EXPECT_EQ(response[bhttp::field::content_type], "application/json; charset=utf-8");
  EXPECT_EQ(response[bhttp::field::content_length], "15");
  EXPECT_EQ(response[bhttp::field::server], "langfuse-cpp");
  EXPECT_EQ(response["X-Request-Id"].size(), 16u);
  EXPECT_TRUE(response.keep_alive());
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  Client client(port());
  Res first = client.Send(Make(bhttp::verb::get, "/api/public/health"));
  Res second = client.Send(Make(bhttp::verb::post, "/api/public/ingestion", "{\"batch\":[]}"));
  EXPECT_EQ(first.result_int(), 200);
  EXPECT_EQ(second.result_int(), 207);
  EXPECT_EQ(second.body(), R"({"bytes":12})");
  EXPECT_NE(first["X-Request-Id"], second["X-Request-Id"]);
}

TEST_F(ServerTest, ConnectionCloseAndHttp10CloseAfterTheResponse) {
  StartServer();
  {
    Client client(port());
    Req request = Make(bhttp::verb::get, "/api/public/health");
    request.keep_alive(false);
    Res response = client.Send(std::move(request));
    EXPECT_EQ(response.result_int(), 200);
    EXPECT_FALSE(response.keep_alive());
    EXPECT_TRUE(ClosedByPeer(client.WaitForClose()));
  }
  {
    Client client(port());
    Req request = Make(bhttp::verb::get, "/api/public/health");
    request.version(10);
    Res response = client.Send(std::move(request));
    EXPECT_EQ(response.result_int(), 200);
    EXPECT_EQ(response.version(), 10u);
    EXPECT_TRUE(ClosedByPeer(client.WaitForClose()));
  }
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowedAnswerJson) {
  StartServer();
  Client client(port());
  Res not_found = client.Send(Make(bhttp::verb::get, "/api/public/nope"));
  EXPECT_EQ(not_found.result_int(), 404);
  EXPECT_EQ(not_found.body(), R"({"message":"Not Found","error":"LangfuseNotFoundError"})");
  EXPECT_EQ(not_found[bhttp::field::content_type], "application/json; charset=utf-8");

  Res wrong_method = client.Send(Make(bhttp::verb::delete_, "/api/public/ingestion"));
  EXPECT_EQ(wrong_method.result_int(), 405);
  EXPECT_EQ(wrong_method.body(), R"({"message":"Method not allowed","error":"MethodNotAllowedError"})");
  EXPECT_EQ(wrong_method[bhttp::field::allow], "POST, OPTIONS");
  EXPECT_TRUE(wrong_method.keep_alive());
}

TEST_F(ServerTest, BodyOverLimitWithContentLengthGets413) {
  StartServer();
  Client client(port());
  // The whole 5 MB goes out before we read: the server must answer and drain, not reset.
  beast::error_code ec =
      client.Write(Make(bhttp::verb::post, "/api/public/ingestion", std::string(5'000'000, 'x')));
  EXPECT_FALSE(ec) << ec.message();
  Res response;
  ec = client.Read(response);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(response.body(),
            R"({"message":"Request body exceeds the limit of 4.5 MB","error":"PayloadTooLargeError"})");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(ClosedByPeer(client.WaitForClose()));
}

TEST_F(ServerTest, BodyOverLimitWithExpectContinueGets413BeforeTheBody) {
  StartServer();
  Client client(port());
  ASSERT_FALSE(
      client.WriteRaw("POST /api/public/ingestion HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000000\r\n"
                      "Expect: 100-continue\r\nContent-Type: application/json\r\n\r\n"));
  Res response;
  ASSERT_FALSE(client.Read(response));
  EXPECT_EQ(response.result_int(), 413);  // and no "100 Continue" before it
  EXPECT_NE(response.body().find("PayloadTooLargeError"), std::string::npos);
  EXPECT_TRUE(ClosedByPeer(client.WaitForClose()));
}

TEST_F(ServerTest, ExpectContinueWithinLimitGets100ThenTheAnswer) {
  StartServer();
  Client client(port());
  const std::string body(200'000, 'y');
  ASSERT_FALSE(client.WriteRaw("POST /api/public/ingestion HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n"));
  Res interim;
  ASSERT_FALSE(client.Read(interim));
  EXPECT_EQ(interim.result_int(), 100);
  ASSERT_FALSE(client.WriteRaw(body));
  Res response;
  ASSERT_FALSE(client.Read(response));
  EXPECT_EQ(response.result_int(), 207);
  EXPECT_EQ(response.body(), R"({"bytes":200000})");
}

TEST_F(ServerTest, ChunkedBodyGrowingPastTheLimitGets413) {
  ServerOptions options = TestOptions();
  options.body_limit_bytes = 1000;
  StartServer(options);
  Client client(port());
  std::string chunk(600, 'z');
  ASSERT_FALSE(
      client.WriteRaw("POST /api/public/ingestion HTTP/1.1\r\nHost: localhost\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n258\r\n" +
                      chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n"));
  Res response;
  ASSERT_FALSE(client.Read(response));
  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(response.body(),
            R"({"message":"Request body exceeds the limit of 0.001 MB","error":"PayloadTooLargeError"})");

  // Within the limit, chunked works.
  Client small(port());
  ASSERT_FALSE(
      small.WriteRaw("POST /api/public/ingestion HTTP/1.1\r\nHost: localhost\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n258\r\n" +
                     chunk + "\r\n0\r\n\r\n"));
  ASSERT_FALSE(small.Read(response));
  EXPECT_EQ(response.result_int(), 207);
  EXPECT_EQ(response.body(), R"({"bytes":600})");
}

TEST_F(ServerTest, CorsHeadersOnEveryResponse) {
  StartServer();
  Client client(port());
  Req with_origin = Make(bhttp::verb::get, "/api/public/health");
  with_origin.set(bhttp::field::origin, "https://app.example.com");
  Res response = client.Send(std::move(with_origin));
  EXPECT_EQ(response[bhttp::field::access_control_allow_origin], "https://app.example.com");
  EXPECT_EQ(response[bhttp::field::vary], "Origin");
  EXPECT_NE(response[bhttp::field::access_control_allow_methods].find("POST"), beast::string_view::npos);
  EXPECT_NE(response[bhttp::field::access_control_allow_headers].find("Authorization"),
            beast::string_view::npos);
  EXPECT_EQ(response.count(bhttp::field::access_control_allow_credentials), 0u);

  Res no_origin = client.Send(Make(bhttp::verb::get, "/api/public/nope"));
  EXPECT_EQ(no_origin.result_int(), 404);
  EXPECT_EQ(no_origin[bhttp::field::access_control_allow_origin], "*");
}

TEST_F(ServerTest, OptionsPreflightIsAnsweredWithoutAHandler) {
  StartServer();
  Client client(port());
  Req preflight = Make(bhttp::verb::options, "/api/public/traces/t1");
  preflight.set(bhttp::field::origin, "http://localhost:5173");
  preflight.set(bhttp::field::access_control_request_method, "GET");
  preflight.set(bhttp::field::access_control_request_headers,
                "authorization,content-type,x-langfuse-sdk-name");
  Res response = client.Send(std::move(preflight));
  EXPECT_EQ(response.result_int(), 204);
  EXPECT_TRUE(response.body().empty());
  EXPECT_EQ(response[bhttp::field::access_control_allow_origin], "http://localhost:5173");
  EXPECT_EQ(response[bhttp::field::access_control_allow_headers],
            "authorization,content-type,x-langfuse-sdk-name");
  EXPECT_EQ(trace_handler_calls_.load(), 0);

  Res unknown = client.Send(Make(bhttp::verb::options, "/not/a/route"));
  EXPECT_EQ(unknown.result_int(), 404);
}

TEST_F(ServerTest, PathParamsAreDecodedAndQueryParamsRepeat) {
  StartServer();
  Client client(port());
  Res response =
      client.Send(Make(bhttp::verb::get, "/api/public/traces/a%20b%2Fc+d?tags=x&tags=y+z&tags=%26"));
  EXPECT_EQ(response.result_int(), 200);
  const std::string& body = response.body();
  EXPECT_NE(body.find(R"("traceId":"a b/c+d")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("path":"/api/public/traces/a b/c+d")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("tags":["x","y z","&"])"), std::string::npos) << body;
}

TEST_F(ServerTest, RequestIdIsEchoedWhenSaneAndGeneratedOtherwise) {
  StartServer();
  Client client(port());
  Req sane = Make(bhttp::verb::get, "/api/public/traces/t");
  sane.set("X-Request-Id", "req_ABC-123");
  Res response = client.Send(std::move(sane));
  EXPECT_EQ(response["X-Request-Id"], "req_ABC-123");
  EXPECT_NE(response.body().find(R"("requestId":"req_ABC-123")"), std::string::npos);

  Req insane = Make(bhttp::verb::get, "/api/public/health");
  insane.set("X-Request-Id", "has spaces; and=stuff");
  response = client.Send(std::move(insane));
  EXPECT_EQ(response["X-Request-Id"].size(), 16u);

  Req too_long = Make(bhttp::verb::get, "/api/public/health");
  too_long.set("X-Request-Id", std::string(129, 'a'));
  response = client.Send(std::move(too_long));
  EXPECT_EQ(response["X-Request-Id"].size(), 16u);
}

TEST_F(ServerTest, HandlerHeadersAndContentTypeAreSent) {
  StartServer();
  Client client(port());
  Res response = client.Send(Make(bhttp::verb::post, "/echo", "plain words"));
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "plain words");
  EXPECT_EQ(response[bhttp::field::content_type], "text/plain");
  EXPECT_EQ(response[bhttp::field::content_length], "11");
  EXPECT_EQ(response.count("X-Custom"), 2u);
}

TEST_F(ServerTest, ThrowingHandlerGives500AndTheServerKeepsServing) {
  StartServer();
  Client client(port());
  Res response = client.Send(Make(bhttp::verb::get, "/boom"));
  EXPECT_EQ(response.result_int(), 500);
  EXPECT_EQ(response.body(), R"({"message":"Internal Server Error","error":"InternalServerError"})");
  Res next = client.Send(Make(bhttp::verb::get, "/api/public/health"));
  EXPECT_EQ(next.result_int(), 200);
}

TEST_F(ServerTest, GarbledRequestGets400AndClose) {
  StartServer();
  for (const std::string& garbage :
       {std::string("THIS IS NOT HTTP\r\n\r\n"), std::string("\x01\x02\x03 / HTTP/1.1\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nBad Header Line\r\n\r\n")}) {
    Client client(port());
    ASSERT_FALSE(client.WriteRaw(garbage));
    Res response;
    ASSERT_FALSE(client.Read(response));
    EXPECT_EQ(response.result_int(), 400);
    EXPECT_EQ(response.body(), R"({"message":"Malformed HTTP request","error":"BadRequestError"})");
    EXPECT_TRUE(ClosedByPeer(client.WaitForClose()));
  }
}

TEST_F(ServerTest, IdleTimeoutClosesAKeptAliveConnection) {
  ServerOptions options = TestOptions();
  options.idle_timeout = milliseconds(200);
  StartServer(options);
  Client client(port());
  EXPECT_EQ(client.Send(Make(bhttp::verb::get, "/api/public/health")).result_int(), 200);
  auto start = Clock::now();
  EXPECT_TRUE(ClosedByPeer(client.WaitForClose()));
  EXPECT_GE(MsSince(start), 150);
  EXPECT_LT(MsSince(start), 2000);
}

TEST_F(ServerTest, ReadTimeoutClosesASlowRequest) {
  ServerOptions options = TestOptions();
  options.read_timeout = milliseconds(200);
  StartServer(options);
  Client client(port());
  auto start = Clock::now();
  ASSERT_FALSE(client.WriteRaw("GET /api/public/health HTTP/1.1\r\nHost: loc"));  // never finished
  EXPECT_TRUE(ClosedByPeer(client.WaitForClose()));
  EXPECT_GE(MsSince(start), 150);
  EXPECT_LT(MsSince(start), 2000);
}

TEST_F(ServerTest, SlowHandlersRunInParallelAndDoNotStallIo) {
  ServerOptions options = TestOptions();
  options.io_threads = 1;  // a handler on the I/O thread would serialize everything below
  options.handler_threads = 8;
  StartServer(options);
  constexpr int kClients = 8;
  std::atomic<int> ok{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&] {
      Client client(port());
      Res response;
      if (!client.Write(Make(bhttp::verb::get, "/slow")) && !client.Read(response) &&
          response.result_int() == 200)
        ++ok;
    });
  }
  AwaitSlowStarted(kClients);
  {
    // Every handler thread is asleep: a request that needs no handler (404) must still be answered
    // by the single I/O thread at once.
    auto probe_start = Clock::now();
    Client client(port());
    EXPECT_EQ(client.Send(Make(bhttp::verb::get, "/not/routed")).result_int(), 404);
    EXPECT_LT(MsSince(probe_start), kSlowHandler.count() / 2);
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kClients);
  EXPECT_LT(MsSince(start), kSlowHandler.count() * kClients / 2);  // serial would take 2 s
}

TEST_F(ServerTest, StopWaitsForAnInFlightRequestAndDeliversItsResponse) {
  StartServer();
  Res response;
  beast::error_code read_error;
  std::thread requester([&] {
    Client client(port());
    if (!client.Write(Make(bhttp::verb::get, "/slow"))) read_error = client.Read(response);
  });
  AwaitSlowStarted(1);
  auto start = Clock::now();
  server_->Stop(milliseconds(5000));
  const int64_t stop_ms = MsSince(start);
  requester.join();
  EXPECT_FALSE(read_error) << read_error.message();
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), R"({"slow":true})");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_GE(stop_ms, kSlowHandler.count() / 2);
  EXPECT_LT(stop_ms, 3000);

  Client late(port());
  EXPECT_TRUE(late.connect_error());  // no longer accepting
  server_->Stop();                    // a second Stop is harmless
}

TEST_F(ServerTest, StopClosesIdleConnectionsPromptly) {
  StartServer();
  Client client(port());
  EXPECT_EQ(client.Send(Make(bhttp::verb::get, "/api/public/health")).result_int(), 200);
  auto start = Clock::now();
  server_->Stop(milliseconds(5000));
  EXPECT_LT(MsSince(start), 1000);
  EXPECT_TRUE(ClosedByPeer(client.WaitForClose()));
}

TEST_F(ServerTest, StartThrowsWhenThePortIsTaken) {
  StartServer();
  ServerOptions options = TestOptions();
  options.port = port();
  Server second(options, router_);
  EXPECT_THROW(second.Start(), std::runtime_error);
}

TEST_F(ServerTest, UnstartedServerStopsCleanly) {
  Server server(TestOptions(), router_);
  server.Stop();
}

}  // namespace
}  // namespace langfuse::http
