#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace alembic_sidecar::kube {

/** Wakes a sleeping thread early (used by stop()). Once fired it stays fired. Thread-safe. */
class Interrupt {
 public:
  void fire();
  bool fired() const;
  /** Blocks up to `duration` of real time; returns true when fired. */
  bool waitFor(std::chrono::nanoseconds duration);

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool fired_ = false;
};

/**
 * Time as the kube package sees it. Injected so that backoff, token refresh, leases and
 * events are unit-tested without real time.
 */
class Clock {
 public:
  virtual ~Clock() = default;
  /** Monotonic time, for durations and deadlines. */
  virtual std::chrono::steady_clock::time_point now() const = 0;
  /** Wall time, for timestamps written to the API (eventTime, renewTime). */
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
  /**
   * Sleeps for `duration`. Returns false when `interrupt` (may be null) fired before the
   * time was up, true otherwise.
   */
  virtual bool sleepFor(std::chrono::nanoseconds duration, Interrupt* interrupt = nullptr) = 0;
};

using ClockPtr = std::shared_ptr<Clock>;

/** The real clocks and a real sleep. */
ClockPtr systemClock();

/** Returns a number uniformly distributed in [0, 1). */
using RandomSource = std::function<double()>;

/** A thread-safe RandomSource seeded from std::random_device. */
RandomSource defaultRandom();

}  // namespace alembic_sidecar::kube
