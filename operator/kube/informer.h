#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kube/backoff.h"
#include "kube/clock.h"
#include "kube/kube_api.h"

namespace alembic_sidecar::kube {

enum class EventType { kAdded, kModified, kDeleted };
const char* toString(EventType type);

struct InformerOptions {
  /** Label / field selectors and the page size of the list. */
  ListOptions list{"", "", 500, "", ""};
  /** timeoutSeconds of each watch; the informer reconnects when the server ends it. */
  std::chrono::seconds watchTimeout{300};
  /** Waits between failed lists / broken watches; `attempts` is ignored (retries forever). */
  BackoffPolicy backoff{std::chrono::milliseconds(200), std::chrono::milliseconds(30000), 0,
                        std::chrono::milliseconds(60000)};
  /** Calls the resync handler with the whole cache this often; zero disables it. */
  std::chrono::milliseconds resyncPeriod{0};
  /**
   * Lists the collection again this often (ending the watch in progress) and delivers the
   * difference, in case an event was lost without the watch noticing; zero disables it.
   */
  std::chrono::milliseconds relistPeriod{0};
};

/** For metrics. */
struct InformerCounters {
  uint64_t lists = 0;     // successful lists, the first one included
  uint64_t relists = 0;   // lists after the first successful one (410, failure, period)
  uint64_t restarts = 0;  // watches re-opened after one ended or broke
  uint64_t errors = 0;    // failed lists, refused or broken watches, ERROR events
  uint64_t events = 0;    // events delivered to the handler
};

/**
 * Keeps a local cache of one collection in step with the server and tells a handler about
 * every change: list (paginated), then watch from the list's resourceVersion with bookmarks;
 * when the server ends a watch cleanly (timeoutSeconds) reconnect from the newest
 * resourceVersion seen (events and BOOKMARKs); after anything that may have lost events (410
 * Gone, a refused or broken watch, an ERROR event; e.g. an API server that restarted with a
 * new history) and every relistPeriod, list again and deliver the difference against the
 * cache. So the handler sees each change once: ADDED for an object it has not seen, MODIFIED
 * when the resourceVersion changed, DELETED when it went away. Changes that happen while
 * disconnected are folded together (level-based, like client-go).
 *
 * Handlers run on the informer's thread, one at a time, and must not throw.
 */
class Informer {
 public:
  using EventHandler = std::function<void(EventType type, const nlohmann::json& object)>;
  using ResyncHandler = std::function<void(const std::vector<nlohmann::json>& objects)>;

  Informer(std::shared_ptr<KubeApi> api, ResourceRef collection, InformerOptions options,
           EventHandler onEvent, ResyncHandler onResync = {}, ClockPtr clock = systemClock(),
           RandomSource random = defaultRandom());
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  /** Starts the list/watch thread (and the resync / relist threads when periods are set). */
  void start();
  /** Stops the threads, cancelling a watch in progress. Idempotent. */
  void stop();
  /** Makes the next unit of work a full list, ending a watch in progress. Thread-safe. */
  void relist();
  /**
   * One unit of work, on the caller's thread: a list when one is due, else one watch read
   * to its end. Returns false once stopped. start() runs this in a loop.
   */
  bool step();
  /** Calls the resync handler with the cached objects now. */
  void resync();

  /** True once the first list has been delivered. */
  bool hasSynced() const;
  /** Blocks until hasSynced() or the timeout; returns hasSynced(). */
  bool waitForSync(std::chrono::milliseconds timeout);
  InformerCounters counters() const;
  std::vector<nlohmann::json> snapshot() const;
  std::optional<nlohmann::json> cached(const std::string& key) const;
  /** The newest resourceVersion seen; the next watch starts from it. */
  std::string resourceVersion() const;
  /** The last failure talking to the API (list, watch), cleared by the next good list. */
  std::optional<core::Error> lastError() const;

 private:
  void listAndDiff();
  void watchOnce();
  void apply(const WatchEvent& event);
  void deliver(EventType type, const nlohmann::json& object);
  void backoffAfterFailure();

  std::shared_ptr<KubeApi> api_;
  ResourceRef collection_;
  InformerOptions options_;
  EventHandler onEvent_;
  ResyncHandler onResync_;
  ClockPtr clock_;
  JitteredBackoff backoff_;

  mutable std::mutex mutex_;  // guards cache_, resourceVersion_, counters_, stream_
  std::condition_variable syncedCv_;
  std::map<std::string, nlohmann::json> cache_;
  std::string resourceVersion_;
  InformerCounters counters_;
  WatchStream* stream_ = nullptr;
  bool needList_ = true;
  /** relist() asked for the list: the watch it ends did not fail. */
  bool relistRequested_ = false;
  bool everListed_ = false;
  std::optional<core::Error> lastError_;
  int failures_ = 0;
  std::atomic<bool> synced_{false};

  std::mutex deliverMutex_;  // one handler call at a time
  Interrupt stopping_;
  std::thread loop_;
  std::thread resyncLoop_;
  std::thread relistLoop_;
};

}  // namespace alembic_sidecar::kube
