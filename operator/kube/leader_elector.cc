#include "kube/leader_elector.h"

#include <spdlog/spdlog.h>

#include "kube/api_errors.h"
#include "kube/resources.h"
#include "kube/time_format.h"

namespace alembic_sidecar::kube {
namespace {

/** The fields that change on every renewal; a change in them means the holder is alive. */
bool sameRecord(const nlohmann::json& a, const nlohmann::json& b) {
  for (const char* key :
       {"holderIdentity", "renewTime", "acquireTime", "leaseTransitions", "leaseDurationSeconds"}) {
    if (a.value(key, nlohmann::json()) != b.value(key, nlohmann::json())) {
      return false;
    }
  }
  return true;
}

}  // namespace

LeaderElector::LeaderElector(std::shared_ptr<KubeApi> api, LeaderElectionConfig config,
                             ClockPtr clock)
    : api_(std::move(api)),
      config_(std::move(config)),
      clock_(clock ? std::move(clock) : systemClock()) {}

nlohmann::json LeaderElector::leaseSpec(const nlohmann::json& previous, bool keepAcquireTime,
                                        int transitions) const {
  const std::string now = formatMicroTime(clock_->wallNow());
  nlohmann::json spec = nlohmann::json::object();
  spec["holderIdentity"] = config_.identity;
  // The API counts whole seconds; round up so the lease never looks shorter than it is.
  spec["leaseDurationSeconds"] =
      std::chrono::ceil<std::chrono::seconds>(config_.leaseDuration).count();
  spec["acquireTime"] = keepAcquireTime ? previous.value("acquireTime", now) : now;
  spec["renewTime"] = now;
  spec["leaseTransitions"] = transitions;
  return spec;
}

void LeaderElector::observe(const nlohmann::json& spec) {
  if (observedSpec_.is_null() || !sameRecord(observedSpec_, spec)) {
    observedSpec_ = spec;
    observedAt_ = clock_->now();
  }
}

core::Result<bool> LeaderElector::tryAcquireOrRenew() {
  std::lock_guard lock(mutex_);
  const ResourceRef ref = resources::leases(config_.namespace_).named(config_.name);
  auto current = api_->get(ref);
  if (!current) {
    if (!isNotFound(current.error())) {
      return current.error();
    }
    nlohmann::json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.name}, {"namespace", config_.namespace_}}}};
    lease["spec"] = leaseSpec(nlohmann::json::object(), false, 0);
    auto created = api_->create(ref, lease);
    if (!created) {
      if (isAlreadyExists(created.error()) || isConflict(created.error())) {
        leader_ = false;
        return false;  // another replica created it first
      }
      return created.error();
    }
    observedSpec_ = nlohmann::json();
    observe(created->value("spec", nlohmann::json::object()));
    leader_ = true;
    spdlog::info("Leader election won lease={}/{} identity={}", config_.namespace_, config_.name,
                 config_.identity);
    return true;
  }

  const nlohmann::json spec = current->value("spec", nlohmann::json::object());
  observe(spec);
  const std::string holder = spec.contains("holderIdentity") && spec["holderIdentity"].is_string()
                                 ? spec["holderIdentity"].get<std::string>()
                                 : std::string();
  const auto duration =
      spec.contains("leaseDurationSeconds") && spec["leaseDurationSeconds"].is_number_integer()
          ? std::chrono::milliseconds(std::chrono::seconds(spec["leaseDurationSeconds"].get<int>()))
          : config_.leaseDuration;
  const bool ours = holder == config_.identity;
  if (!holder.empty() && !ours && clock_->now() < observedAt_ + duration) {
    leader_ = false;
    return false;  // held, and the holder renewed recently
  }

  const int transitions = spec.value("leaseTransitions", 0) + (ours ? 0 : 1);
  nlohmann::json updated = *current;
  updated["spec"] = leaseSpec(spec, ours, transitions);
  // replace() is conditional on the resourceVersion we read: optimistic concurrency.
  auto written = api_->replace(ref, updated);
  if (!written) {
    // leader_ stays as it was: a leader keeps leading until renewDeadline runs out.
    if (isConflict(written.error())) {
      return false;  // someone else wrote in between
    }
    return written.error();
  }
  observe(written->value("spec", nlohmann::json::object()));
  if (!ours) {
    spdlog::info("Leader election won lease={}/{} identity={} previous={}", config_.namespace_,
                 config_.name, config_.identity, holder.empty() ? "none" : holder);
  }
  leader_ = true;
  return true;
}

core::Status LeaderElector::release() {
  std::lock_guard lock(mutex_);
  if (!leader_) {
    return {};
  }
  leader_ = false;
  const ResourceRef ref = resources::leases(config_.namespace_).named(config_.name);
  auto current = api_->get(ref);
  if (!current) {
    return isNotFound(current.error()) ? core::Status() : core::Status(current.error());
  }
  const nlohmann::json spec = current->value("spec", nlohmann::json::object());
  if (spec.value("holderIdentity", nlohmann::json("")) != config_.identity) {
    return {};
  }
  // As client-go: no holder, a 1 s duration, so the next candidate need not wait.
  nlohmann::json updated = *current;
  const std::string now = formatMicroTime(clock_->wallNow());
  updated["spec"]["holderIdentity"] = "";
  updated["spec"]["leaseDurationSeconds"] = 1;
  updated["spec"]["renewTime"] = now;
  updated["spec"]["acquireTime"] = now;
  auto written = api_->replace(ref, updated);
  if (!written) {
    return written.error();
  }
  spdlog::info("Leader election released lease={}/{} identity={}", config_.namespace_, config_.name,
               config_.identity);
  return {};
}

bool LeaderElector::isLeader() const {
  std::lock_guard lock(mutex_);
  return leader_;
}

void LeaderElector::run(const std::function<void()>& onStartedLeading,
                        const std::function<void()>& onStoppedLeading, Interrupt& stop) {
  while (true) {
    auto acquired = tryAcquireOrRenew();
    if (!acquired) {
      spdlog::warn("Leader election attempt failed lease={}/{} error={}", config_.namespace_,
                   config_.name, acquired.error().message);
    } else if (acquired.value()) {
      break;
    }
    if (!clock_->sleepFor(config_.retryPeriod, &stop)) {
      return;
    }
  }
  if (onStartedLeading) {
    onStartedLeading();
  }
  auto lastRenew = clock_->now();
  while (clock_->sleepFor(config_.retryPeriod, &stop)) {
    auto renewed = tryAcquireOrRenew();
    if (renewed && renewed.value()) {
      lastRenew = clock_->now();
      continue;
    }
    if (clock_->now() - lastRenew >= config_.renewDeadline) {
      spdlog::warn("Leader election lost lease={}/{} identity={}", config_.namespace_, config_.name,
                   config_.identity);
      {
        std::lock_guard lock(mutex_);
        leader_ = false;
      }
      if (onStoppedLeading) {
        onStoppedLeading();
      }
      return;
    }
  }
  if (auto released = release(); !released) {
    spdlog::warn("Leader election release failed lease={}/{} error={}", config_.namespace_,
                 config_.name, released.error().message);
  }
  if (onStoppedLeading) {
    onStoppedLeading();
  }
}

}  // namespace alembic_sidecar::kube
