// The HTTP transport against a real ClickHouse server: Debian's clickhouse-server package (18.16,
// from 2018, far too old for the tracing schema, but a real implementation of the HTTP interface).
// Checks what does not need the schema: answers, error statuses, credentials, compression both
// ways. Skips, saying so, when the package is not installed (LANGFUSE_TEST_CLICKHOUSE_SERVER may
// name another binary). Each case starts its own server (ctest runs cases in separate processes).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <fmt/core.h>

#include "common/ids.h"
#include "storage/traces/clickhouse_transport.h"
#include "storage/traces/http_transport_test_process.h"

namespace langfuse::traces {
namespace {

using testing::ChildProcess;

std::string ServerBinary() {
  const char* configured = std::getenv("LANGFUSE_TEST_CLICKHOUSE_SERVER");
  if (configured != nullptr && *configured != '\0') return configured;
  return "/usr/sbin/clickhouse-server";
}

constexpr const char* kUser = "lf";
constexpr const char* kPassword = "secret-pw";

class ClickHouseServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(ServerBinary())) {
      GTEST_SKIP() << "Debian's clickhouse-server is not installed (" << ServerBinary()
                   << " not found; apt-get install clickhouse-server): the transport was not checked "
                      "against a real ClickHouse server";
    }
    const char* tmp = std::getenv("LANGFUSE_TEST_TMP");
    dir_ = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
           ("clickhouse-server-" + std::to_string(getpid()) + "-" + RandomHex(4));
    std::filesystem::create_directories(dir_);
    port_ = testing::FreeLoopbackPort();
    const std::string d = dir_.string();
    std::ofstream(dir_ / "config.xml") << fmt::format(R"(<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{0}/server.log</log><errorlog>{0}/server.err.log</errorlog>
    <size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{1}</http_port>
  <path>{0}/data/</path>
  <tmp_path>{0}/tmp/</tmp_path>
  <user_files_path>{0}/user_files/</user_files_path>
  <format_schema_path>{0}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
)",
                                                      d, port_);
    std::ofstream(dir_ / "users.xml") << fmt::format(R"(<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><{0}><password>{1}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile>
    <quota>default</quota></{0}></users>
  <quotas><default></default></quotas>
</yandex>
)",
                                                     kUser, kPassword);
    ASSERT_TRUE(server_.Start({ServerBinary(), "--config-file=" + (dir_ / "config.xml").string()}, false));
    // Ready when it answers a statement (it listens a moment before it can run one).
    auto probe = Open(kPassword);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    Status ready = Status::Unavailable("not tried");
    while (std::chrono::steady_clock::now() < deadline && !(ready = probe->Ping()).ok())
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(ready.ok()) << "clickhouse-server did not start: " << ready.message() << " (see " << d
                            << "/server.err.log)";
  }

  void TearDown() override {
    server_.Stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<ClickHouseTransport> Open(const std::string& password, bool compress = true) {
    HttpTransportOptions o;
    o.url = fmt::format("http://127.0.0.1:{}", port_);
    o.user = kUser;
    o.password = password;
    // 18.16 knows none of the pinned settings (session_timezone came years later).
    o.pin_session_settings = false;
    o.compress_responses = compress;
    o.compress_request_min_bytes = compress ? 0 : SIZE_MAX;
    o.request_timeout = std::chrono::seconds(10);
    auto t = OpenHttpTransport(o);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return std::move(t).value();
  }

  std::filesystem::path dir_;
  uint16_t port_ = 0;
  ChildProcess server_;
};

TEST_F(ClickHouseServerTest, AnswersAndErrors) {
  auto t = Open(kPassword);
  EXPECT_TRUE(t->Ping().ok());
  auto one = t->Query("SELECT 1 AS one, 'a\\tb' AS s", {}, "JSONEachRow");
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(*one, "{\"one\":1,\"s\":\"a\\tb\"}\n");

  auto syntax = t->Query("SELECT FROM WHERE");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), StatusCode::kInternal);
  EXPECT_TRUE(syntax.status().message().starts_with("ClickHouse query: Code: 62"))
      << syntax.status().message();

  auto unknown = t->Query("SELECT * FROM no_such_table");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("Code: 60"), std::string::npos) << unknown.status().message();

  // The settings this schema relies on do not exist there: a clear error, not a silent default.
  HttpTransportOptions pinned;
  pinned.url = fmt::format("http://127.0.0.1:{}", port_);
  pinned.user = kUser;
  pinned.password = kPassword;
  auto unknown_setting = OpenHttpTransport(pinned).value()->Query("SELECT 1");
  ASSERT_FALSE(unknown_setting.ok());
  EXPECT_NE(unknown_setting.status().message().find("Unknown setting"), std::string::npos)
      << unknown_setting.status().message();
  EXPECT_TRUE(t->Ping().ok());
}

TEST_F(ClickHouseServerTest, WrongPasswordIsAClearStatus) {
  auto t = Open("not-the-password");
  const Status refused = t->Ping();
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("refused the credentials of user 'lf'"), std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find("Wrong password"), std::string::npos) << refused.message();
}

TEST_F(ClickHouseServerTest, CompressedBodiesBothWays) {
  for (const bool compress : {true, false}) {
    auto t = Open(kPassword, compress);
    const std::string table = compress ? "gz" : "plain";
    ASSERT_TRUE(
        t->Query(fmt::format("CREATE TABLE {} (id String, n UInt64) ENGINE = MergeTree ORDER BY id", table))
            .ok());
    std::string rows;
    for (int i = 0; i < 20'000; ++i) rows += fmt::format("{{\"id\":\"row-{}\",\"n\":{}}}\n", i, i);
    const Status inserted = t->InsertJsonEachRow(table, rows, "");
    ASSERT_TRUE(inserted.ok()) << inserted.message();
    auto sum = t->Query(fmt::format("SELECT count(), sum(n) FROM {}", table), {}, "TabSeparated");
    ASSERT_TRUE(sum.ok()) << sum.status().message();
    EXPECT_EQ(*sum, "20000\t199990000\n");
    auto all = t->Query(fmt::format("SELECT id FROM {} ORDER BY n", table), {}, "TabSeparated");
    ASSERT_TRUE(all.ok()) << all.status().message();
    // "row-" and a newline per row, plus the digits of 0..19999.
    EXPECT_EQ(all->size(), 20'000u * 5 + (10 * 1 + 90 * 2 + 900 * 3 + 9'000 * 4 + 10'000 * 5));
    EXPECT_TRUE(all->starts_with("row-0\nrow-1\n"));
  }
}

}  // namespace
}  // namespace langfuse::traces
