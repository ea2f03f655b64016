#pragma once

#include <string>
#include <vector>

#include "alembic/revision_file.h"
#include "core/report.h"
#include "database/database.h"
#include "database/live_checks.h"
#include "database/sql_types.h"

namespace alembic_sidecar::database {

// What autogenerate does only half when a key widens: `alter_column(..., type_=BigInteger)`
// changes the column, but a SERIAL's owned sequence stays `AS integer` (nextval stops at
// 2^31 - 1) and the foreign-key columns that reference it stay integer. (An identity column's
// sequence follows its column in PostgreSQL; only SERIAL-style owned sequences stay behind.)
// Pure: the catalog question is built here and its answer read here.

/** An alter_column of the upgrade that widens an integer column. */
struct Widening {
  const alembic::RevisionOp* op = nullptr;
  TableRef table;
  std::string column;
  SqlType to;
};

/** The upgrade's integer widenings (smallint -> integer, integer -> bigint, ...). */
std::vector<Widening> integerWidenings(const alembic::ParsedRevision& revision);

/**
 * One catalog query (no table lock) for the sequences each widened column owns (SERIAL, not
 * identity) and the foreign-key columns that reference it, with their types.
 */
ReadOnlyQuery keyWideningQuery(const std::vector<Widening>& widenings);

/**
 * SequenceNotWidened / ReferencingColumnNotWidened escalations, each with the statements that
 * complete the widening, for what the revision leaves narrower than the widened column (an
 * alter_column of the referencing column, or an op.execute ALTER SEQUENCE, covers it).
 */
std::vector<core::Finding> keyWideningFindings(const std::vector<Widening>& widenings,
                                               const QueryRows& rows,
                                               const alembic::ParsedRevision& revision,
                                               const std::string& file);

}  // namespace alembic_sidecar::database
