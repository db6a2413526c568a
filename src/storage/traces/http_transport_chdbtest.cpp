// TraceStore over the HTTP transport against ClickHouse's HTTP interface served by the loopback
// test fixture (tests/fixtures/clickhouse_http_fixture, chDB behind it): the whole conformance
// suite the chDB transport passes, then what only a network transport has (credentials, a server
// going away and coming back, timeouts, compression both ways).
//
// One fixture process serves the whole binary (a gtest Environment starts it on a free port and
// stops it after the last test); ctest runs each case in its own process, so each case passes
// alone and uses its own project id.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "common/ids.h"
#include "storage/traces/http_transport_test_process.h"
#include "storage/traces/record_json.h"
#include "storage/traces/test_records.h"
#include "storage/traces/trace_store.h"
#include "storage/traces/trace_store_conformance.h"

#ifndef LANGFUSE_CLICKHOUSE_HTTP_FIXTURE
#error "LANGFUSE_CLICKHOUSE_HTTP_FIXTURE (the fixture binary's path) must be defined by the build"
#endif

namespace langfuse::traces {
namespace {

using testing::ChildProcess;
using testing::FullTrace;
using testing::MinimalTrace;
using testing::TraceStoreConformanceName;
using testing::TraceStoreConformanceParam;
using testing::TraceStoreConformanceTest;
using Clock = std::chrono::steady_clock;

std::filesystem::path TestDir(const std::string& name) {
  const char* tmp = std::getenv("LANGFUSE_TEST_TMP");
  return std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
         (name + "-" + std::to_string(getpid()) + "-" + RandomHex(4));
}

//! The fixture as a child process on `dir`; `port` 0 picks a free one.
class Fixture {
 public:
  bool Start(const std::filesystem::path& dir, uint16_t port, const std::string& user,
             const std::string& password, const std::vector<std::string>& extra_args = {}) {
    dir_ = dir;
    std::vector<std::string> argv = {LANGFUSE_CLICKHOUSE_HTTP_FIXTURE,
                                     "--path",
                                     dir.string(),
                                     "--port",
                                     std::to_string(port),
                                     "--user",
                                     user,
                                     "--password",
                                     password};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    if (!process_.Start(argv, /*capture_stdout=*/true)) return false;
    // chDB's start on a fresh folder takes a few seconds under a sanitizer on a busy machine.
    const auto line = process_.ReadLine(std::chrono::seconds(120));
    const std::string prefix = "clickhouse_http_fixture: listening on ";
    if (!line || !line->starts_with(prefix)) return false;
    url_ = line->substr(prefix.size());
    port_ = static_cast<uint16_t>(std::stoi(url_.substr(url_.rfind(':') + 1)));
    return true;
  }
  int Stop() { return process_.Stop(); }
  uint16_t port() const { return port_; }
  std::string url() const { return url_; }

 private:
  ChildProcess process_;
  std::filesystem::path dir_;
  std::string url_;
  uint16_t port_ = 0;
};

constexpr const char* kUser = "langfuse";

class HttpTestEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    dir_ = TestDir("clickhouse_http_chdbtest");
    password_ = "pw-" + RandomHex(8);
    ASSERT_TRUE(fixture_.Start(dir_, 0, kUser, password_)) << "the test fixture did not start";
    auto transport = OpenHttpTransport(Options());
    ASSERT_TRUE(transport.ok()) << transport.status().message();
    store_ = std::make_unique<TraceStore>(std::move(transport).value());
    const Status migrated = store_->Migrate(&first_applied_);
    ASSERT_TRUE(migrated.ok()) << migrated.message();
  }

  void TearDown() override {
    store_.reset();
    fixture_.Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  //! Options reaching the fixture with the right credentials.
  HttpTransportOptions Options() const {
    HttpTransportOptions o;
    o.url = fixture_.url();
    o.user = kUser;
    o.password = password_;
    o.max_connections = 8;
    return o;
  }
  //! The migrated store; null when the fixture did not start or the migrations failed.
  TraceStore* store() { return first_applied_ >= 0 ? store_.get() : nullptr; }
  int first_applied() const { return first_applied_; }

 private:
  std::filesystem::path dir_;
  std::string password_;
  Fixture fixture_;
  std::unique_ptr<TraceStore> store_;
  int first_applied_ = -1;
};

auto* const g_env =
    static_cast<HttpTestEnvironment*>(::testing::AddGlobalTestEnvironment(new HttpTestEnvironment));

INSTANTIATE_TEST_SUITE_P(Http, TraceStoreConformanceTest,
                         ::testing::Values(TraceStoreConformanceParam{"http", [] { return g_env->store(); },
                                                                      [] { return g_env->first_applied(); }}),
                         TraceStoreConformanceName);

class HttpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (g_env->store() == nullptr) GTEST_FAIL() << "the test fixture did not start";
    project_ = "proj-" + RandomHex(6);
  }

  std::unique_ptr<ClickHouseTransport> Open(const HttpTransportOptions& o) {
    auto t = OpenHttpTransport(o);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t.ok() ? std::move(t).value() : nullptr;
  }

  std::string project_;
};

std::string Token() { return "batch-" + RandomHex(8); }

// Established TCP connections (of any local process) to 127.0.0.1:`port`, from /proc/net/tcp.
int EstablishedConnectionsTo(uint16_t port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // header
  int n = 0;
  const std::string remote = fmt::format("0100007F:{:04X}", port);
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, rem, state;
    fields >> slot >> local >> rem >> state;
    if (rem == remote && state == "01") ++n;
  }
  return n;
}

TEST_F(HttpTransportTest, WrongCredentialsAreAClearStatus) {
  for (const auto& [user, password] : {std::pair<std::string, std::string>{kUser, "wrong"}, {"nobody", ""}}) {
    HttpTransportOptions o = g_env->Options();
    o.user = user;
    o.password = password;
    auto t = Open(o);
    const Status ping = t->Ping();
    EXPECT_EQ(ping.code(), StatusCode::kUnavailable);
    EXPECT_NE(ping.message().find(fmt::format("refused the credentials of user '{}'", user)),
              std::string::npos)
        << ping.message();
    EXPECT_NE(ping.message().find("AUTHENTICATION_FAILED"), std::string::npos) << ping.message();
    EXPECT_EQ(ping.message().find(g_env->Options().password), std::string::npos);  // never the password
    const Status insert =
        t->InsertJsonEachRow("traces", TracesToJsonEachRow({MinimalTrace(project_, "x")}), Token());
    EXPECT_EQ(insert.code(), StatusCode::kUnavailable);
  }
  EXPECT_TRUE(g_env->store()->GetTraces(project_, {"x"})->empty());  // nothing got in
}

TEST_F(HttpTransportTest, ServerErrorsAreStatuses) {
  ClickHouseTransport& t = g_env->store()->transport();
  auto unknown_table = t.Query("SELECT * FROM no_such_table");
  ASSERT_FALSE(unknown_table.ok());
  EXPECT_EQ(unknown_table.status().code(), StatusCode::kInternal);
  EXPECT_NE(unknown_table.status().message().find("UNKNOWN_TABLE"), std::string::npos);
  EXPECT_TRUE(unknown_table.status().message().starts_with("ClickHouse query: Code: 60."))
      << unknown_table.status().message();

  auto bad_value = t.Query("SELECT {n:UInt8}", {{"n", "300; DROP TABLE traces"}});
  ASSERT_FALSE(bad_value.ok());
  EXPECT_EQ(bad_value.status().code(), StatusCode::kInternal);

  HttpTransportOptions o = g_env->Options();
  o.database = "no_such_database";
  auto elsewhere = Open(o)->Query("SELECT 1");
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_NE(elsewhere.status().message().find("UNKNOWN_DATABASE"), std::string::npos)
      << elsewhere.status().message();
  EXPECT_TRUE(g_env->store()->Ping().ok());
}

TEST_F(HttpTransportTest, ASlowStatementTimesOut) {
  HttpTransportOptions o = g_env->Options();
  o.request_timeout = std::chrono::milliseconds(500);
  auto t = Open(o);
  const auto start = Clock::now();
  auto slow = t->Query("SELECT sleep(2)", {}, "TabSeparated");
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(slow.status().message().find("did not answer within 500 ms"), std::string::npos)
      << slow.status().message();
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  EXPECT_TRUE(t->Ping().ok());  // a fresh connection replaces the abandoned one
}

TEST_F(HttpTransportTest, CompressionEitherWayStoresAndReadsTheSameRows) {
  TraceRecord big = FullTrace(project_, "t-big");
  big.input = std::string(1 << 20, 'x') + testing::TrickyText();
  struct Mode {
    size_t compress_from;
    bool compress_responses;
  };
  int n = 0;
  for (const Mode mode : {Mode{0, true}, Mode{SIZE_MAX, false}, Mode{0, false}, Mode{SIZE_MAX, true}}) {
    HttpTransportOptions o = g_env->Options();
    o.compress_request_min_bytes = mode.compress_from;
    o.compress_responses = mode.compress_responses;
    TraceStore store(Open(o));
    TraceRecord row = big;
    row.id = fmt::format("t-{}", n++);
    ASSERT_TRUE(store.InsertTraces({row}, Token()).ok());
    auto got = store.GetTraces(project_, {row.id});
    ASSERT_TRUE(got.ok()) << got.status().message();
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*got)[0], row);
  }
}

// Binary rows may hold any bytes, blank lines included ("\n\n" ends inline INSERT data in SQL
// text): a timestamp whose little-endian bytes start 0a 0a, and text with an empty line.
TEST_F(HttpTransportTest, RowsWhoseBytesHoldABlankLineAreStoredWhole) {
  TraceStore store(Open(g_env->Options()));
  std::vector<TraceRecord> rows;
  for (int i = 0; i < 3; ++i) {
    TraceRecord row = FullTrace(project_, fmt::format("t-nl-{}", i));
    row.timestamp_ms = 0x20e10a0a + i;  // ms since the epoch: bytes 0a 0a e1 20 ...
    row.name = "line\n\nafter a blank line";
    rows.push_back(row);
  }
  ASSERT_TRUE(store.InsertTraces(rows, Token()).ok());
  for (const auto& row : rows) {
    auto got = store.GetTraces(project_, {row.id});
    ASSERT_TRUE(got.ok()) << got.status().message();
    ASSERT_EQ(got->size(), 1u) << row.id;
    EXPECT_EQ((*got)[0], row);
  }
}

TEST_F(HttpTransportTest, AServerGoingAwayIsUnavailableAndItsReturnIsNoticed) {
  // A fixture of its own (its own engine and folder) that this test stops and restarts.
  const auto dir = TestDir("clickhouse_http_restart");
  Fixture server;
  ASSERT_TRUE(server.Start(dir, 0, kUser, "pw"));
  HttpTransportOptions o;
  o.url = server.url();
  o.user = kUser;
  o.password = "pw";
  o.request_timeout = std::chrono::seconds(10);
  auto migrated_store = std::make_unique<TraceStore>(Open(o));
  ASSERT_TRUE(migrated_store->Migrate(nullptr).ok());
  ASSERT_TRUE(migrated_store->InsertTraces({MinimalTrace(project_, "before")}, Token()).ok());

  server.Stop();
  const auto start = Clock::now();
  const Status down = migrated_store->Ping();
  EXPECT_EQ(down.code(), StatusCode::kUnavailable);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1)) << down.message();
  EXPECT_EQ(migrated_store->InsertTraces({MinimalTrace(project_, "during")}, Token()).code(),
            StatusCode::kUnavailable);

  // Back on the same port and folder: the pooled connections are dead, new ones work, and the
  // rows written before the stop are still there.
  ASSERT_TRUE(server.Start(dir, server.port(), kUser, "pw"));
  EXPECT_TRUE(migrated_store->Ping().ok());
  auto got = migrated_store->GetTraces(project_, {"before", "during"});
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, "before");
  migrated_store.reset();
  server.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_F(HttpTransportTest, HttpsWithTheServersCertificate) {
  // A self-signed certificate for 127.0.0.1 and a fixture of its own serving https with it.
  const auto dir = TestDir("clickhouse_http_tls");
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string openssl = fmt::format(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext "
      "subjectAltName=IP:127.0.0.1 "
      "-keyout {} -out {} >/dev/null 2>&1",
      key, cert);
  if (std::system(openssl.c_str()) != 0)
    GTEST_SKIP() << "the openssl command could not make a test certificate";
  Fixture server;
  ASSERT_TRUE(server.Start(dir / "data", 0, kUser, "pw", {"--tls-cert", cert, "--tls-key", key}));
  ASSERT_TRUE(server.url().starts_with("https://127.0.0.1:")) << server.url();

  HttpTransportOptions o;
  o.url = server.url();
  o.user = kUser;
  o.password = "pw";
  o.tls_ca_file = cert;
  auto trusted = Open(o);
  const auto start = Clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(trusted->Ping().ok());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(EstablishedConnectionsTo(server.port()), 1);  // one TLS connection, kept alive
  auto answer = trusted->Query("SELECT {s:String} AS s", {StringParam("s", "über TLS")}, "JSONEachRow");
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  EXPECT_EQ(*answer, "{\"s\":\"über TLS\"}\n");

  // Without the CA the certificate is refused, unless verification is turned off.
  o.tls_ca_file = "";
  const Status untrusted = Open(o)->Ping();
  EXPECT_EQ(untrusted.code(), StatusCode::kUnavailable);
  EXPECT_NE(untrusted.message().find("certificate verify failed"), std::string::npos) << untrusted.message();
  o.tls_verify = false;
  EXPECT_TRUE(Open(o)->Ping().ok());
  // Plain http to an https port gets no answer it can read.
  o.url = "http://127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(Open(o)->Ping().code(), StatusCode::kUnavailable);
  server.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace langfuse::traces
