#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "controller/http_server.h"
#include "controller/metrics.h"
#include "controller/reconciler.h"
#include "controller/work_queue.h"
#include "kube/informer.h"
#include "kube/leader_elector.h"

namespace alembic_sidecar::controller {

struct SidecarOptions {
  ControllerOptions controller;
  std::string listenHost = "0.0.0.0";
  int port = 8080;  // 0: no probe/metrics server
  bool leaderElect = false;
  std::chrono::seconds resyncPeriod{30};
};

/**
 * `alembic-sidecar sidecar`: watches MigrationRuns in one namespace (list + watch with
 * bookmarks, 410 → relist, periodic resync), hands changed runs to worker threads through
 * a de-duplicating queue, and serves /healthz, /readyz (ready once the first list is in) and
 * /metrics. stop() stops claiming, lets runs in progress finish their current step and
 * release themselves, and returns.
 */
class Sidecar {
 public:
  Sidecar(std::shared_ptr<kube::KubeApi> api, SidecarOptions options, RunEnvironment env,
          core::RedactorPtr redactor);
  ~Sidecar();

  core::Status start();
  /** Blocks until stop() was called and everything ended. */
  void wait();
  void stop();

 private:
  void work();

  std::shared_ptr<kube::KubeApi> api_;
  SidecarOptions options_;
  std::shared_ptr<Metrics> metrics_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<kube::Informer> informer_;
  std::unique_ptr<kube::LeaderElector> elector_;
  std::unique_ptr<HttpServer> http_;
  WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::thread electorThread_;
  kube::Interrupt stopElector_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace alembic_sidecar::controller
