#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/report.h"
#include "database/fingerprint.h"

namespace alembic_sidecar::database {

/**
 * What the models hold, as fingerprint object names, to tell a gap in the history (the models
 * and the live database have it, no migration creates it) from an object made by hand (in no
 * model). Empty: not known, every live-only object is described as in no migration.
 */
struct ModelObjects {
  /** "table schema.table" of every table in target_metadata. */
  std::set<std::string> tables;
  /** Further objects the models have and the history lacks ("column public.users.nickname",
   *  "index public.users.ix_users_name", ...): what autogenerate would create. */
  std::set<std::string> objects;
};

/**
 * DatabaseDrift findings: objects of the live database that the migration history (a
 * scratch database upgraded to the same head) does not create — split into gaps in the
 * history (in the models) and objects made by hand (in no model) —, objects it lacks, and
 * objects that differ. The members (columns, indexes, constraints, triggers) of a table that
 * is itself missing from the history are told with the table. One escalation per object, at
 * most `limit`, then one summarising the rest. Never advises dropping what may hold data
 * without saying that it does.
 */
std::vector<core::Finding> driftFindings(const SchemaFingerprint& live,
                                         const SchemaFingerprint& history, size_t limit = 20,
                                         const ModelObjects& models = {});

}  // namespace alembic_sidecar::database
