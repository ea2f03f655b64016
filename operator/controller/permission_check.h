#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "kube/event_recorder.h"
#include "kube/kube_api.h"

namespace alembic_sidecar::controller {

/**
 * Whether the sidecar may write what it must write: `patch` on `migrationruns/status` in its
 * namespace, asked of the API server with a SelfSubjectAccessReview (any authenticated user
 * may ask; no RBAC rule is needed for it). Until the answer is yes the sidecar is not ready:
 * a run it claimed could never report. Each change of the answer is logged and recorded as an
 * Event on the sidecar's own pod (Warning StatusWriteForbidden / PermissionCheckFailed,
 * Normal StatusWriteAllowed after a refusal). Thread-safe.
 */
class StatusPermission {
 public:
  /** `ownPod`: the sidecar's pod name for the Events; empty (out of cluster): log only. */
  StatusPermission(std::shared_ptr<kube::KubeApi> api, std::string ns, std::string ownPod,
                   std::shared_ptr<kube::EventRecorder> events);

  /** Asks now; returns whether the write is allowed. */
  bool check();
  bool allowed() const;
  /** Why not ready, for /readyz and the log; empty once allowed. */
  std::string reason() const;

  /** The SelfSubjectAccessReview this check sends. */
  static nlohmann::json reviewFor(const std::string& ns);

 private:
  void changed(bool allowed, const std::string& reason, const std::string& note);
  nlohmann::json regarding();

  std::shared_ptr<kube::KubeApi> api_;
  std::string ns_;
  std::string ownPod_;
  std::shared_ptr<kube::EventRecorder> events_;

  mutable std::mutex mutex_;
  bool allowed_ = false;
  bool known_ = false;
  std::string reason_ = "the permission to write MigrationRun status was not checked yet";
  std::string lastEventReason_;
};

}  // namespace alembic_sidecar::controller
