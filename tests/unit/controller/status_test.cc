#include "controller/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/time_format.h"

namespace alembic_sidecar::controller {
namespace {

using Clock = std::chrono::system_clock;
using std::chrono::seconds;

Clock::time_point at(int64_t s) { return Clock::time_point(seconds(s)); }

TEST(Conditions, TransitionTimeMovesOnlyWhenTheStatusChanges) {
  nlohmann::json previous = nlohmann::json::array(
      {{{"type", "DatabaseReady"}, {"status", "True"}, {"lastTransitionTime", "T1"}},
       {{"type", "Ready"}, {"status", "Unknown"}, {"lastTransitionTime", "T1"}}});
  auto merged = mergeConditions(
      previous,
      {{"DatabaseReady", "True", "Connected", "again"}, {"Ready", "True", "RevisionCreated", ""},
       {"Validated", "True", "NoEscalations", ""}},
      3, "T2");
  ASSERT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged[0]["lastTransitionTime"], "T1");  // still True
  EXPECT_EQ(merged[0]["message"], "again");
  EXPECT_EQ(merged[1]["lastTransitionTime"], "T2");  // Unknown -> True
  EXPECT_EQ(merged[2]["lastTransitionTime"], "T2");  // new
  EXPECT_EQ(merged[2]["observedGeneration"], 3);
}

RunView view(const std::string& phase, const std::string& claimedBy = "",
             std::optional<Clock::time_point> heartbeat = std::nullopt) {
  RunView v;
  v.key = "ns/run";
  v.generation = 1;
  v.observedGeneration = phase.empty() ? 0 : 1;
  v.phase = phase;
  v.claimedBy = claimedBy;
  v.heartbeat = heartbeat;
  return v;
}

TEST(Decide, PendingIsClaimed) {
  EXPECT_EQ(decide(view(""), "a", false, at(100), seconds(45)).decision, Decision::kClaim);
  EXPECT_EQ(decide(view("Pending"), "a", false, at(100), seconds(45)).decision, Decision::kClaim);
}

TEST(Decide, ScheduledRetryWaits) {
  auto v = view("Pending");
  v.nextRetry = at(200);
  auto r = decide(v, "a", false, at(100), seconds(45));
  EXPECT_EQ(r.decision, Decision::kWaitUntil);
  EXPECT_EQ(r.until, at(200));
  EXPECT_EQ(decide(v, "a", false, at(201), seconds(45)).decision, Decision::kClaim);
}

TEST(Decide, RunningElsewhereWithAFreshHeartbeatIsLeftAlone) {
  auto r = decide(view("Running", "b", at(90)), "a", false, at(100), seconds(45));
  EXPECT_EQ(r.decision, Decision::kWaitUntil);
  EXPECT_EQ(r.until, at(136));
}

TEST(Decide, StaleClaimIsTakenOver) {
  EXPECT_EQ(decide(view("Running", "b", at(10)), "a", false, at(100), seconds(45)).decision,
            Decision::kTakeOver);
  EXPECT_EQ(decide(view("Running", "b"), "a", false, at(100), seconds(45)).decision,
            Decision::kTakeOver);
}

TEST(Decide, OwnClaimIsResumedAfterARestartButNotWhileRunning) {
  EXPECT_EQ(decide(view("Running", "a", at(99)), "a", false, at(100), seconds(45)).decision,
            Decision::kResumeOwn);
  EXPECT_EQ(decide(view("Running", "a", at(99)), "a", true, at(100), seconds(45)).decision,
            Decision::kNothing);
}

TEST(Decide, FinishedRunsRerunOnlyForANewGeneration) {
  for (const char* phase : {"Succeeded", "Escalated", "Failed"}) {
    auto v = view(phase, "a");
    EXPECT_EQ(decide(v, "a", false, at(100), seconds(45)).decision, Decision::kNothing) << phase;
    v.generation = 2;
    EXPECT_EQ(decide(v, "b", false, at(100), seconds(45)).decision, Decision::kClaim) << phase;
  }
}

TEST(Decide, DeletingRunsAreLeftAlone) {
  auto v = view("");
  v.deleting = true;
  EXPECT_EQ(decide(v, "a", false, at(100), seconds(45)).decision, Decision::kNothing);
}

TEST(Retry, ExponentialAndCapped) {
  EXPECT_EQ(retryDelay(1, seconds(10), seconds(300)), seconds(10));
  EXPECT_EQ(retryDelay(2, seconds(10), seconds(300)), seconds(20));
  EXPECT_EQ(retryDelay(4, seconds(10), seconds(300)), seconds(80));
  EXPECT_EQ(retryDelay(9, seconds(10), seconds(300)), seconds(300));
}

TEST(Retry, OnlyTransientReasons) {
  EXPECT_TRUE(isTransientReason("DatabaseUnavailable"));
  EXPECT_TRUE(isTransientReason("TargetNotFound"));
  EXPECT_FALSE(isTransientReason("ModelNotRegistered"));
  EXPECT_FALSE(isTransientReason("RoundTripSchemaMismatch"));
}

TEST(View, ReadsTheObject) {
  auto v = viewOf(nlohmann::json::parse(R"({"metadata": {"namespace": "ns", "name": "r",
      "generation": 4}, "status": {"phase": "Running", "claimedBy": "p", "observedGeneration": 3,
      "attempts": 2, "heartbeatTime": "2030-01-01T00:00:00Z", "scratchDatabase": "s",
      "pendingRevisionFile": "f"}})"));
  EXPECT_EQ(v.key, "ns/r");
  EXPECT_EQ(v.generation, 4);
  EXPECT_EQ(v.observedGeneration, 3);
  EXPECT_EQ(v.attempts, 2);
  EXPECT_EQ(v.claimedBy, "p");
  EXPECT_EQ(v.heartbeat, kube::parseTime("2030-01-01T00:00:00Z"));
  EXPECT_EQ(v.scratchDatabase, "s");
  EXPECT_EQ(v.pendingRevisionFile, "f");
}

}  // namespace
}  // namespace alembic_sidecar::controller
