#include "controller/status_writer.h"

#include <spdlog/spdlog.h>

#include "core/json_util.h"
#include "core/reasons.h"
#include "kube/api_errors.h"
#include "kube/resources.h"

namespace alembic_sidecar::controller {
namespace {

constexpr int kMaxConflictRetries = 5;

}  // namespace

RunStatusWriter::RunStatusWriter(std::shared_ptr<kube::KubeApi> api, nlohmann::json run,
                                 std::string self)
    : api_(std::move(api)), self_(std::move(self)), run_(std::move(run)) {
  const auto& meta = core::objectOr(run_, "metadata");
  ref_ = kube::resources::migrationRuns(core::stringField(meta, "namespace"))
             .named(core::stringField(meta, "name"));
  statusRef_ = ref_.withSubresource("status");
}

core::Status RunStatusWriter::patch(const nlohmann::json& status) {
  std::lock_guard lock(mutex_);
  if (lost_) {
    return core::Error::terminal(core::reason::kClaimLost, "the run is claimed by another sidecar");
  }
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    nlohmann::json body = {
        {"metadata", {{"resourceVersion", core::stringField(core::objectOr(run_, "metadata"), "resourceVersion")}}},
        {"status", status}};
    auto written = api_->mergePatch(statusRef_, body);
    if (written) {
      run_ = std::move(*written);
      return {};
    }
    if (!kube::isConflict(written.error())) {
      return written.error();
    }
    auto fresh = api_->get(ref_);
    if (!fresh) {
      return fresh.error();
    }
    run_ = std::move(*fresh);
    std::string owner = core::stringField(core::objectOr(run_, "status"), "claimedBy");
    if (owner != self_) {
      lost_ = true;
      spdlog::warn("Claim lost run={}/{} owner={}", core::stringField(core::objectOr(run_, "metadata"), "namespace"),
                   core::stringField(core::objectOr(run_, "metadata"), "name"), owner);
      return core::Error::terminal(core::reason::kClaimLost,
                                   "the run is now claimed by " + owner);
    }
  }
  return core::Error::retryable(core::reason::kApiUnavailable,
                                "status write kept conflicting after " +
                                    std::to_string(kMaxConflictRetries) + " re-reads");
}

nlohmann::json RunStatusWriter::current() const {
  std::lock_guard lock(mutex_);
  return run_;
}

bool RunStatusWriter::lost() const {
  std::lock_guard lock(mutex_);
  return lost_;
}

}  // namespace alembic_sidecar::controller
