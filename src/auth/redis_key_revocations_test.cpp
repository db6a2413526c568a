// API key revocations over Redis Pub/Sub, against real Redis servers: the shared test server at
// LANGFUSE_TEST_REDIS_URL (skipped without it; each test on a channel of its own) and, for
// restarts, a stopped (SIGSTOP) server and passwords, redis-server processes of the test's own.
// Two RedisKeyRevocations on one channel stand for two web processes, each with its own
// authenticator over one SQLite store.
#include "auth/redis_key_revocations.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include "auth/api_keys.h"
#include "auth/auth_test_util.h"
#include "common/ids.h"
#include "queue/redis_tls_test_server.h"

extern char** environ;

namespace langfuse::auth {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::CountingMetaStore;

constexpr const char* kSalt = "test-salt";
constexpr const char* kNoRedis =
    "LANGFUSE_TEST_REDIS_URL is not set (scripts/services start runs a Redis server)";

std::optional<queue::RedisOptions> TestRedis() {
  const char* url = std::getenv("LANGFUSE_TEST_REDIS_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  queue::RedisOptions o;
  const Status s = queue::ParseRedisConnectionString(url, o);
  if (!s.ok()) {
    ADD_FAILURE() << s.message();
    return std::nullopt;
  }
  o.connect_timeout_ms = 2000;
  return o;
}

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool WaitUntil(const std::function<bool()>& done, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return done();
}

std::string Basic(std::string_view pk, std::string_view sk) {
  const std::string plain = std::string(pk) + ":" + std::string(sk);
  std::string out(sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(plain.data()),
                    plain.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return "Basic " + out;
}

//! A plain client, for publishing by hand and asking Redis what it sees.
class RawRedis {
 public:
  RawRedis(const std::string& host, uint16_t port, const std::string& password = "") {
    timeval tv{1, 0};
    ctx_ = redisConnectWithTimeout(host.c_str(), port, tv);
    if (ctx_ != nullptr && ctx_->err == 0 && !password.empty()) {
      freeReplyObject(redisCommand(ctx_, "AUTH %s", password.c_str()));
    }
  }
  ~RawRedis() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }
  //! Subscribers that got the message (-1 on failure).
  long long Publish(const std::string& channel, const std::string& message) {
    auto* r = static_cast<redisReply*>(
        redisCommand(ctx_, "PUBLISH %b %b", channel.data(), channel.size(), message.data(), message.size()));
    const long long n = (r != nullptr && r->type == REDIS_REPLY_INTEGER) ? r->integer : -1;
    if (r != nullptr) freeReplyObject(r);
    return n;
  }
  long long Subscribers(const std::string& channel) {
    auto* r =
        static_cast<redisReply*>(redisCommand(ctx_, "PUBSUB NUMSUB %b", channel.data(), channel.size()));
    long long n = -1;
    if (r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2) n = r->element[1]->integer;
    if (r != nullptr) freeReplyObject(r);
    return n;
  }

 private:
  redisContext* ctx_ = nullptr;
};

//! A redis-server of the test's own (restarts, SIGSTOP, passwords).
class OwnRedisServer {
 public:
  explicit OwnRedisServer(std::string password = "") : port_(FreePort()), password_(std::move(password)) {
    const char* base = std::getenv("LANGFUSE_TEST_TMP");
    dir_ = std::filesystem::path((base != nullptr && *base != '\0') ? base : "/tmp") /
           ("redis-rev-" + RandomHex(6));
    std::filesystem::create_directories(dir_);
  }
  ~OwnRedisServer() {
    Kill();
    std::filesystem::remove_all(dir_);
  }

  //! false when redis-server is missing or does not answer within 10 s.
  bool Start() {
    const std::string port = std::to_string(port_);
    // clang-format off
    std::vector<std::string> args = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir_.string(),
                                     "--save", "", "--appendonly", "no", "--logfile", (dir_ / "redis.log").string()};
    // clang-format on
    if (!password_.empty()) {
      args.push_back("--requirepass");
      args.push_back(password_);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    return WaitUntil(
        [&] {
          RawRedis raw("127.0.0.1", port_, password_);
          return raw.ok() && raw.Subscribers("x") == 0;
        },
        milliseconds(10'000));
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGCONT);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Pause() { kill(pid_, SIGSTOP); }
  void Resume() { kill(pid_, SIGCONT); }

  queue::RedisOptions Options() const {
    queue::RedisOptions o;
    o.host = "127.0.0.1";
    o.port = port_;
    o.password = password_;
    o.connect_timeout_ms = 1000;
    return o;
  }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::string password_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

//! One "web process": an authenticator over the shared store, its revocation channel.
struct Process {
  std::unique_ptr<CountingMetaStore> store;
  std::unique_ptr<ApiKeyAuthenticator> authenticator;
  std::unique_ptr<RedisKeyRevocations> revocations;

  bool Accepts(const std::string& header) { return authenticator->Authenticate(header).ok(); }
  //! Accepted, and from the cache (no store call).
  bool AcceptsFromCache(const std::string& header) {
    const int before = store->calls.load();
    const bool ok = Accepts(header);
    return ok && store->calls.load() == before;
  }
};

class RedisKeyRevocationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (sodium_init() < 0) FAIL() << "libsodium";
    store_ = testing::OpenMigratedTempStore();
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->UpsertOrganization({"org-1", "Org"}).ok());
    for (const char* id : {"proj-1", "proj-2"}) {
      meta::Project p;
      p.id = id;
      p.org_id = "org-1";
      p.name = id;
      ASSERT_TRUE(store_->UpsertProject(p).ok());
    }
    options_.channel = "lftest:" + RandomHex(6) + ":revocations";
    options_.stale_cache_age_ms = 500;
    options_.heartbeat_interval_ms = 200;
    options_.heartbeat_timeout_ms = 300;
    options_.reconnect_min_ms = 50;
    options_.reconnect_max_ms = 200;
  }

  struct Key {
    std::string header;  //!< Basic pk:sk
    std::string public_key;
    std::string id;
  };
  Key AddKey(const std::string& project) {
    const ApiKeyPair pair = GenerateApiKeyPair();
    auto key = MakeProjectApiKey(project, pair, kSalt, std::nullopt);
    EXPECT_TRUE(key.ok());
    EXPECT_TRUE(store_->UpsertApiKey(*key).ok());
    return {Basic(pair.public_key, pair.secret_key), pair.public_key, key->id};
  }

  Process Start(const queue::RedisOptions& redis, bool subscribe = true) {
    Process p;
    p.store = std::make_unique<CountingMetaStore>(*store_);
    p.authenticator = std::make_unique<ApiKeyAuthenticator>(*p.store, kSalt, int64_t{300});
    auto opened = RedisKeyRevocations::Open(redis, options_);
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    if (!opened.ok()) return p;
    p.revocations = std::move(opened).value();
    RedisKeyRevocations* channel = p.revocations.get();
    p.authenticator->SetRevocationPublisher([channel](const KeyRevocation& r) { channel->Publish(r); });
    if (subscribe) p.revocations->Subscribe(*p.authenticator);
    return p;
  }

  std::unique_ptr<meta::MetaStore> store_;
  RedisKeyRevocationsOptions options_;
};

TEST(RedisKeyRevocationsOpen, RefusesUnusableTlsSettingsAndBadOptions) {
  queue::RedisOptions tls;
  tls.tls_enabled = true;
  tls.tls_ca_path = "/nonexistent/ca.pem";
  auto opened = RedisKeyRevocations::Open(tls);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(opened.status().message().find("REDIS_TLS_CA_PATH"), std::string::npos)
      << opened.status().message();

  RedisKeyRevocationsOptions bad;
  bad.heartbeat_interval_ms = 0;
  EXPECT_EQ(RedisKeyRevocations::Open(queue::RedisOptions{}, bad).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RedisKeyRevocationsOpen, ChannelUsesTheKeyPrefix) {
  queue::RedisOptions o;
  o.host = "127.0.0.1";
  o.port = FreePort();  // nothing listens: Open does not connect
  o.key_prefix = "tenant-a:";
  auto opened = RedisKeyRevocations::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ((*opened)->channel(), "tenant-a:langfuse:api-key-revocations");
  o.key_prefix = "";
  EXPECT_EQ((*RedisKeyRevocations::Open(o))->channel(), "langfuse:api-key-revocations");
}

TEST_F(RedisKeyRevocationsTest, ARevocationReachesEveryProcessAtOnce) {
  const auto redis = TestRedis();
  if (!redis) GTEST_SKIP() << kNoRedis;
  Process a = Start(*redis);
  Process b = Start(*redis);
  ASSERT_TRUE(WaitUntil([&] { return a.revocations->subscribed() && b.revocations->subscribed(); },
                        milliseconds(5000)));

  const Key key = AddKey("proj-1");
  const Key sibling = AddKey("proj-1");
  const Key elsewhere = AddKey("proj-2");
  for (const Key* k : {&key, &sibling, &elsewhere}) {
    ASSERT_TRUE(b.Accepts(k->header));
    ASSERT_TRUE(b.AcceptsFromCache(k->header));
  }

  // One key deleted through A: B refuses it as soon as the message arrives; its other keys stay cached.
  ASSERT_TRUE(store_->DeleteApiKey(key.id).ok());
  a.authenticator->InvalidateApiKey(key.public_key);
  EXPECT_FALSE(a.Accepts(key.header)) << "at once where it was deleted";
  EXPECT_TRUE(WaitUntil([&] { return !b.Accepts(key.header); }, milliseconds(1000)))
      << "B still accepts the revoked key";
  // (received() counts a revocation once it is applied.)
  ASSERT_TRUE(WaitUntil([&] { return b.revocations->received() == 1; }, milliseconds(1000)));
  EXPECT_TRUE(b.AcceptsFromCache(sibling.header));
  EXPECT_TRUE(b.AcceptsFromCache(elsewhere.header));

  // A project: its keys are looked up again, the others' are not.
  a.authenticator->InvalidateProject("proj-1");
  ASSERT_TRUE(WaitUntil([&] { return b.revocations->received() == 2; }, milliseconds(1000)));
  EXPECT_FALSE(b.AcceptsFromCache(sibling.header));
  EXPECT_TRUE(b.AcceptsFromCache(sibling.header));
  EXPECT_TRUE(b.AcceptsFromCache(elsewhere.header));

  // Everything.
  a.authenticator->Invalidate();
  ASSERT_TRUE(WaitUntil([&] { return b.revocations->received() == 3; }, milliseconds(1000)));
  EXPECT_FALSE(b.AcceptsFromCache(elsewhere.header));
  EXPECT_TRUE(WaitUntil([&] { return a.revocations->published() == 3; }, milliseconds(1000)));
  EXPECT_TRUE(WaitUntil([&] { return a.revocations->received() == 3; }, milliseconds(1000)))
      << "A hears its own revocations too";
}

TEST_F(RedisKeyRevocationsTest, MessagesFromOutsideAndMalformedOnes) {
  const auto redis = TestRedis();
  if (!redis) GTEST_SKIP() << kNoRedis;
  Process b = Start(*redis);
  ASSERT_TRUE(WaitUntil([&] { return b.revocations->subscribed(); }, milliseconds(5000)));
  const Key key = AddKey("proj-1");
  ASSERT_TRUE(b.Accepts(key.header));
  RawRedis raw(redis->host, redis->port, redis->password);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.Subscribers(b.revocations->channel()), 1);
  // Garbage is ignored (and logged); the subscription stays and the cache is untouched.
  EXPECT_EQ(raw.Publish(b.revocations->channel(), "flush everything"), 1);
  EXPECT_EQ(raw.Publish(b.revocations->channel(), std::string(1000, '\xff')), 1);
  EXPECT_EQ(raw.Publish(b.revocations->channel(), "key " + key.public_key), 1);
  ASSERT_TRUE(WaitUntil([&] { return b.revocations->received() == 1; }, milliseconds(1000)));
  EXPECT_TRUE(b.revocations->subscribed());
  EXPECT_FALSE(b.AcceptsFromCache(key.header));
  // Another channel (another deployment's prefix) is not listened to.
  EXPECT_EQ(raw.Publish(b.revocations->channel() + "-other", "all"), 0);
}

TEST_F(RedisKeyRevocationsTest, ProcessesWithoutSubscriptionOnlyPublish) {
  const auto redis = TestRedis();
  if (!redis) GTEST_SKIP() << kNoRedis;
  Process worker = Start(*redis, /*subscribe=*/false);
  Process web = Start(*redis);
  ASSERT_TRUE(WaitUntil([&] { return web.revocations->subscribed(); }, milliseconds(5000)));
  RawRedis raw(redis->host, redis->port, redis->password);
  EXPECT_EQ(raw.Subscribers(web.revocations->channel()), 1);
  const Key key = AddKey("proj-1");
  ASSERT_TRUE(web.Accepts(key.header));
  worker.authenticator->Invalidate();
  EXPECT_TRUE(WaitUntil([&] { return web.revocations->received() == 1; }, milliseconds(1000)));
  EXPECT_FALSE(worker.revocations->subscribed());
}

TEST_F(RedisKeyRevocationsTest, StopIsPromptAndTheSubscriptionGoes) {
  const auto redis = TestRedis();
  if (!redis) GTEST_SKIP() << kNoRedis;
  Process b = Start(*redis);
  ASSERT_TRUE(WaitUntil([&] { return b.revocations->subscribed(); }, milliseconds(5000)));
  RawRedis raw(redis->host, redis->port, redis->password);
  ASSERT_EQ(raw.Subscribers(b.revocations->channel()), 1);
  const auto t0 = Clock::now();
  b.revocations->Stop();
  EXPECT_LT(Clock::now() - t0, milliseconds(300));
  EXPECT_FALSE(b.revocations->subscribed());
  EXPECT_TRUE(WaitUntil([&] { return raw.Subscribers(b.revocations->channel()) == 0; }, milliseconds(2000)));
  b.revocations->Stop();  // idempotent
}

// Redis restarted: while the subscription is down, cached keys are re-checked against the store
// after stale_cache_age_ms; a revocation published meanwhile goes out once Redis is back; the
// cache is dropped on re-subscription.
TEST_F(RedisKeyRevocationsTest, RedisRestartedMeanwhile) {
  OwnRedisServer server;
  if (!server.Start()) GTEST_SKIP() << "redis-server is not installed or does not start";
  Process a = Start(server.Options());
  Process b = Start(server.Options());
  ASSERT_TRUE(WaitUntil([&] { return a.revocations->subscribed() && b.revocations->subscribed(); },
                        milliseconds(5000)));
  const Key key = AddKey("proj-1");
  const Key kept = AddKey("proj-1");
  const auto cached_at = Clock::now();
  ASSERT_TRUE(b.Accepts(key.header));
  ASSERT_TRUE(b.Accepts(kept.header));
  ASSERT_TRUE(b.AcceptsFromCache(kept.header));

  server.Kill();
  ASSERT_TRUE(WaitUntil([&] { return !b.revocations->subscribed(); }, milliseconds(1000)))
      << "a closed connection is noticed at once";
  ASSERT_TRUE(store_->DeleteApiKey(key.id).ok());
  a.authenticator->InvalidateApiKey(key.public_key);  // cannot be published now
  EXPECT_TRUE(
      WaitUntil([&] { return !b.Accepts(key.header); }, milliseconds(options_.stale_cache_age_ms + 500)))
      << "B accepts a key revoked while its subscription was down";
  EXPECT_GE(Clock::now() - cached_at, milliseconds(options_.stale_cache_age_ms))
      << "young entries still serve while the subscription is down";
  EXPECT_TRUE(b.Accepts(kept.header)) << "valid keys keep working from the store";

  ASSERT_TRUE(server.Start());
  ASSERT_TRUE(WaitUntil([&] { return a.revocations->subscribed() && b.revocations->subscribed(); },
                        milliseconds(5000)));
  // The queued revocation went out once Redis was back (B may have re-subscribed after it: it
  // dropped its whole cache then anyway).
  EXPECT_TRUE(WaitUntil([&] { return a.revocations->published() >= 1; }, milliseconds(5000)));
  // Back to caching for the TTL: the limit is lifted.
  ASSERT_TRUE(b.Accepts(kept.header));
  std::this_thread::sleep_for(milliseconds(options_.stale_cache_age_ms + 100));
  EXPECT_TRUE(b.AcceptsFromCache(kept.header));
  EXPECT_FALSE(b.Accepts(key.header));
}

// A connection that dies without a reset (here: Redis frozen by SIGSTOP) is noticed by the
// heartbeat; Stop() is prompt even while connecting to or reading from a server that never answers.
TEST_F(RedisKeyRevocationsTest, AFrozenRedisIsNoticedAndDoesNotHoldUpStop) {
  OwnRedisServer server;
  if (!server.Start()) GTEST_SKIP() << "redis-server is not installed or does not start";
  queue::RedisOptions redis = server.Options();
  redis.socket_timeout_ms = 60'000;  // the heartbeat must not wait for this
  Process b = Start(redis);
  ASSERT_TRUE(WaitUntil([&] { return b.revocations->subscribed(); }, milliseconds(5000)));
  const Key key = AddKey("proj-1");
  ASSERT_TRUE(b.Accepts(key.header));

  server.Pause();
  const auto paused_at = Clock::now();
  EXPECT_TRUE(WaitUntil([&] { return !b.revocations->subscribed(); },
                        milliseconds(options_.heartbeat_interval_ms + options_.heartbeat_timeout_ms + 500)));
  EXPECT_GE(Clock::now() - paused_at, milliseconds(options_.heartbeat_timeout_ms - 50));
  ASSERT_TRUE(store_->DeleteApiKey(key.id).ok());
  EXPECT_TRUE(
      WaitUntil([&] { return !b.Accepts(key.header); }, milliseconds(options_.stale_cache_age_ms + 500)));

  // The subscriber now waits on a server that accepts connections but never answers, and the
  // publisher holds a revocation it cannot send: Stop() still returns within the last publish's
  // bound (1 s).
  b.authenticator->InvalidateApiKey(key.public_key);
  std::this_thread::sleep_for(milliseconds(300));
  const auto t0 = Clock::now();
  b.revocations->Stop();
  EXPECT_LT(Clock::now() - t0, milliseconds(1500));
  server.Resume();
}

TEST_F(RedisKeyRevocationsTest, PasswordProtectedRedis) {
  OwnRedisServer server("s3cret-" + RandomHex(4));
  if (!server.Start()) GTEST_SKIP() << "redis-server is not installed or does not start";
  queue::RedisOptions wrong = server.Options();
  wrong.password = "wrong";
  Process refused = Start(wrong);
  Process b = Start(server.Options());
  ASSERT_TRUE(WaitUntil([&] { return b.revocations->subscribed(); }, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(refused.revocations->subscribed());
  const Key key = AddKey("proj-1");
  ASSERT_TRUE(b.Accepts(key.header));
  b.authenticator->InvalidateApiKey(key.public_key);
  EXPECT_TRUE(WaitUntil([&] { return b.revocations->received() == 1; }, milliseconds(1000)))
      << "its own revocation comes back through Redis";
}

// Over TLS (mutual, with a password), on a TLS-only redis-server of the test's own.
TEST_F(RedisKeyRevocationsTest, OverTls) {
  queue::testing::TlsTestCertificates certs;
  ASSERT_TRUE(certs.ok()) << certs.error();
  queue::testing::TlsTestRedis server(certs, {.auth_clients = "yes", .password = "tls-" + RandomHex(4)});
  const auto started = server.Start();
  if (started == queue::testing::TlsTestRedis::Started::kNotInstalled) GTEST_SKIP() << "no redis-server";
  ASSERT_EQ(started, queue::testing::TlsTestRedis::Started::kYes);
  queue::RedisOptions redis = server.ClientOptions();
  redis.socket_timeout_ms = 60'000;  // the heartbeat must not wait for this
  Process a = Start(redis);
  Process b = Start(redis);
  ASSERT_TRUE(WaitUntil([&] { return a.revocations->subscribed() && b.revocations->subscribed(); },
                        milliseconds(5000)));
  const Key key = AddKey("proj-1");
  ASSERT_TRUE(b.Accepts(key.header));
  ASSERT_TRUE(b.AcceptsFromCache(key.header));
  ASSERT_TRUE(store_->DeleteApiKey(key.id).ok());
  a.authenticator->InvalidateApiKey(key.public_key);
  EXPECT_TRUE(WaitUntil([&] { return !b.Accepts(key.header); }, milliseconds(1000)))
      << "B still accepts the revoked key";

  // Without the client certificate the server refuses the session: no subscription.
  queue::RedisOptions no_cert = redis;
  no_cert.tls_cert_path.clear();
  no_cert.tls_key_path.clear();
  Process refused = Start(no_cert);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(refused.revocations->subscribed());

  // A restart: the subscription comes back over a new session.
  server.Kill();
  EXPECT_TRUE(WaitUntil([&] { return !b.revocations->subscribed(); }, milliseconds(2000)));
  ASSERT_EQ(server.Start(), queue::testing::TlsTestRedis::Started::kYes);
  EXPECT_TRUE(WaitUntil([&] { return a.revocations->subscribed() && b.revocations->subscribed(); },
                        milliseconds(5000)));

  // Frozen: noticed by the heartbeat, and Stop() is not held up by the relays.
  server.Freeze();
  EXPECT_TRUE(WaitUntil([&] { return !b.revocations->subscribed(); },
                        milliseconds(options_.heartbeat_interval_ms + options_.heartbeat_timeout_ms + 500)));
  b.authenticator->InvalidateApiKey(key.public_key);
  std::this_thread::sleep_for(milliseconds(300));
  const auto t0 = Clock::now();
  a.revocations->Stop();
  b.revocations->Stop();
  refused.revocations->Stop();
  EXPECT_LT(Clock::now() - t0, milliseconds(2500));
  server.Thaw();
}

}  // namespace
}  // namespace langfuse::auth
