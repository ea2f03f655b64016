// The sidecar on a real cluster: the chart's RBAC, manifests/sample-app.yaml, the built
// binary running as the pod's sidecar container would (POD_NAME, POD_NAMESPACE, a token of the
// chart's ServiceAccount), alembic run through the real pods/exec path (apiserver -> kubelet)
// inside the app container, `alembic-sidecar request --wait` as the requester user `dev`.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <pqxx/pqxx>

#include "cluster/cluster.h"
#include "core/json_util.h"
#include "kube/resources.h"
#include "support/postgres_server.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing::cluster {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;
namespace res = kube::resources;

/** The app's alembic_version on the app database. */
std::string appliedRevision(const database::ConnectionInfo& db) {
  pqxx::connection conn{testServer().connection().withDatabase(db.database).libpqConninfo()};
  pqxx::nontransaction tx{conn};
  auto rows = tx.exec("SELECT version_num FROM alembic_version");
  return rows.empty() ? "" : rows[0][0].as<std::string>();
}

/** `alembic upgrade head` run locally in `dir`, so the runs under test start at head. */
void upgradeLocally(const std::string& dir, const std::string& url) {
  workspace::ProcessSpec upgrade;
  upgrade.argv = {"alembic", "upgrade", "head"};
  upgrade.cwd = dir;
  upgrade.env = {{"DATABASE_URL", url}};
  auto upgraded = workspace::runProcess(upgrade);
  ASSERT_TRUE(upgraded.ok() && upgraded->exitCode == 0)
      << (upgraded.ok() ? upgraded->err : upgraded.error().message);
}

/** Each alembic command of this app copy takes a second longer: easy to interrupt. */
void slowDown(ExampleApp& app) {
  app.replace("migrations/env.py", "import asyncio\n",
              "import asyncio\nimport time\n\ntime.sleep(1)\n");
}

using SidecarTest = SampleAppTest;

TEST_F(SidecarTest, RevisionCheckUpgradeRoundtrip_ThroughPodsExecIntoTheAppContainer) {
  nativeApp_.applyChange("user_add_phone");
  const auto classicBefore = classicApp_.versionFiles();
  int port = freePort();
  startNativeSidecar(port);
  ASSERT_TRUE(
      waitUntil([&] { return httpGet(port, "/readyz").first == 200; }, std::chrono::seconds(30)))
      << sidecars_[0]->log();

  const int execsBefore = execSessions();
  auto revision = requestAsDev({"--action", "revision", "-m", "add user phone", "--target-selector",
                                "app=backend,sidecar-form=native"});
  ASSERT_EQ(revision.exitCode, 0) << revision.err << revision.out;
  // The whole run was one pods/exec session, as the apiserver saw it: the driver in the app
  // container served every alembic operation and every file the run read or wrote.
  EXPECT_EQ(execSessions() - execsBefore, 1) << "pods/exec sessions for one revision";
  auto report = revision.json();
  EXPECT_EQ(report["phase"], "Succeeded");
  EXPECT_EQ(report["reason"], "RevisionCreated");
  EXPECT_EQ(report["database"]["source"], "env/" + nativePod_ + "/app");
  EXPECT_THAT(
      report["operations"],
      Contains(nlohmann::json{{"op", "add_column"}, {"table", "user"}, {"column", "phone"}}));
  EXPECT_EQ(report["roundTrip"]["schemaRestored"], true);
  EXPECT_THAT(revision.err, HasSubstr("ok  RoundTripPassed (SchemaRestored)"));

  // Status as documented.
  std::string name = createdName(revision.err);
  ASSERT_FALSE(name.empty()) << revision.err;
  auto object = run(name);
  const auto& status = object["status"];
  EXPECT_EQ(status["claimedBy"], nativePod_);
  EXPECT_EQ(status["attempts"], 1);
  EXPECT_EQ(status["observedGeneration"], object["metadata"]["generation"]);
  EXPECT_FALSE(status.value("startTime", "").empty());
  EXPECT_FALSE(status.value("completionTime", "").empty());
  ASSERT_EQ(status["conditions"].size(), 6u) << status.dump();
  for (const auto& c : status["conditions"]) {
    EXPECT_EQ(c["status"], "True") << c.dump();
    EXPECT_FALSE(c.value("lastTransitionTime", "").empty());
    EXPECT_EQ(c["observedGeneration"], object["metadata"]["generation"]);
  }

  // Which baseline and why: the app database was never migrated, the history builds it.
  EXPECT_EQ(status["baseline"]["source"], "history") << status.dump();
  EXPECT_FALSE(status["baseline"].value("reason", "").empty());

  // The file is in the native pod's app container, and nowhere else.
  const std::string file = status["revision"]["file"];
  ASSERT_TRUE(std::filesystem::exists(nativeApp_.dir() + "/" + file)) << file;
  EXPECT_EQ(classicApp_.versionFiles(), classicBefore);

  // The ConfigMap the run owns holds the same file.
  const std::string cmName = status["revision"]["configMap"];
  EXPECT_EQ(cmName, name + "-revision");
  auto cm = admin_->get(res::configMaps(ns_).named(cmName));
  ASSERT_TRUE(cm.ok()) << cm.error().message;
  EXPECT_EQ((*cm)["data"]["revision.py"], nativeApp_.read(file));
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["uid"], object["metadata"]["uid"]);

  // The Events tell the story.
  EXPECT_THAT(eventReasons(name),
              IsSupersetOf({"Claimed", "Connected", "AllModelsRegistered", "Generated",
                            "NoEscalations", "SchemaRestored", "RevisionCreated"}));

  // check: the models and the migrations agree now.
  auto check =
      requestAsDev({"--action", "check", "--target-selector", "app=backend,sidecar-form=native"});
  ASSERT_EQ(check.exitCode, 0) << check.err << check.out;
  EXPECT_EQ(check.json()["reason"], "InSync");

  // upgrade: the app's own database reaches the new head.
  auto upgrade =
      requestAsDev({"--action", "upgrade", "--target-selector", "app=backend,sidecar-form=native"});
  ASSERT_EQ(upgrade.exitCode, 0) << upgrade.err << upgrade.out;
  EXPECT_EQ(appliedRevision(db_->connection), status["revision"]["id"].get<std::string>());

  // roundtrip: the newest revision goes down and up again on a scratch database.
  auto roundtrip = requestAsDev(
      {"--action", "roundtrip", "--target-selector", "app=backend,sidecar-form=native"});
  ASSERT_EQ(roundtrip.exitCode, 0) << roundtrip.err << roundtrip.out;
  EXPECT_EQ(roundtrip.json()["roundTrip"]["schemaRestored"], true);
  EXPECT_THAT(databasesWithPrefix(db_->connection.database + "_autogen_"), IsEmpty());

  // spec.baseline reaches the run: check on a copy of the app database's schema.
  auto copied = requestAsDev({"--action", "check", "--baseline", "live-schema",
                              "--target-selector", "app=backend,sidecar-form=native"});
  ASSERT_EQ(copied.exitCode, 0) << copied.err << copied.out;
  EXPECT_EQ(copied.json()["reason"], "InSync");
  EXPECT_EQ(copied.json()["baseline"]["source"], "live-schema") << copied.out;
  EXPECT_EQ(copied.json()["baseline"]["revision"], status["revision"]["id"]);

  expectNoCanaryAnywhere({revision.out + revision.err, check.out + check.err,
                          upgrade.out + upgrade.err, roundtrip.out + roundtrip.err,
                          copied.out + copied.err});

  // The real garbage collector removes the ConfigMap with its run.
  auto deleted = kubectl({"delete", "mrun", name});
  ASSERT_EQ(deleted.exitCode, 0) << deleted.err;
  EXPECT_TRUE(waitUntil([&] { return !admin_->get(res::configMaps(ns_).named(cmName)).ok(); },
                        std::chrono::seconds(60)));
}

TEST_F(SidecarTest, NoChanges_SucceedsAndLeavesNoFile) {
  startNativeSidecar();
  const auto before = nativeApp_.versionFiles();
  auto result = requestAsDev({"--action", "revision", "-m", "nothing"});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  EXPECT_EQ(result.json()["reason"], "NoChanges");
  EXPECT_EQ(nativeApp_.versionFiles(), before);
}

TEST_F(SidecarTest, ModelNotRegistered_FailsOnceWithoutRetry) {
  nativeApp_.write("fastapi_template/models/tag.py",
                   "from typing import Optional\n\nfrom sqlmodel import Field, SQLModel\n\n\n"
                   "class Tag(SQLModel, table=True):\n"
                   "    id: Optional[int] = Field(default=None, primary_key=True)\n");
  startNativeSidecar();
  auto result = requestAsDev({"--action", "revision", "-m", "tags"});
  EXPECT_EQ(result.exitCode, 1) << result.err << result.out;
  EXPECT_EQ(result.json()["reason"], "ModelNotRegistered");
  EXPECT_THAT(result.json()["message"].get<std::string>(), HasSubstr("Tag"));
  EXPECT_EQ(run(createdName(result.err))["status"]["attempts"], 1);
}

TEST_F(SidecarTest, SpecChange_RerunsTheRunForTheNewGeneration) {
  startNativeSidecar();
  std::string name = newRun({{"action", "check"}});
  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(120)));
  ASSERT_EQ(run(name)["status"]["phase"], "Succeeded");

  auto patched = kubectl({"patch", "mrun", name, "--type=merge", "-p",
                          R"({"spec":{"roundtripLast":2}})", "-o", "json"});
  ASSERT_EQ(patched.exitCode, 0) << patched.err;
  ASSERT_EQ(patched.json()["metadata"]["generation"], 2);
  ASSERT_TRUE(waitUntil(
      [&] {
        auto status = core::objectOr(run(name), "status");
        return core::intField(status, "observedGeneration") == 2 && finished(name);
      },
      std::chrono::seconds(120)));
  auto second = run(name)["status"];
  EXPECT_EQ(second["phase"], "Succeeded");
  EXPECT_EQ(second["attempts"], 1);  // a new spec starts counting again
  for (const auto& c : second["conditions"]) {
    EXPECT_EQ(c["observedGeneration"], 2);
  }
}

TEST_F(SidecarTest, TransientFailure_IsRetriedUpToTheBackoffLimit) {
  // A password PostgreSQL refuses: DatabaseUnavailable, which may heal (a rotated Secret).
  database::ConnectionInfo wrong = db_->connection;
  wrong.password = "not-the-password";
  ASSERT_TRUE(
      admin_
          ->mergePatch(res::secrets(ns_).named("app-db"), {{"stringData", {{"uri", wrong.url()}}}})
          .ok());
  startNativeSidecar(0, {"--retry-base-seconds", "1"});
  std::string name = newRun({{"action", "check"}, {"backoffLimit", 1}});
  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(120)));
  auto status = run(name)["status"];
  EXPECT_EQ(status["phase"], "Failed");
  EXPECT_EQ(status["reason"], "DatabaseUnavailable");
  EXPECT_EQ(status["attempts"], 2);
  EXPECT_EQ(status.dump().find("not-the-password"), std::string::npos);
  auto reasons = eventReasons(name);
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "RetryScheduled"), 1);
}

TEST_F(SidecarTest, ProbesAndMetrics) {
  int port = freePort();
  startNativeSidecar(port);
  ASSERT_TRUE(
      waitUntil([&] { return httpGet(port, "/readyz").first == 200; }, std::chrono::seconds(30)));
  EXPECT_EQ(httpGet(port, "/healthz").first, 200);
  auto result = requestAsDev({"--action", "check"});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  // `request` returns once the status says Succeeded; the counter moves when the run has also
  // cleaned up (driver stopped, scratch dropped), a moment later, and the in-progress gauge
  // after the reconciler let go of the run, a moment after that (a scrape may fall between).
  const std::string finishedRun =
      "alembic_sidecar_runs_total{action=\"check\",phase=\"Succeeded\"} 1";
  const std::string noneInProgress = "alembic_sidecar_runs_in_progress 0";
  std::pair<int, std::string> metrics;
  EXPECT_TRUE(waitUntil(
      [&] {
        metrics = httpGet(port, "/metrics");
        return metrics.second.find(finishedRun) != std::string::npos &&
               metrics.second.find(noneInProgress) != std::string::npos;
      },
      std::chrono::seconds(20)))
      << metrics.second;
  EXPECT_EQ(metrics.first, 200);
  EXPECT_THAT(metrics.second, HasSubstr(noneInProgress));
  EXPECT_THAT(metrics.second, HasSubstr("alembic_sidecar_watch_restarts_total"));
  EXPECT_THAT(metrics.second,
              HasSubstr("alembic_sidecar_step_duration_seconds_count{step=\"DatabaseReady\"} 1"));
  EXPECT_EQ(httpGet(port, "/nope").first, 404);
}

TEST_F(SidecarTest, TwoSidecarReplicas_ClaimEachRunExactlyOnce) {
  // Both forms' sidecars watch the namespace; a run without a selector runs in the pod of the
  // sidecar that claimed it. `upgrade` on a database at head is cheap: the test is the claims.
  upgradeLocally(nativeApp_.dir(), db_->url());
  startNativeSidecar();
  startSidecar(classicPod_, sidecarKubeconfig_);
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) {
    names.push_back(newRun({{"action", "upgrade"}}));
  }
  ASSERT_TRUE(waitUntil(
      [&] {
        return std::all_of(names.begin(), names.end(), [&](const auto& n) { return finished(n); });
      },
      std::chrono::seconds(300)));
  std::map<std::string, int> byClaimer;
  for (const auto& n : names) {
    auto status = run(n)["status"];
    EXPECT_EQ(status["phase"], "Succeeded") << n << " " << status.dump();
    EXPECT_EQ(status["attempts"], 1) << n;
    ++byClaimer[status.value("claimedBy", "")];
    auto reasons = eventReasons(n);
    EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "Claimed"), 1) << n;
  }
  for (const auto& [who, count] : byClaimer) {
    EXPECT_TRUE(who == nativePod_ || who == classicPod_) << who;
    std::cerr << "runs claimed by " << who << ": " << count << "\n";
  }
}

TEST_F(SidecarTest, SigkillMidRunThenRestart_TheRunEndsOnce) {
  slowDown(nativeApp_);
  nativeApp_.applyChange("user_add_phone");
  auto& first = startNativeSidecar(0, {"--heartbeat-seconds", "1", "--stale-after-seconds", "15"});
  const auto before = nativeApp_.versionFiles();
  std::string name = newRun({{"action", "revision"}, {"message", "add user phone"}});

  // Killed once the revision file exists and is recorded, before validation ends.
  ASSERT_TRUE(waitUntil(
      [&] {
        return !core::stringField(core::objectOr(run(name), "status"), "pendingRevisionFile")
                    .empty();
      },
      std::chrono::seconds(120)))
      << first.log();
  first.signal(SIGKILL);
  first.wait(std::chrono::seconds(5));
  // The half-done file is staged, outside the history: alembic cannot load it as head.
  EXPECT_EQ(nativeApp_.versionFiles(), before);
  const std::string staged =
      core::stringField(core::objectOr(run(name), "status"), "pendingRevisionFile");
  EXPECT_THAT(staged, HasSubstr(".alembic-sidecar/staging-"));
  EXPECT_TRUE(std::filesystem::exists(nativeApp_.dir() + "/" + staged)) << staged;

  startNativeSidecar(0, {"--heartbeat-seconds", "1", "--stale-after-seconds", "15"});
  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(180)))
      << sidecars_.back()->log();
  auto status = run(name)["status"];
  EXPECT_EQ(status["phase"], "Succeeded") << status.dump();
  EXPECT_EQ(status["attempts"], 2);
  EXPECT_EQ(nativeApp_.versionFiles().size(), before.size() + 1);          // one revision, not two
  EXPECT_FALSE(std::filesystem::exists(nativeApp_.dir() + "/" + staged));  // swept by the rerun
  EXPECT_TRUE(std::filesystem::exists(nativeApp_.dir() + "/" +
                                      status["revision"]["file"].get<std::string>()));
  EXPECT_THAT(databasesWithPrefix(db_->connection.database + "_autogen_"), IsEmpty());
  auto reasons = eventReasons(name);
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "RevisionCreated"), 1);
}

TEST_F(SidecarTest, Sigterm_ReleasesTheRunAndExitsZero) {
  slowDown(nativeApp_);
  nativeApp_.applyChange("user_add_phone");
  auto& sidecar = startNativeSidecar();
  std::string name = newRun({{"action", "revision"}, {"message", "add user phone"}});
  ASSERT_TRUE(waitUntil(
      [&] { return core::stringField(core::objectOr(run(name), "status"), "phase") == "Running"; },
      std::chrono::seconds(60)));
  sidecar.signal(SIGTERM);
  auto code = sidecar.wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.has_value()) << "the sidecar did not stop";
  EXPECT_EQ(*code, 0) << sidecar.log();
  auto status = run(name)["status"];
  EXPECT_EQ(status["phase"], "Pending") << status.dump();
  EXPECT_EQ(status["reason"], "Interrupted");
  EXPECT_FALSE(status.contains("claimedBy"));

  startNativeSidecar();
  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(180)));
  EXPECT_EQ(run(name)["status"]["phase"], "Succeeded");
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
