#pragma once

#include <vector>

#include "core/report.h"
#include "database/fingerprint.h"

namespace alembic_sidecar::database {

/**
 * DatabaseDrift findings: objects of the live database that the migration history (a
 * scratch database upgraded to the same head) does not create, objects it lacks, and objects
 * that differ. One escalation per object, at most `limit`, then one summarising the rest.
 */
std::vector<core::Finding> driftFindings(const SchemaFingerprint& live,
                                         const SchemaFingerprint& history, size_t limit = 20);

}  // namespace alembic_sidecar::database
