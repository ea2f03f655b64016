#pragma once

// The cluster suite's harness: one envtest stack (the real kube-apiserver,
// kube-controller-manager, etcd and local-kubelet of ../shared/envtest) per ctest run, the real
// kubectl and helm from .tools/bin, the built alembic-sidecar, a real PostgreSQL.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "database/connection_url.h"
#include "kube/config.h"
#include "kube/kube_client.h"
#include "support/child_process.h"
#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/temp_dir.h"
#include "support/free_port.h"

namespace alembic_sidecar::testing::cluster {

/** What a tool (kubectl, helm) printed, and the command as a person would type it. */
struct ToolResult {
  std::string command;
  int exitCode = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const;
};

/** Quotes `words` the way a person would type them in a shell. */
std::string commandLine(const std::vector<std::string>& words);

/**
 * The envtest stack: the one ctest's fixture started (ALEMBIC_SIDECAR_ENVTEST_DIR), or, when
 * the test binary runs on its own, one started for this process and stopped at exit.
 */
class Envtest {
 public:
  /** The stack, or nullptr with the reason in `why` (no kit: a user's clone). */
  static const Envtest* get(std::string* why);

  const std::string& dir() const { return dir_; }
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }
  const std::string& server() const { return server_; }
  const std::string& caFile() const { return caFile_; }
  const std::string& adminToken() const { return adminToken_; }
  const std::string& devToken() const { return devToken_; }
  /** The apiserver's audit log of pods/exec requests (tests/cluster/envtest.sh turns it on). */
  std::string auditLog() const { return dir_ + "/audit/audit.log"; }

  kube::ClusterConfig configWithToken(const std::string& token) const;
  std::shared_ptr<kube::KubeClient> clientWithToken(const std::string& token) const;
  std::shared_ptr<kube::KubeClient> adminClient() const { return admin_; }

  /** Writes a kubeconfig that holds only `token` (and the stack's CA) to `path`. */
  void writeTokenKubeconfig(const std::string& path, const std::string& token,
                            const std::string& ns) const;

 private:
  static std::string load(Envtest& env, const std::string& dir);

  std::string dir_;
  std::string server_;
  std::string caFile_;
  std::string caPem_;
  std::string adminToken_;
  std::string devToken_;
  std::shared_ptr<kube::KubeClient> admin_;
};

std::string kubectlPath();
std::string helmPath();

struct ToolOptions {
  std::string kubeconfig;  // empty: the stack's (admin)
  std::string context;
  std::string stdinData;
  std::chrono::seconds timeout{180};
};

/**
 * A fresh namespace on the real server for one test, deleted afterwards; kubectl and helm
 * against it, the built sidecar started as the pod's sidecar container would run.
 */
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /** kubectl -n <ns> args... (admin unless options say otherwise). */
  ToolResult kubectl(const std::vector<std::string>& args, const ToolOptions& options = {});
  /** kubectl without -n. */
  ToolResult kubectlGlobal(const std::vector<std::string>& args, const ToolOptions& options = {});
  ToolResult helm(const std::vector<std::string>& args, const ToolOptions& options = {});
  /** Applies manifests/crd/migrationruns.yaml cluster-wide (as the chart does) and waits
   * until it is Established; fails the test otherwise. */
  void applyMigrationRunCrd();
  /** kubectl -n <ns> get args... -o json, parsed (fails the test on error). */
  nlohmann::json getJson(const std::vector<std::string>& args);

  /** `kubectl create token SA` in the namespace. */
  std::string serviceAccountToken(const std::string& serviceAccount);
  /** A kubeconfig file (in the scratch dir) holding a fresh token of the ServiceAccount. */
  std::string serviceAccountKubeconfig(const std::string& serviceAccount);

  /** helm install RELEASE helm/alembic-sidecar into the namespace. */
  void installChart(const std::string& release = "alembic-sidecar",
                    const std::vector<std::string>& extraArgs = {});

  /**
   * manifests/sample-app.yaml as users apply it; the only change is the local-kubelet/root
   * annotation on each Deployment's pod template (`roots`: Deployment name -> directory whose
   * `app/` is the app container's /app). Waits until both Deployments are rolled out.
   */
  void applySampleApp(const std::map<std::string, std::string>& roots);

  /** Names of the Running pods matching a label selector, sorted. */
  std::vector<std::string> podNames(const std::string& selector);

  /**
   * Starts `alembic-sidecar sidecar` as the sidecar container of `pod` runs it: POD_NAME and
   * POD_NAMESPACE from the Downward API, the ServiceAccount's token (never admin).
   * `port` 0: no HTTP server.
   */
  ChildProcess& startSidecar(const std::string& pod, const std::string& kubeconfig, int port = 0,
                             const std::vector<std::string>& extraArgs = {});

  /** `alembic-sidecar request ... --wait --json` with `kubeconfig` (and `context`). */
  CliResult request(const std::vector<std::string>& args, const std::string& kubeconfig,
                    const std::string& context = "");

  nlohmann::json run(const std::string& name);
  /** The events.k8s.io/v1 Events about the run, oldest first. */
  std::vector<nlohmann::json> eventsFor(const std::string& runName);
  std::vector<std::string> eventReasons(const std::string& runName);
  /** A new MigrationRun (admin) with this spec; returns its name. */
  std::string newRun(const nlohmann::json& spec, const std::string& generateName = "run-");
  bool finished(const std::string& runName);
  /**
   * pods/exec requests the real apiserver received for pods in the namespace so far, from its
   * audit log; -1 (and a test failure) when the stack was started without one.
   */
  int execSessions();

  /** The run name `request` printed ("...migrationrun.alembic.sidecar.dev/NAME created..."). */
  static std::string createdName(const std::string& output);

  const Envtest* env_ = nullptr;
  /** The namespace to create; empty: a random `cl-xxxxxx`. */
  std::string namespaceName_;
  std::string ns_;
  std::shared_ptr<kube::KubeClient> admin_;
  TempDir scratch_{"cluster-test"};
  std::vector<std::unique_ptr<ChildProcess>> sidecars_;
};

/**
 * A PostgreSQL login role that owns a fresh database on the test server, with a canary
 * password (`@`, `/`, `%` and a random part) that must never show up anywhere; dropped after.
 */
struct CanaryDatabase {
  explicit CanaryDatabase(const std::string& prefix);
  ~CanaryDatabase();
  CanaryDatabase(const CanaryDatabase&) = delete;
  CanaryDatabase& operator=(const CanaryDatabase&) = delete;

  /** postgresql+asyncpg://role:password@127.0.0.1:port/db, percent-encoded. */
  std::string url() const { return connection.url(); }

  database::ConnectionInfo connection;
};

/**
 * The sample app deployed as users deploy it: the chart (ServiceAccount, Roles, CRD), Secret
 * app-db with a canary password, manifests/sample-app.yaml (Deployment backend: native
 * sidecar; backend-classic: classic) whose app containers work in copies of the example app,
 * the requester Role bound to the stack's user `dev`, and a kubeconfig holding a token of the
 * chart's ServiceAccount for the sidecars.
 */
class SampleAppTest : public ClusterTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  /** A sidecar for the native pod (or `pod`), as its container would run. */
  ChildProcess& startNativeSidecar(int port = 0, const std::vector<std::string>& extraArgs = {});
  /** `request` as the user `dev` (bound to the requester Role). */
  CliResult requestAsDev(const std::vector<std::string>& args);
  /** Fails the test where the canary password shows up: logs, runs, Events, ConfigMaps, the
   * apiserver's audit log of pods/exec argv. */
  void expectNoCanaryAnywhere(const std::vector<std::string>& moreOutputs = {});

  std::unique_ptr<CanaryDatabase> db_;
  ExampleApp nativeApp_;
  ExampleApp classicApp_;
  std::string nativePod_;
  std::string classicPod_;
  std::string sidecarKubeconfig_;
};

/** Polls `condition` every 100 ms until it holds or `timeout` passes; returns the last value. */
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

using testing::freePort;  // support/free_port.h

/** GET http://127.0.0.1:port/path: status code (0 when unreachable) and body. */
std::pair<int, std::string> httpGet(int port, const std::string& path);

}  // namespace alembic_sidecar::testing::cluster
