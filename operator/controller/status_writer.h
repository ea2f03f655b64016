#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"
#include "kube/kube_api.h"

namespace alembic_sidecar::controller {

/**
 * Writes one claimed run's status. Every write is a merge patch of /status made conditional
 * on the resourceVersion this writer last saw, so a sidecar whose claim was taken over can
 * never overwrite the new owner: on 409 it re-reads, retries while the run is still claimed
 * by `self`, and otherwise reports the claim lost (reason ClaimLost). Thread-safe: the
 * pipeline's progress and the heartbeat share it.
 */
class RunStatusWriter {
 public:
  RunStatusWriter(std::shared_ptr<kube::KubeApi> api, nlohmann::json run, std::string self);

  core::Status patch(const nlohmann::json& status);
  /** The newest copy of the run this writer has seen. */
  nlohmann::json current() const;
  bool lost() const;

 private:
  std::shared_ptr<kube::KubeApi> api_;
  std::string self_;
  kube::ResourceRef statusRef_;
  kube::ResourceRef ref_;
  mutable std::mutex mutex_;
  nlohmann::json run_;
  bool lost_ = false;
};

}  // namespace alembic_sidecar::controller
