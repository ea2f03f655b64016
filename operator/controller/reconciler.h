#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "controller/metrics.h"
#include "controller/run_spec.h"
#include "controller/status.h"
#include "core/redactor.h"
#include "database/resolver.h"
#include "kube/clock.h"
#include "kube/event_recorder.h"
#include "kube/kube_api.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::controller {

struct ControllerOptions {
  std::string ns;
  std::string labelSelector;
  /** Who claims runs (status.claimedBy): the pod name. */
  std::string self;
  /** This sidecar's own pod, the default target; empty out of cluster. */
  std::string ownPod;
  std::string defaultContainer = "app";
  std::string defaultWorkdir;
  /** Non-empty: alembic runs as a local process in this directory instead of pods/exec. */
  std::string workspaceDir;
  std::string execPython = "python3";
  std::chrono::seconds heartbeatInterval{10};
  std::chrono::seconds staleAfter{45};
  std::chrono::seconds retryBase{10};
  std::chrono::seconds retryCap{300};
  int workers = 1;
  /** The pipeline defaults (alembic command, config file) a spec may override. */
  pipeline::RunRequest defaults;
};

/** Where a run's pieces come from: pods/exec or a local dir, cluster discovery, libpqxx. */
struct RunEnvironment {
  std::function<core::Result<std::unique_ptr<workspace::Workspace>>(
      const RunSpec& spec, const nlohmann::json& targetPod)>
      makeWorkspace;
  std::function<std::unique_ptr<database::DatabaseResolver>(
      const RunSpec& spec, const nlohmann::json& targetPod, const std::string& container)>
      makeResolver;
  database::DatabaseFactory databaseFactory;
};

/**
 * Reconciles one MigrationRun at a time (level-based): claims a Pending run with a status
 * write conditional on its resourceVersion (so of several sidecars exactly one wins), runs
 * the pipeline with status, events and a heartbeat written as it goes, resumes its own
 * previous incarnation's runs and takes over runs whose claimant stopped heart-beating
 * (dropping a recorded scratch database and removing a half-generated revision file first),
 * retries transient failures with capped exponential backoff up to spec.backoffLimit, and
 * stores the generated file in a ConfigMap owned by the run.
 */
class Reconciler {
 public:
  Reconciler(std::shared_ptr<kube::KubeApi> api, ControllerOptions options, RunEnvironment env,
             std::shared_ptr<kube::EventRecorder> events, std::shared_ptr<Metrics> metrics,
             core::RedactorPtr redactor, kube::ClockPtr clock = kube::systemClock());

  /** Looks at the run and acts; returns when to look again, if at all. Never throws. */
  std::optional<std::chrono::system_clock::time_point> reconcile(const std::string& key);

  /** Stops claiming; runs in progress end after their current step and are released. */
  void shutDown();
  int activeRuns() const;

 private:
  std::optional<std::chrono::system_clock::time_point> claimAndRun(const nlohmann::json& run,
                                                                   Decision decision);
  std::optional<std::chrono::system_clock::time_point> execute(const nlohmann::json& run,
                                                               const RunView& before);
  /**
   * The pod alembic runs in: the first Running pod by name that spec.target.podSelector
   * matches (recorded in status.targetPod; a warning Event TargetAmbiguous names the others
   * when there are several), else this sidecar's own pod.
   */
  core::Result<nlohmann::json> targetPod(const RunSpec& spec, const nlohmann::json& run);
  std::string nowText() const;

  std::shared_ptr<kube::KubeApi> api_;
  ControllerOptions options_;
  RunEnvironment env_;
  std::shared_ptr<kube::EventRecorder> events_;
  std::shared_ptr<Metrics> metrics_;
  core::RedactorPtr redactor_;
  kube::ClockPtr clock_;
  std::atomic<bool> shuttingDown_{false};
  mutable std::mutex mutex_;
  std::set<std::string> active_;
};

}  // namespace alembic_sidecar::controller
