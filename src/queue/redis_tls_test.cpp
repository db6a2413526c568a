// Redis over TLS, against real TLS-only redis-server processes of the test's own (Debian's
// redis-server 7 speaks TLS) with certificates made by `openssl` for the test: the queue's
// conformance suite over mutual TLS, the checks of the server's certificate and name, client
// certificates required and given or missing, AUTH over TLS, a restart, a frozen server, and the
// relay's handling of large values and of shutdown. Skipped when redis-server is not installed.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>

#include "common/ids.h"
#include "queue/event_queue.h"
#include "queue/event_queue_conformance.h"
#include "queue/redis_connect.h"
#include "queue/redis_options.h"
#include "queue/redis_tls_test_server.h"

namespace langfuse::queue {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using Strings = std::vector<std::string>;
using testing::TlsTestCertificates;
using testing::TlsTestRedis;
using testing::TlsTestRedisOptions;

constexpr int64_t kClaimIdleMs = 500;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

//! Runs one command on a blocking connection made by ConnectRedis.
Reply Command(RedisSocket& socket, const Strings& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(socket.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
}

StatusOr<RedisSocket> Connect(const RedisOptions& o, int64_t timeout_ms = 2000) {
  return ConnectRedis(o, RedisIo::kBlocking, {Clock::now() + milliseconds(timeout_ms)});
}

std::vector<std::string> Payloads(const std::vector<QueueItem>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) out.push_back(item.payload);
  return out;
}

std::vector<std::string> Ids(const std::vector<QueueItem>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) out.push_back(item.id);
  return out;
}

// The certificates and a server requiring client certificates, shared by the conformance suite
// (started on first use, stopped at exit).
struct SharedTls {
  TlsTestCertificates certs;
  std::unique_ptr<TlsTestRedis> server;
  std::string skip;

  SharedTls() {
    if (!certs.ok()) {
      skip = "openssl could not make the test certificates: " + certs.error();
      return;
    }
    server = std::make_unique<TlsTestRedis>(certs, TlsTestRedisOptions{.auth_clients = "yes"});
    switch (server->Start()) {
      case TlsTestRedis::Started::kYes:
        break;
      case TlsTestRedis::Started::kNotInstalled:
        skip = "redis-server is not installed";
        break;
      case TlsTestRedis::Started::kNoAnswer:
        skip = "the TLS redis-server did not answer within 10 s";
        ADD_FAILURE() << skip;
        break;
    }
  }
};

SharedTls* g_shared = nullptr;  // made on first use, deleted after the last test

SharedTls& Shared() {
  if (g_shared == nullptr) g_shared = new SharedTls();
  return *g_shared;
}

// Stops the shared server and removes its files after the last test (a leaked child would outlive
// the test binary).
struct DeleteSharedAtExit : ::testing::Environment {
  void TearDown() override {
    delete g_shared;
    g_shared = nullptr;
  }
};
[[maybe_unused]] ::testing::Environment* const kDeleteShared =
    ::testing::AddGlobalTestEnvironment(new DeleteSharedAtExit());

EventQueueConformanceParam TlsParam() {
  EventQueueConformanceParam p;
  p.name = "redis_tls";
  p.skip_reason = [] { return Shared().skip; };
  p.new_location = [] { return "lftest:" + RandomHex(6) + ":"; };
  p.open = [](const std::string& prefix) {
    RedisOptions o = Shared().server->ClientOptions();
    o.key_prefix = prefix;
    RedisQueueOptions q;
    q.claim_min_idle_ms = kClaimIdleMs;
    return OpenRedisEventQueue(o, q);
  };
  p.remove = [](const std::string& prefix) {
    auto socket = Connect(Shared().server->ClientOptions());
    if (!socket.ok()) return;
    Reply keys = Command(*socket, {"KEYS", prefix + "*"});
    for (size_t i = 0; keys && i < keys->elements; ++i) Command(*socket, {"DEL", keys->element[i]->str});
  };
  return p;
}

INSTANTIATE_TEST_SUITE_P(RedisTls, EventQueueConformanceTest, ::testing::Values(TlsParam()),
                         EventQueueConformanceName);

// ---------------------------------------------------------------------------------------------
// Servers of each test's own.

class RedisTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Shared().skip.empty()) GTEST_SKIP() << Shared().skip;
  }

  //! Starts a server of this test's own.
  TlsTestRedis& Start(TlsTestRedisOptions options = {}) {
    own_ = std::make_unique<TlsTestRedis>(certs(), std::move(options));
    EXPECT_EQ(own_->Start(), TlsTestRedis::Started::kYes);
    return *own_;
  }

  const TlsTestCertificates& certs() { return Shared().certs; }

  //! Opens a queue with `o` and checks an append and a read go through.
  void ExpectQueueWorks(const RedisOptions& o) {
    RedisOptions with_prefix = o;
    with_prefix.key_prefix = "lftest:" + RandomHex(6) + ":";
    auto q = OpenRedisEventQueue(with_prefix);
    ASSERT_TRUE(q.ok()) << q.status().message();
    ASSERT_TRUE((*q)->Append({{"over tls", 1}}).ok());
    auto items = (*q)->Read(10, milliseconds(0));
    ASSERT_TRUE(items.ok()) << items.status().message();
    EXPECT_EQ(Payloads(*items), (Strings{"over tls"}));
  }

  //! Opening a queue with `o` fails, Unavailable, naming the address and saying `why`.
  void ExpectRefused(const RedisOptions& o, const std::string& why) {
    const auto start = Clock::now();
    auto q = OpenRedisEventQueue(o);
    ASSERT_FALSE(q.ok()) << "expected: " << why;
    EXPECT_EQ(q.status().code(), StatusCode::kUnavailable) << q.status().message();
    EXPECT_NE(q.status().message().find(o.Address()), std::string::npos) << q.status().message();
    EXPECT_NE(q.status().message().find(why), std::string::npos) << q.status().message();
    EXPECT_LT(Clock::now() - start, milliseconds(o.connect_timeout_ms + 1000));
  }

  std::unique_ptr<TlsTestRedis> own_;
};

TEST_F(RedisTlsTest, TheServerCertificateIsVerifiedAgainstTheConfiguredCa) {
  TlsTestRedis& server = Start();
  RedisOptions o = server.ClientOptions();
  o.tls_cert_path.clear();  // this server asks for no client certificate
  o.tls_key_path.clear();
  ExpectQueueWorks(o);

  RedisOptions wrong_ca = o;
  wrong_ca.tls_ca_path = certs().Path("other-ca.pem");
  ExpectRefused(wrong_ca, "certificate is not trusted");

  // Without REDIS_TLS_CA_PATH the system's store decides, and it does not know the test CA.
  RedisOptions system_store = o;
  system_store.tls_ca_path.clear();
  ExpectRefused(system_store, "REDIS_TLS_CA_PATH");

  // REDIS_TLS_REJECT_UNAUTHORIZED=false accepts any certificate (as Node's rejectUnauthorized).
  RedisOptions unverified = wrong_ca;
  unverified.tls_reject_unauthorized = false;
  ExpectQueueWorks(unverified);
}

TEST_F(RedisTlsTest, TheServerNameIsCheckedAgainstTheCertificate) {
  TlsTestRedis& server = Start();
  RedisOptions o = server.ClientOptions();
  // The host 127.0.0.1 is in the certificate as an address; REDIS_TLS_SERVERNAME replaces it.
  RedisOptions named = o;
  named.tls_server_name = "redis.test";
  ExpectQueueWorks(named);
  RedisOptions by_host = o;
  by_host.host = "localhost";
  ExpectQueueWorks(by_host);

  RedisOptions wrong = o;
  wrong.tls_server_name = "cache.example.com";
  ExpectRefused(wrong, "not valid for 'cache.example.com'");

  // REDIS_TLS_CHECK_SERVER_IDENTITY=false still verifies the chain, not the name.
  RedisOptions unchecked = wrong;
  unchecked.tls_check_server_identity = false;
  ExpectQueueWorks(unchecked);
  unchecked.tls_ca_path = certs().Path("other-ca.pem");
  ExpectRefused(unchecked, "certificate is not trusted");
}

TEST_F(RedisTlsTest, MutualTlsWithTheClientCertificateGivenOrMissing) {
  TlsTestRedis& server = Start({.auth_clients = "yes"});
  const RedisOptions o = server.ClientOptions();
  ExpectQueueWorks(o);

  RedisOptions missing = o;
  missing.tls_cert_path.clear();
  missing.tls_key_path.clear();
  ExpectRefused(missing, "requires a client certificate");

  RedisOptions stranger = o;
  stranger.tls_cert_path = certs().Path("other-client.pem");
  stranger.tls_key_path = certs().Path("other-client.key");
  ExpectRefused(stranger, "refused the client certificate");

  // An encrypted key is opened with REDIS_TLS_KEY_PASSPHRASE.
  RedisOptions encrypted = o;
  encrypted.tls_key_path = certs().Path("client-encrypted.key");
  encrypted.tls_key_passphrase = "key-secret";
  ExpectQueueWorks(encrypted);
}

TEST_F(RedisTlsTest, UnusableSettingsAreRefusedBeforeConnecting) {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = testing::FreeLoopbackPort();
  o.tls_enabled = true;
  auto expect_invalid = [&](const RedisOptions& bad, const std::string& variable) {
    const Status checked = CheckRedisTls(bad);
    EXPECT_EQ(checked.code(), StatusCode::kInvalidArgument) << variable << ": " << checked.message();
    EXPECT_NE(checked.message().find(variable), std::string::npos) << checked.message();
    auto q = OpenRedisEventQueue(bad);
    ASSERT_FALSE(q.ok());
    EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument) << q.status().message();
  };
  RedisOptions missing_ca = o;
  missing_ca.tls_ca_path = certs().Path("no-such-ca.pem");
  expect_invalid(missing_ca, "REDIS_TLS_CA_PATH");
  RedisOptions not_a_ca = o;
  not_a_ca.tls_ca_path = certs().Path("make.sh");
  expect_invalid(not_a_ca, "REDIS_TLS_CA_PATH");
  RedisOptions cert_only = o;
  cert_only.tls_cert_path = certs().Path("client.pem");
  expect_invalid(cert_only, "REDIS_TLS_KEY_PATH");
  RedisOptions mismatched = o;
  mismatched.tls_cert_path = certs().Path("client.pem");
  mismatched.tls_key_path = certs().Path("other-client.key");
  expect_invalid(mismatched, "REDIS_TLS_KEY_PATH");
  RedisOptions no_passphrase = mismatched;
  no_passphrase.tls_key_path = certs().Path("client-encrypted.key");
  expect_invalid(no_passphrase, "REDIS_TLS_KEY_PASSPHRASE");
  RedisOptions bad_ciphers = o;
  bad_ciphers.tls_ciphers = "NO-SUCH-CIPHER";
  expect_invalid(bad_ciphers, "REDIS_TLS_CIPHERS");
  RedisOptions clash = o;
  clash.tls_secure_protocol = "TLSv1_3_method";
  clash.tls_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";  // TLS 1.2 only
  expect_invalid(clash, "REDIS_TLS_CIPHERS");
  EXPECT_TRUE(CheckRedisTls(RedisOptions{}).ok());  // TLS off: nothing to check
}

TEST_F(RedisTlsTest, ProtocolAndCiphersAsNodeNamesThem) {
  TlsTestRedis& server = Start();
  RedisOptions o = server.ClientOptions();
  for (const char* protocol : {"TLSv1_2_method", "TLSv1_3_client_method", "TLS_method"}) {
    RedisOptions pinned = o;
    pinned.tls_secure_protocol = protocol;
    SCOPED_TRACE(protocol);
    ExpectQueueWorks(pinned);
  }
  RedisOptions tls12_cipher = o;
  tls12_cipher.tls_ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384";
  ExpectQueueWorks(tls12_cipher);
  RedisOptions tls13_suite = o;
  tls13_suite.tls_ciphers = "TLS_CHACHA20_POLY1305_SHA256";
  ExpectQueueWorks(tls13_suite);
}

TEST_F(RedisTlsTest, AuthOverTls) {
  TlsTestRedis& server = Start({.password = "tls-secret"});
  const RedisOptions o = server.ClientOptions();
  ExpectQueueWorks(o);
  RedisOptions wrong = o;
  wrong.password = "guess";
  ExpectRefused(wrong, "authentication failed");
  RedisOptions none = o;
  none.password.clear();
  auto q = OpenRedisEventQueue(none);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("NOAUTH"), std::string::npos) << q.status().message();
}

TEST_F(RedisTlsTest, APlainConnectionStringToATlsPortOrTlsToAPlainPortFailsClearly) {
  TlsTestRedis& server = Start();
  RedisOptions plain = server.ClientOptions();
  plain.tls_enabled = false;
  const auto start = Clock::now();
  auto q = OpenRedisEventQueue(plain);
  EXPECT_FALSE(q.ok());
  EXPECT_LT(Clock::now() - start, milliseconds(plain.connect_timeout_ms + 1000));

  // TLS towards a plain Redis: the handshake gets no TLS answer.
  const uint16_t port = testing::FreeLoopbackPort();
  std::vector<std::string> args = {"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1",
                                   "--save",       "",       "--appendonly",       "no"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ), 0);
  RedisOptions tls = server.ClientOptions();
  tls.port = port;
  tls.connect_timeout_ms = 1000;
  Status refused;
  for (int i = 0; i < 100; ++i) {
    auto opened = OpenRedisEventQueue(tls);
    ASSERT_FALSE(opened.ok());
    refused = opened.status();
    if (refused.message().find("Connection refused") == std::string::npos) break;  // listening now
    std::this_thread::sleep_for(milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("TLS"), std::string::npos) << refused.message();
}

TEST_F(RedisTlsTest, ARestartUnderTlsReconnects) {
  TlsTestRedis& server = Start({.auth_clients = "yes"});
  RedisOptions o = server.ClientOptions();
  o.connect_timeout_ms = 1000;
  RedisQueueOptions qo;
  qo.claim_min_idle_ms = kClaimIdleMs;
  auto opened = OpenRedisEventQueue(o, qo);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto q = std::move(opened).value();
  ASSERT_TRUE(q->Append({{"a", 1}, {"b", 2}, {"c", 3}}).ok());
  auto first = q->Read(1, milliseconds(0));
  ASSERT_EQ(Payloads(*first), (Strings{"a"}));

  server.Kill();
  const auto down_at = Clock::now();
  auto expect_unavailable = [&](const Status& s, const char* what) {
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << what << ": " << s.message();
    EXPECT_NE(s.message().find(o.Address()), std::string::npos) << what << ": " << s.message();
  };
  // A large write on a session Redis closed must not raise SIGPIPE (nor hang in the relay).
  expect_unavailable(q->Append({{std::string(8 << 20, 'x'), 1}}), "Append (large)");
  expect_unavailable(q->Append({{"refused", 1}}), "Append");
  expect_unavailable(q->Read(10, milliseconds(200)).status(), "Read");
  expect_unavailable(q->Stats().status(), "Stats");
  // The acknowledgement is lost: "a" comes back once idle.
  expect_unavailable(q->Ack(Ids(*first)), "Ack");
  EXPECT_LT(Clock::now() - down_at, std::chrono::seconds(5));

  ASSERT_EQ(server.Start(), TlsTestRedis::Started::kYes);
  auto stats = q->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->pending_items, 3);
  EXPECT_EQ(stats->pending_events, 6);
  auto items = ReadUntil(*q, 3, milliseconds(10'000));
  std::vector<std::string> payloads = Payloads(items);
  std::sort(payloads.begin(), payloads.end());
  EXPECT_EQ(payloads, (Strings{"a", "b", "c"}));
  ASSERT_TRUE(q->Ack(Ids(items)).ok());
  ASSERT_TRUE(q->Append({{"after", 1}}).ok());
  EXPECT_EQ(Payloads(ReadUntil(*q, 1, milliseconds(3000))), (Strings{"after"}));
}

TEST_F(RedisTlsTest, LargeValuesCrossTheRelayIntact) {
  TlsTestRedis& server = Start();
  RedisOptions o = server.ClientOptions();
  o.key_prefix = "lftest:" + RandomHex(6) + ":";
  auto q = OpenRedisEventQueue(o);
  ASSERT_TRUE(q.ok()) << q.status().message();
  std::string big(6 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  std::vector<EventQueue::NewItem> items;
  for (int i = 0; i < 3; ++i) items.push_back({big + std::to_string(i), 1});
  ASSERT_TRUE((*q)->Append(std::move(items)).ok());
  auto read = (*q)->Read(10, milliseconds(0));
  ASSERT_TRUE(read.ok()) << read.status().message();
  ASSERT_EQ(read->size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*read)[i].payload == big + std::to_string(i)) << i;
}

TEST_F(RedisTlsTest, AFrozenServerTimesOutAndDoesNotHoldUpShutdown) {
  TlsTestRedis& server = Start();
  RedisOptions o = server.ClientOptions();
  o.socket_timeout_ms = 500;
  o.connect_timeout_ms = 500;
  auto opened = OpenRedisEventQueue(o);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto q = std::move(opened).value();
  ASSERT_TRUE(q->Stats().ok());

  server.Freeze();
  auto start = Clock::now();
  auto stats = q->Stats();
  EXPECT_FALSE(stats.ok());
  EXPECT_NE(stats.status().message().find("no answer"), std::string::npos) << stats.status().message();
  EXPECT_LT(Clock::now() - start, milliseconds(2500));

  // A reader blocked on the frozen server, interrupted, and the queue closed: all prompt.
  std::thread reader([&] { (void)q->Read(10, milliseconds(30'000)); });
  std::this_thread::sleep_for(milliseconds(200));
  start = Clock::now();
  q->Interrupt();
  reader.join();
  q.reset();
  EXPECT_LT(Clock::now() - start, milliseconds(2500));

  // A connection attempt stuck in its handshake ends when told to stop.
  const int wake = eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(wake, 0);
  std::thread waker([&] {
    std::this_thread::sleep_for(milliseconds(200));
    const uint64_t one = 1;
    EXPECT_EQ(write(wake, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
  });
  start = Clock::now();
  auto stopped = ConnectRedis(o, RedisIo::kNonBlocking, {Clock::now() + std::chrono::seconds(30), wake});
  waker.join();
  close(wake);
  EXPECT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().message(), kRedisConnectStopped);
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  server.Thaw();
}

TEST_F(RedisTlsTest, ARelayedConnectionEndsWhenEitherSideCloses) {
  TlsTestRedis& server = Start();
  const RedisOptions o = server.ClientOptions();
  // As over TCP, writing to a connection Redis closed raises SIGPIPE: the queue and the
  // revocation channel block it around their writes, and so does this test.
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  {
    auto socket = Connect(o);
    ASSERT_TRUE(socket.ok()) << socket.status().message();
    EXPECT_TRUE(socket->tls());
    Reply pong = Command(*socket, {"PING"});
    ASSERT_TRUE(pong);
    EXPECT_EQ(std::string(pong->str, pong->len), "PONG");
    // Redis closes it: hiredis reads end-of-file.
    Reply killed = Command(*socket, {"CLIENT", "KILL", "SKIPME", "no"});
    ASSERT_TRUE(killed);
    Reply after = Command(*socket, {"PING"});
    EXPECT_FALSE(after);
    EXPECT_NE((*socket)->err, 0);
    const timespec zero{};
    sigtimedwait(&pipe, nullptr, &zero);  // consumed, if it was raised
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Closed here (many times over): the server sees the clients go.
  for (int i = 0; i < 20; ++i) {
    auto socket = Connect(o);
    ASSERT_TRUE(socket.ok()) << socket.status().message();
  }
  auto socket = Connect(o);
  ASSERT_TRUE(socket.ok());
  bool only_this_one = false;
  for (int i = 0; i < 100 && !only_this_one; ++i) {
    Reply clients = Command(*socket, {"CLIENT", "LIST"});
    ASSERT_TRUE(clients);
    const std::string list(clients->str, clients->len);
    only_this_one = std::count(list.begin(), list.end(), '\n') == 1;
    if (!only_this_one) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(only_this_one);
}

}  // namespace
}  // namespace langfuse::queue
