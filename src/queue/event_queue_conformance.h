#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "queue/event_queue.h"

namespace langfuse::queue {

//! One EventQueue implementation under test.
struct EventQueueConformanceParam {
  std::string name;  //!< shows in test names: "sqlite", "redis"
  //! Non-empty: why the implementation cannot be tested here; its tests are skipped saying so.
  std::function<std::string()> skip_reason;
  //! A new, empty place for one test's queue (a file path, a key prefix).
  std::function<std::string()> new_location;
  //! Opens the queue at `location`. Two handles open at once behave as two processes sharing the
  //! queue; a handle opened after another was destroyed is that process restarted. Entries a
  //! destroyed handle left unacknowledged must reach a new handle within a few seconds.
  std::function<StatusOr<std::unique_ptr<EventQueue>>(const std::string& location)> open;
  //! Deletes what the location holds, once the test's handles are gone.
  std::function<void(const std::string& location)> remove;
};

inline std::ostream& operator<<(std::ostream& os, const EventQueueConformanceParam& p) {
  return os << p.name;
}

//! The behaviour every EventQueue must share (tests in event_queue_conformance.cpp). Run it for an
//! implementation by compiling event_queue_conformance.cpp into the test binary and writing:
//!
//!   INSTANTIATE_TEST_SUITE_P(Sqlite, EventQueueConformanceTest, ::testing::Values(SqliteParam()),
//!                            EventQueueConformanceName);
//!
//! Each test starts with `queue_` open on a fresh location.
class EventQueueConformanceTest : public ::testing::TestWithParam<EventQueueConformanceParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  //! Another handle on this test's queue (nullptr, with a test failure, when it cannot be opened).
  std::unique_ptr<EventQueue> OpenAgain();

  std::string location_;
  std::unique_ptr<EventQueue> queue_;
};

//! Reads from `queue` until `count` items arrived or `timeout` passed; returns what arrived.
std::vector<QueueItem> ReadUntil(EventQueue& queue, size_t count, std::chrono::milliseconds timeout);

//! Names instantiations by EventQueueConformanceParam::name.
inline std::string EventQueueConformanceName(
    const ::testing::TestParamInfo<EventQueueConformanceParam>& info) {
  return info.param.name;
}

}  // namespace langfuse::queue
