#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "kube/api_errors.h"
#include "kube/event_recorder.h"
#include "kube/leader_elector.h"
#include "kube/owner_references.h"
#include "kube/resources.h"
#include "kube/time_format.h"
#include "kube_e2e.h"

namespace alembic_sidecar::kube {
namespace {

using e2e::ServerSuite;
using e2e::waitUntil;
using std::chrono::milliseconds;

nlohmann::json migrationRun(const std::string& name) {
  return {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
          {"kind", "MigrationRun"},
          {"metadata", {{"name", name}}},
          {"spec", {{"action", "revision"}, {"message", "add user email"}}}};
}

LeaderElectionConfig leaseConfig(const std::string& identity) {
  LeaderElectionConfig config;
  config.namespace_ = "default";
  config.name = "alembic-sidecar";
  config.identity = identity;
  config.leaseDuration = milliseconds(2000);
  config.renewDeadline = milliseconds(1500);
  config.retryPeriod = milliseconds(200);
  return config;
}

using Coordination = ServerSuite;

TEST_F(Coordination, OnlyOneOfTwoReplicasLeadsAndReleaseHandsOver) {
  LeaderElector a(server()->adminClient(), leaseConfig("pod-a"));
  LeaderElector b(server()->adminClient(), leaseConfig("pod-b"));
  auto first = a.tryAcquireOrRenew();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first.value());
  auto second = b.tryAcquireOrRenew();
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second.value());

  auto lease = server()->adminClient()->get(resources::leases("default").named("alembic-sidecar"));
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "pod-a");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 2);
  EXPECT_TRUE(parseTime((*lease)["spec"]["renewTime"].get<std::string>()));

  ASSERT_TRUE(a.release());
  auto taken = b.tryAcquireOrRenew();
  ASSERT_TRUE(taken);
  EXPECT_TRUE(taken.value());
  lease = server()->adminClient()->get(resources::leases("default").named("alembic-sidecar"));
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "pod-b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
}

TEST_F(Coordination, ConcurrentCandidatesNeverBothWin) {
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(server()->reset());
    std::vector<std::unique_ptr<LeaderElector>> electors;
    for (int i = 0; i < 4; ++i) {
      electors.push_back(std::make_unique<LeaderElector>(server()->adminClient(),
                                                         leaseConfig("pod-" + std::to_string(i))));
    }
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (auto& elector : electors) {
      threads.emplace_back([&] {
        auto won = elector->tryAcquireOrRenew();
        if (won && won.value()) {
          ++winners;
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    EXPECT_EQ(winners.load(), 1) << "round " << round;
  }
}

TEST_F(Coordination, LeaderThatStopsRenewingIsReplacedAfterTheLeaseDuration) {
  LeaderElector a(server()->adminClient(), leaseConfig("pod-a"));
  LeaderElector b(server()->adminClient(), leaseConfig("pod-b"));
  ASSERT_TRUE(a.tryAcquireOrRenew().value());
  Interrupt stop;
  std::atomic<bool> bLeads{false};
  std::thread candidate([&] { b.run([&] { bLeads = true; }, [] {}, stop); });
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitUntil([&] { return bLeads.load(); }, std::chrono::seconds(10)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(1500));
  stop.fire();
  candidate.join();
  auto lease = server()->adminClient()->get(resources::leases("default").named("alembic-sidecar"));
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "");  // released on stop
}

TEST_F(Coordination, EventsAreRecordedWithMicrosecondTimeAndNoSecrets) {
  auto client = server()->adminClient();
  auto run = client->create(resources::migrationRuns("default"), migrationRun("r1"));
  ASSERT_TRUE(run) << run.error().message;
  auto redactor = std::make_shared<core::Redactor>();
  redactor->add("hunter2");
  EventRecorder recorder(client, redactor, {"alembic-sidecar", "sidecar-pod-0"});
  ASSERT_TRUE(recorder.normal(*run, "DatabaseReady", "Probe",
                              "connected to postgresql://app:hunter2@db:5432/app"));
  ASSERT_TRUE(recorder.warning(*run, "UpgradeFailed", "Upgrade", "upgrade head failed"));
  auto events = client->list(resources::events("default"), {});
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->items.size(), 2u);
  for (const auto& event : events->items) {
    EXPECT_EQ(event["regarding"]["uid"], (*run)["metadata"]["uid"]);
    EXPECT_EQ(event["reportingController"], "alembic-sidecar");
    EXPECT_EQ(event["reportingInstance"], "sidecar-pod-0");
    const std::string time = event["eventTime"].get<std::string>();
    EXPECT_EQ(time.size(), std::string("2024-05-01T10:00:00.000000Z").size()) << time;
    EXPECT_EQ(event.dump().find("hunter2"), std::string::npos);
  }
}

TEST_F(Coordination, OwnedConfigMapIsCollectedWithItsRun) {
  auto client = server()->adminClient();
  auto run = client->create(resources::migrationRuns("default"), migrationRun("r2"));
  ASSERT_TRUE(run) << run.error().message;
  auto cm = buildOwnedConfigMap("r2-revision", *run, {{"3f2a1b_add_email.py", "# revision"}});
  ASSERT_TRUE(cm);
  ASSERT_TRUE(createOrReplaceConfigMap(*client, *cm));
  auto second = buildOwnedConfigMap("r2-revision", *run, {{"3f2a1b_add_email.py", "# v2"}});
  auto replaced = createOrReplaceConfigMap(*client, *second);
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ((*replaced)["data"]["3f2a1b_add_email.py"], "# v2");
  EXPECT_EQ((*replaced)["metadata"]["ownerReferences"][0]["uid"], (*run)["metadata"]["uid"]);

  ASSERT_TRUE(client->remove(resources::migrationRuns("default").named("r2")));
  EXPECT_TRUE(waitUntil([&] {
    auto gone = client->get(resources::configMaps("default").named("r2-revision"));
    return !gone && isNotFound(gone.error());
  }));
}

}  // namespace
}  // namespace alembic_sidecar::kube
