// The sidecar killed with SIGKILL at points of a revision run (the escalating drop-column
// project), then restarted as its container would be: the restarted sidecar binds its probe
// port at once (nothing the dead one started holds it), takes its own run over, and the run
// ends once, with the verdict of an uninterrupted run, no scratch database left and one file
// in versions/. The built binary runs against the project's test API server; alembic runs
// through pods/exec in the example app's copy; PostgreSQL is real.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "core/json_util.h"
#include "e2e/kube/kube_e2e.h"
#include "kube/resources.h"
#include "support/child_process.h"
#include "support/example_app.h"
#include "support/fault_run.h"
#include "support/kube_test_server.h"
#include "support/pause_hook.h"
#include "support/postgres_server.h"
#include "support/free_port.h"

namespace alembic_sidecar::testing {
namespace {

using kube::e2e::waitUntil;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
namespace res = kube::resources;
using Steady = std::chrono::steady_clock;

std::string sourceDir() { return ALEMBIC_SIDECAR_SOURCE_DIR; }

/** Whether something accepts TCP connections on 127.0.0.1:port. */
bool accepting(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

enum class Trigger {
  kPause,       // env.py (in the app container) paused at `pauseOn`
  kClaimed,     // the run's status says Running: claimed, the pipeline starting
  kStagedFile,  // the generated file appeared in the staging directory
  kAdopted,     // the validated file appeared in versions/: the run's last act is done
};

struct KillPoint {
  const char* name;
  Trigger trigger;
  const char* pauseOn;
};

void PrintTo(const KillPoint& point, std::ostream* out) { *out << point.name; }

std::string describe(const ::testing::TestParamInfo<KillPoint>& info) { return info.param.name; }

class SidecarKillTest : public kube::e2e::ServerSuite,
                        public ::testing::WithParamInterface<KillPoint> {
 protected:
  static void SetUpTestSuite() {
    KubeTestServer::Options options;
    options.crdFiles = {sourceDir() + "/manifests/crd/migrationruns.yaml"};
    startServer(options);
  }

  void SetUp() override {
    ServerSuite::SetUp();
    ns_ = "fk-" + randomName(6);
    live_ = createTestDatabase("skill");
    api_ = server()->adminClient();
    prepareDropColumnProject(app_, live_);
    installPauseHook(app_);
    before_ = app_.versionFiles();
    ASSERT_TRUE(api_->create(res::secrets(ns_), {{"apiVersion", "v1"},
                                                 {"kind", "Secret"},
                                                 {"metadata", {{"name", "app-db"}}},
                                                 {"stringData", {{"uri", live_.url()}}}})
                    .ok());
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& sidecar : sidecars_) {
        std::string own = sidecar->log();
        std::cerr << "--- sidecar log (tail) ---\n"
                  << (own.size() > 5000 ? own.substr(own.size() - 5000) : own) << "\n";
      }
    }
    sidecars_.clear();
  }

  /** The app pod; `pauseOn` empty: no pause (the hook stays inert). */
  void createPod(const std::string& pauseOn) {
    nlohmann::json env = {{{"name", "DATABASE_URL"},
                           {"valueFrom", {{"secretKeyRef", {{"name", "app-db"}, {"key", "uri"}}}}}},
                          {{"name", "TEST_PAUSE_DIR"}, {"value", pauseDir_.str()}},
                          {{"name", "TEST_PAUSE_ON"}, {"value", pauseOn}},
                          {{"name", "PYTHONDONTWRITEBYTECODE"}, {"value", "1"}}};
    ASSERT_TRUE(
        api_->create(res::pods(ns_),
                     {{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata",
                       {{"name", "backend-0"},
                        {"labels", {{"app", "backend"}}},
                        {"annotations",
                         {{"kube-api-server.test/workdir", app_.dir()},
                          // As containerd does: a broken exec stream leaves the command
                          // running without stdin; the driver must go by itself.
                          {"kube-api-server.test/exec-disconnect", "close-stdin"}}}}},
                      {"spec",
                       {{"containers",
                         {{{"name", "app"},
                           {"image", "python:3.11"},
                           {"workingDir", app_.dir()},
                           {"env", env}},
                          {{"name", "alembic-sidecar"}, {"image", "alembic-sidecar:test"}}}}}}})
            .ok());
    ASSERT_TRUE(api_->mergePatch(res::pods(ns_).named("backend-0").withSubresource("status"),
                                 {{"status", {{"phase", "Running"}}}})
                    .ok());
  }

  ChildProcess& startSidecar(int port) {
    std::vector<std::string> argv = {ALEMBIC_SIDECAR_EXE,
                                     "sidecar",
                                     "--kubeconfig",
                                     server()->kubeconfig(),
                                     "--namespace",
                                     ns_,
                                     "--port",
                                     std::to_string(port),
                                     "--heartbeat-seconds",
                                     "1",
                                     "--stale-after-seconds",
                                     "20",
                                     "--retry-base-seconds",
                                     "1"};
    std::string log = server()->scratchDir() + "/sidecar-" + ns_ + "-" +
                      std::to_string(sidecars_.size()) + ".log";
    sidecars_.push_back(std::make_unique<ChildProcess>(
        argv,
        std::map<std::string, std::string>{
            {"POD_NAME", "backend-0"},
            {"POD_NAMESPACE", ns_},
            {"ALEMBIC_SIDECAR_SQUAWK", sourceDir() + "/.tools/bin/squawk"},
            {"ALEMBIC_SIDECAR_LOG_LEVEL", "debug"},
            {"DATABASE_URL", ""}},
        log));
    return *sidecars_.back();
  }

  std::string newRun() {
    auto created =
        api_->create(res::migrationRuns(ns_),
                     {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
                      {"kind", "MigrationRun"},
                      {"metadata", {{"generateName", "run-"}}},
                      {"spec", {{"action", "revision"}, {"message", "drop team headquarters"}}}});
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
    return created.ok() ? core::stringField(core::objectOr(*created, "metadata"), "name") : "";
  }

  nlohmann::json status(const std::string& name) {
    auto got = api_->get(res::migrationRuns(ns_).named(name));
    return got.ok() ? core::objectOr(*got, "status") : nlohmann::json::object();
  }

  bool finished(const std::string& name) {
    std::string phase = core::stringField(status(name), "phase");
    return phase == "Succeeded" || phase == "Escalated" || phase == "Failed";
  }

  /** How many Events of the run have `action` (the final one is "Complete"). */
  int eventsWithAction(const std::string& name, const std::string& action) {
    auto list = kube::listAll(*api_, res::events(ns_), {});
    int n = 0;
    if (list.ok()) {
      for (const auto& e : list->items) {
        n += e["regarding"].value("name", "") == name && e.value("action", "") == action;
      }
    }
    return n;
  }

  std::string ns_;
  database::ConnectionInfo live_;
  std::shared_ptr<kube::KubeClient> api_;
  ExampleApp app_;
  TempDir pauseDir_{"fault-sidecar"};
  std::vector<std::string> before_;
  std::vector<std::unique_ptr<ChildProcess>> sidecars_;
};

TEST_F(SidecarKillTest, Uninterrupted_EscalatesOnce) {
  createPod("");
  startSidecar(0);
  std::string name = newRun();
  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(180)));
  EXPECT_EQ(verdictOf(status(name)), dropColumnVerdict()) << status(name).dump();
  EXPECT_EQ(app_.versionFiles().size(), before_.size() + 1);
}

TEST_P(SidecarKillTest, RestartBindsAtOnceAndTheRunEndsOnceWithTheUninterruptedVerdict) {
  const auto& point = GetParam();
  createPod(point.trigger == Trigger::kPause ? point.pauseOn : "");
  const int port = freePort();
  auto& first = startSidecar(port);
  ASSERT_TRUE(waitUntil([&] { return accepting(port); }, std::chrono::seconds(20))) << first.log();
  std::string name = newRun();

  std::optional<PausedProcess> paused;
  switch (point.trigger) {
    case Trigger::kPause:
      paused = waitForPause(pauseDir_.str(), std::chrono::seconds(120));
      ASSERT_TRUE(paused) << "the run never reached " << point.pauseOn;
      break;
    case Trigger::kClaimed:
      ASSERT_TRUE(pollUntil([&] { return core::stringField(status(name), "phase") == "Running"; },
                            std::chrono::seconds(60)));
      break;
    case Trigger::kStagedFile:
      ASSERT_TRUE(pollUntil([&] { return !stagedFiles(app_).empty(); }, std::chrono::seconds(120)));
      break;
    case Trigger::kAdopted:
      ASSERT_TRUE(
          pollUntil([&] { return app_.versionFiles() != before_; }, std::chrono::seconds(120)));
      break;
  }
  ASSERT_FALSE(finished(name));
  const auto killed = Steady::now();
  first.signal(SIGKILL);
  ASSERT_EQ(first.wait(std::chrono::seconds(10)), std::optional<int>(128 + SIGKILL));
  // Nothing the killed run left is in the history unvalidated.
  if (point.trigger != Trigger::kAdopted) {
    EXPECT_EQ(app_.versionFiles(), before_);
  }

  // The container restarts at once; its probe port must be free for it.
  auto& second = startSidecar(port);
  ASSERT_TRUE(
      pollUntil([&] { return accepting(port) || !second.running(); }, std::chrono::seconds(10)));
  const auto bindMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - killed).count();
  ASSERT_TRUE(second.running()) << "the restarted sidecar exited:\n" << second.log();
  std::cerr << point.name << ": restarted sidecar bound port " << port << " " << bindMs
            << " ms after the kill\n";
  // Issue 12 asks for 1 s; the bound is generous for a loaded 2-core CI machine.
  EXPECT_LT(bindMs, 3000);
  EXPECT_THAT(second.log(), Not(HasSubstr("Address already in use")));
  if (paused) {
    // The orphaned driver saw its stdin close and left on its own, releasing the project lock.
    EXPECT_TRUE(pollUntil([&] { return !processRunning(paused->pid); }, std::chrono::seconds(10)))
        << "the driver (pid " << paused->pid << ") outlived its sidecar by 10 s";
    std::cerr
        << point.name << ": orphaned driver gone "
        << std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - killed).count()
        << " ms after the kill\n";
  }

  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(180)))
      << status(name).dump();
  auto final = status(name);
  EXPECT_EQ(verdictOf(final), dropColumnVerdict()) << final.dump();
  EXPECT_EQ(core::intField(final, "attempts"), 2) << final.dump();
  // Ends once: one completion Event, and the status stays put.
  EXPECT_EQ(eventsWithAction(name, "Complete"), 1);
  // The run's cleanup (driver stopped, scratch dropped) follows the status write closely.
  EXPECT_TRUE(waitUntil([&] { return databasesWithPrefix(live_.database + "_autogen_").empty(); },
                        std::chrono::seconds(20)))
      << ::testing::PrintToString(databasesWithPrefix(live_.database + "_autogen_"));
  EXPECT_TRUE(waitUntil([&] { return stagingDirs(app_).empty(); }, std::chrono::seconds(20)));
  auto after = app_.versionFiles();
  ASSERT_EQ(after.size(), before_.size() + 1) << ::testing::PrintToString(after);
  EXPECT_TRUE(std::filesystem::exists(app_.dir() + "/" + final["revision"].value("file", "")));
  EXPECT_EQ(alembicHeads(app_).size(), 1u);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(verdictOf(status(name)), dropColumnVerdict());
  EXPECT_EQ(core::intField(status(name), "attempts"), 2);
  EXPECT_THAT(second.log(), Not(HasSubstr(live_.password)));
}

INSTANTIATE_TEST_SUITE_P(
    SigkillPoints, SidecarKillTest,
    ::testing::Values(
        // Claimed (status Running), the pipeline starting its pods/exec session.
        KillPoint{"JustClaimed", Trigger::kClaimed, ""},
        // env.py inside the baseline `upgrade head` on the leased scratch database.
        KillPoint{"BaselineUpgrade", Trigger::kPause, "upgrade#1"},
        // Inside `revision --autogenerate`.
        KillPoint{"Autogenerate", Trigger::kPause, "revision#1"},
        // The generated file just appeared in the staging directory.
        KillPoint{"StagedFileAppeared", Trigger::kStagedFile, ""},
        // Validation: the offline SQL render.
        KillPoint{"ValidationOfflineSql", Trigger::kPause, "upgrade-sql#1"},
        // Round trip: `downgrade -1`.
        KillPoint{"RoundTripDowngrade", Trigger::kPause, "downgrade#1"},
        // Re-upgrade committed: only the comparison, escalation and adoption remain.
        KillPoint{"JustBeforeAdoption", Trigger::kPause, "upgrade#3:after"},
        KillPoint{"JustAfterAdoption", Trigger::kAdopted, ""}),
    describe);

}  // namespace
}  // namespace alembic_sidecar::testing
