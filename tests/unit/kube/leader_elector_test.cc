#include "kube/leader_elector.h"

#include <gtest/gtest.h>

#include "kube/resources.h"
#include "kube/time_format.h"
#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

using std::chrono::seconds;
using testing::FakeClock;
using testing::FakeKubeApi;

const ResourceRef kLease = resources::leases("team").named("alembic-sidecar");

struct Harness {
  std::shared_ptr<FakeKubeApi> api = std::make_shared<FakeKubeApi>();
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();

  LeaderElector elector(const std::string& identity) {
    LeaderElectionConfig config;
    config.namespace_ = "team";
    config.name = "alembic-sidecar";
    config.identity = identity;
    return LeaderElector(api, config, clock);
  }
  nlohmann::json spec() { return api->stored(kLease).value()["spec"]; }
};

TEST(LeaderElector, DefaultsAreClientGos) {
  LeaderElectionConfig config;
  EXPECT_EQ(config.leaseDuration, seconds(15));
  EXPECT_EQ(config.renewDeadline, seconds(10));
  EXPECT_EQ(config.retryPeriod, seconds(2));
}

TEST(LeaderElector, CreatesTheLeaseWhenThereIsNone) {
  Harness h;
  auto a = h.elector("pod-a");
  auto won = a.tryAcquireOrRenew();
  ASSERT_TRUE(won) << won.error().message;
  EXPECT_TRUE(won.value());
  EXPECT_TRUE(a.isLeader());
  const auto spec = h.spec();
  EXPECT_EQ(spec["holderIdentity"], "pod-a");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec["leaseTransitions"], 0);
  EXPECT_EQ(spec["renewTime"], "2024-05-01T10:00:00.000000Z");  // MicroTime
  EXPECT_EQ(h.api->created[0]["apiVersion"], "coordination.k8s.io/v1");
}

TEST(LeaderElector, RenewalKeepsAcquireTimeAndMovesRenewTime) {
  Harness h;
  auto a = h.elector("pod-a");
  ASSERT_TRUE(a.tryAcquireOrRenew().value());
  const auto acquired = h.spec()["acquireTime"];
  h.clock->advance(seconds(2));
  ASSERT_TRUE(a.tryAcquireOrRenew().value());
  EXPECT_EQ(h.spec()["acquireTime"], acquired);
  EXPECT_EQ(h.spec()["renewTime"], "2024-05-01T10:00:02.000000Z");
  EXPECT_EQ(h.spec()["leaseTransitions"], 0);
}

TEST(LeaderElector, DoesNotTakeALeaseWhoseHolderKeepsRenewing) {
  Harness h;
  auto a = h.elector("pod-a");
  auto b = h.elector("pod-b");
  ASSERT_TRUE(a.tryAcquireOrRenew().value());
  for (int i = 0; i < 10; ++i) {
    h.clock->advance(seconds(2));
    ASSERT_TRUE(a.tryAcquireOrRenew().value());
    auto tried = b.tryAcquireOrRenew();
    ASSERT_TRUE(tried);
    EXPECT_FALSE(tried.value());
  }
  EXPECT_FALSE(b.isLeader());
  EXPECT_EQ(h.spec()["holderIdentity"], "pod-a");
}

TEST(LeaderElector, TakesOverOnceTheHolderStopsRenewingForALeaseDuration) {
  Harness h;
  auto a = h.elector("pod-a");
  auto b = h.elector("pod-b");
  ASSERT_TRUE(a.tryAcquireOrRenew().value());
  EXPECT_FALSE(b.tryAcquireOrRenew().value());  // b starts its own observation now
  h.clock->advance(seconds(14));
  EXPECT_FALSE(b.tryAcquireOrRenew().value());
  h.clock->advance(seconds(2));
  EXPECT_TRUE(b.tryAcquireOrRenew().value());
  EXPECT_EQ(h.spec()["holderIdentity"], "pod-b");
  EXPECT_EQ(h.spec()["leaseTransitions"], 1);
}

TEST(LeaderElector, AConcurrentWriteMakesTheAttemptLose) {
  Harness h;
  auto a = h.elector("pod-a");
  ASSERT_TRUE(a.tryAcquireOrRenew().value());
  h.api->failNext("replace", core::Error::retryable(kConflict, "the object has been modified"));
  auto renewed = a.tryAcquireOrRenew();
  ASSERT_TRUE(renewed);
  EXPECT_FALSE(renewed.value());
}

TEST(LeaderElector, LosingTheCreateRaceIsNotAnError) {
  Harness h;
  auto a = h.elector("pod-a");
  h.api->failNext("create", core::Error::terminal(kAlreadyExists, "already exists"));
  auto won = a.tryAcquireOrRenew();
  ASSERT_TRUE(won);
  EXPECT_FALSE(won.value());
}

TEST(LeaderElector, ReleaseHandsTheLeaseOverImmediately) {
  Harness h;
  auto a = h.elector("pod-a");
  auto b = h.elector("pod-b");
  ASSERT_TRUE(a.tryAcquireOrRenew().value());
  EXPECT_FALSE(b.tryAcquireOrRenew().value());
  ASSERT_TRUE(a.release());
  EXPECT_FALSE(a.isLeader());
  EXPECT_EQ(h.spec()["holderIdentity"], "");
  EXPECT_EQ(h.spec()["leaseDurationSeconds"], 1);
  EXPECT_TRUE(b.tryAcquireOrRenew().value());
}

TEST(LeaderElector, ReleaseWithoutLeadershipWritesNothing) {
  Harness h;
  auto a = h.elector("pod-a");
  ASSERT_TRUE(a.release());
  EXPECT_TRUE(h.api->calls.empty());
}

TEST(LeaderElector, RunGivesUpWhenRenewalFailsForTheRenewDeadline) {
  Harness h;
  auto a = h.elector("pod-a");
  Interrupt stop;
  bool started = false;
  bool stopped = false;
  int sleeps = 0;
  h.clock->onSleep = [&](std::chrono::nanoseconds) {
    // From the second renewal on, the API server fails every request.
    if (++sleeps >= 2) {
      for (int i = 0; i < 3; ++i) {
        h.api->failNext("get", core::Error::retryable(kServerError, "503"));
      }
    }
    if (sleeps > 50) {
      stop.fire();  // safety net: the test must not hang
    }
  };
  a.run([&] { started = true; }, [&] { stopped = true; }, stop);
  EXPECT_TRUE(started);
  EXPECT_TRUE(stopped);
  EXPECT_FALSE(a.isLeader());
  EXPECT_FALSE(stop.fired());
  // Renewed once at t=2s, then failed at 4, 6, 8, 10 and gave up at 12 (>= 10 s after 2 s).
  EXPECT_EQ(sleeps, 6);
}

TEST(LeaderElector, RunReleasesTheLeaseWhenStopped) {
  Harness h;
  auto a = h.elector("pod-a");
  Interrupt stop;
  int sleeps = 0;
  h.clock->onSleep = [&](std::chrono::nanoseconds) {
    if (++sleeps == 3) {
      stop.fire();
    }
  };
  bool stopped = false;
  a.run([] {}, [&] { stopped = true; }, stop);
  EXPECT_TRUE(stopped);
  EXPECT_EQ(h.spec()["holderIdentity"], "");
}

}  // namespace
}  // namespace alembic_sidecar::kube
