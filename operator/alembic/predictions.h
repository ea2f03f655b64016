#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/report.h"

namespace alembic_sidecar::alembic {

/** The leg of a revision's round trip a static finding says will fail. */
enum class PredictedLeg { kNone, kUpgrade, kDowngrade, kReupgrade };

/**
 * What a finding predicts, from its code and message: EnumTypeMissing the upgrade,
 * TypeChangeWithoutUsing the upgrade or the downgrade (its message says which),
 * UnnamedConstraint the downgrade, EnumTypeNotDropped the upgrade after a downgrade. Findings
 * that depend on the live rows (a NOT NULL column on a populated table, values that do not
 * fit) predict nothing an empty scratch database could disprove.
 */
PredictedLeg predictedFailure(const core::Finding& finding);

/** How each leg of one revision went on the scratch database; nullopt: not run. */
struct ObservedLegs {
  std::optional<bool> upgrade;
  std::optional<bool> downgrade;
  std::optional<bool> reupgrade;
};

/**
 * Observation beats prediction: every finding that predicts the failure of a leg that passed
 * for its file (`observed`, keyed by the revision's path) is replaced by an info note
 * (PredictionDisproved) that keeps what was predicted and says it did not happen. A predicted
 * failure that was observed, or not tested, stands.
 */
std::vector<core::Finding> reconcileWithObserved(
    const std::vector<core::Finding>& findings,
    const std::map<std::string, ObservedLegs>& observed);

/** Whether a finding predicts exactly the leg that failed (the prediction was confirmed). */
bool predictsObservedFailure(const core::Finding& finding, const ObservedLegs& observed);

}  // namespace alembic_sidecar::alembic
