// The sidecar and `request` when the API misbehaves, against the project's test API server:
// a watch that breaks, an API server that restarts with a new history, an event lost without
// the watch noticing (periodic relist), a token that may not write status (/readyz), and the
// `request` exit code 4 for "could not talk to the API".

// gtest before cpprest: cpprest defines a macro U that breaks gtest's templates.
// clang-format off
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <cpprest/http_client.h>
// clang-format on
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "core/json_util.h"
#include "e2e/kube/kube_e2e.h"
#include "kube/resources.h"
#include "support/child_process.h"
#include "support/cli_runner.h"
#include "support/kube_test_server.h"
#include "support/postgres_server.h"
#include "support/free_port.h"

namespace alembic_sidecar::testing {
namespace {

using kube::e2e::waitUntil;
using ::testing::HasSubstr;
using ::testing::Not;
namespace res = kube::resources;

std::string sourceDir() { return ALEMBIC_SIDECAR_SOURCE_DIR; }

std::string kubeconfigFor(const std::string& server, const std::string& ca,
                          const std::string& token) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
         "clusters: [{name: c, cluster: {server: '" +
         server + "', certificate-authority: '" + ca +
         "'}}]\n"
         "users: [{name: u, user: {token: '" +
         token +
         "'}}]\n"
         "contexts: [{name: t, context: {cluster: c, user: u, namespace: default}}]\n";
}

/** Rules of the chart's Role, minus whatever `without` names (e.g. "migrationruns/status"). */
nlohmann::json sidecarRules(const std::string& without = "") {
  nlohmann::json rules = nlohmann::json::array();
  auto add = [&](const std::string& group, const std::string& resource,
                 std::vector<std::string> verbs) {
    if (resource != without) {
      rules.push_back({{"apiGroups", {group}}, {"resources", {resource}}, {"verbs", verbs}});
    }
  };
  add("alembic.sidecar.dev", "migrationruns", {"get", "list", "watch", "patch", "update"});
  add("alembic.sidecar.dev", "migrationruns/status", {"get", "patch", "update"});
  add("", "pods", {"get", "list"});
  add("", "configmaps", {"get", "create", "update", "patch", "delete"});
  add("events.k8s.io", "events", {"create", "patch"});
  return rules;
}

class ResilienceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = startServer({});
    ASSERT_TRUE(server_);
    ns_ = "rs-" + randomName(6);
    api_ = server_->adminClient();
  }

  void TearDown() override {
    if (HasFailure()) {
      for (auto* s : {server_.get(), restarted_.get()}) {
        if (s != nullptr) {
          std::string log = s->log();
          std::cerr << "--- test API server log (tail) ---\n"
                    << (log.size() > 4000 ? log.substr(log.size() - 4000) : log) << "\n";
        }
      }
      for (const auto& sidecar : sidecars_) {
        std::string own = sidecar->log();
        std::cerr << "--- sidecar log (tail) ---\n"
                  << (own.size() > 6000 ? own.substr(own.size() - 6000) : own) << "\n";
      }
    }
    sidecars_.clear();
    restarted_.reset();
    server_.reset();
  }

  std::unique_ptr<KubeTestServer> startServer(std::vector<std::string> extraArgs) {
    KubeTestServer::Options options;
    options.crdFiles = {sourceDir() + "/manifests/crd/migrationruns.yaml"};
    options.extraArgs = {"--verbose"};
    options.extraArgs.insert(options.extraArgs.end(), extraArgs.begin(), extraArgs.end());
    auto started = KubeTestServer::start(options);
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().message);
    return started.ok() ? std::move(started.value()) : nullptr;
  }

  ChildProcess& startSidecar(const std::string& kubeconfig, std::vector<std::string> extra,
                             int port = 0, const std::string& podName = "sidecar-0") {
    std::vector<std::string> argv = {ALEMBIC_SIDECAR_EXE,
                                     "sidecar",
                                     "--kubeconfig",
                                     kubeconfig,
                                     "--namespace",
                                     ns_,
                                     "--port",
                                     std::to_string(port),
                                     "--heartbeat-seconds",
                                     "1",
                                     "--retry-base-seconds",
                                     "60"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string log =
        server_->scratchDir() + "/sidecar-" + std::to_string(sidecars_.size()) + ".log";
    sidecars_.push_back(std::make_unique<ChildProcess>(
        argv,
        std::map<std::string, std::string>{{"POD_NAME", podName},
                                           {"POD_NAMESPACE", ns_},
                                           {"ALEMBIC_SIDECAR_LOG_LEVEL", "debug"},
                                           {"DATABASE_URL", ""}},
        log));
    return *sidecars_.back();
  }

  /** Waits until the server has an open watch on this namespace's MigrationRuns. */
  bool watching(KubeTestServer& server) {
    return waitUntil(
        [&] {
          auto state = server.state();
          if (!state) {
            return false;
          }
          for (const auto& w : (*state)["watches"]) {
            if (w.value("namespace", "") == ns_ &&
                w.value("resource", "").find("migrationruns") != std::string::npos) {
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(20));
  }

  std::string newRun(kube::KubeApi& api) {
    auto created =
        api.create(res::migrationRuns(ns_), {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
                                             {"kind", "MigrationRun"},
                                             {"metadata", {{"generateName", "run-"}}},
                                             {"spec", {{"action", "check"}}}});
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
    return created.ok() ? core::stringField(core::objectOr(*created, "metadata"), "name") : "";
  }

  /**
   * Whether a sidecar has claimed the run (its first status write). `attempts` stays when
   * the attempt fails (no target pod here) and the run waits for its retry unclaimed.
   */
  static bool claimed(kube::KubeApi& api, const std::string& ns, const std::string& name) {
    auto run = api.get(res::migrationRuns(ns).named(name));
    return run.ok() && core::intField(core::objectOr(*run, "status"), "attempts") >= 1;
  }

  /** Requests in the server's log: "GET-list", "GET-watch" for this namespace's runs. */
  std::vector<std::string> runRequests(KubeTestServer& server) {
    std::vector<std::string> out;
    auto log = server.requests();
    if (!log) {
      return out;
    }
    for (const auto& r : *log) {
      std::string path = r.value("path", "");
      if (path.find("/namespaces/" + ns_ + "/migrationruns") == std::string::npos ||
          r.value("method", "") != "GET" || path.find("/migrationruns/") != std::string::npos) {
        continue;
      }
      bool watch = r.contains("query") && r["query"].contains("watch");
      out.push_back(watch ? "watch" : "list");
    }
    return out;
  }

  std::unique_ptr<KubeTestServer> server_;
  std::unique_ptr<KubeTestServer> restarted_;
  std::string ns_;
  std::shared_ptr<kube::KubeClient> api_;
  std::vector<std::unique_ptr<ChildProcess>> sidecars_;
};

TEST_F(ResilienceTest, BrokenWatch_IsFollowedByAFullListBeforeTheNextWatch) {
  // Every watch of the runs breaks right away for a while: each break must cost a list.
  ASSERT_TRUE(server_->addFaults(nlohmann::json::array(
      {{{"match", {{"path", "/namespaces/" + ns_ + "/migrationruns"}, {"watch", true}}},
        {"dropWatchAfterEvents", 0},
        {"times", 3}}})));
  startSidecar(server_->kubeconfig(), {"--relist-seconds", "0"});
  ASSERT_TRUE(watching(*server_));
  std::string name = newRun(*api_);

  ASSERT_TRUE(waitUntil([&] { return claimed(*api_, ns_, name); }, std::chrono::seconds(30)));
  auto seen = runRequests(*server_);
  // list, (watch broken, list) x 3, watch
  std::vector<std::string> expected = {"list", "watch", "list", "watch",
                                       "list", "watch", "list", "watch"};
  ASSERT_GE(seen.size(), expected.size()) << ::testing::PrintToString(seen);
  EXPECT_EQ(std::vector<std::string>(seen.begin(), seen.begin() + expected.size()), expected);
  EXPECT_THAT(sidecars_.back()->log(), HasSubstr("Informer watch broke"));
  EXPECT_THAT(sidecars_.back()->log(), HasSubstr("action=relist"));
}

TEST_F(ResilienceTest, ApiServerRestartWithANewHistory_RunCreatedAfterwardsIsClaimed) {
  // Push the first server's resourceVersion well past where a fresh server starts.
  for (int i = 0; i < 40; ++i) {
    auto created =
        api_->create(res::configMaps(ns_), {{"apiVersion", "v1"},
                                            {"kind", "ConfigMap"},
                                            {"metadata", {{"name", "pad-" + std::to_string(i)}}}});
    ASSERT_TRUE(created.ok());
  }
  startSidecar(server_->kubeconfig(), {"--relist-seconds", "0"});
  ASSERT_TRUE(watching(*server_));
  std::string before = newRun(*api_);
  ASSERT_TRUE(waitUntil([&] { return claimed(*api_, ns_, before); }, std::chrono::seconds(20)));

  // Crash the server (SIGKILL: no clean end of the watch) and start an empty one on the same
  // port with the same CA and token. Its resourceVersions start low again: a watch resumed
  // from the old resourceVersion is refused (504 "Too large resource version", as from the
  // watch cache) for as long as it is retried — the sidecar before this fix never claimed the
  // new run — while a list after the broken watch gets the sidecar going at once.
  auto info = nlohmann::json::parse(readTextFile(server_->stateDir() + "/server.json"));
  pid_t pid = info.value("pid", 0);
  ASSERT_GT(pid, 0);
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  restarted_ = startServer({"--state-dir", server_->stateDir(), "--port",
                            std::to_string(server_->port()), "--future-rv-wait", "0.5"});
  ASSERT_TRUE(restarted_);

  std::string after = newRun(*restarted_->adminClient());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitUntil([&] { return claimed(*restarted_->adminClient(), ns_, after); },
                        std::chrono::seconds(60)));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  std::cerr << "run created on the restarted server claimed after " << ms << " ms\n";
  auto seen = runRequests(*restarted_);
  EXPECT_NE(std::find(seen.begin(), seen.end(), "list"), seen.end())
      << "the sidecar must list the new server: " << ::testing::PrintToString(seen);
}

TEST_F(ResilienceTest, LostWatchEvent_PeriodicRelistFindsTheRun) {
  auto swallowNext = [&] {
    return server_->addFaults(nlohmann::json::array(
        {{{"match", {{"path", "/namespaces/" + ns_ + "/migrationruns"}, {"watch", true}}},
          {"swallowWatchEvents", 1}}}));
  };

  // Without a periodic relist the lost ADDED event is never made up for.
  ASSERT_TRUE(swallowNext());
  startSidecar(server_->kubeconfig(), {"--relist-seconds", "0"});
  ASSERT_TRUE(watching(*server_));
  std::string unseen = newRun(*api_);
  EXPECT_FALSE(waitUntil([&] { return claimed(*api_, ns_, unseen); }, std::chrono::seconds(6)))
      << "the fault did not swallow the event: this test proves nothing";
  sidecars_.clear();
  auto removed = api_->remove(res::migrationRuns(ns_).named(unseen));
  ASSERT_TRUE(removed.ok());

  ASSERT_TRUE(swallowNext());
  startSidecar(server_->kubeconfig(), {"--relist-seconds", "2"});
  ASSERT_TRUE(watching(*server_));
  std::string found = newRun(*api_);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitUntil([&] { return claimed(*api_, ns_, found); }, std::chrono::seconds(15)));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  std::cerr << "run whose event was lost claimed after " << ms << " ms (relist every 2 s)\n";
  EXPECT_LE(ms, 6000);
}

TEST_F(ResilienceTest, Readyz_FalseUntilStatusMayBePatched_WithLogAndEvents_RecheckedPeriodically) {
  const std::string token = "sidecar-" + randomName(10);
  ASSERT_TRUE(server_->addToken(token, "system:serviceaccount:" + ns_ + ":alembic-sidecar",
                                sidecarRules("migrationruns/status")));
  const std::string kubeconfig = server_->scratchDir() + "/restricted.kubeconfig";
  writeTextFile(kubeconfig, kubeconfigFor(server_->url(), server_->caFile(), token));
  auto pod = api_->create(res::pods(ns_),
                          {{"apiVersion", "v1"},
                           {"kind", "Pod"},
                           {"metadata", {{"name", "sidecar-0"}}},
                           {"spec", {{"containers", {{{"name", "app"}, {"image", "x"}}}}}}});
  ASSERT_TRUE(pod.ok());
  int port = freePort();
  auto& sidecar = startSidecar(kubeconfig, {"--permission-check-seconds", "1"}, port);
  web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port));
  auto readyz = [&]() -> std::pair<int, std::string> {
    try {
      auto response = client.request(web::http::methods::GET, "/readyz").get();
      return {response.status_code(), response.extract_string().get()};
    } catch (const std::exception&) {
      return {0, ""};
    }
  };
  auto events = [&](const std::string& reason) {
    std::vector<nlohmann::json> out;
    auto list = kube::listAll(*api_, res::events(ns_), {});
    if (list.ok()) {
      for (const auto& e : list->items) {
        if (e.value("reason", "") == reason && e["regarding"].value("name", "") == "sidecar-0") {
          out.push_back(e);
        }
      }
    }
    return out;
  };

  ASSERT_TRUE(watching(*server_));  // the first list is in: only the permission is missing
  // Until the first access review answers, /readyz is 503 "not checked yet": wait for the
  // answer itself, not for the first 503 (under load the review takes a while).
  ASSERT_TRUE(waitUntil(
      [&] {
        auto a = readyz();
        return a.first == 503 && a.second.find("not checked yet") == std::string::npos;
      },
      std::chrono::seconds(10)));
  auto answer = readyz();
  EXPECT_EQ(answer.first, 503);
  EXPECT_THAT(answer.second, HasSubstr("StatusWriteForbidden"));
  EXPECT_THAT(answer.second, HasSubstr("migrationruns/status"));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a few re-checks later: still not
  EXPECT_EQ(readyz().first, 503);
  ASSERT_TRUE(waitUntil([&] { return !events("StatusWriteForbidden").empty(); }));
  auto warning = events("StatusWriteForbidden").front();
  EXPECT_EQ(warning.value("type", ""), "Warning");
  EXPECT_EQ(warning["regarding"].value("kind", ""), "Pod");
  EXPECT_FALSE(warning["regarding"].value("uid", "").empty());
  EXPECT_EQ(events("StatusWriteForbidden").size(), 1u) << "one Event per change, not per check";
  EXPECT_THAT(sidecar.log(), HasSubstr("Not ready reason=StatusWriteForbidden"));

  // Granted: ready at the next check, and said so.
  ASSERT_TRUE(server_->addToken(token, "system:serviceaccount:" + ns_ + ":alembic-sidecar",
                                sidecarRules()));
  ASSERT_TRUE(waitUntil([&] { return readyz().first == 200; }, std::chrono::seconds(10)));
  EXPECT_TRUE(waitUntil([&] { return !events("StatusWriteAllowed").empty(); }));

  // Taken away again: not ready again.
  ASSERT_TRUE(server_->addToken(token, "system:serviceaccount:" + ns_ + ":alembic-sidecar",
                                sidecarRules("migrationruns/status")));
  EXPECT_TRUE(waitUntil([&] { return readyz().first == 503; }, std::chrono::seconds(10)));
  EXPECT_THAT(sidecar.log(), Not(HasSubstr(token)));
}

class RequestExitCodeTest : public ResilienceTest {
 protected:
  CliResult request(const std::string& kubeconfig) {
    return runCli({"request", "--kubeconfig", kubeconfig, "--namespace", ns_, "--action", "check",
                   "--wait", "--timeout", "30"},
                  {}, std::chrono::seconds(120));
  }
  std::string kubeconfig(const std::string& name, const std::string& server, const std::string& ca,
                         const std::string& token) {
    std::string path = server_->scratchDir() + "/" + name + ".kubeconfig";
    writeTextFile(path, kubeconfigFor(server, ca, token));
    return path;
  }
};

TEST_F(RequestExitCodeTest, UnknownToken_Is401_Exit4) {
  const std::string token = "unknown-" + randomName(16);
  auto result = request(kubeconfig("401", server_->url(), server_->caFile(), token));
  EXPECT_EQ(result.exitCode, 4) << result.err;
  EXPECT_THAT(result.err, HasSubstr("could not talk to the Kubernetes API"));
  EXPECT_THAT(result.err, HasSubstr("Unauthorized"));
  EXPECT_THAT(result.err + result.out, Not(HasSubstr(token)));
}

TEST_F(RequestExitCodeTest, TokenWithoutCreate_Is403_Exit4) {
  const std::string token = "reader-" + randomName(16);
  ASSERT_TRUE(server_->addToken(token, "reader",
                                nlohmann::json::array({{{"apiGroups", {"alembic.sidecar.dev"}},
                                                        {"resources", {"migrationruns"}},
                                                        {"verbs", {"get", "list", "watch"}}}})));
  auto result = request(kubeconfig("403", server_->url(), server_->caFile(), token));
  EXPECT_EQ(result.exitCode, 4) << result.err;
  EXPECT_THAT(result.err, HasSubstr("Forbidden"));
  EXPECT_THAT(result.err + result.out, Not(HasSubstr(token)));
}

TEST_F(RequestExitCodeTest, NothingListening_IsUnreachable_Exit4) {
  auto result = request(kubeconfig("down", "https://127.0.0.1:" + std::to_string(freePort()),
                                   server_->caFile(), server_->token()));
  EXPECT_EQ(result.exitCode, 4) << result.err;
  EXPECT_THAT(result.err, HasSubstr("could not talk to the Kubernetes API"));
}

TEST_F(RequestExitCodeTest, WrongCertificateAuthority_IsTls_Exit4) {
  auto result =
      request(kubeconfig("tls", server_->url(), server_->otherCaFile(), server_->token()));
  EXPECT_EQ(result.exitCode, 4) << result.err;
  EXPECT_THAT(result.err, HasSubstr("Tls"));
}

TEST_F(RequestExitCodeTest, InsecureSkipTlsVerifyWithACa_IsRefused_Exit4) {
  std::string path = server_->scratchDir() + "/insecure.kubeconfig";
  std::string text = kubeconfigFor(server_->url(), server_->caFile(), server_->token());
  text.replace(text.find("certificate-authority:"), 0, "insecure-skip-tls-verify: true, ");
  writeTextFile(path, text);
  auto result = request(path);
  EXPECT_EQ(result.exitCode, 4) << result.err;
  EXPECT_THAT(result.err, HasSubstr("insecure-skip-tls-verify together with a certificate"));
}

TEST_F(RequestExitCodeTest, BlankMessage_IsAUsageError_Exit2) {
  auto result = runCli({"request", "--kubeconfig", server_->kubeconfig(), "--namespace", ns_,
                        "--action", "revision", "-m", "   "});
  EXPECT_EQ(result.exitCode, 2) << result.err;
  EXPECT_THAT(result.err, HasSubstr("must not be blank"));
  auto runs = api_->list(res::migrationRuns(ns_), {});
  ASSERT_TRUE(runs.ok());
  EXPECT_TRUE(runs->items.empty());
}

}  // namespace
}  // namespace alembic_sidecar::testing
