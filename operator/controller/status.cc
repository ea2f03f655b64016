#include "controller/status.h"

#include <algorithm>

#include "controller/run_spec.h"
#include "core/json_util.h"
#include "core/reasons.h"
#include "core/report_json.h"
#include "kube/time_format.h"

namespace alembic_sidecar::controller {

nlohmann::json mergeConditions(const nlohmann::json& previous,
                               const std::vector<core::Condition>& current, int64_t generation,
                               const std::string& now) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : current) {
    std::string transition = now;
    if (previous.is_array()) {
      for (const auto& old : previous) {
        if (core::stringField(old, "type") == c.type &&
            core::stringField(old, "status") == c.status &&
            !core::stringField(old, "lastTransitionTime").empty()) {
          transition = core::stringField(old, "lastTransitionTime");
        }
      }
    }
    out.push_back({{"type", c.type},
                   {"status", c.status},
                   {"reason", c.reason},
                   {"message", c.message.substr(0, 32768)},
                   {"observedGeneration", generation},
                   {"lastTransitionTime", transition}});
  }
  return out;
}

nlohmann::json reportStatus(const core::Report& report) {
  nlohmann::json j = core::toJson(report);
  j.erase("action");      // spec.action says it
  j.erase("conditions");  // merged separately, with transition times
  return j;
}

RunView viewOf(const nlohmann::json& run) {
  RunView v;
  v.key = objectKey(run);
  const auto& meta = core::objectOr(run, "metadata");
  const auto& status = core::objectOr(run, "status");
  v.generation = core::intField(meta, "generation", 1);
  v.deleting = !core::stringField(meta, "deletionTimestamp").empty();
  v.observedGeneration = core::intField(status, "observedGeneration");
  v.phase = core::stringField(status, "phase");
  v.claimedBy = core::stringField(status, "claimedBy");
  v.heartbeat = kube::parseTime(core::stringField(status, "heartbeatTime"));
  v.nextRetry = kube::parseTime(core::stringField(status, "nextRetryTime"));
  v.attempts = static_cast<int>(core::intField(status, "attempts"));
  v.scratchDatabase = core::stringField(status, "scratchDatabase");
  v.pendingRevisionFile = core::stringField(status, "pendingRevisionFile");
  return v;
}

DecisionResult decide(const RunView& run, const std::string& self, bool runningHere,
                      std::chrono::system_clock::time_point now,
                      std::chrono::seconds staleAfter) {
  if (run.deleting) {
    return {};
  }
  bool finished = run.phase == core::phase::kSucceeded || run.phase == core::phase::kEscalated ||
                  run.phase == core::phase::kFailed;
  if (finished) {
    // A spec change (new generation) asks for a new run.
    return run.generation != run.observedGeneration ? DecisionResult{Decision::kClaim, {}}
                                                    : DecisionResult{};
  }
  if (run.phase == core::phase::kRunning) {
    if (run.claimedBy == self) {
      return runningHere ? DecisionResult{} : DecisionResult{Decision::kResumeOwn, {}};
    }
    if (!run.heartbeat || now - *run.heartbeat > staleAfter) {
      return {Decision::kTakeOver, {}};
    }
    return {Decision::kWaitUntil, *run.heartbeat + staleAfter + std::chrono::seconds(1)};
  }
  // Pending, or no status yet.
  if (run.nextRetry && *run.nextRetry > now) {
    return {Decision::kWaitUntil, *run.nextRetry};
  }
  return {Decision::kClaim, {}};
}

std::chrono::seconds retryDelay(int attempt, std::chrono::seconds base, std::chrono::seconds cap) {
  auto delay = base;
  for (int i = 1; i < attempt && delay < cap; ++i) {
    delay *= 2;
  }
  return std::min(delay, cap);
}

bool isTransientReason(const std::string& reason) {
  return reason == core::reason::kDatabaseUnavailable ||
         reason == core::reason::kWorkspaceUnavailable ||
         reason == core::reason::kTargetNotFound || reason == core::reason::kApiUnavailable ||
         reason == core::reason::kProjectLocked;
}

}  // namespace alembic_sidecar::controller
