#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace alembic_sidecar::controller {

/**
 * Keys of objects that need a look, as in client-go's workqueue: a key is queued at most
 * once, is never handed to two workers at the same time (a key added while being processed
 * is queued again when done), and can be added for later. Thread-safe.
 */
class WorkQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  void add(const std::string& key);
  /** Adds the key at `when` (sooner adds win). */
  void addAt(const std::string& key, TimePoint when);
  /** Blocks for the next key; nullopt once shut down. */
  std::optional<std::string> get();
  /** Marks the key processed; a key added meanwhile becomes ready again. */
  void done(const std::string& key);
  void shutDown();
  size_t size() const;
  /** How many get() calls are blocked waiting for a key right now. */
  size_t waiters() const;

 private:
  void promoteDueLocked(TimePoint now);

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> ready_;
  std::set<std::string> queued_;      // in ready_
  std::set<std::string> processing_;
  std::set<std::string> dirty_;       // added while processing
  std::map<std::string, TimePoint> delayed_;
  bool shutDown_ = false;
  size_t waiters_ = 0;
};

}  // namespace alembic_sidecar::controller
