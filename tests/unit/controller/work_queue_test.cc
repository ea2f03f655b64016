#include "controller/work_queue.h"

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace alembic_sidecar::controller {
namespace {

TEST(WorkQueue, DeduplicatesAndNeverHandsOneKeyToTwoWorkers) {
  WorkQueue q;
  q.add("a");
  q.add("a");
  q.add("b");
  EXPECT_EQ(q.get(), "a");
  q.add("a");  // while processing: comes back after done()
  EXPECT_EQ(q.get(), "b");
  q.done("b");
  q.done("a");
  EXPECT_EQ(q.get(), "a");
  q.done("a");
  EXPECT_EQ(q.size(), 0u);
}

TEST(WorkQueue, DueDelayedKeysAreReadyAndSoonerAddsWin) {
  WorkQueue q;
  auto past = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  q.addAt("due", std::chrono::steady_clock::now() + std::chrono::hours(1));
  q.addAt("due", past);  // the sooner time wins
  EXPECT_EQ(q.get(), "due");
}

// Bounds for waiting on another thread. Only a broken queue ever waits this long: the test
// then fails with a message instead of hanging until the ctest timeout.
constexpr auto kBound = std::chrono::seconds(10);

bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kBound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(WorkQueue, ShutDownWakesWaiters) {
  // Shared with the workers, so that a worker left blocked by a broken shutDown() can be
  // detached without pointing at a dead queue.
  auto q = std::make_shared<WorkQueue>();
  constexpr int kWorkers = 2;
  std::vector<std::future<std::optional<std::string>>> results;
  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i) {
    std::packaged_task<std::optional<std::string>()> task([q] { return q->get(); });
    results.push_back(task.get_future());
    workers.emplace_back(std::move(task));
  }
  // Only workers already blocked in get() prove that shutDown() wakes waiters (rather than
  // get() noticing the shutdown on entry).
  const bool blocked = eventually([&] { return q->waiters() == kWorkers; });
  q->shutDown();
  const auto deadline = std::chrono::steady_clock::now() + kBound;
  int woken = 0;
  for (int i = 0; i < kWorkers; ++i) {
    if (results[i].wait_until(deadline) == std::future_status::ready) {
      ++woken;
      workers[i].join();
      EXPECT_EQ(results[i].get(), std::nullopt);
    } else {
      workers[i].detach();
    }
  }
  ASSERT_TRUE(blocked) << "the workers never blocked in get(): " << q->waiters() << " of "
                       << kWorkers << " waiting";
  EXPECT_EQ(woken, kWorkers) << kWorkers - woken << " worker(s) still blocked in get() "
                             << kBound.count() << " s after shutDown()";
  EXPECT_EQ(q->waiters(), 0u);
}

TEST(WorkQueue, WaitersCountsOnlyBlockedCalls) {
  WorkQueue q;
  EXPECT_EQ(q.waiters(), 0u);
  q.add("a");
  EXPECT_EQ(q.get(), "a");  // a ready key: get() does not wait
  EXPECT_EQ(q.waiters(), 0u);
}

}  // namespace
}  // namespace alembic_sidecar::controller
