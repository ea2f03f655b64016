#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "alembic/revision_analysis.h"
#include "alembic/revision_file.h"
#include "core/report.h"
#include "database/database.h"
#include "database/live_check_findings.h"
#include "database/live_checks.h"

namespace alembic_sidecar::database {

/**
 * Asks the app's own database `liveDatabase`, read-only and bounded (LiveCheckLimits), what
 * the revision's upgrade would do to the rows that exist. Fills context.liveRowCounts (and
 * liveRowEstimates) for the existing tables the upgrade touches, and returns the findings.
 *
 * The rule: every data-dependent operation ends verified or escalated. An escalation per
 * operation that fails or loses data on live rows (with the count and, for surrogate keys, a
 * few primary keys; never column values); type changes are tried for real (the USING
 * expression or the assignment cast over every live row, `upgradeSql` being the upgrade's
 * offline SQL, empty when it was not rendered); LiveCheckIncomplete (an escalation) for each
 * operation a check could not answer: a timeout, a lock held by another session, an
 * unreadable database, a failed count, an expression or a conversion the checks cannot run;
 * LiveChecksSkipped (info) for an operation whose table is not in the live database yet.
 * Two round trips at most.
 */
std::vector<core::Finding> checkLiveData(Database& db, const std::string& liveDatabase,
                                         const alembic::ParsedRevision& revision,
                                         alembic::AnalysisContext& context,
                                         const LiveCheckLimits& limits = {},
                                         std::string_view upgradeSql = {});

}  // namespace alembic_sidecar::database
