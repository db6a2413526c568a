#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace langfuse {

//! Reusable objects with warm buffers (parsers, compression contexts) shared by many threads: a
//! user takes one for the duration of a call and gives it back. Only as many are busy at once as
//! calls run in parallel, so keeping at most `max_idle` of them bounds the memory they hold to
//! that, not to the number of threads. Thread-safe.
template <typename T, typename Deleter = std::default_delete<T>>
class IdlePool {
 public:
  using Ptr = std::unique_ptr<T, Deleter>;

  explicit IdlePool(size_t max_idle) : max_idle_(max_idle) {}

  //! An idle object, or `create()` when none is.
  template <typename Create>
  Ptr Take(Create create) {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        Ptr object = std::move(idle_.back());
        idle_.pop_back();
        return object;
      }
    }
    return create();
  }

  //! Keeps `object` for a later Take unless `max_idle` are kept already (then it is freed).
  void Give(Ptr object) {
    if (!object) return;
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_) idle_.push_back(std::move(object));
  }

 private:
  std::mutex mu_;
  std::vector<Ptr> idle_;  // GUARDED_BY(mu_)
  const size_t max_idle_;
};

}  // namespace langfuse
