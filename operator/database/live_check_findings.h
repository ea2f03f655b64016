#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/report.h"
#include "core/result.h"
#include "database/conversion_trial.h"
#include "database/database.h"
#include "database/live_checks.h"

namespace alembic_sidecar::database {

// Live-data checks, the wording: what a check's answer means for the person reviewing the
// revision. Pure.

/** The finding for a check's answer; nullopt when no live row is affected. */
std::optional<core::Finding> liveCheckFinding(const LiveCheck& check, const QueryRows& rows,
                                              const LiveCheckLimits& limits,
                                              const std::string& file);

/** The finding for a conversion trial that hit a data error on a live row. */
core::Finding conversionFinding(const LiveCheck& check, const ConversionFailure& failure,
                                const std::string& file);

/**
 * The escalation for a data-dependent operation that was not verified (LiveCheckIncomplete):
 * what could not be verified, why, and how to verify it (a longer --live-check-timeout, a
 * --live-role that can read the table, or the read-only query to run by hand).
 */
core::Finding unverifiedFinding(const DataOp& op, const std::string& why,
                                const LiveCheckLimits& limits, const std::string& file);

/** The first line of a server error, without "ERROR:" and with quoted values masked. */
std::string serverMessage(std::string_view message);

/** Why a query's error leaves the operation unverified, in words (lock, timeout, ...). */
std::string unverifiedReason(const core::Error& error, const std::string& table);

}  // namespace alembic_sidecar::database
