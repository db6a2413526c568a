// The HTTP transport without a ClickHouse server: options from the environment, URL and request
// building, error mapping, gzip, and the connection behaviour (keep-alive, retries, timeouts, an
// exhausted pool) against ScriptedHttpServer, a test double that answers as each test scripts it
// to provoke what a real server rarely does on demand (dropping a connection after reading a
// request, never answering). The same behaviour against ClickHouse's real interface is in
// http_transport_chdbtest.cpp (the chDB-backed test server) and http_transport_server_test.cpp.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/ids.h"
#include "common/metrics.h"
#include "storage/traces/clickhouse_sql.h"
#include "storage/traces/clickhouse_transport.h"
#include "storage/traces/http_transport.h"

namespace langfuse::traces {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using http_detail::BuildInsertRequest;
using http_detail::BuildQueryRequest;
using http_detail::ClickHouseExceptionCode;
using http_detail::GzipCompress;
using http_detail::GzipDecompress;
using http_detail::ParseClickHouseUrl;
using http_detail::StatusFromHttpError;
using http_detail::UrlDecode;
using http_detail::UrlEncode;
using Clock = std::chrono::steady_clock;

ClickHouseEnvLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// A request target's decoded parameters; fails the test on a malformed one.
std::multimap<std::string, std::string> TargetParams(const std::string& target) {
  std::multimap<std::string, std::string> out;
  const size_t q = target.find('?');
  EXPECT_NE(q, std::string::npos) << target;
  std::string_view rest = std::string_view(target).substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    EXPECT_NE(eq, std::string_view::npos) << pair;
    std::string name, value;
    EXPECT_TRUE(UrlDecode(pair.substr(0, eq), name));
    EXPECT_TRUE(UrlDecode(pair.substr(eq + 1), value));
    out.emplace(name, value);
  }
  return out;
}

std::string One(const std::multimap<std::string, std::string>& params, const std::string& name) {
  EXPECT_EQ(params.count(name), 1u) << name;
  const auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

// ---- options -----------------------------------------------------------------------------------

TEST(HttpTransportOptions, NoUrlMeansNoServer) {
  auto none = HttpTransportOptionsFromEnv(EnvOf({}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto empty = HttpTransportOptionsFromEnv(EnvOf({{"CLICKHOUSE_URL", ""}, {"CLICKHOUSE_USER", "x"}}));
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
}

TEST(HttpTransportOptions, ReadsLangfuseVariables) {
  auto got = HttpTransportOptionsFromEnv(EnvOf({{"CLICKHOUSE_URL", "https://ch.internal:8443"},
                                                {"CLICKHOUSE_USER", "langfuse"},
                                                {"CLICKHOUSE_PASSWORD", "p@ss:w/rd"},
                                                {"CLICKHOUSE_DB", "observability"},
                                                {"CLICKHOUSE_MAX_OPEN_CONNECTIONS", "7"},
                                                {"CLICKHOUSE_KEEP_ALIVE_IDLE_SOCKET_TTL", "4000"},
                                                {"LANGFUSE_CLICKHOUSE_QUERY_MAX_ATTEMPTS", "5"},
                                                {"LANGFUSE_CLICKHOUSE_CONNECT_TIMEOUT_MS", "1500"},
                                                {"LANGFUSE_CLICKHOUSE_REQUEST_TIMEOUT_MS", "120000"}}));
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_TRUE(got->has_value());
  const HttpTransportOptions& o = **got;
  EXPECT_EQ(o.url, "https://ch.internal:8443");
  EXPECT_EQ(o.user, "langfuse");
  EXPECT_EQ(o.password, "p@ss:w/rd");
  EXPECT_EQ(o.database, "observability");
  EXPECT_EQ(o.max_connections, 7);
  EXPECT_EQ(o.keep_alive_idle, std::chrono::milliseconds(4000));
  EXPECT_EQ(o.max_attempts, 5);
  EXPECT_EQ(o.connect_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(o.request_timeout, std::chrono::milliseconds(120000));
  EXPECT_TRUE(o.pin_session_settings);
}

TEST(HttpTransportOptions, DefaultsMatchLangfuse) {
  auto got = HttpTransportOptionsFromEnv(EnvOf({{"CLICKHOUSE_URL", "http://clickhouse:8123"}}));
  ASSERT_TRUE(got.ok() && got->has_value());
  const HttpTransportOptions& o = **got;
  EXPECT_EQ(o.user, "default");
  EXPECT_EQ(o.password, "");
  EXPECT_EQ(o.database, "default");
  EXPECT_EQ(o.max_connections, 25);
  EXPECT_EQ(o.keep_alive_idle, std::chrono::milliseconds(9000));
  EXPECT_EQ(o.max_attempts, 3);
  EXPECT_EQ(o.request_timeout, std::chrono::milliseconds(30000));
}

TEST(HttpTransportOptions, MalformedValuesNameTheirVariable) {
  const std::map<std::string, std::string> base = {{"CLICKHOUSE_URL", "http://localhost:8123"}};
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"CLICKHOUSE_URL", "localhost:8123"},
      {"CLICKHOUSE_URL", "clickhouse://localhost:9000"},
      {"CLICKHOUSE_URL", "http://user:secret@localhost:8123"},
      {"CLICKHOUSE_MAX_OPEN_CONNECTIONS", "0"},
      {"CLICKHOUSE_MAX_OPEN_CONNECTIONS", "ten"},
      {"CLICKHOUSE_KEEP_ALIVE_IDLE_SOCKET_TTL", "-1"},
      {"LANGFUSE_CLICKHOUSE_QUERY_MAX_ATTEMPTS", "0"},
      {"LANGFUSE_CLICKHOUSE_CONNECT_TIMEOUT_MS", "5s"},
      {"LANGFUSE_CLICKHOUSE_REQUEST_TIMEOUT_MS", "0"},
  };
  for (const auto& [name, value] : bad) {
    auto vars = base;
    vars[name] = value;
    auto got = HttpTransportOptionsFromEnv(EnvOf(vars));
    ASSERT_FALSE(got.ok()) << name << "=" << value;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find(name), std::string::npos) << got.status().message();
    // Never the password in a message.
    EXPECT_EQ(got.status().message().find("secret"), std::string::npos) << got.status().message();
  }
}

TEST(ClickHouseUrl, Parses) {
  auto plain = ParseClickHouseUrl("http://localhost:8123");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->host, "localhost");
  EXPECT_EQ(plain->port, 8123);
  EXPECT_EQ(plain->path_prefix, "");
  EXPECT_EQ(plain->Describe(), "http://localhost:8123");

  auto tls = ParseClickHouseUrl("HTTPS://ch.example.com/");
  ASSERT_TRUE(tls.ok());
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->port, 8443);
  EXPECT_EQ(tls->path_prefix, "");

  auto v6 = ParseClickHouseUrl("http://[::1]:9123/proxy/clickhouse/");
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9123);
  EXPECT_EQ(v6->path_prefix, "/proxy/clickhouse");
  EXPECT_EQ(v6->HostHeader(), "[::1]:9123");
  EXPECT_EQ(v6->Describe(), "http://[::1]:9123/proxy/clickhouse");

  EXPECT_EQ(ParseClickHouseUrl("http://clickhouse").value().port, 8123);
  for (const char* bad : {"", "http://", "http://:8123", "http://h:", "http://h:0", "http://h:65536",
                          "http://h:8a", "http://[::1", "http://[::1]x", "http://h/?database=x", "http://h#x",
                          "ftp://h", "http://a b", "http://u@h", "http://h/pa th"}) {
    auto got = ParseClickHouseUrl(bad);
    EXPECT_FALSE(got.ok()) << bad;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// ---- requests ----------------------------------------------------------------------------------

TEST(UrlCoding, RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string encoded = UrlEncode(all);
  EXPECT_EQ(encoded.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"),
            std::string::npos);
  std::string decoded;
  ASSERT_TRUE(UrlDecode(encoded, decoded));
  EXPECT_EQ(decoded, all);
  EXPECT_EQ(UrlEncode("a b&c=d+é"), "a%20b%26c%3Dd%2B%C3%A9");
  EXPECT_FALSE(UrlDecode("%4", decoded));
  EXPECT_FALSE(UrlDecode("%zz", decoded));
}

TEST(HttpRequests, QueryCarriesParametersFormatDatabaseAndSettings) {
  HttpTransportOptions options;
  options.database = "my db";
  options.request_timeout = std::chrono::milliseconds(30'500);
  const std::string sql = "SELECT * FROM traces WHERE id = {id:String} AND p IN {ps:Array(String)}";
  // A value that would end the parameter, start another or break the SQL if it were spliced.
  const QueryParam hostile = StringParam("id", "x' OR 1=1 --\n&param_id=evil#%00");
  const auto request =
      BuildQueryRequest(options, "", sql, {hostile, StringArrayParam("ps", {"a", "b'c"})}, "JSONEachRow");
  EXPECT_TRUE(request.target.starts_with("/?")) << request.target;
  EXPECT_EQ(request.body, sql);
  EXPECT_FALSE(request.gzip);
  const auto params = TargetParams(request.target);
  EXPECT_EQ(One(params, "database"), "my db");
  EXPECT_EQ(One(params, "default_format"), "JSONEachRow");
  EXPECT_EQ(One(params, "param_id"), hostile.value);
  EXPECT_EQ(One(params, "param_ps"), "['a','b\\'c']");
  EXPECT_EQ(One(params, "wait_end_of_query"), "1");
  EXPECT_EQ(One(params, "max_execution_time"), "36");  // ceil(30.5 s) + 5 s
  EXPECT_EQ(One(params, "enable_http_compression"), "1");
  for (const SessionSetting& s : SessionSettings()) EXPECT_EQ(One(params, std::string(s.name)), s.value);
  EXPECT_EQ(params.count("query"), 0u);  // the SQL travels in the body

  options.pin_session_settings = false;
  options.compress_responses = false;
  const auto bare =
      TargetParams(BuildQueryRequest(options, "/prefix", "SELECT 1", {}, "TabSeparated").target);
  EXPECT_EQ(bare.count("session_timezone"), 0u);
  EXPECT_EQ(bare.count("enable_http_compression"), 0u);
  EXPECT_TRUE(
      BuildQueryRequest(options, "/prefix", "SELECT 1", {}, "TabSeparated").target.starts_with("/prefix/?"));
}

TEST(HttpRequests, InsertPutsTheStatementInTheUrlAndCompressesLargeBodies) {
  HttpTransportOptions options;
  options.compress_request_min_bytes = 1000;
  const auto small =
      BuildInsertRequest(options, "", "traces", "RowBinaryWithNamesAndTypes", "rows", "batch-1");
  EXPECT_EQ(One(TargetParams(small.target), "query"),
            "INSERT INTO `traces` SETTINGS insert_deduplicate = 1, insert_deduplication_token = 'batch-1' "
            "FORMAT RowBinaryWithNamesAndTypes");
  EXPECT_EQ(small.body, "rows");
  EXPECT_FALSE(small.gzip);
  EXPECT_EQ(One(TargetParams(small.target), "database"), "default");

  const auto no_token = BuildInsertRequest(options, "", "db.observations", "JSONEachRow", "{}", "");
  EXPECT_EQ(One(TargetParams(no_token.target), "query"),
            "INSERT INTO `db`.`observations` FORMAT JSONEachRow");

  std::string rows;
  for (int i = 0; i < 500; ++i)
    rows += fmt::format("{{\"id\":\"row-{}\",\"name\":\"a fairly repetitive name\"}}\n", i);
  const auto large = BuildInsertRequest(options, "", "traces", "JSONEachRow", rows, "t");
  ASSERT_TRUE(large.gzip);
  EXPECT_LT(large.body.size(), rows.size() / 4);
  std::string plain, error;
  ASSERT_TRUE(GzipDecompress(large.body, rows.size(), plain, error)) << error;
  EXPECT_EQ(plain, rows);
}

// ---- errors ------------------------------------------------------------------------------------

TEST(HttpErrors, ExceptionCodeFromHeaderOrBody) {
  EXPECT_EQ(ClickHouseExceptionCode("62", "whatever"), 62);
  EXPECT_EQ(ClickHouseExceptionCode("", "Code: 60. DB::Exception: Unknown table (UNKNOWN_TABLE)"), 60);
  EXPECT_EQ(ClickHouseExceptionCode("", "Code: 193, e.displayText() = DB::Exception: Wrong password"), 193);
  EXPECT_EQ(ClickHouseExceptionCode("x", "Code: 60. DB::Exception"), 60);
  EXPECT_EQ(ClickHouseExceptionCode("", "<html>Bad gateway</html>"), 0);
  EXPECT_EQ(ClickHouseExceptionCode("", "Code: "), 0);
  EXPECT_EQ(ClickHouseExceptionCode("", "Code: 12"), 0);
}

TEST(HttpErrors, MapToStatuses) {
  const auto map = [](unsigned http, std::string_view header, std::string_view body) {
    return StatusFromHttpError(http, header, body, "ClickHouse query", "http://ch:8123", "lf");
  };
  const Status syntax = map(400, "62",
                            "Code: 62. DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR) "
                            "(version 24.8.4.13 (official build))\n");
  EXPECT_EQ(syntax.code(), StatusCode::kInternal);
  EXPECT_EQ(syntax.message(),
            "ClickHouse query: Code: 62. DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR) "
            "(version 24.8.4.13 (official build))");

  // Refused credentials, current servers (403 + 516) and old ones (401 + 193 without a name).
  for (const Status& denied :
       {map(403, "516",
            "Code: 516. DB::Exception: lf: Authentication failed: password is incorrect, or there is "
            "no user with such name. (AUTHENTICATION_FAILED)"),
        map(401, "", "Code: 193, e.displayText() = DB::Exception: Wrong password for user lf"),
        map(403, "", "Forbidden")}) {
    EXPECT_EQ(denied.code(), StatusCode::kUnavailable);
    EXPECT_NE(denied.message().find("refused the credentials of user 'lf'"), std::string::npos)
        << denied.message();
    EXPECT_NE(denied.message().find("CLICKHOUSE_PASSWORD"), std::string::npos);
    EXPECT_NE(denied.message().find("http://ch:8123"), std::string::npos);
  }
  // A user without a grant is not a credentials problem.
  EXPECT_EQ(map(403, "497", "Code: 497. DB::Exception: lf: Not enough privileges. (ACCESS_DENIED)").code(),
            StatusCode::kInternal);

  // Transient: by name (current servers), by number (old ones), gateways.
  EXPECT_EQ(
      map(500, "241", "Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)").code(),
      StatusCode::kUnavailable);
  EXPECT_EQ(map(500, "", "Code: 252, e.displayText() = DB::Exception: Too many parts").code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(map(408, "159", "Code: 159. DB::Exception: Timeout exceeded. (TIMEOUT_EXCEEDED)").code(),
            StatusCode::kUnavailable);
  const Status gateway = map(502, "", std::string(10'000, 'x'));
  EXPECT_EQ(gateway.code(), StatusCode::kUnavailable);
  EXPECT_LT(gateway.message().size(), 4200u);  // a whole HTML page is cut short
  EXPECT_EQ(map(404, "60", "Code: 60. DB::Exception: Table default.x does not exist. (UNKNOWN_TABLE)").code(),
            StatusCode::kInternal);
  EXPECT_NE(map(500, "", "").message().find("HTTP 500 with an empty body"), std::string::npos);
}

// ---- gzip --------------------------------------------------------------------------------------

TEST(Gzip, RoundTripsAndRefusesBadInput) {
  std::string data;
  for (int i = 0; i < 200'000; ++i) data.push_back(static_cast<char>((i * 7919) % 251));
  for (const std::string& input : {std::string(), std::string("x"), data}) {
    const std::string packed = GzipCompress(input, 3);
    ASSERT_GE(packed.size(), 18u);  // gzip header and trailer
    EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x1f);
    std::string out, error;
    ASSERT_TRUE(GzipDecompress(packed, input.size(), out, error)) << error;
    EXPECT_EQ(out, input);
  }
  std::string out, error;
  const std::string two = GzipCompress("first ", 1) + GzipCompress("second", 9);  // two members
  ASSERT_TRUE(GzipDecompress(two, 100, out, error)) << error;
  EXPECT_EQ(out, "first second");

  const std::string packed = GzipCompress(data, 3);
  EXPECT_FALSE(GzipDecompress(packed, data.size() - 1, out, error));  // over the limit
  EXPECT_NE(error.find("more than"), std::string::npos);
  EXPECT_FALSE(GzipDecompress(packed.substr(0, packed.size() / 2), data.size(), out, error));  // truncated
  EXPECT_FALSE(GzipDecompress("not gzip at all", 100, out, error));
}

// ---- opening -----------------------------------------------------------------------------------

TEST(OpenHttpTransport, RefusesBadOptions) {
  HttpTransportOptions o;
  o.url = "tcp://localhost:9000";
  EXPECT_EQ(OpenHttpTransport(o).status().code(), StatusCode::kInvalidArgument);
  o.url = "http://localhost:8123";
  o.password = "a\r\nX-Injected: 1";
  EXPECT_EQ(OpenHttpTransport(o).status().code(), StatusCode::kInvalidArgument);
  o.password = "";
  o.url = "https://localhost:8443";
  o.tls_ca_file = "/nonexistent/ca.pem";
  auto missing_ca = OpenHttpTransport(o);
  ASSERT_FALSE(missing_ca.ok());
  EXPECT_NE(missing_ca.status().message().find("/nonexistent/ca.pem"), std::string::npos);
  o.tls_ca_file = "";
  EXPECT_TRUE(OpenHttpTransport(o).ok());  // connects lazily: no server needed to open
}

// ---- connection behaviour against a test double ------------------------------------------------

//! ScriptedHttpServer: a TEST DOUBLE of a ClickHouse server's HTTP interface on loopback that
//! answers each request as the test's script says, to provoke what a real server does rarely:
//! dropping a connection after reading a request, never answering, closing idle connections.
class ScriptedHttpServer {
 public:
  enum class Action { kAnswer, kDropConnection, kNeverAnswer };
  struct Reply {
    Action action = Action::kAnswer;
    unsigned status = 200;
    std::string body = "1\n";
  };
  using Script = std::function<Reply(const bhttp::request<bhttp::string_body>&, int request_number)>;

  explicit ScriptedHttpServer(Script script) : script_(std::move(script)), acceptor_(ioc_, {tcp::v4(), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~ScriptedHttpServer() {
    stopping_ = true;
    boost::system::error_code ec;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
    std::lock_guard lock(mu_);
    for (auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
    for (std::thread& t : connection_threads_) t.join();
  }

  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }
  int requests() const { return requests_; }
  int connections() const { return connections_; }
  std::vector<bhttp::request<bhttp::string_body>> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  //! Closes every idle client connection from the server's side (as a server's keep-alive timeout does).
  void CloseIdleConnections() {
    std::lock_guard lock(mu_);
    for (auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      auto socket = std::make_shared<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec || stopping_) return;
      ++connections_;
      std::lock_guard lock(mu_);
      sockets_.push_back(socket);
      connection_threads_.emplace_back([this, socket] { Serve(*socket); });
    }
  }

  void Serve(tcp::socket& socket) {
    boost::beast::flat_buffer buffer;
    while (!stopping_) {
      bhttp::request<bhttp::string_body> req;
      boost::system::error_code ec;
      bhttp::read(socket, buffer, req, ec);
      if (ec) return;
      const int n = ++requests_;
      {
        std::lock_guard lock(mu_);
        seen_.push_back(req);
      }
      const Reply reply = script_(req, n);
      if (reply.action == Action::kDropConnection) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
      if (reply.action == Action::kNeverAnswer) {
        // Holds the connection until the client gives up (or the double stops).
        char byte;
        socket.read_some(asio::buffer(&byte, 1), ec);
        return;
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), 11};
      res.keep_alive(true);
      res.body() = reply.body;
      res.prepare_payload();
      bhttp::write(socket, res, ec);
      if (ec) return;
    }
  }

  Script script_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;     // guarded by mu_
  std::vector<std::thread> connection_threads_;           // guarded by mu_
  std::vector<bhttp::request<bhttp::string_body>> seen_;  // guarded by mu_
};

std::unique_ptr<ClickHouseTransport> Open(
    const std::string& url, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  HttpTransportOptions o;
  o.url = url;
  o.user = "lf";
  o.password = "pw";
  o.request_timeout = timeout;
  auto t = OpenHttpTransport(o);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? std::move(t).value() : nullptr;
}

TEST(HttpTransportConnections, SendsCredentialsAndReusesTheConnection) {
  ScriptedHttpServer server([](const auto&, int) { return ScriptedHttpServer::Reply{}; });
  auto t = Open(server.url());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t->Ping().ok());
  EXPECT_EQ(server.requests(), 5);
  EXPECT_EQ(server.connections(), 1);
  const auto seen = server.seen();
  EXPECT_EQ(seen[0]["X-ClickHouse-User"], "lf");
  EXPECT_EQ(seen[0]["X-ClickHouse-Key"], "pw");
  EXPECT_EQ(seen[0].method(), bhttp::verb::post);
  EXPECT_EQ(seen[0].body(), "SELECT 1");
}

TEST(HttpTransportConnections, ReadsSurviveAServerClosingIdleConnections) {
  ScriptedHttpServer server([](const auto&, int) { return ScriptedHttpServer::Reply{}; });
  auto t = Open(server.url());
  ASSERT_TRUE(t->Ping().ok());
  server.CloseIdleConnections();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(t->Ping().ok());
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpTransportConnections, ReadsAndTokenInsertsAreRetriedAfterALostAnswerOthersAreNot) {
  // The first copy of every request is read, then its connection dropped without an answer: the
  // statement may have run.
  std::mutex mu;
  std::set<std::string> seen;
  ScriptedHttpServer server([&](const bhttp::request<bhttp::string_body>& req, int) {
    ScriptedHttpServer::Reply r;
    r.body = "";
    std::lock_guard lock(mu);
    if (seen.insert(std::string(req.target()) + req.body()).second)
      r.action = ScriptedHttpServer::Action::kDropConnection;
    return r;
  });
  auto t = Open(server.url());
  ASSERT_TRUE(t->Query("SELECT count() FROM traces", {}, "TabSeparated").ok());
  EXPECT_EQ(server.requests(), 2);  // dropped, then answered

  ASSERT_TRUE(t->Insert("traces", "JSONEachRow", "{\"id\":\"a\"}\n", "batch-1").ok());
  EXPECT_EQ(server.requests(), 4);  // a token makes the resend harmless

  const Status once = t->Insert("traces", "JSONEachRow", "{\"id\":\"b\"}\n", "");
  EXPECT_EQ(once.code(), StatusCode::kUnavailable);
  EXPECT_NE(once.message().find("not retried"), std::string::npos) << once.message();
  EXPECT_EQ(server.requests(), 5);  // sent once, never again

  const Status ddl = t->Query("ALTER TABLE traces DELETE WHERE 1", {}, "TabSeparated").status();
  EXPECT_EQ(ddl.code(), StatusCode::kUnavailable);
  EXPECT_EQ(server.requests(), 6);
}

TEST(HttpTransportConnections, ServerDownIsUnavailableQuickly) {
  // A port with nothing listening: bound (so nobody else takes it) but never listened on.
  asio::io_context ioc;
  tcp::socket holder(ioc);
  holder.open(tcp::v4());
  holder.bind({asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = holder.local_endpoint().port();
  auto t = Open(fmt::format("http://127.0.0.1:{}", port));
  const auto start = Clock::now();
  const Status down = t->Ping();
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(down.code(), StatusCode::kUnavailable);
  EXPECT_NE(down.message().find(fmt::format("127.0.0.1:{}", port)), std::string::npos) << down.message();
  EXPECT_NE(down.message().find("3 attempts"), std::string::npos) << down.message();
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  // Inserts without a token may be retried too when nothing was sent.
  EXPECT_EQ(t->Insert("traces", "JSONEachRow", "{}\n", "").code(), StatusCode::kUnavailable);
  EXPECT_NE(Metrics().RenderPrometheus().find(
                R"(langfuse_clickhouse_statement_errors_total{transport="http",kind="read"})"),
            std::string::npos);
}

TEST(HttpTransportConnections, ASilentServerTimesOutWithoutRetry) {
  ScriptedHttpServer server([](const auto&, int) {
    ScriptedHttpServer::Reply r;
    r.action = ScriptedHttpServer::Action::kNeverAnswer;
    return r;
  });
  auto t = Open(server.url(), std::chrono::milliseconds(300));
  const auto start = Clock::now();
  const Status timed_out = t->Ping();
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(timed_out.code(), StatusCode::kUnavailable);
  EXPECT_NE(timed_out.message().find("did not answer within 300 ms"), std::string::npos)
      << timed_out.message();
  EXPECT_GE(elapsed, std::chrono::milliseconds(280));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  EXPECT_EQ(server.requests(), 1);  // a slow statement is not sent again
}

TEST(HttpTransportConnections, CallersWaitForAFreeConnectionWithinTheLimit) {
  std::atomic<int> in_flight{0}, most_in_flight{0};
  ScriptedHttpServer server([&](const auto&, int) {
    most_in_flight = std::max(most_in_flight.load(), ++in_flight);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    --in_flight;
    return ScriptedHttpServer::Reply{};
  });
  HttpTransportOptions o;
  o.url = server.url();
  o.max_connections = 2;
  auto t = OpenHttpTransport(o);
  ASSERT_TRUE(t.ok());
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int i = 0; i < 6; ++i) {
    callers.emplace_back([&] {
      if (!(*t)->Ping().ok()) ++failures;
    });
  }
  for (std::thread& c : callers) c.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(server.requests(), 6);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(most_in_flight, 2);
}

TEST(HttpTransportConnections, ErrorAnswersAreStatusesAndKeepTheConnection) {
  ScriptedHttpServer server([](const auto& req, int) {
    ScriptedHttpServer::Reply r;
    if (req.body() == "SELEC 1") {
      r.status = 400;
      r.body = "Code: 62. DB::Exception: Syntax error. (SYNTAX_ERROR)\n";
    }
    return r;
  });
  auto t = Open(server.url());
  auto bad = t->Query("SELEC 1", {}, "TabSeparated");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal);
  EXPECT_NE(bad.status().message().find("SYNTAX_ERROR"), std::string::npos);
  EXPECT_EQ(server.requests(), 1);  // an answer is never retried
  EXPECT_TRUE(t->Ping().ok());
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpTransportConnections, RejectsUnsafeNamesBeforeSending) {
  ScriptedHttpServer server([](const auto&, int) { return ScriptedHttpServer::Reply{}; });
  auto t = Open(server.url());
  EXPECT_EQ(t->Query("SELECT 1", {}, "JSON; DROP").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t->Query("SELECT 1", {{"bad name", "1"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t->Insert("traces; DROP TABLE x", "JSONEachRow", "{}", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t->Insert("traces", "JSONEachRow", "{}", "tok' OR").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(t->Insert("traces", "JSONEachRow", " \n", "tok").ok());  // nothing to insert
  EXPECT_EQ(server.requests(), 0);
}

}  // namespace
}  // namespace langfuse::traces
