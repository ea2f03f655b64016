#include "kube/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "kube/resources.h"
#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

using testing::FakeClock;
using testing::FakeKubeApi;
using testing::WatchScript;

const ResourceRef kRuns = resources::migrationRuns("team");

nlohmann::json run(const std::string& name, const std::string& rv) {
  return {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
          {"kind", "MigrationRun"},
          {"metadata", {{"name", name}, {"namespace", "team"}, {"resourceVersion", rv}}}};
}

WatchEvent event(const std::string& type, const nlohmann::json& object) { return {type, object}; }

WatchEvent bookmark(const std::string& rv) {
  return {"BOOKMARK", {{"metadata", {{"resourceVersion", rv}}}}};
}

struct Delivered {
  std::string type;
  std::string name;
  std::string rv;
  bool operator==(const Delivered&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Delivered& d) {
  return out << d.type << " " << d.name << "@" << d.rv;
}

struct Harness {
  std::shared_ptr<FakeKubeApi> api = std::make_shared<FakeKubeApi>();
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::vector<Delivered> delivered;
  std::vector<size_t> resyncs;
  std::unique_ptr<Informer> informer;

  explicit Harness(InformerOptions options = {}) {
    informer = std::make_unique<Informer>(
        api, kRuns, options,
        [this](EventType type, const nlohmann::json& object) {
          delivered.push_back(
              {toString(type), object["metadata"].value("name", ""), resourceVersionOf(object)});
        },
        [this](const std::vector<nlohmann::json>& objects) { resyncs.push_back(objects.size()); },
        clock, [] { return 0.0; });
  }
  void putRun(const std::string& name) { api->put(kRuns.named(name), run(name, "")); }
};

TEST(Informer, FirstListDeliversAddedAndSyncs) {
  Harness h;
  h.putRun("a");
  h.putRun("b");
  EXPECT_FALSE(h.informer->hasSynced());
  ASSERT_TRUE(h.informer->step());
  EXPECT_TRUE(h.informer->hasSynced());
  EXPECT_EQ(h.delivered, (std::vector<Delivered>{{"ADDED", "a", "101"}, {"ADDED", "b", "102"}}));
  EXPECT_EQ(h.informer->resourceVersion(), "102");
  EXPECT_EQ(h.informer->snapshot().size(), 2u);
  EXPECT_TRUE(h.informer->cached("team/a"));
}

TEST(Informer, ListIsPaginated) {
  InformerOptions options;
  options.list.limit = 2;
  Harness h(options);
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    h.putRun(name);
  }
  h.informer->step();
  EXPECT_EQ(h.delivered.size(), 5u);
  EXPECT_EQ(std::count_if(h.api->calls.begin(), h.api->calls.end(),
                          [](const std::string& c) { return c.rfind("list", 0) == 0; }),
            3);
}

TEST(Informer, WatchStartsFromTheListAndFollowsEventsAndBookmarks) {
  Harness h;
  h.putRun("a");
  h.api->watchScripts.push_back(
      WatchScript{{event("ADDED", run("b", "110")), bookmark("115"),
                   event("MODIFIED", run("a", "120")), event("DELETED", run("b", "121"))},
                  std::nullopt});
  h.api->watchScripts.push_back(WatchScript{{bookmark("130")}, std::nullopt});
  h.informer->step();  // list
  h.informer->step();  // first watch, ends cleanly
  h.informer->step();  // second watch
  h.informer->step();  // third watch
  EXPECT_EQ(h.delivered, (std::vector<Delivered>{{"ADDED", "a", "101"},
                                                 {"ADDED", "b", "110"},
                                                 {"MODIFIED", "a", "120"},
                                                 {"DELETED", "b", "121"}}));
  // Each reconnect resumes from the newest resourceVersion, bookmarks included.
  EXPECT_EQ(h.api->watchResourceVersions, (std::vector<std::string>{"101", "121", "130"}));
  EXPECT_EQ(h.informer->counters().restarts, 3u);
  EXPECT_EQ(h.informer->counters().events, 4u);
}

TEST(Informer, RepeatedEventsAreNotDeliveredTwice) {
  Harness h;
  h.putRun("a");  // rv 101
  h.api->watchScripts.push_back(
      WatchScript{{event("ADDED", run("a", "101")), event("MODIFIED", run("a", "105")),
                   event("MODIFIED", run("a", "105")), event("DELETED", run("zz", "106"))},
                  std::nullopt});
  h.informer->step();
  h.informer->step();
  EXPECT_EQ(h.delivered, (std::vector<Delivered>{{"ADDED", "a", "101"}, {"MODIFIED", "a", "105"}}));
}

TEST(Informer, BrokenStreamRelistsWithBackoffAndDeliversWhatHappenedMeanwhile) {
  Harness h;
  h.putRun("a");  // 101
  h.api->watchScripts.push_back(
      WatchScript{{}, core::Error::retryable(kConnectionFailed, "connection reset by peer")});
  h.informer->step();                       // list
  h.informer->step();                       // watch: the connection breaks
  h.putRun("b");                            // 102, while disconnected
  h.informer->step();                       // relist
  EXPECT_EQ(h.clock->sleeps().size(), 1u);  // one backoff after the failure, before the list
  h.informer->step();                       // watch from the new list
  EXPECT_EQ(h.delivered, (std::vector<Delivered>{{"ADDED", "a", "101"}, {"ADDED", "b", "102"}}));
  EXPECT_EQ(h.api->watchResourceVersions, (std::vector<std::string>{"101", "102"}));
  auto counters = h.informer->counters();
  EXPECT_EQ(counters.lists, 2u);
  EXPECT_EQ(counters.relists, 1u);
  EXPECT_EQ(counters.errors, 1u);
  EXPECT_FALSE(h.informer->lastError().has_value());  // cleared by the good list
}

TEST(Informer, WatchThatKeepsBreakingBacksOffLongerEachTime) {
  Harness h;
  for (int i = 0; i < 3; ++i) {
    h.api->watchScripts.push_back(
        WatchScript{{}, core::Error::retryable(kConnectionFailed, "connection reset by peer")});
  }
  for (int i = 0; i < 6; ++i) {
    h.informer->step();  // list, broken watch, list, ...
  }
  const auto sleeps = h.clock->sleeps();
  ASSERT_EQ(sleeps.size(), 3u);
  EXPECT_LT(sleeps[0], sleeps[1]);
  EXPECT_LT(sleeps[1], sleeps[2]);
}

TEST(Informer, WatchRefusedWithAnotherErrorRelistsAfterBackoff) {
  Harness h;
  h.informer->step();  // list
  h.api->failNext("watch", core::Error::retryable(kServerError, "503 apiserver restarting"));
  h.informer->step();  // refused
  ASSERT_TRUE(h.informer->lastError().has_value());
  EXPECT_EQ(h.informer->lastError()->reason, kServerError);
  h.informer->step();
  EXPECT_EQ(h.api->calls.back().rfind("list", 0), 0u) << h.api->calls.back();
  EXPECT_EQ(h.clock->sleeps().size(), 1u);
  EXPECT_EQ(h.informer->counters().relists, 1u);
}

TEST(Informer, GoneErrorEventRelistsAndDeliversOnlyTheDifference) {
  Harness h;
  h.putRun("keep");    // 101
  h.putRun("change");  // 102
  h.putRun("vanish");  // 103
  h.api->watchScripts.push_back(
      WatchScript{{event("ERROR", testing::statusBody(410, "Expired", "too old resource version"))},
                  std::nullopt});
  h.informer->step();  // list
  // While the watch was gone: one object changed, one was deleted, one was created.
  h.api->put(kRuns.named("change"), run("change", ""));  // 104
  h.api->erase(kRuns.named("vanish"));                   // 105
  h.putRun("fresh");                                     // 106
  h.informer->step();                                    // watch: ERROR 410
  h.informer->step();                                    // relist
  EXPECT_EQ(h.delivered, (std::vector<Delivered>{{"ADDED", "change", "102"},
                                                 {"ADDED", "keep", "101"},
                                                 {"ADDED", "vanish", "103"},
                                                 {"MODIFIED", "change", "104"},
                                                 {"ADDED", "fresh", "106"},
                                                 {"DELETED", "vanish", "103"}}));
  auto counters = h.informer->counters();
  EXPECT_EQ(counters.lists, 2u);
  EXPECT_EQ(counters.relists, 1u);
  // An expired watch is routine, not a failure: no error counted (the metric alerts on it).
  EXPECT_EQ(counters.errors, 0u);
  EXPECT_EQ(h.informer->resourceVersion(), "106");
}

TEST(Informer, WatchRefusedWithGoneRelists) {
  Harness h;
  h.putRun("a");
  h.informer->step();
  h.api->failNext("watch", core::Error::retryable(kGone, "410 Expired"));
  h.informer->step();
  h.putRun("b");
  h.informer->step();
  EXPECT_EQ(h.delivered, (std::vector<Delivered>{{"ADDED", "a", "101"}, {"ADDED", "b", "102"}}));
  EXPECT_EQ(h.informer->counters().relists, 1u);
  EXPECT_TRUE(h.clock->sleeps().empty());  // a 410 is not a failure: relist right away
}

TEST(Informer, FailedListIsRetriedWithBackoffBeforeSyncing) {
  Harness h;
  h.api->failNext("list", core::Error::retryable(kServerError, "500"));
  h.informer->step();
  EXPECT_FALSE(h.informer->hasSynced());
  EXPECT_EQ(h.informer->counters().errors, 1u);
  EXPECT_EQ(h.clock->sleeps().size(), 1u);
  h.informer->step();
  EXPECT_TRUE(h.informer->hasSynced());
}

TEST(Informer, OtherErrorEventsCountAsErrorsAndRelist) {
  Harness h;
  h.api->watchScripts.push_back(WatchScript{
      {event("ERROR", testing::statusBody(500, "InternalError", "etcd hiccup"))}, std::nullopt});
  h.informer->step();
  h.informer->step();
  EXPECT_EQ(h.informer->counters().errors, 1u);
  EXPECT_EQ(h.api->calls.back().rfind("watch", 0), 0u);
  h.informer->step();
  EXPECT_EQ(h.api->calls.back().rfind("list", 0), 0u) << h.api->calls.back();
}

TEST(Informer, CleanEndOfAWatchResumesWithoutRelisting) {
  Harness h;
  h.putRun("a");
  h.api->watchScripts.push_back(WatchScript{{bookmark("150")}, std::nullopt});
  h.informer->step();  // list
  h.informer->step();  // watch ends cleanly (timeoutSeconds)
  h.informer->step();  // watch again from the bookmark
  EXPECT_EQ(h.informer->counters().lists, 1u);
  EXPECT_EQ(h.api->watchResourceVersions, (std::vector<std::string>{"101", "150"}));
}

/** A watch that delivers nothing until it is cancelled (an event was lost upstream). */
class SilentWatchStream final : public WatchStream {
 public:
  explicit SilentWatchStream(std::promise<void>* opened) {
    if (opened != nullptr) {
      opened->set_value();
    }
  }
  core::Result<std::optional<WatchEvent>> next() override {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return cancelled_; });
    return core::Error::terminal(kCancelled, "stream cancelled");
  }
  void cancel() override {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool cancelled_ = false;
};

TEST(Informer, RelistEndsASilentWatchAndDeliversTheLostEvent) {
  Harness h;
  h.putRun("a");
  std::promise<void> opened;
  bool first = true;
  h.api->openStream = [&]() -> std::unique_ptr<WatchStream> {
    auto stream = std::make_unique<SilentWatchStream>(first ? &opened : nullptr);
    first = false;
    return stream;
  };
  h.informer->step();  // list
  std::thread watching([&] { h.informer->step(); });
  opened.get_future().wait();
  h.putRun("lost");  // the watch never tells
  h.informer->relist();
  watching.join();
  h.informer->step();  // the list relist() asked for

  EXPECT_EQ(h.delivered, (std::vector<Delivered>{{"ADDED", "a", "101"}, {"ADDED", "lost", "102"}}));
  auto counters = h.informer->counters();
  EXPECT_EQ(counters.relists, 1u);
  EXPECT_EQ(counters.errors, 0u);          // asked for, not a failure
  EXPECT_TRUE(h.clock->sleeps().empty());  // and no backoff
}

TEST(Informer, PeriodicRelistRunsOnItsOwnThread) {
  InformerOptions options;
  options.relistPeriod = std::chrono::milliseconds(1000);
  Harness h(options);
  h.putRun("a");
  h.api->openStream = [] { return std::make_unique<SilentWatchStream>(nullptr); };
  // The fake clock's sleeps return at once: slow the relist thread down to real time.
  h.clock->onSleep = [](std::chrono::nanoseconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  h.informer->start();
  ASSERT_TRUE(h.informer->waitForSync(std::chrono::seconds(10)));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (h.informer->counters().relists < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  h.informer->stop();
  EXPECT_GE(h.informer->counters().relists, 2u);
  EXPECT_EQ(h.informer->counters().errors, 0u);
}

TEST(Informer, ResyncHandsTheCacheToTheHook) {
  Harness h;
  h.putRun("a");
  h.putRun("b");
  h.informer->resync();  // not synced yet: nothing
  EXPECT_TRUE(h.resyncs.empty());
  h.informer->step();
  h.informer->resync();
  EXPECT_EQ(h.resyncs, std::vector<size_t>{2});
}

TEST(Informer, PeriodicResyncRunsOnItsOwnThreadUntilStopped) {
  InformerOptions options;
  options.resyncPeriod = std::chrono::milliseconds(1000);
  Harness h(options);
  h.putRun("a");
  std::mutex mutex;
  std::condition_variable cv;
  int resyncs = 0;
  auto informer = std::make_unique<Informer>(
      h.api, kRuns, options, [](EventType, const nlohmann::json&) {},
      [&](const std::vector<nlohmann::json>&) {
        std::lock_guard lock(mutex);
        ++resyncs;
        cv.notify_all();
      },
      h.clock, [] { return 0.0; });
  // The fake watch ends at once; keep the loop from spinning by pausing it on every sleep.
  informer->start();
  ASSERT_TRUE(informer->waitForSync(std::chrono::seconds(10)));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return resyncs >= 2; }));
  }
  informer->stop();
  informer->stop();  // idempotent
  EXPECT_FALSE(informer->step());
}

TEST(Informer, StopEndsTheLoopAndAStoppedStepDoesNothing) {
  Harness h;
  h.informer->start();
  ASSERT_TRUE(h.informer->waitForSync(std::chrono::seconds(10)));
  h.informer->stop();
  const auto calls = h.api->calls.size();
  EXPECT_FALSE(h.informer->step());
  EXPECT_EQ(h.api->calls.size(), calls);
}

}  // namespace
}  // namespace alembic_sidecar::kube
