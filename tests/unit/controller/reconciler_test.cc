#include "controller/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/reasons.h"
#include "kube/resources.h"
#include "kube/time_format.h"
#include "mocks/fake_workspace.h"
#include "unit/kube/kube_fakes.h"

// The claim: of several sidecars exactly one runs a MigrationRun, because the claim is a
// status write conditional on the resourceVersion the reconciler read. These tests drive the
// real Reconciler against the in-memory API (which, like the API server, refuses a merge
// patch whose metadata.resourceVersion is stale) with the workspace, resolver and database
// injected, so no cluster, database or alembic is involved.

namespace alembic_sidecar::controller {
namespace {

using kube::testing::FakeClock;
using kube::testing::FakeKubeApi;

constexpr char kNs[] = "team";
constexpr char kName[] = "add-email";
constexpr char kKey[] = "team/add-email";
constexpr char kSelf[] = "sidecar-a";

kube::ResourceRef runRef() { return kube::resources::migrationRuns(kNs).named(kName); }

nlohmann::json pendingRun(const std::string& message, int64_t generation) {
  return {{"apiVersion", kApiVersion},
          {"kind", kKind},
          {"metadata",
           {{"name", kName}, {"namespace", kNs}, {"uid", "uid-run"}, {"generation", generation}}},
          {"spec", {{"action", "revision"}, {"message", message}}}};
}

/** A Reconciler over the fake API, with every way out to a real system counted. */
struct Harness {
  std::shared_ptr<FakeKubeApi> api = std::make_shared<FakeKubeApi>();
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  core::RedactorPtr redactor = std::make_shared<core::Redactor>();
  int workspacesMade = 0;
  int resolversMade = 0;
  int databasesMade = 0;
  std::vector<std::string> messagesSeen;  // spec.message of each workspace made
  std::unique_ptr<Reconciler> reconciler;

  Harness() {
    ControllerOptions options;
    options.ns = kNs;
    options.self = kSelf;
    options.workspaceDir = "/srv/app";  // no target pod to look up
    options.heartbeatInterval = std::chrono::hours(1);
    RunEnvironment env;
    env.makeWorkspace =
        [this](const RunSpec& spec,
               const nlohmann::json&) -> core::Result<std::unique_ptr<workspace::Workspace>> {
      ++workspacesMade;
      messagesSeen.push_back(spec.message);
      // Stops the run right after the claim: what matters here is whether it started.
      return core::Error::terminal("TestStopsHere", "the test ends the run here");
    };
    env.makeResolver = [this](const RunSpec&, const nlohmann::json&,
                              const std::string&) -> std::unique_ptr<database::DatabaseResolver> {
      ++resolversMade;
      return nullptr;
    };
    env.databaseFactory =
        [this](const database::ConnectionInfo&) -> std::unique_ptr<database::Database> {
      ++databasesMade;
      return nullptr;
    };
    auto events = std::make_shared<kube::EventRecorder>(
        api, redactor, kube::EventRecorderOptions{"alembic-sidecar", kSelf}, clock);
    reconciler = std::make_unique<Reconciler>(api, options, env, events, nullptr, redactor, clock);
  }

  /** The claim patches sent for the run (status writes that set claimedBy to this sidecar). */
  std::vector<nlohmann::json> claims() const {
    std::vector<nlohmann::json> out;
    for (const auto& patch : api->patches) {
      if (patch.path == runRef().withSubresource("status").path() &&
          patch.body.contains("status") &&
          patch.body["status"].value("reason", "") == core::reason::kClaimed) {
        out.push_back(patch.body);
      }
    }
    return out;
  }
  size_t eventsRecorded() const {
    size_t n = 0;
    for (const auto& call : api->calls) {
      n += call.rfind("create /apis/events.k8s.io/", 0) == 0 ? 1 : 0;
    }
    return n;
  }
  nlohmann::json stored() const { return api->stored(runRef()).value(); }
};

TEST(ReconcilerClaim, PatchCarriesTheResourceVersionTheReconcilerRead) {
  Harness h;
  const auto run = h.api->put(runRef(), pendingRun("add email", 1));
  const std::string readVersion = run["metadata"]["resourceVersion"];

  h.reconciler->reconcile(kKey);

  const auto claims = h.claims();
  ASSERT_EQ(claims.size(), 1u);
  ASSERT_TRUE(claims[0].contains("metadata")) << claims[0].dump();
  EXPECT_EQ(claims[0]["metadata"].value("resourceVersion", ""), readVersion)
      << "the claim must be conditional on the object read: " << claims[0].dump();
  EXPECT_EQ(claims[0]["status"]["phase"], core::phase::kRunning);
  EXPECT_EQ(claims[0]["status"]["claimedBy"], kSelf);
  EXPECT_EQ(claims[0]["status"]["attempts"], 1);
  // The claim won, so the run went on (and ended where the test stops it).
  EXPECT_EQ(h.workspacesMade, 1);
  EXPECT_GE(h.eventsRecorded(), 1u);
  EXPECT_EQ(h.stored()["status"]["reason"], "TestStopsHere");
}

TEST(ReconcilerClaim, ConflictRequeuesWithoutRunningAnything) {
  Harness h;
  h.api->put(runRef(), pendingRun("add email", 1));
  // Another sidecar claims the run after this one read it and before its claim lands.
  bool raced = false;
  h.api->afterGet = [&](const kube::ResourceRef& ref) {
    if (raced || ref.path() != runRef().path()) {
      return;
    }
    raced = true;
    auto theirs = h.stored();
    theirs["status"] = {{"phase", core::phase::kRunning},
                        {"claimedBy", "sidecar-b"},
                        {"heartbeatTime", kube::formatTime(h.clock->wallNow())},
                        {"attempts", 1},
                        {"observedGeneration", 1}};
    h.api->put(runRef(), theirs);
  };

  const auto next = h.reconciler->reconcile(kKey);

  ASSERT_TRUE(raced);
  ASSERT_EQ(h.claims().size(), 1u);  // sent once, refused with 409
  ASSERT_TRUE(next.has_value()) << "a lost claim must be looked at again";
  EXPECT_LE(*next, h.clock->wallNow() + std::chrono::seconds(1)) << "re-queued soon";
  EXPECT_EQ(h.workspacesMade, 0);
  EXPECT_EQ(h.resolversMade, 0);
  EXPECT_EQ(h.databasesMade, 0);
  EXPECT_EQ(h.eventsRecorded(), 0u) << "a run that was not claimed has no story to tell";
  EXPECT_EQ(h.reconciler->activeRuns(), 0);
  EXPECT_EQ(h.stored()["status"]["claimedBy"], "sidecar-b");
  EXPECT_EQ(h.stored()["status"]["attempts"], 1);

  // The re-queued look sees the other sidecar's fresh claim and leaves the run to it.
  const auto later = h.reconciler->reconcile(kKey);
  EXPECT_TRUE(later.has_value());  // until sidecar-b's heartbeat could go stale
  EXPECT_EQ(h.claims().size(), 1u);
  EXPECT_EQ(h.workspacesMade, 0);
  EXPECT_EQ(h.eventsRecorded(), 0u);
}

TEST(ReconcilerClaim, RunUpdatedBetweenTheWatchEventAndTheClaimIsClaimedFromTheFreshObjectOnce) {
  Harness h;
  // The watch event that queued the key carried generation 1 ...
  const auto seen = h.api->put(runRef(), pendingRun("add email", 1));
  // ... and the user edits the spec while the reconciler is between its read and its claim.
  bool edited = false;
  h.api->afterGet = [&](const kube::ResourceRef& ref) {
    if (edited || ref.path() != runRef().path()) {
      return;
    }
    edited = true;
    auto updated = h.stored();
    updated["spec"]["message"] = "add email and name";
    updated["metadata"]["generation"] = 2;
    h.api->put(runRef(), updated);
  };

  const auto first = h.reconciler->reconcile(kKey);
  ASSERT_TRUE(edited);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(h.workspacesMade, 0) << "the claim of the stale object must have been refused";
  const std::string freshVersion = h.stored()["metadata"]["resourceVersion"];
  ASSERT_NE(freshVersion, seen["metadata"]["resourceVersion"].get<std::string>());

  // The re-queue (and the MODIFIED event of the edit) look again: one claim, of the fresh object.
  h.reconciler->reconcile(kKey);
  h.reconciler->reconcile(kKey);

  const auto claims = h.claims();
  ASSERT_EQ(claims.size(), 2u);  // the refused one, then exactly one more
  EXPECT_EQ(claims[1]["metadata"].value("resourceVersion", ""), freshVersion);
  EXPECT_EQ(claims[1]["status"]["observedGeneration"], 2);
  EXPECT_EQ(h.workspacesMade, 1);
  EXPECT_THAT(h.messagesSeen, ::testing::ElementsAre("add email and name"));
  EXPECT_EQ(h.stored()["status"]["observedGeneration"], 2);
}

TEST(ReconcilerClaim, FailedClaimOtherThanAConflictRetriesLaterWithoutRunning) {
  Harness h;
  h.api->put(runRef(), pendingRun("add email", 1));
  h.api->failNext("patch", core::Error::retryable(kube::kServerError, "etcdserver: timeout"));

  const auto next = h.reconciler->reconcile(kKey);

  ASSERT_TRUE(next.has_value());
  EXPECT_GT(*next, h.clock->wallNow());
  EXPECT_EQ(h.workspacesMade, 0);
  EXPECT_EQ(h.eventsRecorded(), 0u);
  EXPECT_FALSE(h.stored().contains("status"));
}

}  // namespace
}  // namespace alembic_sidecar::controller
