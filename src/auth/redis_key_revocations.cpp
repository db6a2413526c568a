// API key revocations over Redis Pub/Sub (see redis_key_revocations.h for the contract).
//
// Each thread has its own connection, driven without blocking calls: hiredis (0.14, synchronous
// API) only parses and buffers, and every wait is a poll(2) on the socket and on the eventfd that
// Stop() signals. A blocking read could not be interrupted (and a hiredis context is unusable
// after a read timeout), which would hold up shutdown and hide a dead connection.
#include "auth/redis_key_revocations.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <optional>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "queue/redis_connect.h"

namespace langfuse::auth {
namespace {

using Clock = std::chrono::steady_clock;

//! How long revocations still queued at shutdown may take to go out.
constexpr int64_t kFinalPublishMs = 1000;
//! The longest message quoted in a log line.
constexpr size_t kMaxQuoted = 120;

std::atomic<int> g_subscriptions{0};  // standing subscriptions in this process, for the gauge

struct RevocationMetrics {
  Counter& published =
      Metrics().GetCounter("langfuse_api_key_revocations_published_total",
                           "API key revocations this process published to the other processes");
  Counter& publish_failures =
      Metrics().GetCounter("langfuse_api_key_revocation_publish_failures_total",
                           "Failed attempts to publish API key revocations (each is retried)");
  Counter& received =
      Metrics().GetCounter("langfuse_api_key_revocations_received_total",
                           "API key revocations received and applied to this process's key cache");
  Counter& subscription_losses =
      Metrics().GetCounter("langfuse_api_key_revocation_subscription_losses_total",
                           "Times the subscription to API key revocations was lost (cached keys are then "
                           "re-checked every few seconds)");

  RevocationMetrics() {
    Metrics().AddGauge("langfuse_api_key_revocation_subscribed",
                       "1 while the subscription to API key revocations stands; 0: cached API keys are "
                       "re-checked against the database every few seconds",
                       [] { return g_subscriptions.load() > 0 ? 1.0 : 0.0; });
  }
};

RevocationMetrics& GetMetrics() {
  static RevocationMetrics* m = new RevocationMetrics();
  return *m;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

std::string_view Text(const redisReply* r) {
  return r->str != nullptr ? std::string_view(r->str, r->len) : std::string_view();
}

//! For log lines: at most kMaxQuoted characters, anything unprintable as '?'.
std::string Quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text.substr(0, kMaxQuoted)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + (text.size() > kMaxQuoted ? "...'" : "'");
}

//! SIGPIPE stays blocked in this module's threads: hiredis writes with write(2), and a write to a
//! connection Redis closed would otherwise kill the process. A SIGPIPE raised meanwhile is
//! consumed after each failure (DrainSigpipe), as the Redis queue does around its writes.
void BlockSigpipe() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
}

void DrainSigpipe() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  const timespec zero{};
  while (sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
  }
}

Clock::time_point After(int64_t ms) {
  // 0 or less: no limit (REDIS_SOCKET_TIMEOUT_MS=0); Stop() still interrupts the wait.
  return ms > 0 ? Clock::now() + std::chrono::milliseconds(ms) : Clock::time_point::max();
}

//! One connection to Redis without blocking calls. Every wait also ends when `wake_fd` becomes
//! readable (Stop()); the call then fails with kStoppedMessage. Any failure closes the connection.
//! Not thread-safe.
class PolledConnection {
 public:
  static constexpr const char* kStoppedMessage = "stopping";

  PolledConnection(const queue::RedisOptions& redis, int wake_fd) : redis_(redis), wake_fd_(wake_fd) {}
  ~PolledConnection() { Close(); }
  PolledConnection(const PolledConnection&) = delete;
  PolledConnection& operator=(const PolledConnection&) = delete;

  bool open() const { return static_cast<bool>(ctx_); }
  //! -1: waits end only at their deadline (the last publish at shutdown).
  void set_wake_fd(int fd) { wake_fd_ = fd; }

  void Close() { ctx_.reset(); }

  //! Connects (over TLS when configured) and authenticates. No SELECT: Pub/Sub channels are not
  //! per database.
  Status Connect(Clock::time_point deadline) {
    Close();
    auto socket = queue::ConnectRedis(redis_, queue::RedisIo::kNonBlocking, {deadline, wake_fd_});
    if (!socket.ok()) {
      if (socket.status().message() == queue::kRedisConnectStopped) return Stopped();
      return socket.status();
    }
    ctx_ = std::move(socket).value();
    if (redis_.password.empty()) return Status::Ok();
    const std::vector<std::string> auth =
        redis_.username.empty() ? std::vector<std::string>{"AUTH", redis_.password}
                                : std::vector<std::string>{"AUTH", redis_.username, redis_.password};
    RETURN_IF_ERROR(Append(auth));
    RETURN_IF_ERROR(Flush(deadline));
    ASSIGN_OR_RETURN(Reply reply, Read(deadline));
    if (reply == nullptr) {
      Close();
      return Status::Unavailable("redis " + redis_.Address() + ": no answer to AUTH in time");
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      Close();
      return Status::Unavailable(
          "redis " + redis_.Address() +
          ": authentication failed (REDIS_AUTH / REDIS_USERNAME): " + std::string(Text(reply.get())));
    }
    return Status::Ok();
  }

  //! Buffers one command (sent by Flush).
  Status Append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return Fail("");
    }
    return Status::Ok();
  }

  //! Writes every buffered command.
  Status Flush(Clock::time_point deadline) {
    while (true) {
      int done = 0;
      if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) return Fail("");
      if (done != 0) return Status::Ok();
      switch (WaitFor(POLLOUT, deadline)) {
        case Wait::kStopped:
          return Stopped();
        case Wait::kTimeout:
          return TimedOut();
        case Wait::kReady:
          break;
      }
    }
  }

  //! The next reply, or nullptr when none arrived by `deadline` (the connection stays usable).
  StatusOr<Reply> Read(Clock::time_point deadline) {
    while (true) {
      void* reply = nullptr;
      if (redisGetReplyFromReader(ctx_.get(), &reply) != REDIS_OK) return Fail("");
      if (reply != nullptr) return Reply(static_cast<redisReply*>(reply));
      switch (WaitFor(POLLIN, deadline)) {
        case Wait::kStopped:
          return Stopped();
        case Wait::kTimeout:
          return Reply();
        case Wait::kReady:
          break;
      }
      // Non-blocking: nothing to read yet is no error, and the loop waits again.
      if (redisBufferRead(ctx_.get()) != REDIS_OK) return Fail("");
    }
  }

  //! Sends one command and reads its reply; Unavailable when none came by `deadline`.
  StatusOr<Reply> Call(const std::vector<std::string>& args, Clock::time_point deadline) {
    RETURN_IF_ERROR(Append(args));
    RETURN_IF_ERROR(Flush(deadline));
    ASSIGN_OR_RETURN(Reply reply, Read(deadline));
    if (reply == nullptr) return TimedOut();
    return reply;
  }

 private:
  enum class Wait { kReady, kTimeout, kStopped };

  Wait WaitFor(short events, Clock::time_point deadline) {
    while (true) {
      const auto now = Clock::now();
      if (now >= deadline) return Wait::kTimeout;
      // Waits of at most a minute at a time, so a far deadline never overflows poll's int.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
      const int timeout = static_cast<int>(std::min<int64_t>(left, 60'000));
      pollfd fds[2] = {{ctx_->fd, events, 0}, {wake_fd_, POLLIN, 0}};
      const int n = poll(fds, wake_fd_ >= 0 ? 2 : 1, timeout);
      if (n < 0 && errno == EINTR) continue;
      if (wake_fd_ >= 0 && (fds[1].revents & POLLIN) != 0) return Wait::kStopped;
      // Errors and hang-ups count as ready: the read or write that follows reports them.
      if (n < 0 || fds[0].revents != 0) return Wait::kReady;
    }
  }

  Status Fail(std::string_view what) {
    std::string why = ctx_->err != 0 ? ctx_->errstr : std::strerror(errno);
    if (why.empty()) why = "connection failed";
    Close();
    DrainSigpipe();
    return Status::Unavailable("redis " + redis_.Address() + ": " + std::string(what) + why);
  }

  Status TimedOut() {
    Close();
    // The deadline is REDIS_SOCKET_TIMEOUT_MS, the heartbeat's, or the last publish's at shutdown.
    return Status::Unavailable("redis " + redis_.Address() + ": no answer in time");
  }

  Status Stopped() {
    Close();
    return Status::Unavailable(kStoppedMessage);
  }

  const queue::RedisOptions& redis_;
  int wake_fd_;
  queue::RedisSocket ctx_;
};

//! PUBLISHes every message on one connection (connecting first when needed).
Status PublishAll(PolledConnection& conn, const queue::RedisOptions& redis, const std::string& channel,
                  const std::vector<std::string>& messages, Clock::time_point deadline) {
  if (!conn.open()) RETURN_IF_ERROR(conn.Connect(std::min(deadline, After(redis.connect_timeout_ms))));
  for (const std::string& message : messages) RETURN_IF_ERROR(conn.Append({"PUBLISH", channel, message}));
  RETURN_IF_ERROR(conn.Flush(deadline));
  for (size_t i = 0; i < messages.size(); ++i) {
    ASSIGN_OR_RETURN(Reply reply, conn.Read(deadline));
    if (reply == nullptr) {
      conn.Close();
      return Status::Unavailable("redis " + redis.Address() + ": no answer to PUBLISH in time");
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      // An error answer (e.g. NOPERM from an ACL) leaves the connection in a known state, but the
      // remaining replies are drained by closing it.
      conn.Close();
      return Status::Unavailable("redis " + redis.Address() +
                                 ": PUBLISH refused: " + std::string(Text(reply.get())));
    }
  }
  return Status::Ok();
}

bool IsStopping(const Status& status) { return status.message() == PolledConnection::kStoppedMessage; }

}  // namespace

StatusOr<std::unique_ptr<RedisKeyRevocations>> RedisKeyRevocations::Open(const queue::RedisOptions& redis,
                                                                         RedisKeyRevocationsOptions options) {
  RETURN_IF_ERROR(queue::CheckRedisTls(redis));
  if (options.heartbeat_interval_ms <= 0 || options.heartbeat_timeout_ms <= 0 ||
      options.stale_cache_age_ms < 0 || options.reconnect_min_ms <= 0 ||
      options.reconnect_max_ms < options.reconnect_min_ms || options.max_pending == 0) {
    return Status::InvalidArgument("api key revocations: intervals must be positive and the queue not empty");
  }
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0)
    return Status::Internal(std::string("api key revocations: eventfd: ") + std::strerror(errno));
  GetMetrics();
  return std::unique_ptr<RedisKeyRevocations>(new RedisKeyRevocations(redis, std::move(options), wake_fd));
}

RedisKeyRevocations::RedisKeyRevocations(const queue::RedisOptions& redis, RedisKeyRevocationsOptions options,
                                         int wake_fd)
    : redis_(redis),
      options_(std::move(options)),
      channel_(options_.channel.empty() ? redis.key_prefix + "langfuse:api-key-revocations"
                                        : options_.channel),
      wake_fd_(wake_fd),
      publisher_([this] { PublishLoop(); }) {}

RedisKeyRevocations::~RedisKeyRevocations() {
  Stop();
  close(wake_fd_);
}

void RedisKeyRevocations::Publish(const KeyRevocation& revocation) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back(EncodeKeyRevocation(revocation));
    // A long outage must not grow the queue without bound; forgetting everything covers it all.
    if (pending_.size() > options_.max_pending) {
      pending_.clear();
      pending_.push_back(EncodeKeyRevocation(KeyRevocation::All()));
    }
  }
  cv_.notify_one();
}

void RedisKeyRevocations::Subscribe(ApiKeyAuthenticator& authenticator) {
  std::lock_guard lock(mu_);
  if (subscribing_ || stopping_.load()) return;
  subscribing_ = true;
  // Until the subscription first stands, revocations may be missed like during an outage.
  authenticator.LimitCacheAge(options_.stale_cache_age_ms);
  subscriber_ = std::thread([this, &authenticator] { SubscribeLoop(authenticator); });
}

void RedisKeyRevocations::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;  // under the lock: the publisher checks it in its condition-variable wait
  }
  cv_.notify_all();
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof(one));
  if (subscriber_.joinable()) subscriber_.join();
  if (publisher_.joinable()) publisher_.join();
}

bool RedisKeyRevocations::SleepUnlessStopped(int64_t ms) const {
  pollfd fd = {wake_fd_, POLLIN, 0};
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return !stopping_.load();
    const int n = poll(&fd, 1, static_cast<int>(left));
    if (n > 0) return false;
    if (n < 0 && errno != EINTR) return !stopping_.load();
  }
}

void RedisKeyRevocations::PublishLoop() {
  BlockSigpipe();
  PolledConnection conn(redis_, wake_fd_);
  int64_t backoff = options_.reconnect_min_ms;
  bool failing = false;
  while (true) {
    std::vector<std::string> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_.load() || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, nothing left
      batch.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()));
      pending_.clear();
    }
    const bool last = stopping_.load();
    if (last) conn.set_wake_fd(-1);  // the last attempt runs to its own deadline
    const Status sent = PublishAll(conn, redis_, channel_, batch,
                                   last ? After(kFinalPublishMs) : After(redis_.socket_timeout_ms));
    if (sent.ok()) {
      published_ += batch.size();
      GetMetrics().published.Add(batch.size());
      if (failing) LOG_INFO("api key revocations: publishing on {} works again", channel_);
      failing = false;
      backoff = options_.reconnect_min_ms;
      continue;
    }
    GetMetrics().publish_failures.Add();
    if (last || IsStopping(sent)) {
      if (!last) {
        // Stop() interrupted the attempt: requeue for the last one.
        std::lock_guard lock(mu_);
        pending_.insert(pending_.begin(), batch.begin(), batch.end());
        continue;
      }
      LOG_ERROR(
          "api key revocations: {} revocation(s) not published before shutdown ({}); other web processes "
          "serve "
          "those keys from their caches for up to LANGFUSE_CACHE_API_KEY_TTL_SECONDS",
          batch.size(), sent.message());
      return;
    }
    if (!failing) {
      LOG_WARN(
          "api key revocations: publishing on {} failed: {}; retrying (web processes subscribed meanwhile "
          "learn "
          "of the revocation when it goes out; those that lost their subscription re-check cached keys "
          "anyway)",
          channel_, sent.message());
    }
    failing = true;
    {
      std::lock_guard lock(mu_);
      pending_.insert(pending_.begin(), batch.begin(), batch.end());
      if (pending_.size() > options_.max_pending) {
        pending_.clear();
        pending_.push_back(EncodeKeyRevocation(KeyRevocation::All()));
      }
    }
    SleepUnlessStopped(backoff);
    backoff = std::min(backoff * 2, options_.reconnect_max_ms);
  }
}

void RedisKeyRevocations::SubscribeLoop(ApiKeyAuthenticator& authenticator) {
  BlockSigpipe();
  PolledConnection conn(redis_, wake_fd_);
  int64_t backoff = options_.reconnect_min_ms;
  bool ever_subscribed = false;
  bool reported = false;  // a failure was logged since the subscription last stood

  // Holds the subscription until it is lost (or Stop()); Ok only when stopping.
  auto listen = [&]() -> Status {
    auto last_heard = Clock::now();
    std::optional<Clock::time_point> ping_sent;
    while (!stopping_.load()) {
      const auto deadline = ping_sent
                                ? *ping_sent + std::chrono::milliseconds(options_.heartbeat_timeout_ms)
                                : last_heard + std::chrono::milliseconds(options_.heartbeat_interval_ms);
      ASSIGN_OR_RETURN(Reply reply, conn.Read(deadline));
      if (reply == nullptr) {
        if (ping_sent) {
          return Status::Unavailable("redis " + redis_.Address() + ": no answer to PING within " +
                                     std::to_string(options_.heartbeat_timeout_ms) + " ms");
        }
        // Quiet for a while: a PING tells a quiet channel from a dead connection.
        RETURN_IF_ERROR(conn.Append({"PING"}));
        RETURN_IF_ERROR(conn.Flush(Clock::now() + std::chrono::milliseconds(options_.heartbeat_timeout_ms)));
        ping_sent = Clock::now();
        continue;
      }
      last_heard = Clock::now();
      ping_sent.reset();
      if (reply->type == REDIS_REPLY_ERROR) {
        return Status::Unavailable("redis " + redis_.Address() + ": " + std::string(Text(reply.get())));
      }
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
          reply->element[0]->type != REDIS_REPLY_STRING) {
        continue;
      }
      const std::string_view kind = Text(reply->element[0]);
      if (kind != "message" || reply->elements < 3 || reply->element[2]->type != REDIS_REPLY_STRING) continue;
      const std::string_view message = Text(reply->element[2]);
      const auto revocation = DecodeKeyRevocation(message);
      if (!revocation) {
        LOG_WARN("api key revocations: ignoring an unknown message on {}: {}", channel_, Quoted(message));
        continue;
      }
      authenticator.ApplyRevocation(*revocation);
      ++received_;
      GetMetrics().received.Add();
    }
    return Status::Ok();
  };

  while (!stopping_.load()) {
    Status status = conn.Connect(After(redis_.connect_timeout_ms));
    if (status.ok()) {
      const auto deadline = After(redis_.socket_timeout_ms);
      auto confirmed = conn.Call({"SUBSCRIBE", channel_}, deadline);
      if (!confirmed.ok()) {
        status = confirmed.status();
      } else if ((*confirmed)->type == REDIS_REPLY_ERROR) {
        status = Status::Unavailable("redis " + redis_.Address() +
                                     ": SUBSCRIBE refused: " + std::string(Text(confirmed->get())));
        conn.Close();
      }
    }
    if (status.ok()) {
      // Whatever was revoked while no subscription stood is unknown: forget everything, then
      // serve from the cache as usual (answers fetched from now on are covered by the channel).
      authenticator.ApplyRevocation(KeyRevocation::All());
      authenticator.LimitCacheAge(ApiKeyAuthenticator::kNoCacheAgeLimit);
      subscribed_ = true;
      ++g_subscriptions;
      if (ever_subscribed) {
        LOG_INFO("api key revocations: subscribed to {} again; dropped the API key cache", channel_);
      } else {
        LOG_INFO("api key revocations: subscribed to {} on {}", channel_, redis_.Address());
      }
      ever_subscribed = true;
      reported = false;
      backoff = options_.reconnect_min_ms;
      status = listen();
      authenticator.LimitCacheAge(options_.stale_cache_age_ms);
      subscribed_ = false;
      --g_subscriptions;
      conn.Close();
      if (stopping_.load()) break;
      GetMetrics().subscription_losses.Add();
      LOG_WARN(
          "api key revocations: subscription to {} lost: {}; until it is back, cached API keys older than {} "
          "ms "
          "are checked against the database again",
          channel_, status.message(), options_.stale_cache_age_ms);
      reported = true;
    } else {
      if (stopping_.load()) break;
      if (!reported) {
        LOG_WARN(
            "api key revocations: cannot subscribe to {}: {}; retrying, and until then cached API keys older "
            "than {} ms are checked against the database again",
            channel_, status.message(), options_.stale_cache_age_ms);
        reported = true;
      }
    }
    if (!SleepUnlessStopped(backoff)) break;
    backoff = std::min(backoff * 2, options_.reconnect_max_ms);
  }
  conn.Close();
}

}  // namespace langfuse::auth
