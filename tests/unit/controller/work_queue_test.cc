#include "controller/work_queue.h"

#include <gtest/gtest.h>

#include <thread>

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

TEST(WorkQueue, ShutDownWakesWaiters) {
  WorkQueue q;
  std::thread t([&] { EXPECT_EQ(q.get(), std::nullopt); });
  q.shutDown();
  t.join();
}

}  // namespace
}  // namespace alembic_sidecar::controller
