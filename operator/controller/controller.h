#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "controller/http_server.h"
#include "controller/metrics.h"
#include "controller/permission_check.h"
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
  /** A full list of MigrationRuns this often, in case a watch lost an event; 0: never. */
  std::chrono::seconds relistPeriod{300};
  /** How often to ask again whether status writes are allowed (/readyz); 0: only at start. */
  std::chrono::seconds permissionCheckPeriod{60};
};

/**
 * `alembic-sidecar sidecar`: watches MigrationRuns in one namespace (list + watch with
 * bookmarks; relist after 410 or any watch failure and every relistPeriod; periodic resync),
 * hands changed runs to worker threads through a de-duplicating queue, and serves /healthz,
 * /readyz (ready once the first list is in and a SelfSubjectAccessReview says the sidecar
 * may patch migrationruns/status, asked again every permissionCheckPeriod) and /metrics. stop()
 * stops claiming, lets runs in progress finish their current step and release themselves, and
 * returns.
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
  std::unique_ptr<StatusPermission> permission_;
  std::thread permissionThread_;
  kube::Interrupt stopPermission_;
  WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::thread electorThread_;
  kube::Interrupt stopElector_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace alembic_sidecar::controller
