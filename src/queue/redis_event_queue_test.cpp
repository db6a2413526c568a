// The Redis Streams queue: the shared conformance suite plus what only Redis has (consumer
// groups, taking over a stopped consumer's entries, a Redis restart). Needs a Redis server at
// LANGFUSE_TEST_REDIS_URL (scripts/services starts one; the tests are skipped without it); the
// restart test starts its own redis-server. Each test works under its own random key prefix and
// deletes its keys.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/ids.h"
#include "queue/event_queue.h"
#include "queue/event_queue_conformance.h"
#include "queue/redis_options.h"

extern char** environ;

namespace langfuse::queue {
namespace {

using std::chrono::milliseconds;
using Strings = std::vector<std::string>;

// Short, so that taking over a stopped consumer's entries is quick to observe.
constexpr int64_t kClaimIdleMs = 500;

// ---------------------------------------------------------------------------------------------
// Options from the environment (no server needed).

RedisEnvLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

RedisOptions MustParse(std::map<std::string, std::string> vars) {
  auto parsed = RedisOptionsFromEnv(EnvOf(std::move(vars)));
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  if (!parsed.ok() || !parsed->has_value()) {
    ADD_FAILURE() << "no Redis options";
    return {};
  }
  return **parsed;
}

Status ParseError(std::map<std::string, std::string> vars) {
  auto parsed = RedisOptionsFromEnv(EnvOf(std::move(vars)));
  return parsed.ok() ? Status::Ok() : parsed.status();
}

TEST(RedisOptionsFromEnv, NothingConfiguredMeansNoRedis) {
  auto parsed = RedisOptionsFromEnv(EnvOf({{"REDIS_KEY_PREFIX", "x"}, {"REDIS_PORT", "6380"}}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->has_value());
}

TEST(RedisOptionsFromEnv, ConnectionStringWithEverything) {
  const RedisOptions o =
      MustParse({{"REDIS_CONNECTION_STRING", "redis://queue-user:p%40ss:w@cache.internal:6380/2"},
                 {"REDIS_KEY_PREFIX", "tenant-a:"}});
  EXPECT_EQ(o.host, "cache.internal");
  EXPECT_EQ(o.port, 6380);
  EXPECT_EQ(o.username, "queue-user");
  EXPECT_EQ(o.password, "p@ss:w");
  EXPECT_EQ(o.db, 2);
  EXPECT_EQ(o.key_prefix, "tenant-a:");
  EXPECT_FALSE(o.tls_enabled);
  EXPECT_EQ(o.Address(), "cache.internal:6380");
  EXPECT_EQ(o.socket_timeout_ms, 30'000);
}

TEST(RedisOptionsFromEnv, ConnectionStringVariants) {
  RedisOptions o = MustParse({{"REDIS_CONNECTION_STRING", "redis://:secret@10.0.0.7"}});
  EXPECT_EQ(o.host, "10.0.0.7");
  EXPECT_EQ(o.port, 6379);
  EXPECT_EQ(o.username, "");
  EXPECT_EQ(o.password, "secret");
  EXPECT_EQ(o.db, 0);

  o = MustParse({{"REDIS_CONNECTION_STRING", "rediss://redis.example.com"}});
  EXPECT_TRUE(o.tls_enabled);

  o = MustParse({{"REDIS_CONNECTION_STRING", "redis://[::1]:7000/"}});
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 7000);
  EXPECT_EQ(o.Address(), "[::1]:7000");

  o = MustParse({{"REDIS_CONNECTION_STRING", "redis://localhost?db=3"}});
  EXPECT_EQ(o.db, 3);

  o = MustParse({{"REDIS_CONNECTION_STRING", "redis://"}});
  EXPECT_EQ(o.host, "localhost");
}

TEST(RedisOptionsFromEnv, ConnectionStringWinsOverHostVariables) {
  const RedisOptions o = MustParse({{"REDIS_CONNECTION_STRING", "redis://primary:6390"},
                                    {"REDIS_HOST", "other"},
                                    {"REDIS_PORT", "1234"},
                                    {"REDIS_AUTH", "ignored"}});
  EXPECT_EQ(o.host, "primary");
  EXPECT_EQ(o.port, 6390);
  EXPECT_EQ(o.password, "");
}

TEST(RedisOptionsFromEnv, HostVariables) {
  RedisOptions o = MustParse({{"REDIS_HOST", "redis"}});
  EXPECT_EQ(o.host, "redis");
  EXPECT_EQ(o.port, 6379);
  EXPECT_EQ(o.password, "");

  o = MustParse(
      {{"REDIS_HOST", "redis"}, {"REDIS_PORT", "6390"}, {"REDIS_AUTH", "pw"}, {"REDIS_USERNAME", "u"}});
  EXPECT_EQ(o.port, 6390);
  EXPECT_EQ(o.password, "pw");
  EXPECT_EQ(o.username, "u");
}

TEST(RedisOptionsFromEnv, TlsVariablesAreRead) {
  const RedisOptions o = MustParse({{"REDIS_HOST", "redis"},
                                    {"REDIS_TLS_ENABLED", "true"},
                                    {"REDIS_TLS_CA_PATH", "/certs/ca.pem"},
                                    {"REDIS_TLS_CERT_PATH", "/certs/client.pem"},
                                    {"REDIS_TLS_KEY_PATH", "/certs/client.key"},
                                    {"REDIS_TLS_SERVERNAME", "redis.internal"}});
  EXPECT_TRUE(o.tls_enabled);
  EXPECT_EQ(o.tls_ca_path, "/certs/ca.pem");
  EXPECT_EQ(o.tls_cert_path, "/certs/client.pem");
  EXPECT_EQ(o.tls_key_path, "/certs/client.key");
  EXPECT_EQ(o.tls_server_name, "redis.internal");
}

TEST(RedisOptionsFromEnv, LangfusesOtherTlsVariables) {
  RedisOptions o = MustParse({{"REDIS_HOST", "redis"}, {"REDIS_TLS_ENABLED", "true"}});
  EXPECT_TRUE(o.tls_reject_unauthorized);
  EXPECT_TRUE(o.tls_check_server_identity);
  EXPECT_EQ(o.tls_secure_protocol, "");
  o = MustParse({{"REDIS_HOST", "redis"},
                 {"REDIS_TLS_ENABLED", "true"},
                 {"REDIS_TLS_REJECT_UNAUTHORIZED", "false"},
                 {"REDIS_TLS_CHECK_SERVER_IDENTITY", "false"},
                 {"REDIS_TLS_SECURE_PROTOCOL", "TLSv1_2_method"},
                 {"REDIS_TLS_CIPHERS", "ECDHE-RSA-AES128-GCM-SHA256"},
                 {"REDIS_TLS_HONOR_CIPHER_ORDER", "true"},
                 {"REDIS_TLS_KEY_PASSPHRASE", "s3cret"}});
  EXPECT_FALSE(o.tls_reject_unauthorized);
  EXPECT_FALSE(o.tls_check_server_identity);
  EXPECT_EQ(o.tls_secure_protocol, "TLSv1_2_method");
  EXPECT_EQ(o.tls_ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(o.tls_key_passphrase, "s3cret");
  const std::vector<std::pair<std::string, std::string>> bad = {{"REDIS_TLS_REJECT_UNAUTHORIZED", "no"},
                                                                {"REDIS_TLS_CHECK_SERVER_IDENTITY", "0"},
                                                                {"REDIS_TLS_HONOR_CIPHER_ORDER", "yes"},
                                                                {"REDIS_TLS_SECURE_PROTOCOL", "TLSv1_method"},
                                                                {"REDIS_TLS_SECURE_PROTOCOL", "tls1.2"}};
  for (const auto& [name, value] : bad) {
    const Status s = ParseError({{"REDIS_HOST", "redis"}, {name, value}});
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name << "=" << value;
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
  }
}

TEST(RedisOptionsFromEnv, SocketTimeoutFollowsLangfusesRule) {
  EXPECT_EQ(MustParse({{"REDIS_HOST", "r"}, {"REDIS_SOCKET_TIMEOUT_MS", "0"}}).socket_timeout_ms, 0);
  EXPECT_EQ(MustParse({{"REDIS_HOST", "r"}, {"REDIS_SOCKET_TIMEOUT_MS", "15000"}}).socket_timeout_ms, 15'000);
  const Status s = ParseError({{"REDIS_HOST", "r"}, {"REDIS_SOCKET_TIMEOUT_MS", "5000"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("REDIS_SOCKET_TIMEOUT_MS"), std::string::npos) << s.message();
}

TEST(RedisOptionsFromEnv, MalformedValuesNameTheVariable) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"REDIS_CONNECTION_STRING", "http://redis:6379"}}, "REDIS_CONNECTION_STRING"},
      {{{"REDIS_CONNECTION_STRING", "redis://redis:0"}}, "REDIS_CONNECTION_STRING"},
      {{{"REDIS_CONNECTION_STRING", "redis://redis:port"}}, "REDIS_CONNECTION_STRING"},
      {{{"REDIS_CONNECTION_STRING", "redis://redis/zero"}}, "REDIS_CONNECTION_STRING"},
      {{{"REDIS_CONNECTION_STRING", "redis://redis?family=6"}}, "REDIS_CONNECTION_STRING"},
      {{{"REDIS_CONNECTION_STRING", "redis://:%zz@redis"}}, "REDIS_CONNECTION_STRING"},
      {{{"REDIS_CONNECTION_STRING", "redis://[::1"}}, "REDIS_CONNECTION_STRING"},
      {{{"REDIS_HOST", "redis"}, {"REDIS_PORT", "70000"}}, "REDIS_PORT"},
      {{{"REDIS_HOST", "redis"}, {"REDIS_TLS_ENABLED", "yes"}}, "REDIS_TLS_ENABLED"},
      {{{"REDIS_HOST", "redis"}, {"REDIS_CLUSTER_ENABLED", "true"}}, "REDIS_CLUSTER_ENABLED"},
      {{{"REDIS_HOST", "redis"}, {"REDIS_SENTINEL_ENABLED", "true"}}, "REDIS_SENTINEL_ENABLED"},
  };
  for (const auto& [vars, variable] : cases) {
    const Status s = ParseError(vars);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << variable;
    EXPECT_NE(s.message().find(variable), std::string::npos) << s.message();
  }
  EXPECT_TRUE(ParseError({{"REDIS_HOST", "redis"}, {"REDIS_CLUSTER_ENABLED", "false"}}).ok());
}

TEST(RedisQueueOptionsFromEnv, ClaimIdleTime) {
  EXPECT_EQ(RedisQueueOptionsFromEnv(EnvOf({}))->claim_min_idle_ms, 60'000);
  EXPECT_EQ(
      RedisQueueOptionsFromEnv(EnvOf({{"LANGFUSE_INGESTION_QUEUE_CLAIM_IDLE_MS", "250"}}))->claim_min_idle_ms,
      250);
  for (const char* bad : {"50", "soon", "-1"}) {
    auto parsed = RedisQueueOptionsFromEnv(EnvOf({{"LANGFUSE_INGESTION_QUEUE_CLAIM_IDLE_MS", bad}}));
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("LANGFUSE_INGESTION_QUEUE_CLAIM_IDLE_MS"), std::string::npos);
  }
}

TEST(OpenRedisEventQueue, UnusableTlsSettingsAreRefusedNamingTheVariable) {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = 1;  // never reached: the settings are checked first
  o.tls_enabled = true;
  o.tls_ca_path = "/nonexistent/ca.pem";
  auto q = OpenRedisEventQueue(o);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("REDIS_TLS_CA_PATH"), std::string::npos) << q.status().message();
}

// A loopback port nothing listens on (just released).
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

TEST(OpenRedisEventQueue, UnreachableRedisIsUnavailableAndSaysWhere) {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = FreePort();
  const auto start = std::chrono::steady_clock::now();
  auto q = OpenRedisEventQueue(o);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(q.status().message().find(o.Address()), std::string::npos) << q.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// ---------------------------------------------------------------------------------------------
// A plain client for looking at what the queue left in Redis.

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class RawRedis {
 public:
  RawRedis(const std::string& host, uint16_t port) {
    timeval tv{2, 0};
    ctx_ = redisConnectWithTimeout(host.c_str(), port, tv);
    if (ctx_ != nullptr && ctx_->err == 0) redisSetTimeout(ctx_, tv);
  }
  ~RawRedis() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }

  Reply Run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  }

  std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> keys;
    std::string cursor = "0";
    do {
      Reply r = Run({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
      if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) break;
      cursor.assign(r->element[0]->str, r->element[0]->len);
      for (size_t i = 0; i < r->element[1]->elements; ++i) {
        keys.emplace_back(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
      }
    } while (cursor != "0");
    return keys;
  }

  void DeleteKeys(const std::string& prefix) {
    for (const auto& key : Keys(prefix)) Run({"DEL", key});
  }

 private:
  redisContext* ctx_ = nullptr;
};

// The test server from LANGFUSE_TEST_REDIS_URL, or nullopt.
std::optional<RedisOptions> TestRedis() {
  const char* url = std::getenv("LANGFUSE_TEST_REDIS_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  RedisOptions o;
  const Status s = ParseRedisConnectionString(url, o);
  if (!s.ok()) {
    ADD_FAILURE() << s.message();
    return std::nullopt;
  }
  o.connect_timeout_ms = 2000;
  return o;
}

constexpr const char* kNoRedis =
    "LANGFUSE_TEST_REDIS_URL is not set (scripts/services start runs a Redis server)";

std::string NewPrefix() { return "lftest:" + RandomHex(6) + ":"; }

StatusOr<std::unique_ptr<EventQueue>> OpenAt(const std::string& prefix) {
  RedisOptions o = *TestRedis();
  o.key_prefix = prefix;
  RedisQueueOptions q;
  q.claim_min_idle_ms = kClaimIdleMs;
  return OpenRedisEventQueue(o, q);
}

StatusOr<std::unique_ptr<EventQueue>> OpenSharedAt(const std::string& prefix) {
  RedisOptions o = *TestRedis();
  o.key_prefix = prefix;
  RedisQueueOptions q;
  q.claim_min_idle_ms = kClaimIdleMs;
  q.exclusive_reader = false;
  return OpenRedisEventQueue(o, q);
}

EventQueueConformanceParam RedisParam() {
  EventQueueConformanceParam p;
  p.name = "redis";
  p.skip_reason = [] { return TestRedis() ? std::string() : std::string(kNoRedis); };
  p.new_location = NewPrefix;
  p.open = OpenAt;
  p.remove = [](const std::string& prefix) {
    const RedisOptions o = *TestRedis();
    RawRedis raw(o.host, o.port);
    if (raw.ok()) raw.DeleteKeys(prefix);
  };
  return p;
}

INSTANTIATE_TEST_SUITE_P(Redis, EventQueueConformanceTest, ::testing::Values(RedisParam()),
                         EventQueueConformanceName);

// ---------------------------------------------------------------------------------------------
// Redis-only behaviour, on the shared test server.

class RedisQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = TestRedis();
    if (!redis) GTEST_SKIP() << kNoRedis;
    redis_ = *redis;
    prefix_ = NewPrefix();
    raw_ = std::make_unique<RawRedis>(redis_.host, redis_.port);
    ASSERT_TRUE(raw_->ok());
  }
  void TearDown() override {
    if (raw_) raw_->DeleteKeys(prefix_);
  }

  std::unique_ptr<EventQueue> Open() {
    auto q = OpenAt(prefix_);
    EXPECT_TRUE(q.ok()) << q.status().message();
    return q.ok() ? std::move(q).value() : nullptr;
  }
  //! Consumers that share the entries instead of one reading at a time.
  std::unique_ptr<EventQueue> OpenShared() {
    auto q = OpenSharedAt(prefix_);
    EXPECT_TRUE(q.ok()) << q.status().message();
    return q.ok() ? std::move(q).value() : nullptr;
  }

  std::string StreamKey() const { return prefix_ + "langfuse:ingestion"; }

  // Consumers in the group: name -> entries pending for it.
  std::map<std::string, int64_t> Consumers() {
    std::map<std::string, int64_t> out;
    Reply r = raw_->Run({"XINFO", "CONSUMERS", StreamKey(), "workers"});
    EXPECT_TRUE(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
      std::string name;
      int64_t pending = -1;
      const redisReply* c = r->element[i];
      for (size_t j = 0; j + 1 < c->elements; j += 2) {
        const std::string field(c->element[j]->str, c->element[j]->len);
        if (field == "name") name.assign(c->element[j + 1]->str, c->element[j + 1]->len);
        if (field == "pending") pending = c->element[j + 1]->integer;
      }
      out[name] = pending;
    }
    return out;
  }

  RedisOptions redis_;
  std::string prefix_;
  std::unique_ptr<RawRedis> raw_;
};

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

TEST_F(RedisQueueTest, KeysLiveUnderThePrefix) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->Append({{"p", 2}}).ok());
  ASSERT_TRUE(q->DeadLetterItem("d", 1, 5, "why").ok());
  std::vector<std::string> keys = raw_->Keys(prefix_);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (Strings{prefix_ + "langfuse:ingestion", prefix_ + "langfuse:ingestion:dlq",
                           prefix_ + "langfuse:ingestion:pending-events"}));
  Reply len = raw_->Run({"XLEN", StreamKey()});
  EXPECT_EQ(len->integer, 1);
  // Acknowledged entries leave the stream (it does not grow forever).
  auto items = q->Read(10, milliseconds(0));
  ASSERT_TRUE(q->Ack(Ids(*items)).ok());
  EXPECT_EQ(raw_->Run({"XLEN", StreamKey()})->integer, 0);
  EXPECT_EQ(std::string(raw_->Run({"GET", prefix_ + "langfuse:ingestion:pending-events"})->str), "0");
}

TEST_F(RedisQueueTest, OnlyOneExclusiveReaderReadsAndAStandbyTakesOver) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Append({{"1", 1}, {"2", 1}}).ok());
  auto first = a->Read(1, milliseconds(0));
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 1u);
  // `a` holds the lease: `b` reads nothing while `a` lives, even with an entry waiting.
  EXPECT_TRUE(ReadUntil(*b, 1, milliseconds(3 * kClaimIdleMs)).empty());
  ASSERT_TRUE(a->Ack(Ids(*first)).ok());
  a.reset();  // a clean stop hands the lease over
  auto rest = ReadUntil(*b, 1, milliseconds(5000));
  EXPECT_EQ(Payloads(rest), (Strings{"2"}));
}

TEST_F(RedisQueueTest, TwoConsumersShareWorkWithoutDuplicates) {
  auto a = OpenShared();
  auto b = OpenShared();
  ASSERT_TRUE(a && b);
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<EventQueue::NewItem> items;
    for (int i = 0; i < 20; ++i) items.push_back({std::to_string(batch * 20 + i), 1});
    ASSERT_TRUE(a->Append(std::move(items)).ok());
  }
  std::mutex mu;
  std::map<std::string, int> deliveries;
  std::atomic<int> total{0};
  int per_consumer[2] = {0, 0};
  auto consume = [&](EventQueue& q, int index) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (total.load() < 200 && std::chrono::steady_clock::now() < deadline) {
      auto items = q.Read(8, milliseconds(100));
      ASSERT_TRUE(items.ok()) << items.status().message();
      {
        std::lock_guard lock(mu);
        for (const auto& item : *items) ++deliveries[item.payload];
        per_consumer[index] += static_cast<int>(items->size());
      }
      ASSERT_TRUE(q.Ack(Ids(*items)).ok());
      total += static_cast<int>(items->size());
      std::this_thread::sleep_for(milliseconds(5));  // the "work"
    }
  };
  std::thread ta(consume, std::ref(*a), 0);
  std::thread tb(consume, std::ref(*b), 1);
  ta.join();
  tb.join();
  EXPECT_EQ(deliveries.size(), 200u);
  for (const auto& [payload, n] : deliveries) EXPECT_EQ(n, 1) << payload << " delivered " << n << " times";
  EXPECT_GT(per_consumer[0], 0);
  EXPECT_GT(per_consumer[1], 0);
  EXPECT_EQ(a->Stats()->pending_items, 0);
}

TEST_F(RedisQueueTest, AStoppedConsumersEntriesAreTakenOverAfterTheIdleTime) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Append({{"1", 1}, {"2", 2}, {"3", 3}}).ok());
  auto held = a->Read(10, milliseconds(0));
  ASSERT_EQ(held->size(), 3u);
  const auto delivered = std::chrono::steady_clock::now();
  a.reset();  // stops without acknowledging, like a killed worker

  // Not yet: the entries have not been idle long enough.
  auto early = b->Read(10, milliseconds(0));
  ASSERT_TRUE(early.ok()) << early.status().message();
  EXPECT_TRUE(early->empty());

  auto taken = ReadUntil(*b, 3, milliseconds(5000));
  const auto waited = std::chrono::steady_clock::now() - delivered;
  EXPECT_EQ(Payloads(taken), (Strings{"1", "2", "3"}));
  EXPECT_EQ(Ids(taken), Ids(*held));
  EXPECT_GE(waited, milliseconds(kClaimIdleMs - 50));
  EXPECT_EQ(taken[2].event_count, 3u);
  ASSERT_TRUE(b->Ack(Ids(taken)).ok());
  auto stats = b->Stats();
  EXPECT_EQ(stats->pending_items, 0);
  EXPECT_EQ(stats->pending_events, 0);
  // Taken over once only.
  EXPECT_TRUE(ReadUntil(*b, 1, milliseconds(2 * kClaimIdleMs)).empty());
}

TEST_F(RedisQueueTest, ALiveConsumerKeepsItsEntriesPastTheIdleTime) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Append({{"slow", 1}}).ok());
  auto held = a->Read(10, milliseconds(0));
  ASSERT_EQ(held->size(), 1u);
  // `a` is still working on it (say, ClickHouse is slow): b must not take it.
  EXPECT_TRUE(ReadUntil(*b, 1, milliseconds(5 * kClaimIdleMs)).empty());
  ASSERT_TRUE(a->Ack(Ids(*held)).ok());
  EXPECT_EQ(b->Stats()->pending_items, 0);
}

TEST_F(RedisQueueTest, ACleanShutdownLeavesNoConsumerBehind) {
  {
    auto q = Open();
    ASSERT_TRUE(q->Append({{"x", 1}}).ok());
    auto items = q->Read(10, milliseconds(0));
    ASSERT_TRUE(q->Ack(Ids(*items)).ok());
    EXPECT_EQ(Consumers().size(), 1u);
  }
  EXPECT_TRUE(Consumers().empty());
  {
    auto q = Open();
    ASSERT_TRUE(q->Append({{"y", 1}}).ok());
    ASSERT_EQ(q->Read(10, milliseconds(0))->size(), 1u);
  }
  // Stopped while holding an entry: it stays so that another consumer can take the entry over.
  auto consumers = Consumers();
  ASSERT_EQ(consumers.size(), 1u);
  EXPECT_EQ(consumers.begin()->second, 1);
}

TEST_F(RedisQueueTest, DeadLettersLiveInTheirOwnStream) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->Append({{"keep", 1}}).ok());
  ASSERT_TRUE(q->DeadLetterItem("{\"projectId\":\"p\"}", 3, 1000, "insert failed 3 times: boom").ok());
  EXPECT_EQ(raw_->Run({"XLEN", prefix_ + "langfuse:ingestion:dlq"})->integer, 1);
  auto dead = q->ListDeadLetters(100);
  ASSERT_EQ(dead->size(), 1u);
  const std::string id = (*dead)[0].id;
  EXPECT_NE(id.find('-'), std::string::npos) << id;  // the stream entry id
  Reply range = raw_->Run({"XRANGE", prefix_ + "langfuse:ingestion:dlq", id, id});
  ASSERT_EQ(range->elements, 1u);

  EXPECT_EQ(*q->ReplayDeadLetters({id}), 1);
  EXPECT_EQ(raw_->Run({"XLEN", prefix_ + "langfuse:ingestion:dlq"})->integer, 0);
  auto stats = q->Stats();
  EXPECT_EQ(stats->pending_items, 2);
  EXPECT_EQ(stats->pending_events, 4);
  EXPECT_EQ(stats->dead_letters, 0);
  auto items = q->Read(10, milliseconds(0));
  EXPECT_EQ(Payloads(*items), (Strings{"keep", "{\"projectId\":\"p\"}"}));
}

TEST_F(RedisQueueTest, ReplayingEverythingCoversMoreThanOneChunk) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  for (int i = 0; i < 250; ++i) ASSERT_TRUE(q->DeadLetterItem("d" + std::to_string(i), 1, i, "r").ok());
  auto replayed = q->ReplayDeadLetters({});
  ASSERT_TRUE(replayed.ok()) << replayed.status().message();
  EXPECT_EQ(*replayed, 250);
  auto stats = q->Stats();
  EXPECT_EQ(stats->dead_letters, 0);
  EXPECT_EQ(stats->pending_items, 250);
  EXPECT_EQ(stats->pending_events, 250);
  auto items = q->Read(1000, milliseconds(0));
  ASSERT_EQ(items->size(), 250u);
  EXPECT_EQ((*items)[0].payload, "d0");
  EXPECT_EQ((*items)[249].payload, "d249");
}

TEST_F(RedisQueueTest, MalformedIdsAreRejectedAndChangeNothing) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->Append({{"a", 1}}).ok());
  ASSERT_TRUE(q->DeadLetterItem("d", 1, 1, "r").ok());
  auto items = q->Read(10, milliseconds(0));
  ASSERT_EQ(items->size(), 1u);
  auto dead = q->ListDeadLetters(10);

  for (const std::string bad : {"abc", "", "1-", "-1", "1-2-3", "12345678901234567890123-0", "1-0 OR 1"}) {
    const Status ack = q->Ack({(*items)[0].id, bad});
    EXPECT_EQ(ack.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(ack.message().find("malformed"), std::string::npos) << ack.message();
    auto replay = q->ReplayDeadLetters({(*dead)[0].id, bad});
    EXPECT_FALSE(replay.ok()) << bad;
    EXPECT_EQ(replay.status().code(), StatusCode::kInvalidArgument);
  }
  auto stats = q->Stats();
  EXPECT_EQ(stats->pending_items, 1);  // the valid id in the same call was not acknowledged
  EXPECT_EQ(stats->dead_letters, 1);   // nor the valid dead letter replayed
}

TEST_F(RedisQueueTest, InterruptUnblocksReadPromptly) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  std::atomic<bool> done{false};
  std::chrono::steady_clock::time_point interrupted_at;
  std::thread reader([&] {
    auto items = q->Read(10, milliseconds(30'000));
    EXPECT_TRUE(items.ok());
    EXPECT_TRUE(items->empty());
    done = true;
  });
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(done.load());
  interrupted_at = std::chrono::steady_clock::now();
  q->Interrupt();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - interrupted_at, milliseconds(500));
}

TEST_F(RedisQueueTest, ALostConsumerGroupIsCreatedAgain) {
  auto q = Open();
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->Read(1, milliseconds(0)).ok());
  // Redis lost its data (restarted without persistence, or FLUSHALL): the group is gone.
  raw_->Run({"DEL", StreamKey()});
  ASSERT_TRUE(q->Append({{"after", 1}}).ok());
  auto items = ReadUntil(*q, 1, milliseconds(3000));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].payload, "after");
}

// ---------------------------------------------------------------------------------------------
// A Redis restart, on a redis-server of the test's own, with its append-only file.

class OwnRedisServer {
 public:
  OwnRedisServer() : port_(FreePort()) {
    const char* base = std::getenv("LANGFUSE_TEST_TMP");
    dir_ =
        std::filesystem::path((base != nullptr && *base != '\0') ? base : "/tmp") / ("redis-" + RandomHex(6));
    std::filesystem::create_directories(dir_);
  }
  ~OwnRedisServer() {
    Kill();
    std::filesystem::remove_all(dir_);
  }

  enum class Started { kYes, kNotInstalled, kNoAnswer };

  //! Starts (or starts again) the server on the same port and directory; waits until it answers.
  Started Start() {
    const std::string port = std::to_string(port_);
    const std::string dir = dir_.string();
    const std::string log = (dir_ / "redis.log").string();
    // appendfsync always: every answered write is on disk, so a kill cannot race the
    // once-a-second flush.
    // clang-format off
    std::vector<std::string> args = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir,
                                     "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                                     "--logfile", log};
    // clang-format on
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return Started::kNotInstalled;
    }
    for (int i = 0; i < 500; ++i) {
      RawRedis raw("127.0.0.1", port_);
      if (raw.ok()) {
        Reply pong = raw.Run({"PING"});
        if (pong && pong->type == REDIS_REPLY_STATUS) return Started::kYes;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    Kill();
    return Started::kNoAnswer;
  }

  //! SIGKILL: no chance to flush anything more.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

TEST(RedisQueueRestart, CallsFailClearlyWhileRedisIsDownAndWorkAgainAfterItsRestart) {
  OwnRedisServer server;
  const auto started = server.Start();
  if (started == OwnRedisServer::Started::kNotInstalled) GTEST_SKIP() << "redis-server is not installed";
  ASSERT_EQ(started, OwnRedisServer::Started::kYes) << "redis-server did not answer within 10 s";
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = server.port();
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
  const auto down_at = std::chrono::steady_clock::now();
  auto expect_unavailable = [&](const Status& s, const char* what) {
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << what << ": " << s.message();
    EXPECT_NE(s.message().find(o.Address()), std::string::npos) << what << ": " << s.message();
  };
  // A large write on a connection Redis closed meets EPIPE: it must not raise SIGPIPE.
  expect_unavailable(q->Append({{std::string(8 << 20, 'x'), 1}}), "Append (large)");
  expect_unavailable(q->Append({{"refused", 1}}), "Append");
  expect_unavailable(q->Read(10, milliseconds(200)).status(), "Read");
  expect_unavailable(q->Stats().status(), "Stats");
  expect_unavailable(q->Ack(Ids(*first)), "Ack");
  expect_unavailable(q->DeadLetterItem("d", 1, 1, "r"), "DeadLetterItem");
  expect_unavailable(q->ListDeadLetters(10).status(), "ListDeadLetters");
  expect_unavailable(q->ReplayDeadLetters({}).status(), "ReplayDeadLetters");
  EXPECT_LT(std::chrono::steady_clock::now() - down_at, std::chrono::seconds(5));

  ASSERT_EQ(server.Start(), OwnRedisServer::Started::kYes);
  // Everything acknowledged by Redis before the kill is back from the append-only file; the
  // append refused meanwhile is not there.
  auto stats = q->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->pending_items, 3);
  EXPECT_EQ(stats->pending_events, 6);
  EXPECT_EQ(stats->dead_letters, 0);
  // "b" and "c" were never delivered; "a" was, and its acknowledgement failed, so it comes back
  // once idle.
  auto items = ReadUntil(*q, 3, milliseconds(10'000));
  std::vector<std::string> payloads = Payloads(items);
  std::sort(payloads.begin(), payloads.end());
  EXPECT_EQ(payloads, (Strings{"a", "b", "c"}));
  ASSERT_TRUE(q->Ack(Ids(items)).ok());
  EXPECT_EQ(q->Stats()->pending_items, 0);
  ASSERT_TRUE(q->Append({{"after", 1}}).ok());
  EXPECT_EQ(Payloads(ReadUntil(*q, 1, milliseconds(3000))), (Strings{"after"}));
}

}  // namespace
}  // namespace langfuse::queue
