#include "cli/sidecar_command.h"

#include <pplx/threadpool.h>

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "alembic/driver_launch.h"
#include "cli/logging.h"
#include "controller/controller.h"
#include "core/json_util.h"
#include "core/reasons.h"
#include "core/report.h"
#include "database/cluster_resolver.h"
#include "database/pg_database.h"
#include "kube/config.h"
#include "kube/exec_workspace.h"
#include "kube/kube_client.h"
#include "workspace/command_line.h"
#include "workspace/local_workspace.h"

namespace alembic_sidecar::cli {
namespace {

struct SidecarCliOptions {
  std::string ns;
  std::string selector;
  std::string targetContainer = "app";
  std::string workdir;
  std::string workspaceDir;
  std::string alembicCmd = "alembic";
  std::string config = "alembic.ini";
  std::string execPython = "python3";
  std::string kubeconfig;
  std::string context;
  std::string listen = "0.0.0.0";
  int port = 8080;
  int workers = 1;
  int heartbeatSeconds = 10;
  int staleAfterSeconds = 45;
  int retryBaseSeconds = 10;
  int relistSeconds = 300;
  int permissionCheckSeconds = 60;
  bool leaderElect = false;
};

std::string envOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

std::string hostName() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof(buf) - 1) == 0 ? std::string(buf) : std::string("sidecar");
}

/** A resolver that only reports why the spec could not be read. */
class SpecErrorResolver : public database::DatabaseResolver {
 public:
  explicit SpecErrorResolver(core::Error error) : error_(std::move(error)) {}
  core::Result<database::ResolvedDatabase> resolve() override { return error_; }

 private:
  core::Error error_;
};

controller::RunEnvironment productionEnvironment(std::shared_ptr<kube::KubeApi> api,
                                                 const controller::ControllerOptions& options,
                                                 const core::RedactorPtr& redactor) {
  controller::RunEnvironment env;
  env.makeWorkspace = [api, options](const controller::RunSpec& spec, const nlohmann::json& pod)
      -> core::Result<std::unique_ptr<workspace::Workspace>> {
    if (!options.workspaceDir.empty() && spec.target.podSelector.empty()) {
      std::string dir = options.workspaceDir;
      if (!spec.target.workingDir.empty()) {
        dir = spec.target.workingDir.front() == '/' ? spec.target.workingDir
                                                    : dir + "/" + spec.target.workingDir;
      }
      return std::unique_ptr<workspace::Workspace>(std::make_unique<workspace::LocalWorkspace>(dir));
    }
    if (pod.is_null()) {
      return core::Error::terminal(core::reason::kTargetNotFound, "no target pod to exec into");
    }
    kube::ExecTarget target;
    target.namespace_ = options.ns;
    target.pod = core::stringField(core::objectOr(pod, "metadata"), "name");
    target.container =
        spec.target.container.empty() ? options.defaultContainer : spec.target.container;
    target.workingDir =
        spec.target.workingDir.empty() ? options.defaultWorkdir : spec.target.workingDir;
    kube::ExecWorkspaceOptions execOptions;
    execOptions.python = options.execPython;
    const auto launcher = alembic::fileLauncher();
    execOptions.launcherProgram = launcher.program;
    execOptions.launcherPreamble = launcher.preamble;
    return std::unique_ptr<workspace::Workspace>(
        std::make_unique<kube::ExecWorkspace>(api, target, execOptions));
  };
  env.makeResolver = [api, options, redactor](const controller::RunSpec& spec,
                                              const nlohmann::json& pod,
                                              const std::string& container)
      -> std::unique_ptr<database::DatabaseResolver> {
    auto dbSpec = database::parseClusterDatabaseSpec(spec.database);
    if (!dbSpec) {
      return std::make_unique<SpecErrorResolver>(dbSpec.error());
    }
    std::optional<database::TargetContainer> target;
    if (!pod.is_null()) {
      target = database::TargetContainer{pod, container};
    }
    return std::make_unique<database::ClusterResolver>(api, options.ns, *dbSpec, target,
                                                       redactor);
  };
  env.databaseFactory = [redactor](const database::ConnectionInfo& info) {
    return std::make_unique<database::PgDatabase>(info, redactor);
  };
  return env;
}

int runSidecar(const SidecarCliOptions& o, const core::RedactorPtr& redactor) {
  // Signals are taken by sigwait on this thread only; every thread started below inherits
  // the mask. First thing, so a SIGTERM during start-up is a clean stop too.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  setUpLogging(redactor, LogFormat::kJson, "info");
  // cpprestsdk's shared pool defaults to 40 threads; the sidecar's I/O (one watch, status
  // writes, the probe server, one exec stream per running run) needs a handful. Sized before
  // the first cpprestsdk object exists.
  crossplat::threadpool::initialize_with_threads(static_cast<size_t>(2 + std::max(o.workers, 1)));

  kube::KubeconfigOptions configOptions;
  configOptions.path = o.kubeconfig;
  configOptions.context = o.context;
  auto config = kube::loadDefaultConfig(configOptions);
  if (!config) {
    spdlog::error("No Kubernetes configuration reason={} error={}", config.error().reason,
                  config.error().message);
    return core::kExitFailed;
  }
  kube::ClientOptions clientOptions;
  clientOptions.redactor = redactor;
  auto client = kube::KubeClient::fromConfig(*config, clientOptions);
  if (!client) {
    spdlog::error("Cannot create the Kubernetes client error={}", client.error().message);
    return core::kExitFailed;
  }
  std::shared_ptr<kube::KubeApi> api = *client;

  auto alembicCmd = workspace::splitCommandLine(o.alembicCmd);
  if (!alembicCmd) {
    std::cerr << "alembic-sidecar: --alembic-cmd: " << alembicCmd.error().message << "\n";
    return core::kExitUsage;
  }
  controller::SidecarOptions options;
  auto& c = options.controller;
  c.ns = !o.ns.empty() ? o.ns : envOr("POD_NAMESPACE", api->defaultNamespace());
  c.labelSelector = o.selector;
  c.ownPod = envOr("POD_NAME", "");
  c.self = c.ownPod.empty() ? hostName() : c.ownPod;
  c.defaultContainer = o.targetContainer;
  c.defaultWorkdir = o.workdir;
  c.workspaceDir = o.workspaceDir;
  c.execPython = o.execPython;
  c.workers = o.workers;
  c.heartbeatInterval = std::chrono::seconds(o.heartbeatSeconds);
  c.staleAfter = std::chrono::seconds(o.staleAfterSeconds);
  c.retryBase = std::chrono::seconds(o.retryBaseSeconds);
  c.defaults.alembic.command = *alembicCmd;
  c.defaults.alembic.configFile = o.config;
  options.listenHost = o.listen;
  options.port = o.port;
  options.leaderElect = o.leaderElect;
  options.relistPeriod = std::chrono::seconds(o.relistSeconds);
  options.permissionCheckPeriod = std::chrono::seconds(o.permissionCheckSeconds);

  controller::Sidecar sidecar(api, options, productionEnvironment(api, c, redactor), redactor);
  if (auto started = sidecar.start(); !started) {
    spdlog::error("Cannot start error={}", started.error().message);
    return core::kExitFailed;
  }
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("Received signal={}; finishing the current step", received);
  sidecar.stop();
  sidecar.wait();
  spdlog::info("Stopped");
  return core::kExitSucceeded;
}

}  // namespace

std::function<int()> addSidecarCommand(CLI::App& app, const core::RedactorPtr& redactor) {
  auto o = std::make_shared<SidecarCliOptions>();
  auto* cmd = app.add_subcommand(
      "sidecar", "Run as the sidecar: watch MigrationRuns in a namespace and execute them");
  cmd->add_option("--namespace", o->ns, "Namespace to watch (default: $POD_NAMESPACE)");
  cmd->add_option("--selector", o->selector, "Only MigrationRuns with these labels (k=v,...)");
  cmd->add_option("--target-container", o->targetContainer,
                  "Container of the target pod where alembic runs (default app)");
  cmd->add_option("--workdir", o->workdir, "Project directory inside the target container");
  cmd->add_option("--workspace-dir", o->workspaceDir,
                  "Run alembic as a local process in this directory instead of pods/exec");
  cmd->add_option("--alembic-cmd", o->alembicCmd, "How to run alembic (default alembic)");
  cmd->add_option("--config", o->config, "Alembic config file (default alembic.ini)");
  cmd->add_option("--exec-python", o->execPython,
                  "Interpreter in the target container for the exec launcher (default python3)");
  cmd->add_option("--kubeconfig", o->kubeconfig, "Kubeconfig (default: in-cluster, then "
                                                 "$KUBECONFIG / ~/.kube/config)");
  cmd->add_option("--context", o->context, "Kubeconfig context");
  cmd->add_option("--listen", o->listen, "Address of /healthz, /readyz, /metrics");
  cmd->add_option("--port", o->port, "Port of /healthz, /readyz, /metrics (0: off)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--workers", o->workers, "Runs executed at the same time")
      ->check(CLI::Range(1, 16));
  cmd->add_option("--heartbeat-seconds", o->heartbeatSeconds, "Claim heartbeat period")
      ->check(CLI::Range(1, 300));
  cmd->add_option("--stale-after-seconds", o->staleAfterSeconds,
                  "A claim without heartbeat for this long is taken over")
      ->check(CLI::Range(2, 3600));
  cmd->add_option("--retry-base-seconds", o->retryBaseSeconds,
                  "First delay of the exponential retry of transient failures")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--relist-seconds", o->relistSeconds,
                  "List all MigrationRuns again this often, in case a watch lost an event "
                  "(0: only after watch failures)")
      ->check(CLI::Range(0, 86400));
  cmd->add_option("--permission-check-seconds", o->permissionCheckSeconds,
                  "Ask again this often whether status writes are allowed (/readyz)")
      ->check(CLI::Range(1, 86400));
  cmd->add_flag("--leader-elect", o->leaderElect,
                "Only the holder of the Lease alembic-sidecar executes runs");
  return [o, redactor] { return runSidecar(*o, redactor); };
}

}  // namespace alembic_sidecar::cli
