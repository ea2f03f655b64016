// The sidecar as users meet it: the built binary running `sidecar` against the project's
// test API server (with the real CRD's schema), alembic executed through pods/exec in the
// "app container" (the test server runs exec as a local process in the example app's copy),
// a real PostgreSQL, and `alembic-sidecar request --wait` as the client.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cpprest/http_client.h>
#include <filesystem>
#include <thread>

#include "core/json_util.h"
#include "e2e/kube/kube_e2e.h"
#include "kube/resources.h"
#include "support/child_process.h"
#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using kube::e2e::waitUntil;
namespace res = kube::resources;

std::string sourceDir() { return ALEMBIC_SIDECAR_SOURCE_DIR; }

int freePort() {
  // Bind to port 0 and let the kernel choose; the sidecar binds it right after.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

class SidecarTest : public kube::e2e::ServerSuite {
 protected:
  static void SetUpTestSuite() {
    KubeTestServer::Options options;
    options.crdFiles = {sourceDir() + "/manifests/crd/migrationruns.yaml"};
    options.extraArgs = {"--verbose"};  // every request in the server log, for failures
    startServer(options);
  }

  void SetUp() override {
    ServerSuite::SetUp();
    ns_ = "sc-" + randomName(6);
    db_ = createTestDatabase("sc");
    api_ = server()->adminClient();
    create(res::secrets(ns_), {{"apiVersion", "v1"},
                               {"kind", "Secret"},
                               {"metadata", {{"name", "app-db"}}},
                               {"stringData", {{"uri", db_.url()}}}});
  }

  void TearDown() override {
    if (HasFailure()) {
      std::string log = server()->log();
      std::cerr << "--- test API server log (tail) ---\n"
                << (log.size() > 6000 ? log.substr(log.size() - 6000) : log) << "\n";
      for (const auto& sidecar : sidecars_) {
        std::string own = sidecar->log();
        std::cerr << "--- sidecar log (tail) ---\n"
                  << (own.size() > 6000 ? own.substr(own.size() - 6000) : own) << "\n";
      }
    }
    sidecars_.clear();
  }

  nlohmann::json create(const kube::ResourceRef& ref, const nlohmann::json& object) {
    auto created = api_->create(ref, object);
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
    return created.ok() ? *created : nlohmann::json();
  }

  /** An app pod: container `app` working in `workdir`, DATABASE_URL from the secret. */
  void createPod(const std::string& name, const std::string& workdir,
                 nlohmann::json extraEnv = nlohmann::json::array()) {
    nlohmann::json env = {{{"name", "DATABASE_URL"},
                           {"valueFrom", {{"secretKeyRef", {{"name", "app-db"}, {"key", "uri"}}}}}}};
    for (const auto& e : extraEnv) {
      env.push_back(e);
    }
    create(res::pods(ns_),
           {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata",
             {{"name", name},
              {"labels", {{"app", "backend"}}},
              {"annotations", {{"kube-api-server.test/workdir", workdir}}}}},
            {"spec",
             {{"containers",
               {{{"name", "app"}, {"image", "python:3.11"}, {"workingDir", workdir}, {"env", env}},
                {{"name", "alembic-sidecar"}, {"image", "alembic-sidecar:test"}}}}}}});
    auto running = api_->mergePatch(res::pods(ns_).named(name).withSubresource("status"),
                                    {{"status", {{"phase", "Running"}}}});
    ASSERT_TRUE(running.ok()) << running.error().message;
  }

  /** Starts `alembic-sidecar sidecar` as the sidecar container of pod `podName`. */
  ChildProcess& startSidecar(const std::string& podName, int port = 0) {
    std::vector<std::string> argv = {ALEMBIC_SIDECAR_EXE,  "sidecar",
                                     "--kubeconfig",       server()->kubeconfig(),
                                     "--namespace",        ns_,
                                     "--port",             std::to_string(port),
                                     "--heartbeat-seconds", "1",
                                     "--stale-after-seconds", "20",
                                     "--retry-base-seconds", "1"};
    std::string log = server()->scratchDir() + "/sidecar-" + podName + "-" +
                      std::to_string(sidecars_.size()) + ".log";
    sidecars_.push_back(std::make_unique<ChildProcess>(
        argv,
        std::map<std::string, std::string>{
            {"POD_NAME", podName},
            {"POD_NAMESPACE", ns_},
            {"ALEMBIC_SIDECAR_SQUAWK", sourceDir() + "/.tools/bin/squawk"},
            {"ALEMBIC_SIDECAR_LOG_LEVEL", "debug"},
            {"DATABASE_URL", ""}},
        log));
    return *sidecars_.back();
  }

  CliResult request(std::vector<std::string> args) {
    std::vector<std::string> argv = {"request", "--kubeconfig", server()->kubeconfig(),
                                     "--namespace", ns_, "--wait", "--json", "--timeout", "300"};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCli(argv);
  }

  nlohmann::json run(const std::string& name) {
    auto got = api_->get(res::migrationRuns(ns_).named(name));
    return got.ok() ? *got : nlohmann::json();
  }

  std::vector<nlohmann::json> eventsFor(const std::string& runName) {
    auto list = kube::listAll(*api_, res::events(ns_), {});
    std::vector<nlohmann::json> out;
    if (list.ok()) {
      for (const auto& e : list->items) {
        if (e["regarding"].value("name", "") == runName) {
          out.push_back(e);
        }
      }
    }
    return out;
  }

  /** The run name `request` printed ("...migrationrun.../NAME created..."). */
  static std::string createdName(const CliResult& result) {
    auto pos = result.err.find("migrationrun.alembic.sidecar.dev/");
    if (pos == std::string::npos) {
      return {};
    }
    pos += std::string("migrationrun.alembic.sidecar.dev/").size();
    return result.err.substr(pos, result.err.find(' ', pos) - pos);
  }

  nlohmann::json newRun(const nlohmann::json& spec, const std::string& generateName = "run-") {
    return create(res::migrationRuns(ns_), {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
                                            {"kind", "MigrationRun"},
                                            {"metadata", {{"generateName", generateName}}},
                                            {"spec", spec}});
  }

  /** A status field of the run as text ("" while absent). */
  std::string statusText(const std::string& name, const char* key) {
    return core::stringField(core::objectOr(run(name), "status"), key);
  }

  bool finished(const std::string& name) {
    std::string phase = statusText(name, "phase");
    return phase == "Succeeded" || phase == "Escalated" || phase == "Failed";
  }

  std::string ns_;
  database::ConnectionInfo db_;
  std::shared_ptr<kube::KubeClient> api_;
  ExampleApp app_;
  std::vector<std::unique_ptr<ChildProcess>> sidecars_;
};

TEST_F(SidecarTest, Revision_SucceedsWithStatusConditionsEventsAndConfigMap) {
  app_.applyChange("user_add_phone");
  createPod("backend-0", app_.dir());
  startSidecar("backend-0");

  auto result = request({"--action", "revision", "-m", "add user phone"});

  ASSERT_EQ(result.exitCode, 0) << result.err << result.out << sidecars_[0]->log();
  auto report = result.json();
  EXPECT_EQ(report["phase"], "Succeeded");
  EXPECT_EQ(report["reason"], "RevisionCreated");
  EXPECT_EQ(report["action"], "revision");
  EXPECT_EQ(report["database"]["source"], "env/backend-0/app");
  EXPECT_THAT(report["operations"],
              Contains(nlohmann::json{{"op", "add_column"}, {"table", "user"}, {"column", "phone"}}));
  EXPECT_EQ(report["roundTrip"]["schemaRestored"], true);
  // One progress line per step on stderr.
  EXPECT_THAT(result.err, HasSubstr("ok  RoundTripPassed (SchemaRestored)"));

  std::string name = createdName(result);
  auto object = run(name);
  const auto& status = object["status"];
  EXPECT_EQ(status["claimedBy"], "backend-0");
  EXPECT_EQ(status["attempts"], 1);
  EXPECT_EQ(status["observedGeneration"], object["metadata"]["generation"]);
  EXPECT_FALSE(status.value("startTime", "").empty());
  EXPECT_FALSE(status.value("completionTime", "").empty());
  EXPECT_FALSE(status.contains("scratchDatabase"));
  ASSERT_EQ(status["conditions"].size(), 6u);
  for (const auto& c : status["conditions"]) {
    EXPECT_EQ(c["status"], "True") << c.dump();
    EXPECT_FALSE(c.value("lastTransitionTime", "").empty());
    EXPECT_EQ(c["observedGeneration"], object["metadata"]["generation"]);
  }
  EXPECT_EQ(status["database"].dump().find(db_.password), std::string::npos);

  // The generated file is in the app container and in a ConfigMap owned by the run.
  std::string file = status["revision"]["file"];
  std::string cmName = status["revision"]["configMap"];
  EXPECT_EQ(cmName, name + "-revision");
  auto cm = api_->get(res::configMaps(ns_).named(cmName));
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)["data"]["revision.py"], app_.read(file));
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["uid"], object["metadata"]["uid"]);

  // kubectl describe tells the story.
  std::vector<std::string> reasons;
  for (const auto& e : eventsFor(name)) {
    reasons.push_back(e.value("reason", ""));
  }
  for (const char* expected : {"Claimed", "Connected", "AllModelsRegistered", "Generated",
                               "NoEscalations", "SchemaRestored", "RevisionCreated"}) {
    EXPECT_THAT(reasons, Contains(std::string(expected)));
  }

  // The whole run was one pods/exec session: the driver in the app container served every
  // alembic operation and every file the run read or wrote.
  auto requests = server()->requests();
  ASSERT_TRUE(requests.ok());
  int execs = 0;
  for (const auto& r : *requests) {
    std::string path = r.value("path", "");
    execs += path.find("/namespaces/" + ns_ + "/pods/") != std::string::npos &&
             path.size() >= 5 && path.compare(path.size() - 5, 5, "/exec") == 0;
  }
  EXPECT_EQ(execs, 1) << "pods/exec sessions for one revision";

  // The ConfigMap goes with its run.
  ASSERT_TRUE(api_->remove(res::migrationRuns(ns_).named(name)).ok());
  EXPECT_TRUE(waitUntil([&] { return !api_->get(res::configMaps(ns_).named(cmName)).ok(); },
                        std::chrono::seconds(5)));
}

TEST_F(SidecarTest, SyncApp_DiscoveredDatabaseGetsTheAppsSyncDriver) {
  // A sync (psycopg2) app that carries no DATABASE_URL; the database is found through a
  // service binding whose URI names no driver.
  ExampleApp syncApp("sync_app");
  syncApp.applyChange("sync_product_add_sku");
  create(res::pods(ns_),
         {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", "inventory-0"},
            {"labels", {{"app", "inventory"}}},
            {"annotations", {{"kube-api-server.test/workdir", syncApp.dir()}}}}},
          {"spec",
           {{"containers",
             {{{"name", "app"}, {"image", "python:3.11"}, {"workingDir", syncApp.dir()}},
              {{"name", "alembic-sidecar"}, {"image", "alembic-sidecar:test"}}}}}}});
  ASSERT_TRUE(api_->mergePatch(res::pods(ns_).named("inventory-0").withSubresource("status"),
                               {{"status", {{"phase", "Running"}}}})
                  .ok());
  create(res::secrets(ns_), {{"apiVersion", "v1"},
                             {"kind", "Secret"},
                             {"metadata", {{"name", "inventory-db"}}},
                             {"type", "servicebinding.io/postgresql"},
                             {"stringData", {{"type", "postgresql"},
                                             {"uri", db_.withScheme("postgresql").url()}}}});
  startSidecar("inventory-0");

  auto result = request({"--action", "revision", "-m", "add sku"});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out << sidecars_[0]->log();
  auto report = result.json();
  EXPECT_EQ(report["reason"], "RevisionCreated");
  EXPECT_EQ(report["database"]["source"], "servicebinding/inventory-db");
  std::string ready;
  for (const auto& c : report["conditions"]) {
    if (c["type"] == "DatabaseReady") {
      ready = c["message"];
    }
  }
  EXPECT_THAT(ready, HasSubstr("postgresql+psycopg2 from sync env.py"));
  EXPECT_THAT(syncApp.read(report["revision"]["file"]),
              HasSubstr("op.add_column('product', sa.Column('sku'"));
}

TEST_F(SidecarTest, NoChanges_Succeeds) {
  createPod("backend-0", app_.dir());
  startSidecar("backend-0");
  auto before = app_.versionFiles();
  auto result = request({"--action", "revision", "-m", "nothing"});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  EXPECT_EQ(result.json()["reason"], "NoChanges");
  EXPECT_EQ(app_.versionFiles(), before);
}

TEST_F(SidecarTest, ModelNotRegistered_FailsOnceWithoutRetry) {
  app_.write("fastapi_template/models/tag.py",
             "from typing import Optional\n\nfrom sqlmodel import Field, SQLModel\n\n\n"
             "class Tag(SQLModel, table=True):\n"
             "    id: Optional[int] = Field(default=None, primary_key=True)\n");
  createPod("backend-0", app_.dir());
  startSidecar("backend-0");
  auto result = request({"--action", "revision", "-m", "tags"});
  EXPECT_EQ(result.exitCode, 1) << result.err << result.out;
  EXPECT_EQ(result.json()["reason"], "ModelNotRegistered");
  EXPECT_THAT(result.json()["message"].get<std::string>(), HasSubstr("Tag"));
  EXPECT_EQ(run(createdName(result))["status"]["attempts"], 1);
}

TEST_F(SidecarTest, Escalation_ExitsThreeAndKeepsTheFileForReview) {
  app_.replace("fastapi_template/models/team.py", "    headquarters: Optional[str] = None\n", "");
  createPod("backend-0", app_.dir());
  startSidecar("backend-0");
  auto result = request({"--action", "revision", "-m", "drop headquarters"});
  EXPECT_EQ(result.exitCode, 3) << result.err << result.out;
  auto report = result.json();
  EXPECT_EQ(report["phase"], "Escalated");
  EXPECT_EQ(report["reason"], "DestructiveChange");
  EXPECT_TRUE(std::filesystem::exists(app_.dir() + "/" + report["revision"]["file"].get<std::string>()));
  EXPECT_EQ(run(createdName(result))["status"]["phase"], "Escalated");
}

TEST_F(SidecarTest, Check_InSyncThroughTheCluster) {
  createPod("backend-0", app_.dir());
  startSidecar("backend-0");
  auto result = request({"--action", "check"});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  EXPECT_EQ(result.json()["reason"], "InSync");
}

TEST_F(SidecarTest, SpecChange_RerunsTheRunForTheNewGeneration) {
  createPod("backend-0", app_.dir());
  startSidecar("backend-0");
  std::string name = newRun({{"action", "check"}})["metadata"]["name"];
  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(60)));
  auto first = run(name);
  ASSERT_EQ(first["status"]["phase"], "Succeeded");

  auto patched = api_->mergePatch(res::migrationRuns(ns_).named(name),
                                  {{"spec", {{"roundtripLast", 2}}}});
  ASSERT_TRUE(patched.ok());
  ASSERT_EQ((*patched)["metadata"]["generation"], 2);
  ASSERT_TRUE(waitUntil(
      [&] {
        auto status = core::objectOr(run(name), "status");
        return core::intField(status, "observedGeneration") == 2 && finished(name);
      },
      std::chrono::seconds(60)));
  auto second = run(name)["status"];
  EXPECT_EQ(second["phase"], "Succeeded");
  EXPECT_EQ(second["attempts"], 1);  // a new spec starts counting again
  EXPECT_THAT(second["message"].get<std::string>(), HasSubstr("round-trip"));
  for (const auto& c : second["conditions"]) {
    EXPECT_EQ(c["observedGeneration"], 2);
  }
}

TEST_F(SidecarTest, SchemaValidation_RejectsBadSpecsLikeTheCrd) {
  auto bad = [&](const nlohmann::json& spec) {
    return api_->create(res::migrationRuns(ns_),
                        {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
                         {"kind", "MigrationRun"},
                         {"metadata", {{"generateName", "bad-"}}},
                         {"spec", spec}});
  };
  auto noMessage = bad({{"action", "revision"}});
  ASSERT_FALSE(noMessage.ok());
  EXPECT_EQ(noMessage.error().reason, "Invalid");
  EXPECT_THAT(noMessage.error().message, HasSubstr("spec.message is required"));
  auto badAction = bad({{"action", "explode"}});
  ASSERT_FALSE(badAction.ok());
  EXPECT_THAT(badAction.error().message, HasSubstr("spec.action"));
  auto longMessage = bad({{"action", "revision"}, {"message", std::string(201, 'x')}});
  ASSERT_FALSE(longMessage.ok());
  EXPECT_THAT(longMessage.error().message, HasSubstr("spec.message"));
  auto shortTimeout = bad({{"action", "check"}, {"timeoutSeconds", 5}});
  ASSERT_FALSE(shortTimeout.ok());
  // Unknown fields are pruned, defaults applied.
  auto ok = bad({{"action", "check"}, {"surprise", true}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_FALSE((*ok)["spec"].contains("surprise"));
  EXPECT_EQ((*ok)["spec"]["timeoutSeconds"], 900);
  // The CLI refuses a message the CRD would refuse, before calling the API.
  auto cli = request({"--action", "revision", "-m", std::string(201, 'x')});
  EXPECT_EQ(cli.exitCode, 2);
}

TEST_F(SidecarTest, ThreeSidecarsRacingForTwentyRuns_RunEachOnce) {
  for (const char* pod : {"backend-0", "backend-1", "backend-2"}) {
    createPod(pod, app_.dir());
  }
  // The runs are `upgrade` on a database already at head: cheap, so the test is about the
  // claims, not about alembic's start-up time.
  workspace::ProcessSpec upgrade;
  upgrade.argv = {"alembic", "upgrade", "head"};
  upgrade.cwd = app_.dir();
  upgrade.env = {{"DATABASE_URL", db_.url()}};
  auto upgraded = workspace::runProcess(upgrade);
  ASSERT_TRUE(upgraded.ok() && upgraded->exitCode == 0);
  for (const char* pod : {"backend-0", "backend-1", "backend-2"}) {
    startSidecar(pod);
  }
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) {
    names.push_back(newRun({{"action", "upgrade"}})["metadata"]["name"]);
  }
  ASSERT_TRUE(waitUntil(
      [&] {
        for (const auto& n : names) {
          if (!finished(n)) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(240)))
      << sidecars_[0]->log();
  std::map<std::string, int> byClaimer;
  for (const auto& n : names) {
    auto status = run(n)["status"];
    EXPECT_EQ(status["phase"], "Succeeded") << n << " " << status.dump();
    EXPECT_EQ(status["attempts"], 1) << n;
    ++byClaimer[status["claimedBy"].get<std::string>()];
    int claims = 0;
    for (const auto& e : eventsFor(n)) {
      claims += e.value("reason", "") == "Claimed";
    }
    EXPECT_EQ(claims, 1) << n << " was claimed " << claims << " times";
  }
  std::cerr << "runs per sidecar:";
  for (const auto& [who, count] : byClaimer) {
    std::cerr << " " << who << "=" << count;
  }
  std::cerr << "\n";
}

TEST_F(SidecarTest, SigkillMidRunThenRestart_CompletesWithoutDuplicateFileOrOrphanDatabase) {
  // Each alembic command of this app takes a second longer, so the run is easy to interrupt.
  app_.replace("migrations/env.py", "import asyncio\n",
               "import asyncio\nimport os\nimport time\n\n"
               "time.sleep(float(os.environ.get('SLOW_ALEMBIC', '0')))\n");
  app_.applyChange("user_add_phone");
  createPod("backend-0", app_.dir(), {{{"name", "SLOW_ALEMBIC"}, {"value", "1"}}});
  auto& first = startSidecar("backend-0");
  auto before = app_.versionFiles();
  std::string name = newRun({{"action", "revision"}, {"message", "add user phone"}})["metadata"]["name"];

  // Kill it once the revision file exists and is recorded, before validation finishes.
  ASSERT_TRUE(waitUntil([&] { return !statusText(name, "pendingRevisionFile").empty(); },
                        std::chrono::seconds(90)))
      << first.log();
  first.signal(SIGKILL);
  first.wait(std::chrono::seconds(5));
  std::string scratch = statusText(name, "scratchDatabase");
  ASSERT_FALSE(scratch.empty());
  EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), Contains(scratch));
  // The half-done file is staged, outside the history: alembic cannot load it as head.
  EXPECT_EQ(app_.versionFiles(), before);
  std::string staged = statusText(name, "pendingRevisionFile");
  EXPECT_THAT(staged, HasSubstr(".alembic-sidecar/staging-"));
  EXPECT_TRUE(std::filesystem::exists(app_.dir() + "/" + staged)) << staged;

  startSidecar("backend-0");  // the same pod, its container restarted
  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(120)))
      << sidecars_.back()->log();
  auto status = run(name)["status"];
  EXPECT_EQ(status["phase"], "Succeeded") << status.dump();
  EXPECT_EQ(status["attempts"], 2);
  EXPECT_EQ(app_.versionFiles().size(), before.size() + 1);  // one revision, not two
  EXPECT_FALSE(std::filesystem::exists(app_.dir() + "/" + staged));  // swept by the next run
  EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), IsEmpty());
  EXPECT_TRUE(std::filesystem::exists(app_.dir() + "/" + status["revision"]["file"].get<std::string>()));
}

TEST_F(SidecarTest, Sigterm_ReleasesTheRunAndExitsZero) {
  app_.replace("migrations/env.py", "import asyncio\n",
               "import asyncio\nimport os\nimport time\n\n"
               "time.sleep(float(os.environ.get('SLOW_ALEMBIC', '0')))\n");
  app_.applyChange("user_add_phone");
  createPod("backend-0", app_.dir(), {{{"name", "SLOW_ALEMBIC"}, {"value", "1"}}});
  auto& sidecar = startSidecar("backend-0");
  std::string name = newRun({{"action", "revision"}, {"message", "add user phone"}})["metadata"]["name"];
  ASSERT_TRUE(waitUntil([&] { return statusText(name, "phase") == "Running"; },
                        std::chrono::seconds(30)));
  sidecar.signal(SIGTERM);
  auto code = sidecar.wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.has_value()) << "the sidecar did not stop";
  EXPECT_EQ(*code, 0) << sidecar.log();
  auto status = run(name)["status"];
  EXPECT_EQ(status["phase"], "Pending") << status.dump();
  EXPECT_EQ(status["reason"], "Interrupted");
  EXPECT_FALSE(status.contains("claimedBy"));
  EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), IsEmpty());

  startSidecar("backend-0");
  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(120)));
  EXPECT_EQ(run(name)["status"]["phase"], "Succeeded");
}

TEST_F(SidecarTest, TransientFailure_IsRetriedUpToTheBackoffLimit) {
  // A password PostgreSQL refuses: DatabaseUnavailable, which may heal (rotated secret).
  database::ConnectionInfo wrong = db_;
  wrong.password = "not-the-password";
  ASSERT_TRUE(api_->mergePatch(res::secrets(ns_).named("app-db"),
                               {{"stringData", {{"uri", wrong.url()}}}})
                  .ok());
  createPod("backend-0", app_.dir());
  startSidecar("backend-0");
  std::string name = newRun({{"action", "check"}, {"backoffLimit", 1}})["metadata"]["name"];
  ASSERT_TRUE(waitUntil([&] { return finished(name); }, std::chrono::seconds(60)));
  auto status = run(name)["status"];
  EXPECT_EQ(status["phase"], "Failed");
  EXPECT_EQ(status["reason"], "DatabaseUnavailable");
  EXPECT_EQ(status["attempts"], 2);
  EXPECT_EQ(status.dump().find("not-the-password"), std::string::npos);
  int retries = 0;
  for (const auto& e : eventsFor(name)) {
    retries += e.value("reason", "") == "RetryScheduled";
  }
  EXPECT_EQ(retries, 1);
}

TEST_F(SidecarTest, ProbesAndMetrics) {
  createPod("backend-0", app_.dir());
  int port = freePort();
  startSidecar("backend-0", port);
  web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port));
  auto get = [&](const std::string& path) -> std::pair<int, std::string> {
    try {
      auto response = client.request(web::http::methods::GET, path).get();
      return {response.status_code(), response.extract_string().get()};
    } catch (const std::exception&) {
      return {0, ""};
    }
  };
  ASSERT_TRUE(waitUntil([&] { return get("/readyz").first == 200; }, std::chrono::seconds(20)));
  EXPECT_EQ(get("/healthz").first, 200);
  auto result = request({"--action", "check"});
  ASSERT_EQ(result.exitCode, 0) << result.out;
  // The request returns once the status says Succeeded; the counter moves when the run has also
  // cleaned up (driver stopped, scratch dropped), a moment later.
  const std::string finished = "alembic_sidecar_runs_total{action=\"check\",phase=\"Succeeded\"} 1";
  std::pair<int, std::string> metrics;
  EXPECT_TRUE(waitUntil(
      [&] {
        metrics = get("/metrics");
        return metrics.second.find(finished) != std::string::npos;
      },
      std::chrono::seconds(20)));
  EXPECT_EQ(metrics.first, 200);
  EXPECT_THAT(metrics.second, HasSubstr(finished));
  EXPECT_THAT(metrics.second, HasSubstr("alembic_sidecar_runs_in_progress 0"));
  EXPECT_THAT(metrics.second, HasSubstr("alembic_sidecar_step_duration_seconds_count{step=\"DatabaseReady\"} 1"));
  EXPECT_THAT(metrics.second, HasSubstr("alembic_sidecar_watch_restarts_total"));
  EXPECT_EQ(get("/nope").first, 404);
}

}  // namespace
}  // namespace alembic_sidecar::testing
