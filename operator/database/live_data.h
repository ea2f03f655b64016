#pragma once

#include <string>
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
 * liveRowEstimates) for the existing tables the upgrade touches, and returns the findings:
 * an escalation per operation that fails or loses data on live rows (with the count and a few
 * primary keys, never column values), LiveChecksSkipped (info) for what could not be asked,
 * LiveCheckIncomplete (warning) for a query that did not finish. Two round trips at most.
 */
std::vector<core::Finding> checkLiveData(Database& db, const std::string& liveDatabase,
                                         const alembic::ParsedRevision& revision,
                                         alembic::AnalysisContext& context,
                                         const LiveCheckLimits& limits = {});

}  // namespace alembic_sidecar::database
