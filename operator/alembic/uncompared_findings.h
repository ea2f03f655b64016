#pragma once

#include <string>
#include <vector>

#include "alembic/driver.h"
#include "alembic/revision_file.h"
#include "core/report.h"

namespace alembic_sidecar::alembic {

/** What the uncompared-difference findings need besides the differences themselves. */
struct UncomparedContext {
  /** The generated revision; nullptr when autogenerate wrote none (or `check`). */
  const ParsedRevision* revision = nullptr;
  std::string file;   // the revision file, for the findings
  std::string envPy;  // env.py's path, named in recommendations
};

/**
 * One escalation per difference autogenerate does not compare (server default with
 * compare_server_default off, CHECK constraint, Computed, Identity, partial-index predicate,
 * comment) that the generated revision does not contain: the migration is silently incomplete.
 * A difference the revision's upgrade() covers (alter_column on the column, the constraint or
 * index created or dropped, the table created or dropped) gives none. Pure: no I/O.
 */
std::vector<core::Finding> uncomparedFindings(const std::vector<UncomparedDifference>& differences,
                                              const UncomparedContext& context);

/** The finding code of a difference kind (ServerDefaultNotCompared, ...). */
std::string uncomparedCode(const std::string& kind);

}  // namespace alembic_sidecar::alembic
