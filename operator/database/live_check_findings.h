#pragma once

#include <optional>
#include <string>

#include "core/report.h"
#include "core/result.h"
#include "database/database.h"
#include "database/live_checks.h"

namespace alembic_sidecar::database {

// Live-data checks, the wording: what a check's answer means for the person reviewing the
// revision. Pure.

/** The finding for a check's answer; nullopt when no live row is affected. */
std::optional<core::Finding> liveCheckFinding(const LiveCheck& check, const QueryRows& rows,
                                              const LiveCheckLimits& limits,
                                              const std::string& file);

/** A warning that the check could not decide (timeout, error): a human should look. */
core::Finding liveCheckIncomplete(const LiveCheck& check, const core::Error& error,
                                  const std::string& file);

}  // namespace alembic_sidecar::database
