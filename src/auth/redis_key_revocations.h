#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "auth/authenticator.h"
#include "auth/key_revocation.h"
#include "common/status.h"
#include "queue/redis_options.h"

namespace langfuse::auth {

struct RedisKeyRevocationsOptions {
  //! The Pub/Sub channel; empty: `<REDIS_KEY_PREFIX>langfuse:api-key-revocations`. Channels are
  //! not per database in Redis, so deployments sharing one Redis tell themselves apart by the prefix.
  std::string channel;
  //! The subscriber sends a PING when nothing arrived for this long...
  int64_t heartbeat_interval_ms = 1000;
  //! ...and counts the subscription as lost when the answer has not come this long after.
  int64_t heartbeat_timeout_ms = 2000;
  //! While the subscription is down (and before it first stands), cached answers older than this
  //! are not served: a key revoked meanwhile stops working after at most this long.
  int64_t stale_cache_age_ms = 2000;
  //! Waits between connection attempts, doubling from the first to the second.
  int64_t reconnect_min_ms = 100;
  int64_t reconnect_max_ms = 2000;
  //! Revocations waiting to be published; beyond this they merge into one "forget everything".
  size_t max_pending = 1000;
};

//! Carries API key revocations between the processes of a scale deployment over Redis Pub/Sub,
//! so that a key deleted through one web process stops working in all of them at once while each
//! keeps its in-process cache (ApiKeyAuthenticator).
//!
//! Publishing: Publish() queues the revocation and returns at once; a background thread PUBLISHes
//! it, retrying while Redis is unreachable. Subscribing (web processes): Subscribe() starts a
//! thread that holds a subscription to the channel and applies what arrives
//! (ApiKeyAuthenticator::ApplyRevocation). A subscription that was down may have missed
//! revocations, and there is no telling which, so:
//!  - while it is down, the authenticator serves no cached answer older than stale_cache_age_ms
//!    (ApiKeyAuthenticator::LimitCacheAge): every key is checked against the database at least
//!    that often, so a key revoked meanwhile stops working within that time;
//!  - once it stands again, the whole cache is dropped and the limit lifted.
//! A connection that died silently (no reset, e.g. a network partition) is noticed by a PING
//! that goes unanswered, within heartbeat_interval_ms + heartbeat_timeout_ms.
//!
//! Both threads wait in poll(2) on their socket and on an eventfd that Stop() signals, so Stop()
//! returns promptly even while a connection attempt or a read is under way (a last publish of
//! what is still queued gets up to one second). Thread-safety: Publish() and the accessors may be
//! called from any thread at any time; Subscribe() (at most once; later calls do nothing) and
//! Stop() by the owner.
class RedisKeyRevocations {
 public:
  //! InvalidArgument for a configuration this client cannot serve (unusable TLS settings). Does not
  //! connect: the threads connect, and keep trying, on their own.
  static StatusOr<std::unique_ptr<RedisKeyRevocations>> Open(const queue::RedisOptions& redis,
                                                             RedisKeyRevocationsOptions options = {});
  ~RedisKeyRevocations();
  RedisKeyRevocations(const RedisKeyRevocations&) = delete;
  RedisKeyRevocations& operator=(const RedisKeyRevocations&) = delete;

  //! Queues a revocation for every subscribed process (this one included). Never blocks on Redis.
  void Publish(const KeyRevocation& revocation);
  //! Starts applying the channel's revocations to `authenticator`, which must outlive Stop().
  void Subscribe(ApiKeyAuthenticator& authenticator);
  //! Stops both threads (idempotent). Revocations still queued get one last attempt.
  void Stop();

  //! The subscription stands (confirmed by Redis and not known to be lost).
  bool subscribed() const { return subscribed_.load(); }
  //! Revocations Redis accepted from this process, and revocations received and applied.
  uint64_t published() const { return published_.load(); }
  uint64_t received() const { return received_.load(); }
  const std::string& channel() const { return channel_; }

 private:
  RedisKeyRevocations(const queue::RedisOptions& redis, RedisKeyRevocationsOptions options, int wake_fd);
  void PublishLoop();
  void SubscribeLoop(ApiKeyAuthenticator& authenticator);
  //! Sleeps `ms` unless Stop() is called meanwhile; false when stopping.
  bool SleepUnlessStopped(int64_t ms) const;

  const queue::RedisOptions redis_;
  const RedisKeyRevocationsOptions options_;
  const std::string channel_;
  const int wake_fd_;  // eventfd, readable once Stop() was called

  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> received_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> pending_;  // GUARDED_BY(mu_); encoded revocations, oldest first
  bool subscribing_ = false;         // GUARDED_BY(mu_)

  std::thread subscriber_;
  std::thread publisher_;  // last: starts after everything above exists
};

}  // namespace langfuse::auth
