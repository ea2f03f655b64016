// The Kubernetes client against the real apiserver: CRUD and paging, conflicts on the status
// subresource, the server's own error Statuses, kubeconfig and rotating service-account
// tokens, watches, Leases, Events, ownerReference garbage collection by the real
// controller-manager, and pods/exec through the apiserver into the kubelet's streaming code.
// What the real server cannot do on demand (429/5xx, dropped watches, 410, a server that only
// speaks v4.channel.k8s.io) stays in tests/e2e against the test API server.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "alembic/driver_launch.h"
#include "cluster/cluster.h"
#include "core/reasons.h"
#include "kube/api_errors.h"
#include "kube/event_recorder.h"
#include "kube/exec_stream.h"
#include "kube/exec_workspace.h"
#include "kube/informer.h"
#include "kube/leader_elector.h"
#include "kube/owner_references.h"
#include "kube/resources.h"
#include "kube/time_format.h"
#include "support/kube_test_server.h"

namespace alembic_sidecar::testing::cluster {
namespace {

using ::testing::HasSubstr;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace res = kube::resources;

nlohmann::json configMap(const std::string& name, const std::string& value = "v") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", {{"test", "client"}}}}},
          {"data", {{"key", value}}}};
}

nlohmann::json migrationRun(const std::string& name) {
  return {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
          {"kind", "MigrationRun"},
          {"metadata", {{"name", name}}},
          {"spec", {{"action", "revision"}, {"message", "add user email"}}}};
}

/** Tests that need the MigrationRun CRD (installed once, cluster-wide, like the chart does). */
class Api : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    applyMigrationRunCrd();
  }

  /** A ServiceAccount bound to a Role with `rules` in the namespace; its token. */
  std::string tokenWithRules(const std::string& name, const nlohmann::json& rules) {
    nlohmann::json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                           {"kind", "Role"},
                           {"metadata", {{"name", name}}},
                           {"rules", rules}};
    nlohmann::json binding = {
        {"apiVersion", "rbac.authorization.k8s.io/v1"},
        {"kind", "RoleBinding"},
        {"metadata", {{"name", name}}},
        {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", name}}},
        {"subjects", {{{"kind", "ServiceAccount"}, {"name", name}, {"namespace", ns_}}}}};
    ToolOptions input;
    input.stdinData = role.dump() + "\n" + binding.dump();
    EXPECT_EQ(kubectl({"create", "serviceaccount", name}).exitCode, 0);
    auto created = kubectl({"create", "-f", "-"}, input);
    EXPECT_EQ(created.exitCode, 0) << created.err;
    return serviceAccountToken(name);
  }
};

// --- the client ----------------------------------------------------------------------------

TEST_F(Api, CrudAndPaginatedList) {
  const auto cms = res::configMaps(ns_);
  for (int i = 0; i < 7; ++i) {
    auto created = admin_->create(cms, configMap("cm-" + std::to_string(i)));
    ASSERT_TRUE(created) << created.error().message;
  }
  auto all = kube::listAll(*admin_, cms, kube::ListOptions{"test=client", "", 3, "", ""});
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->items.size(), 7u);
  EXPECT_FALSE(all->resourceVersion.empty());

  auto got = admin_->get(cms.named("cm-1"));
  ASSERT_TRUE(got);
  auto replaced = *got;
  replaced["data"]["key"] = "changed";
  ASSERT_TRUE(admin_->replace(cms.named("cm-1"), replaced));
  auto patched = admin_->mergePatch(cms.named("cm-1"), {{"data", {{"other", "x"}}}});
  ASSERT_TRUE(patched) << patched.error().message;
  EXPECT_EQ((*patched)["data"]["key"], "changed");
  EXPECT_EQ((*patched)["data"]["other"], "x");
  ASSERT_TRUE(admin_->remove(cms.named("cm-1")));
  auto gone = admin_->get(cms.named("cm-1"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().reason, kube::kNotFound);
}

TEST_F(Api, StatusWriteWithAStaleResourceVersionGetsTheConflictError) {
  const auto runs = res::migrationRuns(ns_);
  auto created = admin_->create(runs, migrationRun("r1"));
  ASSERT_TRUE(created) << created.error().message;
  const std::string staleRv = kube::resourceVersionOf(*created);
  const auto status = runs.named("r1").withSubresource("status");

  auto claimed = admin_->mergePatch(
      status, {{"metadata", {{"resourceVersion", staleRv}}}, {"status", {{"phase", "Running"}}}});
  ASSERT_TRUE(claimed) << claimed.error().message;
  EXPECT_EQ((*claimed)["status"]["phase"], "Running");
  EXPECT_EQ((*claimed)["metadata"]["generation"], (*created)["metadata"]["generation"]);

  // A second replica still holding the old resourceVersion loses.
  auto second = admin_->mergePatch(
      status, {{"metadata", {{"resourceVersion", staleRv}}}, {"status", {{"phase", "Running"}}}});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().reason, kube::kConflict);
  EXPECT_TRUE(second.error().transient());
  EXPECT_THAT(second.error().message, HasSubstr("the object has been modified"));

  // Writes to /status ignore spec, writes to the object ignore status.
  auto specThroughStatus = admin_->mergePatch(status, {{"spec", {{"message", "changed"}}}});
  ASSERT_TRUE(specThroughStatus) << specThroughStatus.error().message;
  EXPECT_EQ((*specThroughStatus)["spec"]["message"], "add user email");
  auto statusThroughObject =
      admin_->mergePatch(runs.named("r1"), {{"status", {{"phase", "Failed"}}}});
  ASSERT_TRUE(statusThroughObject);
  EXPECT_EQ((*statusThroughObject)["status"]["phase"], "Running");
}

TEST_F(Api, ErrorStatusesReachTheCallerFor401_403_404_422_409) {
  std::string readerToken =
      tokenWithRules("reader", {{{"apiGroups", {""}}, {"resources", {"configmaps"}},
                                 {"verbs", {"get", "list"}}}});
  auto reader = env_->clientWithToken(readerToken);
  auto stranger = env_->clientWithToken("unknown-token-0123456789");

  auto unauthorized = stranger->get(res::configMaps(ns_).named("x"));
  ASSERT_FALSE(unauthorized);
  EXPECT_EQ(unauthorized.error().reason, kube::kUnauthorized);
  EXPECT_EQ(unauthorized.error().message.find("unknown-token"), std::string::npos);

  auto forbidden = reader->list(res::secrets(ns_), {});
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().reason, kube::kForbidden);
  EXPECT_THAT(forbidden.error().message,
              HasSubstr("secrets is forbidden: User \"system:serviceaccount:" + ns_ + ":reader\""));

  auto notFound = reader->get(res::configMaps(ns_).named("missing"));
  ASSERT_FALSE(notFound);
  EXPECT_EQ(notFound.error().reason, kube::kNotFound);
  EXPECT_THAT(notFound.error().message, HasSubstr("configmaps \"missing\" not found"));

  auto invalid = admin_->create(res::configMaps(ns_), configMap("Not_A_Valid_Name"));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().reason, kube::kInvalid);
  EXPECT_THAT(invalid.error().message, HasSubstr("Not_A_Valid_Name"));

  ASSERT_TRUE(admin_->create(res::configMaps(ns_), configMap("dup")));
  auto again = admin_->create(res::configMaps(ns_), configMap("dup"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().reason, kube::kAlreadyExists);
  EXPECT_THAT(again.error().message, HasSubstr("already exists"));
}

TEST_F(Api, KubeconfigWithTokenAndContextWorks) {
  kube::KubeconfigOptions options;
  options.path = env_->kubeconfig();
  options.context = "admin";
  auto config = kube::loadKubeconfig(options);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, env_->server());
  auto client = kube::KubeClient::fromConfig(*config);
  ASSERT_TRUE(client);
  auto created = (*client)->create(res::configMaps(ns_), configMap("kc"));
  ASSERT_TRUE(created) << created.error().message;

  options.context = "dev";  // no rights
  auto dev = kube::loadKubeconfig(options);
  ASSERT_TRUE(dev) << dev.error().message;
  auto refused = (*kube::KubeClient::fromConfig(*dev))->get(res::configMaps(ns_).named("kc"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().reason, kube::kForbidden);
}

TEST_F(Api, RotatedServiceAccountTokenIsPickedUpWithoutRestart) {
  const nlohmann::json rights = {{{"apiGroups", {""}}, {"resources", {"configmaps"}},
                                  {"verbs", {"get", "list", "create"}}}};
  const std::string dir = scratch_.str() + "/serviceaccount";
  std::filesystem::create_directories(dir);
  writeTextFile(dir + "/token", tokenWithRules("sa-one", rights) + "\n");
  writeTextFile(dir + "/ca.crt", readTextFile(env_->caFile()));
  writeTextFile(dir + "/namespace", ns_);

  kube::InClusterOptions options;
  options.serviceAccountDir = dir;
  options.tokenRefresh = std::chrono::hours(1);  // only the 401 can make it re-read
  const std::string server = env_->server();
  const std::string hostPort = server.substr(std::string("https://").size());
  options.getenv = [hostPort](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") {
      return hostPort.substr(0, hostPort.find(':'));
    }
    if (name == "KUBERNETES_SERVICE_PORT") {
      return hostPort.substr(hostPort.find(':') + 1);
    }
    return std::nullopt;
  };
  auto config = kube::loadInClusterConfig(options);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, server);
  EXPECT_EQ(config->namespace_, ns_);
  auto client = kube::KubeClient::fromConfig(*config);
  ASSERT_TRUE(client);
  ASSERT_TRUE((*client)->create(res::configMaps(ns_), configMap("before")));

  // The old token stops working (its ServiceAccount is gone), the file gets a new one.
  writeTextFile(dir + "/token", tokenWithRules("sa-two", rights) + "\n");
  ASSERT_EQ(kubectl({"delete", "serviceaccount", "sa-one"}).exitCode, 0);
  auto after = (*client)->create(res::configMaps(ns_), configMap("after"));
  ASSERT_TRUE(after) << after.error().message;
}

TEST_F(Api, WatchDeliversAnEventWhileTheStreamIsStillOpen) {
  kube::WatchOptions options;
  options.timeout = seconds(60);
  auto stream = admin_->watch(res::configMaps(ns_), options);
  ASSERT_TRUE(stream) << stream.error().message;
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(500));
    EXPECT_TRUE(admin_->create(res::configMaps(ns_), configMap("live")));
  });
  const auto start = std::chrono::steady_clock::now();
  std::optional<kube::WatchEvent> added;
  while (!added) {
    auto next = (*stream)->next();
    ASSERT_TRUE(next) << next.error().message;
    ASSERT_TRUE(next->has_value()) << "the stream ended before the event arrived";
    if ((*next)->type == "ADDED" && (**next).object["metadata"]["name"] == "live") {
      added = **next;
    }
  }
  writer.join();
  // The server keeps this watch open for 60 s: the event now proves the body is read as it
  // arrives, not when the response ends.
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
  (*stream)->cancel();
}

TEST_F(Api, InformerReconnectsWhenTheServerEndsTheWatch) {
  std::mutex mutex;
  std::set<std::string> added;
  kube::InformerOptions options;
  options.watchTimeout = seconds(1);
  kube::Informer informer(admin_, res::configMaps(ns_), options,
                          [&](kube::EventType type, const nlohmann::json& object) {
                            if (type == kube::EventType::kAdded) {
                              std::lock_guard lock(mutex);
                              added.insert(object["metadata"].value("name", ""));
                            }
                          });
  informer.start();
  ASSERT_TRUE(informer.waitForSync(seconds(20)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(admin_->create(res::configMaps(ns_), configMap("t" + std::to_string(i))));
    std::this_thread::sleep_for(milliseconds(1300));
  }
  ASSERT_TRUE(waitUntil(
      [&] {
        std::lock_guard lock(mutex);
        return added.count("t0") + added.count("t1") + added.count("t2") == 3;
      },
      seconds(20)));
  informer.stop();
  EXPECT_GE(informer.counters().restarts, 2u);
  EXPECT_EQ(informer.counters().relists, 0u);
}

// --- coordination: Leases, Events, garbage collection ------------------------------------------

kube::LeaderElectionConfig leaseConfig(const std::string& ns, const std::string& identity) {
  kube::LeaderElectionConfig config;
  config.namespace_ = ns;
  config.name = "alembic-sidecar";
  config.identity = identity;
  config.leaseDuration = milliseconds(2000);
  config.renewDeadline = milliseconds(1500);
  config.retryPeriod = milliseconds(200);
  return config;
}

TEST_F(Api, LeaseOnlyOneOfTwoReplicasLeadsAndReleaseHandsOver) {
  kube::LeaderElector a(admin_, leaseConfig(ns_, "pod-a"));
  kube::LeaderElector b(admin_, leaseConfig(ns_, "pod-b"));
  auto first = a.tryAcquireOrRenew();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first.value());
  auto second = b.tryAcquireOrRenew();
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second.value());
  auto lease = admin_->get(res::leases(ns_).named("alembic-sidecar"));
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "pod-a");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 2);
  EXPECT_TRUE(kube::parseTime((*lease)["spec"]["renewTime"].get<std::string>()));

  ASSERT_TRUE(a.release());
  auto taken = b.tryAcquireOrRenew();
  ASSERT_TRUE(taken);
  EXPECT_TRUE(taken.value());
  lease = admin_->get(res::leases(ns_).named("alembic-sidecar"));
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "pod-b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
}

TEST_F(Api, LeaseConcurrentCandidatesNeverBothWin) {
  for (int round = 0; round < 5; ++round) {
    const std::string name = "round-" + std::to_string(round);
    std::vector<std::unique_ptr<kube::LeaderElector>> electors;
    for (int i = 0; i < 4; ++i) {
      auto config = leaseConfig(ns_, "pod-" + std::to_string(i));
      config.name = name;
      electors.push_back(std::make_unique<kube::LeaderElector>(admin_, config));
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

TEST_F(Api, LeaderThatStopsRenewingIsReplacedAfterTheLeaseDuration) {
  kube::LeaderElector a(admin_, leaseConfig(ns_, "pod-a"));
  kube::LeaderElector b(admin_, leaseConfig(ns_, "pod-b"));
  ASSERT_TRUE(a.tryAcquireOrRenew().value());
  kube::Interrupt stop;
  std::atomic<bool> bLeads{false};
  std::thread candidate([&] { b.run([&] { bLeads = true; }, [] {}, stop); });
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitUntil([&] { return bLeads.load(); }, seconds(15)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(1500));
  stop.fire();
  candidate.join();
  auto lease = admin_->get(res::leases(ns_).named("alembic-sidecar"));
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"].value("holderIdentity", ""), "");  // released on stop
}

TEST_F(Api, EventsAreRecordedWithMicrosecondTimeAndNoSecrets) {
  auto run = admin_->create(res::migrationRuns(ns_), migrationRun("r1"));
  ASSERT_TRUE(run) << run.error().message;
  auto redactor = std::make_shared<core::Redactor>();
  redactor->add("hunter2");
  kube::EventRecorder recorder(admin_, redactor, {"alembic-sidecar", "sidecar-pod-0"});
  ASSERT_TRUE(recorder.normal(*run, "DatabaseReady", "Probe",
                              "connected to postgresql://app:hunter2@db:5432/app"));
  ASSERT_TRUE(recorder.warning(*run, "UpgradeFailed", "Upgrade", "upgrade head failed"));
  auto events = admin_->list(res::events(ns_), {});
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
  // kubectl describe finds them through the core/v1 view of the same objects.
  auto describe = kubectl({"describe", "mrun", "r1"});
  EXPECT_THAT(describe.out, HasSubstr("DatabaseReady"));
  EXPECT_THAT(describe.out, HasSubstr("UpgradeFailed"));
}

TEST_F(Api, OwnedConfigMapIsCollectedWithItsRun) {
  auto run = admin_->create(res::migrationRuns(ns_), migrationRun("r2"));
  ASSERT_TRUE(run) << run.error().message;
  auto cm = kube::buildOwnedConfigMap("r2-revision", *run, {{"3f2a1b_add_email.py", "# revision"}});
  ASSERT_TRUE(cm);
  ASSERT_TRUE(kube::createOrReplaceConfigMap(*admin_, *cm));
  auto second = kube::buildOwnedConfigMap("r2-revision", *run, {{"3f2a1b_add_email.py", "# v2"}});
  auto replaced = kube::createOrReplaceConfigMap(*admin_, *second);
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ((*replaced)["data"]["3f2a1b_add_email.py"], "# v2");
  EXPECT_EQ((*replaced)["metadata"]["ownerReferences"][0]["uid"], (*run)["metadata"]["uid"]);

  ASSERT_TRUE(admin_->remove(res::migrationRuns(ns_).named("r2")));
  EXPECT_TRUE(waitUntil(
      [&] {
        auto gone = admin_->get(res::configMaps(ns_).named("r2-revision"));
        return !gone && kube::isNotFound(gone.error());
      },
      seconds(60)));
}

// --- pods/exec through the apiserver and the kubelet ---------------------------------------

constexpr char kPod[] = "app-0";
constexpr char kPython[] = "/usr/bin/python3";

std::string allBytes(size_t repeat = 1) {
  std::string bytes;
  for (size_t r = 0; r < repeat; ++r) {
    for (int i = 0; i < 256; ++i) {
      bytes.push_back(static_cast<char>(i));
    }
  }
  return bytes;
}

class Exec : public Api {
 protected:
  void SetUp() override {
    Api::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    workdir_ = scratch_.str() + "/workdir";
    std::filesystem::create_directories(workdir_ + "/backend");
    nlohmann::json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", kPod}, {"annotations", {{"local-kubelet/root", workdir_}}}}},
        {"spec",
         {{"containers",
           {{{"name", "app"},
             {"image", "app:latest"},
             {"env", {{{"name", "APP_ENV"}, {"value", "from-the-pod"}}}}}}}}}};
    auto created = admin_->create(res::pods(ns_), pod);
    ASSERT_TRUE(created) << created.error().message;
    ASSERT_EQ(kubectl({"wait", "--for=condition=Ready", std::string("pod/") + kPod,
                       "--timeout=60s"})
                  .exitCode,
              0);
  }

  kube::ExecRequest request(std::vector<std::string> command) {
    kube::ExecRequest r;
    r.namespace_ = ns_;
    r.pod = kPod;
    r.container = "app";
    r.command = std::move(command);
    r.timeout = seconds(30);
    return r;
  }

  kube::ExecWorkspace workspace(std::shared_ptr<kube::KubeApi> api = nullptr) {
    kube::ExecWorkspaceOptions options;
    options.python = kPython;
    options.launcherProgram = alembic::fileLauncher().program;
    options.launcherPreamble = alembic::fileLauncher().preamble;
    return kube::ExecWorkspace(api ? api : admin_, {ns_, kPod, "app", workdir_}, options);
  }

  std::string workdir_;
};

TEST_F(Exec, ReturnsStdoutStderrAndANonZeroExitCode) {
  auto result = admin_->exec(request({"sh", "-c", "printf 'to out'; printf 'to err' >&2; exit 7"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->out, "to out");
  EXPECT_EQ(result->err, "to err");
  EXPECT_EQ(result->exitCode, 7);
  EXPECT_FALSE(result->timedOut);
  auto ok = admin_->exec(request({"true"}));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->exitCode, 0);
}

TEST_F(Exec, OutputIsBinarySafeAndLargerThanOneMebibyte) {
  auto result = admin_->exec(
      request({kPython, "-c",
               "import sys; sys.stdout.buffer.write(bytes(range(256)) * 12288); "
               "sys.stderr.buffer.write(bytes(range(256)))"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 0);
  ASSERT_EQ(result->out.size(), 3u * 1024 * 1024);
  EXPECT_TRUE(result->out == allBytes(12288));
  EXPECT_EQ(result->err, allBytes());
}

TEST_F(Exec, StdinIsDeliveredAndClosedOverV5) {
  auto r = request({"cat"});
  r.stdinData = allBytes(8);
  auto result = admin_->exec(r);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 0);
  EXPECT_EQ(result->out, allBytes(8));
}

TEST_F(Exec, DeadlineClosesTheStreamAndReportsATimeout) {
  auto r = request({"sleep", "30"});
  r.timeout = seconds(1);
  const auto start = std::chrono::steady_clock::now();
  auto result = admin_->exec(r);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->timedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

TEST_F(Exec, MissingExecutableIsReportedInTheRuntimesWords) {
  // containerd answers with an InternalError Status (the e2e test server mimics that);
  // local-kubelet, like a shell, with exit code 127 and the reason on stderr.
  auto result = admin_->exec(request({"no-such-binary-xyz"}));
  if (result) {
    EXPECT_EQ(result->exitCode, 127);
    EXPECT_THAT(result->err, HasSubstr("\"no-such-binary-xyz\": executable file not found"));
  } else {
    EXPECT_EQ(result.error().reason, kube::kExecFailed);
    EXPECT_THAT(result.error().message, HasSubstr("executable file not found"));
  }
}

TEST_F(Exec, ForbiddenWithoutTheExecPermissionAndTheMessageSaysWhy) {
  auto viewer = env_->clientWithToken(
      tokenWithRules("viewer", {{{"apiGroups", {""}}, {"resources", {"pods"}}, {"verbs", {"get"}}}}));
  auto result = viewer->exec(request({"true"}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, kube::kForbidden);
  EXPECT_THAT(result.error().message, HasSubstr("pods/exec"));
}

TEST_F(Exec, CreateAndGetOnPodsExecAreEnough) {
  auto execer = env_->clientWithToken(tokenWithRules(
      "execer", {{{"apiGroups", {""}}, {"resources", {"pods/exec"}}, {"verbs", {"create", "get"}}}}));
  auto result = execer->exec(request({"echo", "hi"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->out, "hi\n");
}

TEST_F(Exec, WorkspaceRunsArgvWithEnvCwdAndExitCode) {
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"sh", "-c", "pwd; printf '%s|%s' \"$DB_PASSWORD\" \"$APP_ENV\"; echo oops >&2; exit 4"};
  cmd.env = {{"DB_PASSWORD", "s3cret-p@ss word"}};
  cmd.cwd = "backend";
  cmd.timeout = seconds(20);
  auto output = ws.run(cmd);
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->exitCode, 4);
  EXPECT_EQ(output->out, workdir_ + "/backend\ns3cret-p@ss word|from-the-pod");
  EXPECT_EQ(output->err, "oops\n");
  EXPECT_FALSE(output->timedOut);
}

TEST_F(Exec, WorkspaceRunIsExactArgvNotAShell) {
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"printf", "%s", "$(echo injected); `id` * ~"};
  auto output = ws.run(cmd);
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->out, "$(echo injected); `id` * ~");
}

TEST_F(Exec, WorkspaceHonoursTheCommandTimeout) {
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"sh", "-c", "echo started; sleep 30"};
  cmd.timeout = milliseconds(800);
  const auto start = std::chrono::steady_clock::now();
  auto output = ws.run(cmd);
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_TRUE(output->timedOut);
  EXPECT_EQ(output->out, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

TEST_F(Exec, WorkspaceCommandThatCannotStartIsAnError) {
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"definitely-not-installed-xyz", "--help"};
  auto output = ws.run(cmd);
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().reason, core::reason::kWorkspaceUnavailable);
  EXPECT_THAT(output.error().message, HasSubstr("definitely-not-installed-xyz"));
}

TEST_F(Exec, WorkspaceFilesAreBinarySafe) {
  auto ws = workspace();
  const std::string big = allBytes(8192);  // 2 MiB
  writeTextFile(workdir_ + "/backend/blob.bin", big);
  writeTextFile(workdir_ + "/alembic.ini", "[alembic]\n");
  auto content = ws.readFile("backend/blob.bin");
  ASSERT_TRUE(content) << content.error().message;
  EXPECT_TRUE(*content == big);

  auto entries = ws.listDir(".");
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "alembic.ini");
  EXPECT_FALSE((*entries)[0].isDirectory);
  EXPECT_EQ((*entries)[1].name, "backend");
  EXPECT_TRUE((*entries)[1].isDirectory);

  EXPECT_TRUE(ws.exists("alembic.ini"));
  EXPECT_FALSE(ws.exists("missing.ini"));
  ASSERT_TRUE(ws.removeFile("alembic.ini"));
  EXPECT_FALSE(std::filesystem::exists(workdir_ + "/alembic.ini"));
  auto missing = ws.readFile("alembic.ini");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().reason, kube::kNotFound);
}

TEST_F(Exec, WorkspaceWithoutPythonSaysSo) {
  kube::ExecWorkspaceOptions options;
  options.python = "/nonexistent/python3";
  options.launcherProgram = alembic::fileLauncher().program;
  options.launcherPreamble = alembic::fileLauncher().preamble;
  kube::ExecWorkspace ws(admin_, {ns_, kPod, "app", workdir_}, options);
  auto content = ws.readFile("x");
  ASSERT_FALSE(content);
  EXPECT_EQ(content.error().reason, core::reason::kWorkspaceUnavailable);
  EXPECT_THAT(content.error().message, HasSubstr("/nonexistent/python3"));
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
