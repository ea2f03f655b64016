#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/report.h"

namespace alembic_sidecar::controller {

/**
 * status.conditions for the API: each condition carries observedGeneration, and keeps the
 * previous lastTransitionTime while its status is unchanged (it moves only when the status
 * does). `now` is an RFC 3339 time.
 */
nlohmann::json mergeConditions(const nlohmann::json& previous,
                               const std::vector<core::Condition>& current, int64_t generation,
                               const std::string& now);

/** The report's part of status: phase, reason, message, database, revision, ... */
nlohmann::json reportStatus(const core::Report& report);

/** What the controller needs to know about a MigrationRun, read from the object. */
struct RunView {
  std::string key;
  int64_t generation = 0;
  int64_t observedGeneration = 0;
  std::string phase;
  std::string claimedBy;
  std::optional<std::chrono::system_clock::time_point> heartbeat;
  std::optional<std::chrono::system_clock::time_point> nextRetry;
  int attempts = 0;
  bool deleting = false;
  std::string scratchDatabase;
  std::string pendingRevisionFile;
};

RunView viewOf(const nlohmann::json& run);

enum class Decision {
  kNothing,      // done, or someone else is on it
  kClaim,        // Pending (or a new generation of a finished run): claim and run
  kResumeOwn,    // claimed by this pod name but not running here: a previous incarnation
  kTakeOver,     // claimed by a sidecar that stopped heart-beating
  kWaitUntil,    // look again at `until` (a retry is scheduled, or a heartbeat may go stale)
};

struct DecisionResult {
  Decision decision = Decision::kNothing;
  std::chrono::system_clock::time_point until{};
};

/**
 * Level-based: looks at the object as it is now. `runningHere` says whether this process
 * is executing the run; `staleAfter` is how long a claim lives without a heartbeat.
 */
DecisionResult decide(const RunView& run, const std::string& self, bool runningHere,
                      std::chrono::system_clock::time_point now,
                      std::chrono::seconds staleAfter);

/** Delay before retry `attempt` (1-based): base * 2^(attempt-1), capped. */
std::chrono::seconds retryDelay(int attempt, std::chrono::seconds base, std::chrono::seconds cap);

/** Reasons whose cause may go away by itself (the run is retried up to backoffLimit). */
bool isTransientReason(const std::string& reason);

}  // namespace alembic_sidecar::controller
