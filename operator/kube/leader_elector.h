#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/result.h"
#include "kube/clock.h"
#include "kube/kube_api.h"

namespace alembic_sidecar::kube {

/** client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period. */
struct LeaderElectionConfig {
  std::string namespace_;
  std::string name;      // the Lease object
  std::string identity;  // this replica, e.g. the pod name
  std::chrono::milliseconds leaseDuration{15000};
  std::chrono::milliseconds renewDeadline{10000};
  std::chrono::milliseconds retryPeriod{2000};
};

/**
 * Leader election on a coordination.k8s.io/v1 Lease, the way client-go does it: a replica
 * takes the lease when it is free or its holder has not renewed it for leaseDuration (as
 * measured by this replica's own clock since it last saw the record change), renews it every
 * retryPeriod, and gives up leadership when it could not renew for renewDeadline. Every write
 * carries the resourceVersion it read, so two replicas never both win.
 */
class LeaderElector {
 public:
  LeaderElector(std::shared_ptr<KubeApi> api, LeaderElectionConfig config,
                ClockPtr clock = systemClock());

  /** One attempt; true when this replica holds the lease afterwards. */
  core::Result<bool> tryAcquireOrRenew();
  /** Hands the lease back (empty holder) when we hold it, so another replica takes over now. */
  core::Status release();
  bool isLeader() const;

  /**
   * Blocks: acquires the lease (retrying every retryPeriod), calls onStartedLeading, renews
   * until renewal fails for renewDeadline or `stop` fires, then calls onStoppedLeading (after
   * releasing the lease when stopped). Returns without calling either when stopped before
   * winning.
   */
  void run(const std::function<void()>& onStartedLeading,
           const std::function<void()>& onStoppedLeading, Interrupt& stop);

  const LeaderElectionConfig& config() const { return config_; }

 private:
  nlohmann::json leaseSpec(const nlohmann::json& previous, bool keepAcquireTime,
                           int transitions) const;
  void observe(const nlohmann::json& spec);

  std::shared_ptr<KubeApi> api_;
  LeaderElectionConfig config_;
  ClockPtr clock_;
  mutable std::mutex mutex_;
  bool leader_ = false;
  nlohmann::json observedSpec_;
  std::chrono::steady_clock::time_point observedAt_{};
};

}  // namespace alembic_sidecar::kube
